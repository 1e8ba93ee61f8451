"""Parsing a batch in chunks: by worker processes when it is large, here when it is small or the workers fail."""

from __future__ import annotations

import dataclasses
import gc
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import feedsvc.index.scan
from feedsvc.config import Settings
from feedsvc.index.scan import (
    CHUNK_FILES,
    EMPTY_INDEX,
    IN_FLIGHT_CHUNKS,
    PARALLEL_MIN_FILES,
    _Found,
    read_and_parse_chunk,
    scan_content,
)
from feedsvc.parse.articles import parse_for_scan
from feedsvc.refresh.scanner import Scanner
from tests.corpus import write_corpus
from tests.scans import assert_progress, entries_summary, parallel_corpus, scan, write

SCAN_LOGGER = "feedsvc.scan"


class CountingExecutor(Executor):
    """An executor that hands work to another one and counts the chunks it was given."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return self.inner.submit(fn, *args, **kwargs)


class BrokenPool(Executor):
    """An executor whose workers are gone: every submit raises BrokenExecutor."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        raise BrokenExecutor("a worker process died")


class BreakingPool(Executor):
    """An executor that runs its first chunks here and then breaks: later futures fail with BrokenExecutor."""

    def __init__(self, working: int) -> None:
        self.working = working
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        future: Future[Any] = Future()
        if self.submitted <= self.working:
            future.set_result(fn(*args, **kwargs))
        else:
            future.set_exception(BrokenExecutor("a worker process died"))
        return future


