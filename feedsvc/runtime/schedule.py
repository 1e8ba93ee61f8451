"""Run the refresh on an interval in a background thread; the only module that imports APScheduler."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

# APScheduler logs every run at INFO, and at WARNING each run skipped because the last
# one is still going (expected: a first refresh of 100,000 files outlasts a short interval).
# The refresh logs what matters itself, failures included.
logging.getLogger("apscheduler").setLevel(logging.ERROR)


class Schedule:
    """A started interval job; `stop()` ends it and waits for a running refresh to finish."""

    def __init__(self, scheduler: BackgroundScheduler, once: threading.Thread | None = None) -> None:
        self._scheduler = scheduler
        self._once = once

    def stop(self) -> None:
        """Stop the scheduler, letting a refresh under way complete (and the job run once at the start)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._once is not None:
            self._once.join()


def start_scheduler(job: Callable[[], object], *, every: int, soon: Callable[[], object] | None = None) -> Schedule:
    """Run `job` every `every` seconds, one run at a time; missed runs collapse into one.

    `soon`, if given, runs once in the background right after the start (the first
    refresh's cache write: done while already serving, not minutes later), in a thread of
    its own: as a one-off job of the scheduler, a stop while it ran made the scheduler's
    thread fail to remove it (its job store is emptied at shutdown).
    """
    scheduler = BackgroundScheduler(timezone=UTC)
    once = None
    if soon is not None:
        once = threading.Thread(target=soon, name="feedsvc-soon", daemon=True)
    scheduler.add_job(
        job,
        "interval",
        seconds=every,
        id="refresh",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, every),
        next_run_time=datetime.now(UTC) + timedelta(seconds=every),
    )
    scheduler.start()
    if once is not None:
        once.start()
    return Schedule(scheduler, once)
