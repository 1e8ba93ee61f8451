"""Serve a build directory: follow the manifest that `feedsvc build` writes, read no content.

Polled every second: a new manifest (another size, time or inode) is read, and
only the documents whose ETag changed are read from disk. A build directory
that cannot be read, or a manifest whose files are still being replaced, leaves
the last good documents serving; the first case marks the service degraded.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from feedsvc.builddir.manifest import ManifestStamp, manifest_stamp, read_build
from feedsvc.errors import BuildError
from feedsvc.model import Snapshot
from feedsvc.store import Store

log = logging.getLogger("feedsvc.follow")

POLL_SECONDS = 1
# Files that do not match a new manifest yet are a build being written: retried at the next
# poll, and only reported (as degraded) when it lasts this many polls.
PATIENCE_POLLS = 5


class Follower:
    """Keeps a store's snapshot equal to the last complete build in a directory."""

    def __init__(self, directory: Path, store: Store) -> None:
        self.directory = directory
        self.store = store
        self._stamp: ManifestStamp | None = None
        self._failures = 0
        self._reported: str | None = None
        self.loaded = 0  # builds read so far

    def check(self) -> bool:
        """Read the build again if its manifest changed; return whether a new snapshot was swapped in."""
        stamp = manifest_stamp(self.directory)
        if stamp.manifest is not None and stamp == self._stamp:
            return False
        current = self.store.snapshot if self.loaded else None
        try:
            snapshot = read_build(self.directory, current)
        except BuildError as error:
            self._failed(str(error), missing=stamp.manifest is None)
            return False
        self._stamp = stamp
        self._failures = 0
        if self._reported is not None:
            log.info("build directory %s is readable again", self.directory)
            self._reported = None
        self.store.replace(snapshot)
        self.loaded += 1
        return True

    def _failed(self, message: str, *, missing: bool) -> None:
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
            log.exception("reading the build directory %s failed; the last good feeds keep serving", self.directory)


def empty_snapshot(directory: Path) -> Snapshot:
    """The snapshot before any build was read: nothing to serve, and degraded until one is."""
    return Snapshot(documents={}, redirects={}, max_age=0, degraded=f"no build in {directory} yet")
