"""The scan of each refresh: which paths to look at, and worker processes to parse many files.

A scan looks only at the paths filesystem events named, or walks the whole directory
when a full rescan is due or events may have been missed. It only asks `index/scan.py`
to read the directory; it keeps no article and renders nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.forkserver
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from functools import partial
from typing import Any, Protocol, TypeVar

from feedsvc.config import Settings
from feedsvc.index.scan import (
    PARALLEL_MIN_FILES,
    ContentIndex,
    Progress,
    ScanResult,
    StopFlag,
    scan_content,
    watch_stop,
)
from feedsvc.parse.articles import parse_for_scan
from feedsvc.refresh.memory import release_memory

T = TypeVar("T")


class ChangeSource(Protocol):
    """Tells which paths changed since it was last asked (filesystem events)."""

    def take(self) -> set[str] | None:
        """Return the changed paths relative to the content directory, or None if changes may have been missed."""


class Scanner:
    """Scans the content directory for each refresh: the paths events named, or all of it when a walk is due.

    `progress` reports the first scan only (a long cold start); `stop` ends a scan under
    way, and every later one, at the next file, in this process and in its workers.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        changes: ChangeSource | None = None,
        progress: Progress | None = None,
        stop: StopFlag | None = None,
    ) -> None:
        self.settings = settings
        self._changes = changes
        self._progress = progress
        self._stop = stop if stop is not None else StopFlag()
        self._last_full: float | None = None  # when the last full walk that could read the directory began
        self._unreadable = False  # the last scan could not read the directory
        self._pool_flags: list[ctypes.c_bool] = []  # those of the worker processes of the scan under way

    def stop(self) -> None:
        """Make a scan under way (and every later one) end at the next file."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        """Tell whether the scanner was stopped."""
        return self._stop.is_set()

    @property
    def workers(self) -> int:
        """Return how many worker processes parse a large batch of files (`scan.workers`, else one per CPU)."""
        return self.settings.workers or (os.cpu_count() or 1)

    def scan(self, index: ContentIndex, now: float) -> ScanResult:  # `now`: the refresh clock, in seconds
        """Scan only the paths events named, or the whole directory when that is due or events were lost."""
        changed = self._changes.take() if self._changes is not None else None
        due = self._last_full is None or now - self._last_full >= self.settings.full_rescan_seconds
        if due or self._unreadable:
            changed = None  # also after the directory was away: events cannot say what happened meanwhile
        progress, self._progress = self._progress, None
        executor: Executor | None = None
        try:
            if changed is None and self.workers > 1:
                # A first scan: workers start while the walk goes on. Otherwise only if many files
                # turn out changed (a restart after a first scan that was stopped early finds many).
                executor = self.executor() if not index.entries else _OnFirstUse(self.executor)
            scan = scan_content(
                self.settings.content_dir,
                index,
                partial(parse_for_scan, settings=self.settings),
                max_bytes=self.settings.max_file_bytes,
                changed=changed,
                executor=executor,
                progress=progress,
                stop=self._stop,
                extensions=self.settings.extensions,
                hidden=self.settings.hidden,
            )
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
                stop_forkserver()  # nothing to stop when no worker was started
            for flag in self._pool_flags:
                self._stop.unshare(flag)
            self._pool_flags.clear()
        if scan.full and scan.error is None:
            self._last_full = now
        if not scan.stopped:
            self._unreadable = scan.error is not None
        if len(scan.reread) >= PARALLEL_MIN_FILES:
            release_memory()
        return scan

    def executor(self) -> Executor:
        """Start worker processes for a large batch of files; they stop at the next file when the scanner is stopped."""
        workers = self.workers
        # forkserver: workers start from a clean process, not a fork of one running threads.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["feedsvc.parse.articles"])
        flag = self._stop.share(context)
        executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=watch_stop, initargs=(flag,)
        )
        self._pool_flags.append(flag)
        # Start the workers now, while the directory is walked, not when the first files are ready.
        for _ in range(workers):
            executor.submit(os.getpid)
        return executor


def stop_forkserver() -> None:
    """Stop the process the workers were forked from, once they have ended: a large scan starts it again.

    It holds what workers preload (about 35 MB) and would otherwise stay for the life of the
    service beside it, though a scan that needs workers is rare after the first. Python has
    no public call for it; where the private one is missing (another version), it stays.
    """
    stop = getattr(getattr(multiprocessing.forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        with contextlib.suppress(OSError):
            stop()


class _OnFirstUse(Executor):
    """An executor made when the first task is submitted: a rescan that finds few changes starts no process."""

    def __init__(self, make: Callable[[], Executor]) -> None:
        self._make = make
        self._executor: Executor | None = None

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if self._executor is None:
            self._executor = self._make()
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=cancel_futures)
