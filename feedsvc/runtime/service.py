"""The one wiring point of a running service: store, cache, watcher, first refresh, scheduler, web app, WebSub.

Or, serving a build directory, the follower of its manifest instead of the refresh.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

from feedsvc.builddir.follower import POLL_SECONDS, Follower, empty_snapshot
from feedsvc.builddir.storage import Directory, StorageOptions, open_storage
from feedsvc.config import Settings, load_settings
from feedsvc.errors import ConfigError
from feedsvc.http.app import create_app
from feedsvc.index.scan import StopFlag, no_article_message
from feedsvc.model import Snapshot
from feedsvc.refresh.refresher import Refresher
from feedsvc.refresh.restore import restored_snapshot
from feedsvc.runtime.builder import storage_options
from feedsvc.runtime.counting import counting_options, open_recorder
from feedsvc.runtime.pipeline import Pipeline, open_pipeline
from feedsvc.runtime.schedule import Schedule, start_scheduler
from feedsvc.runtime.websub import ChangedFeeds
from feedsvc.store import Store
from feedsvc.subscribers.recorder import Recorder

log = logging.getLogger("feedsvc")


@dataclass
class Service:
    """A running feedsvc: its store, its refresh pipeline and its web app."""

    settings: Settings
    store: Store
    pipeline: Pipeline
    app: Flask
    # Set when the service stops: a refresh under way, a reload's first one too, ends at the next file.
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _reloading: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _starting: Pipeline | None = field(default=None, repr=False)  # a reload's, during its first refresh
    feed_url: str | None = None  # site.feed_url when a config sets none (the address served on), at reloads too
    scheduled: bool = True  # refreshes on a schedule and on filesystem events (not only when asked)
    subscribers: Recorder | None = None  # counts who polls the feeds (stats.enabled)

    @property
    def refresher(self) -> Refresher:
        """Return the refresher of the config in force."""
        return self.pipeline.refresher

    @property
    def changes(self) -> ChangedFeeds | None:
        """Return what tells the WebSub hub of changed feeds, if anything does."""
        return self.pipeline.changes

    def stop(self) -> None:
        """Stop the scheduler (a refresh under way ends at the next file), the watcher, the cache, the notifier."""
        self.stopping.set()
        starting = self._starting
        if starting is not None:
            starting.refresher.stop()
        with self._reloading:
            self.pipeline.stop()
        if self.subscribers is not None:
            self.subscribers.stop()

    def reload(self, config_file: Path) -> bool:
        """Swap in the config the file holds now, if valid and its content readable; otherwise keep the running one.

        The current feeds keep serving, and refreshing, while the new config's first
        refresh runs into a store of its own; its snapshot then replaces them in one
        step. The same rule as at a refresh: content that cannot be read (a missing
        or unreadable directory, or one left empty as by a volume not mounted) never
        replaces the last good feeds; such a reload is refused. Returns whether the config changed.
        """
        with self._reloading:
            if self.stopping.is_set():
                return False
            try:
                settings = load_settings(config_file, feed_url=self.feed_url)
            except ConfigError as error:
                log.error("config reload: %s; the running config stays in force", error)
                return False
            if settings == self.settings:
                log.info("config reload: %s has not changed", config_file)
                return False
            old = self.pipeline
            scheduled = self.scheduled
            trial = Store()
            new = open_pipeline(settings, trial, watch=scheduled)
            self._starting = new
            try:
                _first_refresh(new, f"config reload: {config_file}: the new config's first refresh")
            finally:
                self._starting = None
            refusal = None if self.stopping.is_set() else _unreadable(settings, trial.snapshot, self.store.snapshot)
            if self.stopping.is_set() or refusal is not None:
                new.stop()
                if refusal is not None:
                    log.error(
                        "config reload: %s refused: %s; the running config stays in force and its %d articles "
                        "keep serving (send SIGHUP again once the content can be read)",
                        config_file,
                        refusal,
                        self.store.snapshot.articles,
                    )
                return False
            changes, old.changes = old.changes, None  # not stopped: what it still has to send is sent
            old.stop()
            self.settings = settings
            if self.subscribers is not None:  # counting goes on in the same file; how, as the new config says
                self.subscribers.options = counting_options(settings)
            if changes is not None:
                changes.reconfigure(settings)  # before the new snapshot, whose changes it is told
            new.refresher.publish_to(self.store)
            self.store.replace(trial.snapshot)
            new.changes = changes
            if scheduled:
                new.start_schedule(new.refresher.refresh_safely, every=settings.interval_seconds)
            self.pipeline = new
            log.info("config reload: %s is in force", config_file)
            return True


def _unreadable(settings: Settings, tried: Snapshot, served: Snapshot) -> str | None:
    """Say why a new config's first snapshot must not replace the served one, or None when it may.

    It must not when its content directory could not be read (or its refresh failed), or
    when that directory is empty while the served feeds have articles: what an unmounted
    volume looks like (the rule a refresh applies to its own directory).
    """
    if tried.degraded is not None:
        return tried.degraded
    if tried.articles == 0 and served.articles > 0:
        try:
            with os.scandir(settings.content_dir) as listing:
                empty = next(listing, None) is None
        except OSError as error:
            return f"content directory {settings.content_dir}: {error.strerror or error}"
        if empty:
            return f"content directory {settings.content_dir}: empty, as when its volume is not mounted"
    return None


def _first_refresh(pipeline: Pipeline, label: str = "first refresh") -> None:
    """Run a pipeline's first refresh into its store, and log what it found (unless it was stopped)."""
    refresher = pipeline.refresher
    refresher.refresh_safely()
    if refresher.stopped:
        return
    snapshot = refresher.store.snapshot
    log.info(
        "%s: %d articles in %d feed documents, %d problems%s",
        label,
        snapshot.articles,
        snapshot.feed_documents,
        len(snapshot.problems),
        f"; degraded: {snapshot.degraded}" if snapshot.degraded else "",
    )
    if snapshot.degraded is None and snapshot.last_refresh is not None and snapshot.last_refresh.files_seen == 0:
        log.warning(no_article_message(refresher.settings.content_dir, refresher.settings.extensions))


