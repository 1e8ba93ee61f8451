"""Progress of a long scan: a bar on a terminal, log lines elsewhere, nothing for a short one."""

from __future__ import annotations

import io
import logging

import pytest

import feedsvc.index.progress
from feedsvc.index.progress import MIN_FILES as PROGRESS_MIN_FILES
from feedsvc.index.progress import ScanProgress
from feedsvc.index.scan import CHUNK_FILES


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_for_a_large_scan() -> None:
    """On a terminal a large scan draws a bar that ends, with a newline, at the total."""
    terminal = Terminal()
    progress = ScanProgress(terminal)
    total = PROGRESS_MIN_FILES * 2

    counts = [*range(CHUNK_FILES, total, CHUNK_FILES), total]
    for done in counts:
        progress(done, total)

    frames = terminal.getvalue().split("\r")[1:]
    assert len(frames) == len(counts)
    assert frames[-1].startswith("parsing [" + "#" * 30 + "]")
    assert f"{total:,}/{total:,} files" in frames[-1]
    assert frames[-1].endswith("\n")
    assert not any(frame.endswith("\n") for frame in frames[:-1])


def test_progress_is_logged_when_not_on_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    """Off a terminal a large scan logs its progress, and its end, at INFO."""
    progress = ScanProgress(io.StringIO())

    with caplog.at_level(logging.INFO, logger="feedsvc.progress"):
        progress(PROGRESS_MIN_FILES, PROGRESS_MIN_FILES)

    assert [r.getMessage().split(",")[0] for r in caplog.records] == [
        f"parsing: {PROGRESS_MIN_FILES} of {PROGRESS_MIN_FILES} files (100%)"
    ]


class Monotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    """The clock progress reads, set by hand."""
    clock = Monotonic()
    monkeypatch.setattr(feedsvc.index.progress, "time", clock)
    return clock


def test_progress_of_a_later_scan_counts_its_own_time(caplog: pytest.LogCaptureFixture, clock: Monotonic) -> None:
    """A second large scan, an hour after the first, reports its own few seconds, not the time since start."""
    progress = ScanProgress(io.StringIO())
    progress(PROGRESS_MIN_FILES, PROGRESS_MIN_FILES)
    clock.now = 3600.0
    progress(CHUNK_FILES, PROGRESS_MIN_FILES)
    clock.now = 3605.0

    with caplog.at_level(logging.INFO, logger="feedsvc.progress"):
        progress(PROGRESS_MIN_FILES, PROGRESS_MIN_FILES)

    seconds = caplog.records[-1].getMessage().rsplit(", ", 1)[1]
    assert int(seconds.removesuffix(" s")) < 60


def test_small_scans_show_no_progress(caplog: pytest.LogCaptureFixture) -> None:
    """A scan of fewer than MIN_FILES files is over too soon for progress: nothing is drawn or logged."""
    terminal = Terminal()

    with caplog.at_level(logging.INFO, logger="feedsvc.progress"):
        ScanProgress(terminal)(PROGRESS_MIN_FILES - 1, PROGRESS_MIN_FILES - 1)
        ScanProgress(io.StringIO())(PROGRESS_MIN_FILES - 1, PROGRESS_MIN_FILES - 1)

    assert terminal.getvalue() == ""
    assert caplog.records == []


def test_progress_while_the_walk_goes_on_counts_the_files_parsed(
    caplog: pytest.LogCaptureFixture, clock: Monotonic
) -> None:
    """Before the walk of a cold start has ended there is no total: the files parsed so far are logged, then the end."""
    progress = ScanProgress(io.StringIO())
    terminal = Terminal()
    bar = ScanProgress(terminal)

    with caplog.at_level(logging.INFO, logger="feedsvc.progress"):
        reports = ((PROGRESS_MIN_FILES, None), (2 * PROGRESS_MIN_FILES, None), (3 * PROGRESS_MIN_FILES, None))
        for done, total in (*reports[:2], (reports[2][0], reports[2][0])):
            clock.now += 6
            progress(done, total)
            bar(done, total)

    assert [r.getMessage() for r in caplog.records] == [  # the first report starts the clock
        f"parsing: {2 * PROGRESS_MIN_FILES} files, still walking the directory, 6 s",
        f"parsing: {3 * PROGRESS_MIN_FILES} of {3 * PROGRESS_MIN_FILES} files (100%), 12 s",
    ]
    assert f"parsing {2 * PROGRESS_MIN_FILES:,} files (still walking the directory)" in terminal.getvalue()
    assert terminal.getvalue().endswith(f"{3 * PROGRESS_MIN_FILES:,}/{3 * PROGRESS_MIN_FILES:,} files, 12 s\n")
