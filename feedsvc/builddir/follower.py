"""Serve a build: follow the manifest that `feedsvc build` writes (to a directory or a bucket), read no content.

Polled every second: in a directory, a new manifest or status (another size,
time or inode) is read; in a bucket, the manifest object is asked for with a
conditional GET (If-None-Match its last ETag), which costs a 304 while nothing
changed. Only the documents whose ETag changed are then read. A build that
cannot be read, or a manifest whose files are still being replaced, leaves the
last good documents serving; the first case marks the service degraded.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from feedsvc.builddir.manifest import MANIFEST, STATUS, as_storage, read_build, read_status
from feedsvc.builddir.storage import Directory, Fetched, Storage
from feedsvc.errors import BuildError
from feedsvc.model import Snapshot
from feedsvc.store import Store

log = logging.getLogger("feedsvc.follow")

POLL_SECONDS = 1
# Files that do not match a new manifest yet are a build being written: retried at the next
# poll, and only reported (as degraded) when it lasts this many polls.
PATIENCE_POLLS = 5


class Follower:
    """Keeps a store's snapshot equal to the last complete build in a directory or bucket."""

    def __init__(self, build: Path | Storage, store: Store) -> None:
        self.storage: Storage = as_storage(build)
        self.store = store
        # What tells the manifest (and, in a directory, the status) read last from newer ones.
        self._versions: tuple[str | None, str | None] = (None, None)
        self._failures = 0
        self._reported: str | None = None
        self.loaded = 0  # builds read so far

    def _fetch(self) -> tuple[Fetched | None, str | None, bytes | None]:
        """Fetch the manifest if it changed, and in a directory (where it is a heartbeat) the status's version.

        Returns the manifest fetched, the status's version, and its bytes when they changed.

        Raises:
            OSError, BuildError: the manifest cannot be read.
        """
        known_manifest, known_status = self._versions
        manifest = self.storage.fetch(MANIFEST, known_manifest)
        status, body = None, None
        if isinstance(self.storage, Directory):
            try:
                fetched = self.storage.fetch(STATUS, known_status)
                status, body = (known_status, None) if fetched is None else (fetched.version, fetched.body)
            except OSError:
                status = None  # not written yet
        return manifest, status, body

    def check(self) -> bool:
        """Read the build again if its manifest changed; return whether a new snapshot was swapped in."""
        try:
            manifest, status, status_body = self._fetch()
        except (OSError, BuildError) as error:
            reason = getattr(error, "strerror", None) or error
            self._failed(f"{self.storage.locate(MANIFEST)}: cannot be read: {reason} (expected a build)", missing=True)
            return False
        if manifest is None and status == self._versions[1] and self.loaded:
            return False
        current = self.store.snapshot if self.loaded else None
        try:
            if manifest is None and current is not None and current.degraded is None:
                # Only the heartbeat: the manifest (95 MB at a million articles) is not read again.
                snapshot = self._heartbeat(current, status_body)
            else:
                snapshot = read_build(self.storage, current, None if manifest is None else manifest.body)
        except BuildError as error:
            self._failed(str(error), missing=False)
            return False
        self._versions = (self._versions[0] if manifest is None else manifest.version, status)
        self._failures = 0
        if self._reported is not None:
            log.info("build %s is readable again", self.storage)
            self._reported = None
        self.store.replace(snapshot)
        self.loaded += 1
        return True

    def _heartbeat(self, current: Snapshot, status: bytes | None) -> Snapshot:
        """Return the snapshot served, with the last refresh and failures a new status gives (its bytes, fetched).

        Raises:
            BuildError: the status has a field missing or wrong.
        """
        last_refresh, refreshes_failed = read_status(self.storage, status)
        return dataclasses.replace(current, last_refresh=last_refresh, refreshes_failed=refreshes_failed)

    def _failed(self, message: str, *, missing: bool) -> None:
        self._versions = (None, None)  # read whole again once readable, and the degraded mark cleared
        self._failures += 1
        if not missing and self._failures < PATIENCE_POLLS:
            return  # most likely a build being written: the next poll sees it complete
        if message != self._reported:
            log.error("%s; the last good feeds keep serving", message)
            self._reported = message
        previous = self.store.snapshot
        if previous.degraded != message:
            self.store.replace(dataclasses.replace(previous, degraded=message))

    def check_safely(self) -> None:
        """Check for the scheduler: never raises."""
        try:
            self.check()
        except Exception:
            log.exception("reading the build %s failed; the last good feeds keep serving", self.storage)


def empty_snapshot(where: object) -> Snapshot:
    """The snapshot before any build was read: nothing to serve, and degraded until one is."""
    return Snapshot(documents={}, redirects={}, max_age=0, degraded=f"no build in {where} yet")