def start_service(
    settings: Settings,
    *,
    scheduled: bool = True,
    stop: StopFlag | None = None,
    feed_url: str | None = None,
    restore: bool = False,
) -> Service:
    """Build the first snapshot, then start the scheduler; the app is ready when this returns.

    `feed_url` is what a reloaded config that sets no site.feed_url takes for it.

    With `restore`, when the cache holds the documents the last run over the same settings
    served, those serve at once and the first refresh runs in a thread of its own (its
    snapshot then replaces them, and the schedule starts); otherwise it runs here.

    Setting `stop` (the process is asked to end) ends the first refresh at the next file:
    nothing is published and no schedule starts; the returned service is then only to be stopped.
    """
    store = Store()
    changes = ChangedFeeds(settings)  # the first snapshot sets what later ones are compared with
    store.subscribe(changes)
    pipeline = open_pipeline(settings, store, watch=scheduled, stop=stop)
    pipeline.changes = changes
    restored = restored_snapshot(pipeline.cache, settings) if restore else None
    subscribers = open_recorder(settings) if scheduled else None
    if subscribers is not None:
        subscribers.start()
    service = Service(
        settings,
        store,
        pipeline,
        create_app(store, subscribers),
        feed_url=feed_url,
        scheduled=scheduled,
        subscribers=subscribers,
    )
    if restored is None:
        _first_refresh(pipeline)
        _schedule(service, pipeline)
        return service
    store.replace(restored)
    log.info(
        "serving the %d feed documents of the last run (%d articles) until the first refresh ends",
        restored.feed_documents,
        restored.articles,
    )
    threading.Thread(
        target=_first_refresh_then_schedule,
        args=(service, pipeline),
        name="feedsvc-first-refresh",
        daemon=True,  # stopped by service.stop at exit, which a join at interpreter shutdown would come after
    ).start()
    return service


def _first_refresh_then_schedule(service: Service, pipeline: Pipeline) -> None:
    """Run the first refresh of a service serving a restored snapshot, then start its schedule."""
    _first_refresh(pipeline)
    _schedule(service, pipeline)


def _schedule(service: Service, pipeline: Pipeline) -> None:
    """Start the schedule of a pipeline whose first refresh ended, unless the service stopped or reloaded meanwhile."""
    with service._reloading:
        if service.scheduled and not pipeline.refresher.stopped and service.pipeline is pipeline:
            pipeline.start_schedule(pipeline.refresher.refresh_safely, every=service.settings.interval_seconds)


@dataclass
class FollowingService:
    """A running `serve --from DIR`: the web app over the last complete build in a directory."""

    store: Store
    follower: Follower
    app: Flask
    schedule: Schedule | None
    subscribers: Recorder | None = None

    def stop(self) -> None:
        """Stop following the directory, and counting."""
        if self.schedule is not None:
            self.schedule.stop()
            self.schedule = None
        if self.subscribers is not None:
            self.subscribers.stop()


def start_following(
    build: Path | str,
    *,
    scheduled: bool = True,
    options: StorageOptions | None = None,
    settings: Settings | None = None,
) -> FollowingService:
    """Read the build in a directory or bucket (if any yet), then look for a new one every second.

    A bucket (`s3://BUCKET/PREFIX`) is reached as the AWS environment variables and config
    files say, and `options` (`storage.*` of a config file) where they are given. `settings`,
    from the config file a replica was given, if any, say that too (`storage.*`), and how and
    where it counts subscribers (`stats.*`, `server.trusted_proxies`, `cache.dir`); without
    them, the defaults.

    Raises:
        BuildError: an s3:// URL that is not one, or no S3 client library installed.
    """
    if options is None and settings is not None and isinstance(build, str):
        options = storage_options(settings)
    storage = open_storage(build, options)
    store = Store(empty_snapshot(storage))
    follower = Follower(storage, store)
    follower.check_safely()
    log.info("serving the build in %s (%d feed documents)", storage, store.snapshot.feed_documents)
    schedule = start_scheduler(follower.check_safely, every=POLL_SECONDS) if scheduled else None
    # Counted as the replica's config file says (else the defaults), in a file named after what is served.
    served = storage.path if isinstance(storage, Directory) else str(storage)
    subscribers = open_recorder(settings or Settings(), served) if scheduled else None
    if subscribers is not None:
        subscribers.start()
    return FollowingService(store, follower, create_app(store, subscribers), schedule, subscribers)
