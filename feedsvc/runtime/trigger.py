"""Refresh soon after filesystem events, not at the next scheduled run: a change shows within about a second.

`RefreshTrigger.poke()` is called for every event (from the watcher's thread: it only
notes the time). Its own thread runs the refresh once events have been quiet for
`settle` seconds, or `4 × settle` after the first event of a burst that does not settle,
so that a burst of a thousand writes makes a few refreshes, not a thousand. The
schedule stays the safety net. It knows nothing of files or feeds: it runs a job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("feedsvc.refresh")

# A burst that never settles is refreshed this many settle times after its first event.
LATEST_SETTLES = 4


class RefreshTrigger:
    """Runs `job` in a thread of its own after events settle; one run at a time."""

    def __init__(self, job: Callable[[], object], *, settle: float) -> None:
        self._job = job
        self._settle = settle
        self._condition = threading.Condition()
        self._first: float | None = None  # when the first event not yet refreshed came
        self._last = 0.0  # and the latest
        self._stopped = False
        self.runs = 0  # refreshes this trigger made
        self._thread = threading.Thread(target=self._run, name="feedsvc-events", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Note that something changed: a refresh follows once changes settle."""
        now = time.monotonic()
        with self._condition:
            if self._first is None:
                self._first = now
            self._last = now
            self._condition.notify()

    def stop(self) -> None:
        """End the thread, after the refresh under way (if any)."""
        with self._condition:
            self._stopped = True
            self._condition.notify()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _due(self) -> float | None:
        """Seconds until the next refresh is due (0: now), or None when nothing waits (called with the lock held)."""
        if self._first is None:
            return None
        due = min(self._last + self._settle, self._first + self._settle * LATEST_SETTLES)
        return max(0.0, due - time.monotonic())

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopped and (wait := self._due()) != 0:
                    self._condition.wait(wait)
                if self._stopped:
                    return
                self._first = None
            self.runs += 1
            try:
                self._job()
            except Exception:  # the job logs its own failures; this is only a guard for the thread
                log.exception("a refresh after filesystem events failed")
