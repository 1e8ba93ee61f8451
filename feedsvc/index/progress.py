"""Show how long work goes (a scan's parsing, a build's archive pages): a bar on a terminal, else log lines."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger("feedsvc.progress")

# Work of fewer items than this is over before a progress report would help.
MIN_FILES = 2000
LOG_EVERY_SECONDS = 5.0
# An estimate of the time left is given once the work has gone on this long (before, it says little).
ESTIMATE_AFTER_SECONDS = 10.0


def _duration(seconds: float) -> str:
    """Return a duration as people read it: 40 s, 12 min, 2 h 5 min."""
    if seconds < 100:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 100 else f"{minutes // 60} h {minutes % 60} min"


class ProgressReport:
    """A progress callback, `progress(done, total)`, for a scan's parsing or a build's archive pages.

    `total` is None while the walk that finds the files still goes on (a cold start of
    many files is parsed as it is walked): the count of files parsed so far is shown.
    `doing` and `unit` name the work: "parsing" "files", "writing archive pages" "pages".
    """

    def __init__(self, stream: TextIO | None = None, *, doing: str = "parsing", unit: str = "files") -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = hasattr(self._stream, "isatty") and self._stream.isatty()
        self._doing, self._unit = doing, unit
        self._started = time.monotonic()
        self._last = self._started
        self._done = 0
        self._shown = 0  # the length of the line last drawn on a terminal
        self._finished = True  # no work under way: the next report starts one

    def __call__(self, done: int, total: int | None) -> None:
        if total is not None and total < MIN_FILES:
            return
        now = time.monotonic()
        if done < self._done or self._finished:
            # New work (the counts start again): time it from its own first report.
            self._started = self._last = now
        self._done = done
        self._finished = total is not None and done >= total
        elapsed = now - self._started
        doing, unit = self._doing, self._unit
        if self._tty:
            if total is None:
                line, end = f"{doing} {done:,} {unit} (still walking the directory), {elapsed:.0f} s", ""
            else:
                width = 30
                filled = width * done // total
                bar = "#" * filled + "-" * (width - filled)
                end = "\n" if done >= total else ""
                line = f"{doing} [{bar}] {done:,}/{total:,} {unit}, {elapsed:.0f} s{self._left(done, total, elapsed)}"
            # Spaces over what is left of a longer line drawn before (an estimate that got shorter).
            self._stream.write("\r" + line.ljust(self._shown) + end)
            self._shown = 0 if end else len(line)
            self._stream.flush()
        elif self._finished or now - self._last >= LOG_EVERY_SECONDS:
            self._last = now
            if total is None:
                log.info("%s: %d %s, still walking the directory, %.0f s", doing, done, unit, elapsed)
            else:
                percent = 100 * done // total
                left = self._left(done, total, elapsed)
                log.info("%s: %d of %d %s (%d%%), %.0f s%s", doing, done, total, unit, percent, elapsed, left)

    def _left(self, done: int, total: int, elapsed: float) -> str:
        """Return ", about … left" at the pace so far, once there is a pace to go by; else ""."""
        if done <= 0 or done >= total or elapsed < ESTIMATE_AFTER_SECONDS:
            return ""
        return f", about {_duration(elapsed * (total - done) / done)} left"
