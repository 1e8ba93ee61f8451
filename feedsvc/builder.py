"""Keep a build directory up to date: `feedsvc build --out DIR --watch`.

The same refresh as `serve` (filesystem events, the scheduled full rescan, the
persistent cache), but each new snapshot is written as files and a manifest
for `feedsvc serve --from DIR`, nginx or a CDN to serve. Only documents whose
ETag changed are written; each by an atomic rename, the manifest last. With
`websub.hub`, the hub is told which feeds changed once they are written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from feedsvc.builds import manifest_etags, write_build
from feedsvc.cache import Cache, open_cache
from feedsvc.config import Settings
from feedsvc.follow import POLL_SECONDS
from feedsvc.model import Snapshot
from feedsvc.progress import ScanProgress
from feedsvc.refresh import Refresher
from feedsvc.schedule import Schedule, start_scheduler
from feedsvc.store import Store
from feedsvc.watch import Watcher
from feedsvc.websub import ChangedFeeds

log = logging.getLogger("feedsvc.build")
# Servers that follow the build directory read a new manifest within a poll: the hub,
# which fetches a feed as soon as it is told, is told after they have.
HUB_DELAY_SECONDS = 2 * POLL_SECONDS


@dataclass
class Builder:
    """A refresher whose snapshots are written to a build directory."""

    settings: Settings
    out: Path
    refresher: Refresher
    cache: Cache | None = None
    watcher: Watcher | None = None
    schedule: Schedule | None = None
    changes: ChangedFeeds | None = None  # told of each build written, for the WebSub hub
    written: Snapshot | None = field(default=None, repr=False)
    files_written: int = 0  # by the last write
    files_removed: int = 0

    def build(self) -> Snapshot:
        """Refresh, then write what changed since the last write; a failed write is logged and tried again."""
        self.refresher.refresh_safely()
        snapshot = self.refresher.store.snapshot
        if snapshot is self.written:
            return snapshot
        if snapshot.degraded is not None and self.written is None:
            # No good refresh yet (the content directory missing, say, or its volume not mounted):
            # the feeds already in the directory, from an earlier builder, are better than empty ones.
            log.error("not writing the build to %s: %s", self.out, snapshot.degraded)
            return snapshot
        try:
            written, removed = write_build(snapshot, self.out, previous=self.written)
        except OSError as error:
            log.error("cannot write the build to %s: %s; trying again at the next refresh", self.out, error)
            return snapshot
        self.written = snapshot
        self.files_written, self.files_removed = written, removed
        if self.changes is not None:
            self.changes(snapshot)
        if written or removed:
            log.info("build %s: %d files written, %d removed", self.out, written, removed)
        return snapshot

    def stop(self) -> None:
        """Stop the schedule (a refresh under way finishes and is written), the watcher and the cache."""
        if self.schedule is not None:
            self.schedule.stop()
            self.schedule = None
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self.cache is not None:
            self.refresher.flush()
            self.cache.close()
            self.cache = None
        if self.changes is not None:
            self.changes.stop()
            self.changes = None


def start_builder(settings: Settings, out: Path, *, watch: bool) -> Builder:
    """Build once; with `watch`, keep building on the schedule until `stop()`.

    With `watch` and `websub.hub`, the hub is told of the feeds each build changed, the
    first build's compared with what the directory held before; a single build tells no hub.
    """
    watcher = Watcher(settings.content_dir) if watch and settings.watch else None
    if watcher is not None:
        watcher.start()
    cache = open_cache(settings)
    refresher = Refresher(settings, Store(), changes=watcher, cache=cache, progress=ScanProgress())
    builder = Builder(settings, out, refresher, cache=cache, watcher=watcher)
    if watch and settings.websub_hub:
        builder.changes = ChangedFeeds(settings, previous=manifest_etags(out), min_delay=HUB_DELAY_SECONDS)
    builder.build()
    refresher.progress = None
    if watch:
        soon = refresher.flush if cache is not None else None
        builder.schedule = start_scheduler(builder.build, every=settings.interval_seconds, soon=soon)
    return builder
