"""Keep a build directory up to date: `feedsvc build --out DIR --watch`.

The same refresh as `serve` (filesystem events, the scheduled full rescan, the
persistent cache), but each new snapshot is written as files and a manifest
for `feedsvc serve --from DIR`, nginx or a CDN to serve. Only documents whose
ETag changed are written; each by an atomic rename, the manifest last.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from feedsvc.builds import write_build
from feedsvc.cache import Cache, open_cache
from feedsvc.config import Settings
from feedsvc.model import Snapshot
from feedsvc.progress import ScanProgress
from feedsvc.refresh import Refresher
from feedsvc.schedule import Schedule, start_scheduler
from feedsvc.store import Store
from feedsvc.watch import Watcher

log = logging.getLogger("feedsvc.build")


@dataclass
class Builder:
    """A refresher whose snapshots are written to a build directory."""

    settings: Settings
    out: Path
    refresher: Refresher
    cache: Cache | None = None
    watcher: Watcher | None = None
    schedule: Schedule | None = None
    written: Snapshot | None = field(default=None, repr=False)
    files_written: int = 0  # by the last write
    files_removed: int = 0

    def build(self) -> Snapshot:
        """Refresh, then write what changed since the last write; a failed write is logged and tried again."""
        self.refresher.refresh_safely()
        snapshot = self.refresher.store.snapshot
        if snapshot is self.written:
            return snapshot
        try:
            written, removed = write_build(snapshot, self.out, previous=self.written)
        except OSError as error:
            log.error("cannot write the build to %s: %s; trying again at the next refresh", self.out, error)
            return snapshot
        self.written = snapshot
        self.files_written, self.files_removed = written, removed
        if written > 1 or removed:  # more than the manifest alone
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


def start_builder(settings: Settings, out: Path, *, watch: bool) -> Builder:
    """Build once; with `watch`, keep building on the schedule until `stop()`."""
    watcher = Watcher(settings.content_dir) if watch and settings.watch else None
    if watcher is not None:
        watcher.start()
    cache = open_cache(settings)
    refresher = Refresher(settings, Store(), changes=watcher, cache=cache, progress=ScanProgress())
    builder = Builder(settings, out, refresher, cache=cache, watcher=watcher)
    builder.build()
    refresher.progress = None
    if watch:
        soon = refresher.flush if cache is not None else None
        builder.schedule = start_scheduler(builder.build, every=settings.interval_seconds, soon=soon)
    return builder
