"""The one wiring point of a running service: store, cache, watcher, first refresh, scheduler, web app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask

from feedsvc.cache import Cache, open_cache
from feedsvc.config import Settings
from feedsvc.progress import ScanProgress
from feedsvc.refresh import Refresher
from feedsvc.schedule import Schedule, start_scheduler
from feedsvc.store import Store
from feedsvc.watch import Watcher
from feedsvc.web import create_app

log = logging.getLogger("feedsvc")


@dataclass
class Service:
    """A running feedsvc: its store, refresher, scheduler, watcher, cache and web app."""

    settings: Settings
    store: Store
    refresher: Refresher
    app: Flask
    schedule: Schedule | None
    watcher: Watcher | None = None
    cache: Cache | None = None

    def stop(self) -> None:
        """Stop the scheduler (a refresh under way finishes first), the watcher and the cache."""
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


def start_service(settings: Settings, *, scheduled: bool = True) -> Service:
    """Build the first snapshot, then start the scheduler; the app is ready when this returns."""
    store = Store()
    watcher = Watcher(settings.content_dir) if settings.watch and scheduled else None
    if watcher is not None:
        watcher.start()  # before the first walk, so that nothing changed during it is missed
    cache = open_cache(settings)
    refresher = Refresher(settings, store, changes=watcher, cache=cache, progress=ScanProgress())
    refresher.refresh_safely()
    refresher.progress = None
    snapshot = store.snapshot
    log.info(
        "first refresh: %d articles in %d feed documents, %d problems%s",
        snapshot.articles,
        snapshot.feeds,
        len(snapshot.problems),
        f"; degraded: {snapshot.degraded}" if snapshot.degraded else "",
    )
    schedule = None
    if scheduled:
        # The first refresh's parse results reach the persistent cache right away, in the
        # background: a restart soon after a cold start then finds them.
        soon = refresher.flush if cache is not None else None
        schedule = start_scheduler(refresher.refresh_safely, every=settings.interval_seconds, soon=soon)
    app = create_app(store)
    return Service(settings, store, refresher, app, schedule, watcher=watcher, cache=cache)
