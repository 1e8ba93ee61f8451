"""A running refresh: watcher, parse cache, refresher, schedule and the hub's notifier, started and stopped together.

`serve` (service.py) and `build --watch` (builder.py) each run one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from feedsvc.config import Settings
from feedsvc.index.cache import Cache, open_cache
from feedsvc.index.progress import ProgressReport
from feedsvc.index.scan import StopFlag
from feedsvc.index.watch import Watcher
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime.schedule import Schedule, start_scheduler
from feedsvc.runtime.trigger import RefreshTrigger
from feedsvc.runtime.websub import ChangedFeeds
from feedsvc.store import Store


@dataclass
class Pipeline:
    """The parts of a running refresh; `stop()` ends them in order."""

    refresher: Refresher
    watcher: Watcher | None = None
    cache: Cache | None = None
    schedule: Schedule | None = None
    changes: ChangedFeeds | None = None  # tells the WebSub hub which feeds each snapshot changed
    settle: float = 0.0  # with a watcher: refresh this long after filesystem events settle (0: on the schedule only)
    trigger: RefreshTrigger | None = None

    def start_schedule(self, job: Callable[[], object], *, every: int) -> None:
        """Run `job` every `every` seconds, and soon after filesystem events; one run at a time.

        The first refresh's results reach the cache at once, in the background (a restart
        soon after a cold start then finds them).
        """
        run = _one_at_a_time(job)
        soon = self.refresher.flush if self.cache is not None else None
        self.schedule = start_scheduler(run, every=every, soon=soon)
        if self.watcher is not None and self.settle > 0:
            self.trigger = RefreshTrigger(run, settle=self.settle)
            self.watcher.notify(self.trigger.poke)

    def stop(self) -> None:
        """Stop the schedule (a refresh under way ends at the next file), the watcher, the cache, the notifier."""
        self.refresher.stop()
        if self.watcher is not None:
            self.watcher.notify(None)
        if self.trigger is not None:
            self.trigger.stop()
            self.trigger = None
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


def open_pipeline(
    settings: Settings, store: Store, *, watch: bool, stop: StopFlag | None = None, for_build: bool = False
) -> Pipeline:
    """Start watching (when asked and configured) and open the cache: a refresher ready for its first refresh.

    Setting `stop` (or stopping the pipeline) ends a refresh under way at the next file. The first
    refresh reports its progress. `for_build`: a build's, which makes every archive page in a row.
    """
    watcher = Watcher(settings.content_dir) if watch and settings.watch else None
    if watcher is not None:
        watcher.start()  # before the first walk, so that nothing changed during it is missed
    cache = open_cache(settings)
    refresher = Refresher(
        settings, store, changes=watcher, cache=cache, progress=ProgressReport(), stop=stop, for_build=for_build
    )
    return Pipeline(refresher, watcher=watcher, cache=cache, settle=settings.settle_ms / 1000)


def _one_at_a_time(job: Callable[[], object]) -> Callable[[], object]:
    """The job, run by one thread at a time: the schedule's and the events' runs wait for each other."""
    lock = threading.Lock()

    def run() -> object:
        with lock:
            return job()

    return run