@pytest.mark.slow
def test_parallel_scan_hands_chunks_to_worker_processes(
    content_dir: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A large batch is parsed in chunks by the executor, in order, with progress counts ending at the total."""
    total = parallel_corpus(content_dir)
    parse = partial(parse_for_scan, settings=settings)
    calls: list[tuple[int, int | None]] = []
    context = multiprocessing.get_context("forkserver")
    with caplog.at_level(logging.WARNING, logger=SCAN_LOGGER), ProcessPoolExecutor(2, mp_context=context) as pool:
        executor = CountingExecutor(pool)
        result = scan_content(
            content_dir,
            EMPTY_INDEX,
            parse,
            max_bytes=settings.max_file_bytes,
            executor=executor,
            progress=lambda done, of: calls.append((done, of)),
        )
    alone = scan_content(content_dir, EMPTY_INDEX, parse, max_bytes=settings.max_file_bytes)

    assert not [r for r in caplog.records if r.name == SCAN_LOGGER]
    assert executor.submitted == -(-total // CHUNK_FILES)
    assert entries_summary(result.index) == entries_summary(alone.index)
    assert result.reread == alone.reread
    assert_progress(calls, total)


class WalkWatchingPool(Executor):
    """An executor that runs each chunk here and notes how many files the walk had found by the first one."""

    def __init__(self, walked: list[int]) -> None:
        self.walked = walked
        self.at_first_chunk: int | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self.at_first_chunk is None:
            self.at_first_chunk = len(self.walked)
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@pytest.mark.slow
def test_workers_read_while_the_walk_goes_on(
    content_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold scan hands files to the workers before the walk has found them all, and lets each go once read.

    So the walk of a million files overlaps their parsing, and the files found are never all held at once.
    """
    total = 2 * PARALLEL_MIN_FILES + 3 * CHUNK_FILES
    write_corpus(content_dir, total)
    walked: list[int] = []
    real_walk = feedsvc.index.scan._walk

    def counted_walk(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for found in real_walk(*args, **kwargs):
            walked.append(1)
            yield found

    monkeypatch.setattr(feedsvc.index.scan, "_walk", counted_walk)
    pool = WalkWatchingPool(walked)
    found_alive: list[int] = []
    calls: list[tuple[int, int | None]] = []

    def progress(done: int, of: int | None) -> None:
        calls.append((done, of))
        found_alive.append(sum(isinstance(o, _Found) for o in gc.get_objects()))

    result, parsed = scan(settings, executor=pool, progress=progress)

    assert len(parsed) == len(result.index.entries) == total
    assert pool.at_first_chunk is not None
    assert pool.at_first_chunk <= PARALLEL_MIN_FILES + CHUNK_FILES < total
    assert_progress(calls, total)  # with the number of files once the walk has ended
    assert calls[0][1] is None  # before: the files parsed so far
    assert max(found_alive) <= (IN_FLIGHT_CHUNKS + 1) * CHUNK_FILES < total


def test_progress_counts_up_to_the_total_in_process(content_dir: Path, settings: Settings) -> None:
    """Parsing in this process reports progress chunk by chunk, ending at the number of files read."""
    for number in range(CHUNK_FILES + 5):
        write(content_dir, f"{number}.md")
    calls: list[tuple[int, int | None]] = []

    scan(settings, progress=lambda done, of: calls.append((done, of)))

    assert_progress(calls, CHUNK_FILES + 5)
    assert len(calls) == 2


@pytest.mark.slow
def test_broken_executor_falls_back_to_parsing_here(
    content_dir: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """When the worker pool is broken, the scan parses every file in this process and logs a warning."""
    total = parallel_corpus(content_dir)
    calls: list[tuple[int, int | None]] = []

    with caplog.at_level(logging.WARNING, logger=SCAN_LOGGER):
        result, parsed = scan(settings, executor=BrokenPool(), progress=lambda done, of: calls.append((done, of)))
    alone, _ = scan(settings)

    assert len(parsed) == total
    assert entries_summary(result.index) == entries_summary(alone.index)
    assert_progress(calls, total)
    assert any("worker processes failed" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


@pytest.mark.slow
def test_executor_breaking_midway_loses_and_repeats_no_file(
    content_dir: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """When the pool breaks after some chunks came back, the rest is parsed here: every file once, in order."""
    total = parallel_corpus(content_dir)
    pool = BreakingPool(working=1)

    with caplog.at_level(logging.WARNING, logger=SCAN_LOGGER):
        result, parsed = scan(settings, executor=pool)
    alone, _ = scan(settings)

    assert pool.submitted > 1
    assert sorted(parsed) == sorted(set(parsed))
    assert len(parsed) == total
    assert result.reread == alone.reread
    assert entries_summary(result.index) == entries_summary(alone.index)
    assert any("worker processes failed" in r.getMessage() for r in caplog.records)


def test_small_batches_never_use_the_executor(content_dir: Path, settings: Settings) -> None:
    """Fewer than PARALLEL_MIN_FILES files are parsed here: starting workers would cost more than it saves."""
    for number in range(5):
        write(content_dir, f"{number}.md")

    result, parsed = scan(settings, executor=BrokenPool())

    assert len(parsed) == 5
    assert result.files_seen == 5


def test_a_worker_asks_for_its_chunks_files_ahead(
    content_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before parsing a chunk, a worker asks the kernel to read its files ahead: disk reads overlap the parsing.

    Files it cannot open are left to their read, which says why; the results are those of reading one by one.
    """
    for number in range(3):
        write(content_dir, f"{number}.md")
    items = [(f"{n}.md", str(content_dir / f"{n}.md"), 100, 0.0) for n in range(3)]
    items.append(("gone.md", str(content_dir / "gone.md"), 100, 0.0))
    advised: list[int] = []
    monkeypatch.setattr(
        feedsvc.index.scan.os, "posix_fadvise", lambda fd, offset, length, advice: advised.append(advice)
    )
    parse = partial(parse_for_scan, settings=settings)

    results = read_and_parse_chunk(items, parse, settings.max_file_bytes, False)

    assert advised == [os.POSIX_FADV_WILLNEED] * 3
    assert results == [read_and_parse_chunk([item], parse, settings.max_file_bytes, False)[0] for item in items]
    assert "cannot be read" in str(results[-1][0])


@pytest.mark.slow
def test_the_process_workers_fork_from_ends_with_the_scan(content_dir: Path, settings: Settings) -> None:
    """After a scan with worker processes, no process stays for them (the forkserver); the next such scan starts one."""
    parallel_corpus(content_dir)
    scanner = Scanner(dataclasses.replace(settings, workers=2))
    server = multiprocessing.forkserver._forkserver  # type: ignore[attr-defined]
    seen: list[int | None] = []
    submit = ProcessPoolExecutor.submit

    def noting(pool: ProcessPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = submit(pool, fn, *args, **kwargs)
        seen.append(server._forkserver_pid)
        return future

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ProcessPoolExecutor, "submit", noting)
        first = scanner.scan(EMPTY_INDEX, 0.0)
        after_first = server._forkserver_pid
        again = Scanner(dataclasses.replace(settings, workers=2)).scan(EMPTY_INDEX, 0.0)

    assert seen[0] is not None  # a forkserver served the first scan's workers
    assert after_first is None
    assert server._forkserver_pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(seen[0], os.WNOHANG)  # reaped: gone
    assert len(set(seen) - {None}) == 2  # the second scan had a forkserver of its own
    assert entries_summary(again.index) == entries_summary(first.index)
