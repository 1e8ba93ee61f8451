"""The one wiring point of a running service: store, cache, watcher, first refresh, scheduler, web app, WebSub.

Or, serving a build directory, the follower of its manifest instead of the refresh.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

from feedsvc.cache import Cache, open_cache
from feedsvc.config import Settings, load_settings
from feedsvc.errors import ConfigError
from feedsvc.follow import POLL_SECONDS, Follower, empty_snapshot
from feedsvc.progress import ScanProgress
from feedsvc.refresh import Refresher
from feedsvc.schedule import Schedule, start_scheduler
from feedsvc.store import Store
from feedsvc.watch import Watcher
from feedsvc.web import create_app
from feedsvc.websub import ChangedFeeds

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
    changes: ChangedFeeds | None = None  # tells the WebSub hub which feeds each snapshot changed
    _reloading: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def stop(self) -> None:
        """Stop the scheduler (a refresh under way finishes first), the watcher, the cache and the hub's notifier."""
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

    def reload(self, config_file: Path) -> bool:
        """Swap in the config the file holds now, if it is valid; otherwise keep the running one.

        The current feeds keep serving while the new config's first refresh runs;
        its snapshot then replaces them in one step. Returns whether the config changed.
        """
        with self._reloading:
            try:
                settings = load_settings(config_file)
            except ConfigError as error:
                log.error("config reload: %s; the running config stays in force", error)
                return False
            if settings == self.settings:
                log.info("config reload: %s has not changed", config_file)
                return False
            scheduled = self.schedule is not None
            changes, self.changes = self.changes, None  # not stopped: what it still has to send is sent
            self.stop()
            self.settings = settings
            if changes is not None:
                changes.reconfigure(settings)  # before the new first refresh, whose changes it is told
                self.changes = changes
            self.refresher, self.watcher, self.cache = _start_pipeline(settings, self.store, scheduled=scheduled)
            self.schedule = _start_schedule(self.refresher, settings, self.cache) if scheduled else None
            log.info("config reload: %s is in force", config_file)
            return True


def _start_pipeline(
    settings: Settings, store: Store, *, scheduled: bool
) -> tuple[Refresher, Watcher | None, Cache | None]:
    """Start watching, open the cache and run the first refresh into `store`."""
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
    return refresher, watcher, cache


def _start_schedule(refresher: Refresher, settings: Settings, cache: Cache | None) -> Schedule:
    # The first refresh's parse results reach the persistent cache right away, in the
    # background: a restart soon after a cold start then finds them.
    soon = refresher.flush if cache is not None else None
    return start_scheduler(refresher.refresh_safely, every=settings.interval_seconds, soon=soon)


def start_service(settings: Settings, *, scheduled: bool = True) -> Service:
    """Build the first snapshot, then start the scheduler; the app is ready when this returns."""
    store = Store()
    changes = ChangedFeeds(settings)  # the first refresh sets what later ones are compared with
    store.subscribe(changes)
    refresher, watcher, cache = _start_pipeline(settings, store, scheduled=scheduled)
    schedule = _start_schedule(refresher, settings, cache) if scheduled else None
    app = create_app(store)
    return Service(settings, store, refresher, app, schedule, watcher=watcher, cache=cache, changes=changes)


@dataclass
class FollowingService:
    """A running `serve --from DIR`: the web app over the last complete build in a directory."""

    store: Store
    follower: Follower
    app: Flask
    schedule: Schedule | None

    def stop(self) -> None:
        """Stop following the directory."""
        if self.schedule is not None:
            self.schedule.stop()
            self.schedule = None


def start_following(directory: Path, *, scheduled: bool = True) -> FollowingService:
    """Read the build in `directory` (if any yet), then look for a new one every second."""
    store = Store(empty_snapshot(directory))
    follower = Follower(directory, store)
    follower.check_safely()
    log.info("serving the build in %s (%d feed documents)", directory, store.snapshot.feeds)
    schedule = start_scheduler(follower.check_safely, every=POLL_SECONDS) if scheduled else None
    return FollowingService(store, follower, create_app(store), schedule)
