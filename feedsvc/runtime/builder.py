"""Keep a build up to date: `feedsvc build --out DIR|s3://BUCKET/PREFIX --watch`.

The same refresh as `serve` (filesystem events, the scheduled full rescan, the
persistent cache), but each new snapshot is written as files (or objects) and a
manifest for `feedsvc serve --from`, nginx or a CDN to serve. Only documents whose
ETag changed are written; each whole (an atomic rename, a PUT), the manifest last.
With `websub.hub`, the hub is told which feeds changed once they are written.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedsvc.builddir.follower import POLL_SECONDS
from feedsvc.builddir.manifest import (
    CLAIM,
    CONTROL_HEADERS,
    STATUS,
    claim_build_directory,
    files_of,
    listed_files,
    manifest_archives,
    manifest_etags,
    read_build,
    read_manifest,
    recorded_inputs,
    status_of,
    write_build,
)
from feedsvc.builddir.pages import STORED, ArchiveFile, write_archives
from feedsvc.builddir.storage import BUCKET_SCHEME, Directory, Storage, StorageOptions, open_storage, url_scheme
from feedsvc.config import Settings
from feedsvc.errors import BuildError
from feedsvc.feeds.archives import Archives
from feedsvc.index.cache import default_cache_dir
from feedsvc.index.progress import ProgressReport
from feedsvc.model import RefreshStats, Snapshot
from feedsvc.refresh.refresher import Refresher, utc_now
from feedsvc.runtime.inputs import BuildInputs, build_inputs, unchanged_since
from feedsvc.runtime.pipeline import Pipeline, open_pipeline
from feedsvc.runtime.websub import ChangedFeeds
from feedsvc.store import Store

log = logging.getLogger("feedsvc.build")
# Servers that follow the build directory read a new manifest within a poll: the hub,
# which fetches a feed as soon as it is told, is told after they have.
HUB_DELAY_SECONDS = 2 * POLL_SECONDS


@dataclass
class Builder:
    """A refresh pipeline whose snapshots are written to a build directory."""

    settings: Settings
    storage: Storage
    pipeline: Pipeline
    written: Snapshot | None = field(default=None, repr=False)
    files_written: int = 0  # by the last write
    files_removed: int = 0
    archive_files: dict[str, ArchiveFile] | None = field(default=None, repr=False)  # as the manifest lists them
    archived_version: int | None = None  # the catalog version whose archive pages were written last
    # The files the last manifest listed: the only ones a build may remove. None: a directory that holds
    # files of no build of feedsvc's (written into with --force); the first build names those it replaces.
    listed: frozenset[str] | None = field(default=frozenset(), repr=False)
    # The ETags of the documents an earlier builder's manifest in a bucket lists: not uploaded again.
    known: dict[str, str] | None = field(default=None, repr=False)
    # A one-off build into a directory records what it was made of, for the next to tell whether it may keep it.
    record_inputs: bool = False

    @property
    def refresher(self) -> Refresher:
        """Return the builder's refresher."""
        return self.pipeline.refresher

    @property
    def changes(self) -> ChangedFeeds | None:
        """Return what tells the WebSub hub of each build's changed feeds, if anything does."""
        return self.pipeline.changes

    def build(self) -> Snapshot:
        """Refresh, then write what changed since the last write; a failed write is logged and tried again."""
        self.refresher.refresh_safely()
        snapshot = self.refresher.store.snapshot
        if snapshot is self.written:
            return snapshot
        if snapshot.degraded is not None and self.written is None:
            # No good refresh yet (the content directory missing, say, or its volume not mounted):
            # the feeds already in the directory, from an earlier builder, are better than empty ones.
            log.error("not writing the build to %s: %s", self.storage, snapshot.degraded)
            return snapshot
        if self.listed is None:
            self._name_replaced(snapshot)
        try:
            archived = self._write_archives(snapshot)
            written, removed = write_build(
                snapshot,
                self.storage,
                previous=self.written,
                archives=self.archive_files,
                listed=self.listed or (),
                known=self.known,
                inputs=self._inputs(snapshot),
            )
            written += archived
        except OSError as error:
            log.error("cannot write the build to %s: %s; trying again at the next refresh", self.storage, error)
            return snapshot
        if self.written is None and isinstance(self.storage, Directory):
            (self.storage.path / CLAIM).unlink(missing_ok=True)  # the manifest says whose the directory is now
        self.written = snapshot
        self.listed = files_of(snapshot, self.archive_files)
        self.files_written, self.files_removed = written, removed
        if self.changes is not None:
            self.changes(snapshot)
        if written or removed:
            log.info("build %s: %d files written, %d removed", self.storage, written, removed)
        return snapshot

    def _inputs(self, snapshot: Snapshot) -> dict[str, Any] | None:
        """Return what the snapshot was made of, when this build records it and a whole refresh made it."""
        if not self.record_inputs or snapshot.degraded is not None or snapshot.last_refresh is None:
            return None
        refresher = self.refresher
        return build_inputs(self.settings, refresher.index, refresher.next_publication).record()

    def _name_replaced(self, snapshot: Snapshot) -> None:
        """Log the files of the directory, not written by a build, that the first build replaces (--force)."""
        if not isinstance(self.storage, Directory):
            return
        out = self.storage.path
        replaced = [path for path in sorted(snapshot.documents) if (out / path).exists()]
        if replaced:
            shown = ", ".join(replaced[:5]) + (", …" if len(replaced) > 5 else "")
            log.warning("build %s: %d files no build wrote are replaced (--force): %s", out, len(replaced), shown)

    def _write_archives(self, snapshot: Snapshot) -> int:
        """Write the archive pages that changed (first, so that a manifest never names a missing one); return how many.

        The first write compares with the manifest an earlier builder left; later ones with
        what this builder wrote, and not at all while the catalog stays the same.
        """
        archives = snapshot.archives
        known = self.archive_files
        if not isinstance(archives, Archives):
            self.archive_files, self.archived_version = {}, None
            return 0
        if known is not None and archives.version == self.archived_version:
            return 0
        pages, written = write_archives(
            archives,
            self.storage,
            known if known is not None else manifest_archives(self.storage),
            trusted=known is not None,
            stored=STORED[self.settings.archive_pages],
            max_age=snapshot.max_age,
            # The first write makes (or checks) every page: at a million articles, most of an hour
            # when none is there yet. Later ones make the few pages a refresh changed.
            progress=ProgressReport(doing="writing archive pages", unit="pages") if known is None else None,
        )
        self.archive_files, self.archived_version = pages, archives.version
        return written

    def stop(self) -> None:
        """Stop the schedule (a refresh under way finishes and is written), the watcher, the cache and the notifier."""
        self.pipeline.stop()


