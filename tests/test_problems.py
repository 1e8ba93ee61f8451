"""The problem log: each problem and warning logged once when a scan finds it, and the content directory's state."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from feedsvc.config import Settings
from feedsvc.index.scan import EMPTY_INDEX, ContentIndex, ScanResult
from feedsvc.model import Problem
from feedsvc.refresh.problems import ProblemLog
from feedsvc.refresh.scanner import Scanner
from tests.conftest import make_settings
from tests.corpus import write_article

LOGGER = "feedsvc.refresh"


@pytest.fixture
def one_worker(content_dir: Path) -> Settings:
    """Settings over the content directory, parsing in this process."""
    return make_settings(content_dir, scan={"workers": 1})


def scans(settings: Settings, times: int, index: ContentIndex = EMPTY_INDEX) -> list[tuple[ScanResult, ContentIndex]]:
    """Scan the directory `times` times in a row; return each scan with the index before it."""
    scanner = Scanner(settings)
    found = []
    for _ in range(times):
        scan = scanner.scan(index, 0.0)
        found.append((scan, index))
        index = scan.index if scan.error is None else index
    return found


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the warnings logged so far, and forget them."""
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    caplog.clear()
    return lines


def test_a_problem_is_logged_when_it_appears_and_when_it_changes(
    one_worker: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A file's problem is logged by the scan that first finds it, not by the next; a new problem is logged again."""
    bad = one_worker.content_dir / "bad.md"
    bad.write_text("no front matter\n", encoding="utf-8")
    problems = ProblemLog(one_worker.content_dir)
    (first, before), (second, same) = scans(one_worker, 2)

    with caplog.at_level(logging.INFO, logger=LOGGER):
        problems.note(first, before)
        found = warnings(caplog)
        problems.note(second, same)
        again = warnings(caplog)
        bad.write_text("---\ntitle: x\ndate: 2022-02-30\n---\nno such day\n", encoding="utf-8")
        os.utime(bad, (2, 2))
        ((changed, previous),) = scans(one_worker, 1, second.index)
        problems.note(changed, previous)
        other = warnings(caplog)

    assert len(found) == 1
    assert "bad.md" in found[0]
    assert again == []
    assert len(other) == 1
    assert "date" in other[0]


def test_a_warning_of_an_article_is_logged_when_new(one_worker: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """An article's warning is logged when first read; an edit keeping it logs nothing, an added one is logged."""
    fields = {"title": "A", "date": "2022-05-04", "author": {"name": "N", "email": "nope"}}
    path = write_article(one_worker.content_dir, "a.md", fields)
    problems = ProblemLog(one_worker.content_dir)
    indexes = [EMPTY_INDEX]

    def scan_and_note() -> list[str]:
        ((scan, before),) = scans(one_worker, 1, indexes[-1])
        problems.note(scan, before)
        indexes.append(scan.index)
        return warnings(caplog)

    def edit(body: str, **changed: object) -> list[str]:
        write_article(one_worker.content_dir, "a.md", {**fields, **changed}, body)
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))
        return scan_and_note()

    with caplog.at_level(logging.INFO, logger=LOGGER):
        found = scan_and_note()
        kept = edit("<p>another body</p>")
        added = edit("<p>a third body</p>", lang="not a tag!")

    assert len(found) == 1
    assert found[0].startswith("a.md: author: email")
    assert kept == []
    assert len(added) == 1
    assert "language tag" in added[0]


def test_an_unreadable_directory_is_logged_once_and_its_return_too(
    tmp_path: Path, one_worker: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The content directory going away is one error, however many scans fail; its return is one info line."""
    write_article(one_worker.content_dir, "a.md", {"title": "A", "date": "2022-05-04"})
    problems = ProblemLog(one_worker.content_dir)
    ((good, before),) = scans(one_worker, 1)
    aside = tmp_path / "aside"
    one_worker.content_dir.rename(aside)

    with caplog.at_level(logging.INFO, logger=LOGGER):
        problems.note(good, before)
        for scan, previous in scans(one_worker, 3, good.index):
            problems.note(scan, previous)
        aside.rename(one_worker.content_dir)
        for scan, previous in scans(one_worker, 2, good.index):
            problems.note(scan, previous)

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    back = [r.getMessage() for r in caplog.records if "readable again" in r.getMessage()]
    assert len(errors) == 1
    assert str(one_worker.content_dir) in errors[0]
    assert len(back) == 1


def test_a_folder_problem_is_logged_once_per_appearance(content_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A folder problem is logged by the first full walk that finds it, not by the next; once gone and back, again."""
    locked = Problem("locked/", "folder: cannot be read: Permission denied (expected a readable folder)")
    walks = [(locked,), (locked,), (), (locked,)]
    problems = ProblemLog(content_dir)

    with caplog.at_level(logging.INFO, logger=LOGGER):
        for folder_problems in walks:
            index = ContentIndex(entries={}, folder_problems=folder_problems)
            problems.note(ScanResult(index=index, files_seen=0, reread=(), failed=0), EMPTY_INDEX)

    assert warnings(caplog) == [str(locked), str(locked)]
