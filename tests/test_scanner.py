"""The scanner: which paths each scan looks at, when it walks the whole directory, progress and stopping."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedsvc.config import Settings
from feedsvc.index.scan import EMPTY_INDEX, StopFlag
from feedsvc.refresh.scanner import Scanner
from tests.conftest import make_settings
from tests.corpus import write_article

DATE = "2022-05-04T10:00:00Z"


class Events:
    """A change source that names the paths the test gives it (None: events were missed)."""

    def __init__(self) -> None:
        self.changed: set[str] | None = set()

    def take(self) -> set[str] | None:
        changed, self.changed = self.changed, set()
        return changed


@pytest.fixture
def one_worker(content_dir: Path) -> Settings:
    """Settings over the content directory, parsing in this process, a full rescan every 600 s."""
    return make_settings(content_dir, scan={"workers": 1, "full_rescan_seconds": 600})


def write(directory: Path, name: str) -> Path:
    """Write a dated article titled after its name."""
    return write_article(directory, name, {"title": name, "date": DATE})


def test_a_scan_looks_at_the_paths_events_named_until_a_full_walk_is_due(one_worker: Settings) -> None:
    """The first scan walks everything; later ones only the named paths; one a full rescan period later walks again."""
    write(one_worker.content_dir, "a.md")
    events = Events()
    scanner = Scanner(one_worker, changes=events)

    first = scanner.scan(EMPTY_INDEX, 0.0)
    write(one_worker.content_dir, "b.md")
    write(one_worker.content_dir, "c.md")
    events.changed = {"b.md"}
    named = scanner.scan(first.index, 10.0)
    due = scanner.scan(named.index, 600.0)

    assert (first.full, first.reread) == (True, ("a.md",))
    assert (named.full, named.reread) == (False, ("b.md",))
    assert (due.full, due.reread) == (True, ("c.md",))


def test_missed_events_make_the_scan_walk_everything(one_worker: Settings) -> None:
    """When the change source says events may have been missed, the scan walks the whole directory."""
    events = Events()
    scanner = Scanner(one_worker, changes=events)
    first = scanner.scan(EMPTY_INDEX, 0.0)
    write(one_worker.content_dir, "a.md")
    events.changed = None

    missed = scanner.scan(first.index, 10.0)

    assert (missed.full, missed.reread) == (True, ("a.md",))


def test_after_the_directory_was_away_the_next_scan_walks_everything(tmp_path: Path, one_worker: Settings) -> None:
    """A scan after one that could not read the directory walks it whole: events cannot say what changed meanwhile."""
    write(one_worker.content_dir, "a.md")
    events = Events()
    scanner = Scanner(one_worker, changes=events)
    first = scanner.scan(EMPTY_INDEX, 0.0)
    aside = tmp_path / "aside"
    one_worker.content_dir.rename(aside)
    events.changed = {"a.md"}
    away = scanner.scan(first.index, 10.0)
    aside.rename(one_worker.content_dir)
    write(one_worker.content_dir, "b.md")
    events.changed = {"a.md"}

    back = scanner.scan(first.index, 20.0)

    assert away.error is not None
    assert back.error is None
    assert (back.full, back.reread) == (True, ("b.md",))


def test_progress_reports_the_first_scan_only(one_worker: Settings) -> None:
    """The progress given to the scanner hears of the first scan (a cold start), not of later ones."""
    for number in range(3):
        write(one_worker.content_dir, f"{number}.md")
    heard: list[tuple[int, int]] = []
    scanner = Scanner(one_worker, progress=lambda done, total: heard.append((done, total)))

    first = scanner.scan(EMPTY_INDEX, 0.0)
    after_first = list(heard)
    write(one_worker.content_dir, "3.md")
    scanner.scan(first.index, 700.0)

    assert after_first
    assert after_first[-1] == (3, 3)
    assert heard == after_first


def test_a_stopped_scanner_scans_nothing_more(one_worker: Settings) -> None:
    """Once the stop flag is set, a scan ends at once, stopped, having parsed nothing; `stopped` says so."""
    write(one_worker.content_dir, "a.md")
    flag = StopFlag()
    scanner = Scanner(one_worker, stop=flag)
    assert not scanner.stopped

    scanner.stop()
    stopped = scanner.scan(EMPTY_INDEX, 0.0)

    assert flag.is_set()
    assert scanner.stopped
    assert stopped.stopped
    assert stopped.reread == ()