def protected_paths(settings: Settings) -> tuple[Path, ...]:
    """Return the directories a build directory must not overlap: the content and the parse cache."""
    return (settings.content_dir, settings.cache_dir or default_cache_dir())


def config_of(settings: Settings) -> tuple[Path, ...]:
    """Return the config file the settings were read from, if any (a build directory must not hold it)."""
    source = Path(settings.source)
    return (source,) if source.is_file() else ()


def storage_options(settings: Settings) -> StorageOptions:
    """Return how to reach object storage, as `storage.*` in the settings says."""
    return StorageOptions(
        endpoint=settings.storage_endpoint,
        region=settings.storage_region,
        addressing_style=settings.storage_addressing_style,
    )


def start_builder(settings: Settings, out: Path | str, *, watch: bool, force: bool = False) -> Builder:
    """Build once; with `watch`, keep building on the schedule until `stop()`.

    `out` is a local directory, or `s3://BUCKET/PREFIX`. A directory that is not empty
    must hold an earlier build (or `force`); a build removes only files that the manifest
    before it listed. In a bucket, nothing is listed: what the manifest there lists (with
    its ETags) is what a build compares with, and is all it may remove; objects no manifest
    listed stay. With `watch` and `websub.hub`, the hub is told of the feeds each build
    changed, the first build's compared with what was built before; a single build tells no hub.

    Raises:
        BuildError: the directory is refused, or the bucket URL is not one (nothing was written).
    """
    if isinstance(out, str) and url_scheme(out) == BUCKET_SCHEME:
        storage = open_storage(out, storage_options(settings))
        manifest = read_manifest(storage)  # one GET of it for both
        listed: frozenset[str] | None = (listed_files(storage, manifest) if manifest else None) or frozenset()
        known = manifest_etags(storage, manifest) if manifest else None
    else:
        directory = Path(out)
        protected, config = protected_paths(settings), config_of(settings)
        manifests: list[dict[str, Any]] = []  # the one read, for a one-off build to tell whether to keep it
        seen = None if watch else manifests.append
        listed = claim_build_directory(directory, force=force, keep_out=protected, never_inside=config, seen=seen)
        storage, known = Directory(directory), None
        if manifests and listed:
            kept = _kept_build(settings, directory, listed, manifests.pop())
            if kept is not None:
                return kept
        manifests.clear()  # not held through a build: at a million articles, hundreds of MB of objects
    pipeline = open_pipeline(settings, Store(), watch=watch, for_build=True)
    builder = Builder(settings, storage, pipeline, listed=listed, known=known)
    builder.record_inputs = not watch and isinstance(storage, Directory)
    if watch and settings.websub_hub:
        previous = known if known is not None else manifest_etags(storage)  # a bucket's: read once, above
        pipeline.changes = ChangedFeeds(settings, previous=previous, min_delay=HUB_DELAY_SECONDS)
    builder.build()
    if watch:
        pipeline.start_schedule(builder.build, every=settings.interval_seconds)
    return builder


def _kept_build(
    settings: Settings, directory: Path, listed: frozenset[str], manifest: dict[str, Any]
) -> Builder | None:
    """Return a builder that kept the build in `directory` as it is, when its inputs are today's; else None.

    Nothing is written but the status, whose heartbeat says a refresh ran (a walk, no file read),
    and which keeps the inputs for the next build. A build whose files do not match its manifest
    is made again.
    """
    started, clock = utc_now(), time.monotonic()
    recorded = BuildInputs.recorded(recorded_inputs(directory))  # None from a status of another format
    if recorded is None or not unchanged_since(recorded, settings, started, directory, listed):
        return None
    try:
        kept = read_build(directory, data=manifest)
    except BuildError as error:
        log.warning("build %s: made again: %s", directory, error)
        return None
    count = recorded.files
    stats = RefreshStats(started, round(time.monotonic() - clock, 3), count, 0, 0, 0)
    snapshot = dataclasses.replace(kept, last_refresh=stats)
    storage = Directory(directory)
    storage.write(STATUS, status_of(snapshot, recorded.record()), CONTROL_HEADERS)
    log.info("build %s: kept, nothing changed (%d content files, %d built files)", directory, count, len(listed))
    # A refresher over the kept snapshot, which never refreshes: no cache to open, no watcher.
    pipeline = Pipeline(Refresher(settings, Store(snapshot), for_build=True))
    return Builder(settings, storage, pipeline, written=snapshot, listed=listed)
