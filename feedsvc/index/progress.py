"""Show how a long scan is going: a bar on a terminal, a log line now and then otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger("feedsvc.progress")

# A scan of fewer files than this is over before a progress report would help.
MIN_FILES = 2000
LOG_EVERY_SECONDS = 5.0


class ScanProgress:
    """A progress callback for `scan_content`: `progress(done, total)`.

    `total` is None while the walk that finds the files still goes on (a cold start of
    many files is parsed as it is walked): the count of files parsed so far is shown.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = hasattr(self._stream, "isatty") and self._stream.isatty()
        self._started = time.monotonic()
        self._last = self._started
        self._done = 0
        self._finished = True  # no scan under way: the next report starts one

    def __call__(self, done: int, total: int | None) -> None:
        if total is not None and total < MIN_FILES:
            return
        now = time.monotonic()
        if done < self._done or self._finished:
            # A new scan (the counts start again): time it from its own first report.
            self._started = self._last = now
        self._done = done
        self._finished = total is not None and done >= total
        elapsed = now - self._started
        if self._tty:
            if total is None:
                self._stream.write(f"\rparsing {done:,} files (still walking the directory), {elapsed:.0f} s")
            else:
                width = 30
                filled = width * done // total
                bar = "#" * filled + "-" * (width - filled)
                end = "\n" if done >= total else ""
                self._stream.write(f"\rparsing [{bar}] {done:,}/{total:,} files, {elapsed:.0f} s{end}")
            self._stream.flush()
        elif self._finished or now - self._last >= LOG_EVERY_SECONDS:
            self._last = now
            if total is None:
                log.info("parsing: %d files, still walking the directory, %.0f s", done, elapsed)
            else:
                log.info("parsing: %d of %d files (%d%%), %.0f s", done, total, 100 * done // total, elapsed)
