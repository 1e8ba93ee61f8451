"""Progress of long work (a scan, a build's pages): a bar on a terminal, log lines elsewhere, nothing when short."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

import feedsvc.index.progress
from feedsvc.index.progress import ESTIMATE_AFTER_SECONDS, ProgressReport
from feedsvc.index.progress import MIN_FILES as PROGRESS_MIN_FILES
from feedsvc.index.scan import CHUNK_FILES
from feedsvc.runtime.builder import start_builder
from tests.test_archives import HISTORY_PAGES, archive_settings, write_history


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_for_a_large_scan() -> None:
    """On a terminal a large scan draws a bar that ends, with a newline, at the total."""
    terminal = Terminal()
    progress = ProgressReport(terminal)
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
    progress = ProgressReport(io.StringIO())

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
    progress = ProgressReport(io.StringIO())
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
        ProgressReport(terminal)(PROGRESS_MIN_FILES - 1, PROGRESS_MIN_FILES - 1)
        ProgressReport(io.StringIO())(PROGRESS_MIN_FILES - 1, PROGRESS_MIN_FILES - 1)

    assert terminal.getvalue() == ""
    assert caplog.records == []


def test_progress_while_the_walk_goes_on_counts_the_files_parsed(
    caplog: pytest.LogCaptureFixture, clock: Monotonic
) -> None:
    """Before the walk of a cold start has ended there is no total: the files parsed so far are logged, then the end."""
    progress = ProgressReport(io.StringIO())
    terminal = Terminal()
    bar = ProgressReport(terminal)

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


def test_long_work_is_told_with_the_time_left_at_its_pace(caplog: pytest.LogCaptureFixture, clock: Monotonic) -> None:
    """Once it has gone on a while, each line estimates what is left at the pace so far; the last line does not."""
    progress = ProgressReport(io.StringIO(), doing="writing archive pages", unit="pages")
    total = 100 * PROGRESS_MIN_FILES

    with caplog.at_level(logging.INFO, logger="feedsvc.progress"):
        progress(0, total)
        clock.now = ESTIMATE_AFTER_SECONDS / 2
        progress(total // 200, total)  # too soon to say
        clock.now = 60.0
        progress(total // 100, total)  # 1% in a minute
        clock.now = 7425.0  # 99 % in 7425 s: 1 % left is 75 s
        progress(total * 99 // 100, total)
        clock.now += 300
        progress(total, total)

    assert [r.getMessage() for r in caplog.records] == [
        f"writing archive pages: {total // 200} of {total} pages (0%), 5 s",
        f"writing archive pages: {total // 100} of {total} pages (1%), 60 s, about 99 min left",
        f"writing archive pages: {total * 99 // 100} of {total} pages (99%), 7425 s, about 75 s left",
        f"writing archive pages: {total} of {total} pages (100%), 7725 s",
    ]


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0.4, "0 s"), (99, "99 s"), (100, "2 min"), (5939, "99 min"), (5970, "1 h 40 min")]
)
def test_durations_read_in_the_unit_people_use(seconds: float, shown: str) -> None:
    assert feedsvc.index.progress._duration(seconds) == shown


def test_a_shorter_line_on_a_terminal_covers_all_of_the_longer_one_before(clock: Monotonic) -> None:
    """An estimate that gets shorter leaves nothing of the longer one drawn before it on the line."""
    terminal = Terminal()
    bar = ProgressReport(terminal)
    total = 1000 * PROGRESS_MIN_FILES
    bar(0, total)
    clock.now = 20.0
    bar(total // 1000, total)  # about 5 h 33 min left
    clock.now = 40.0
    bar(total // 2, total)  # about 40 s left

    frames = terminal.getvalue().split("\r")[1:]
    assert "h 33 min left" in frames[1]
    assert frames[2].rstrip().endswith("about 40 s left")
    assert len(frames[2]) == len(frames[1])


def test_a_builds_first_write_tells_its_progress_through_the_archive_pages(
    content_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build, which makes (or checks) every page, says how far it is; a later one of that builder does not."""
    monkeypatch.setattr(feedsvc.index.progress, "MIN_FILES", 1)
    write_history(content_dir, 130)
    pages = [f"writing archive pages: {len(HISTORY_PAGES)} of {len(HISTORY_PAGES)} pages (100%)"]

    with caplog.at_level(logging.INFO, logger="feedsvc.progress"):
        builder = start_builder(archive_settings(content_dir), tmp_path / "out", watch=False)
        first = [r.getMessage().rsplit(",", 1)[0] for r in caplog.records if "pages" in r.getMessage()]
        caplog.clear()
        (content_dir / "new.md").write_text("---\ntitle: New\ndate: 2024-06-01\n---\nNew.\n", encoding="utf-8")
        builder.build()
        builder.stop()
        (content_dir / "newer.md").write_text("---\ntitle: Newer\ndate: 2024-06-02\n---\nNewer.\n", encoding="utf-8")
        again = start_builder(archive_settings(content_dir), tmp_path / "out", watch=False)
        again.stop()

    assert first == pages
    assert builder.files_written > 0
    # Only the new builder's check of every page, none from the first builder's later write.
    assert [r.getMessage().rsplit(",", 1)[0] for r in caplog.records if "pages" in r.getMessage()] == [
        f"writing archive pages: {n} of {n} pages (100%)" for n in [len(builder.archive_files or {})]
    ]
