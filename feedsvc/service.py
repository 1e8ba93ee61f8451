"""The one wiring point of a running service: store, cache, watcher, first refresh, scheduler, web app, WebSub.

Or, serving a build directory, the follower of its manifest instead of the refresh.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

from feedsvc.config import Settings, load_settings
from feedsvc.errors import ConfigError
from feedsvc.follow import POLL_SECONDS, Follower, empty_snapshot
from feedsvc.pipeline import Pipeline, open_pipeline
from feedsvc.refresh import Refresher
from feedsvc.schedule import Schedule, start_scheduler
from feedsvc.store import Store
from feedsvc.web import create_app
from feedsvc.websub import ChangedFeeds

log = logging.getLogger("feedsvc")


@dataclass
class Service:
    """A running feedsvc: its store, its refresh pipeline and its web app."""

    settings: Settings
    store: Store
    pipeline: Pipeline
    app: Flask
    _reloading: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def refresher(self) -> Refresher:
        """Return the refresher of the config in force."""
        return self.pipeline.refresher

    @property
    def changes(self) -> ChangedFeeds | None:
        """Return what tells the WebSub hub of changed feeds, if anything does."""
        return self.pipeline.changes

    def stop(self) -> None:
        """Stop the scheduler (a refresh under way finishes first), the watcher, the cache and the hub's notifier."""
        self.pipeline.stop()

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
            old = self.pipeline
            scheduled = old.schedule is not None
            changes, old.changes = old.changes, None  # not stopped: what it still has to send is sent
            old.stop()
            self.settings = settings
            if changes is not None:
                changes.reconfigure(settings)  # before the new first refresh, whose changes it is told
            self.pipeline = _start_pipeline(settings, self.store, scheduled=scheduled)
            self.pipeline.changes = changes
            log.info("config reload: %s is in force", config_file)
            return True


def _start_pipeline(settings: Settings, store: Store, *, scheduled: bool) -> Pipeline:
    """Start watching, open the cache, run the first refresh into `store`, then the schedule."""
    pipeline = open_pipeline(settings, store, watch=scheduled)
    refresher = pipeline.refresher
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
    if scheduled:
        pipeline.start_schedule(refresher.refresh_safely, every=settings.interval_seconds)
    return pipeline


def start_service(settings: Settings, *, scheduled: bool = True) -> Service:
    """Build the first snapshot, then start the scheduler; the app is ready when this returns."""
    store = Store()
    changes = ChangedFeeds(settings)  # the first refresh sets what later ones are compared with
    store.subscribe(changes)
    pipeline = _start_pipeline(settings, store, scheduled=scheduled)
    pipeline.changes = changes
    return Service(settings, store, pipeline, create_app(store))


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
