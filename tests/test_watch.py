"""The watcher: which paths filesystem events report between two refreshes, and when it says changes may be lost."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.events import FileClosedNoWriteEvent, FileCreatedEvent, FileMovedEvent, FileOpenedEvent
from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent

from feedsvc.index.watch import Watcher

pytestmark = [
    pytest.mark.slow,
    # watchdog warns (from its one shared inotify thread) when a folder created with sub-folders gets its watch twice;
    # turned into an error by filterwarnings, it would kill that thread and every later watcher in this process.
    pytest.mark.filterwarnings("ignore:Callback with id .* already exists for watch:RuntimeWarning"),
]

DEADLINE_SECONDS = 5.0
POLL_SECONDS = 0.02


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A content directory holding one article."""
    path = tmp_path / "content"
    path.mkdir()
    (path / "a.md").write_text("---\ntitle: A\n---\n", encoding="utf-8")
    return path


@pytest.fixture
def watcher(root: Path) -> Iterator[Watcher]:
    """A started watcher over the content directory, its first (None) answer taken; stopped afterwards."""
    started = Watcher(root)
    assert started.start() is True
    assert started.take() is None
    yield started
    started.stop()


def taken_until(watcher: Watcher, wanted: Callable[[set[str]], bool]) -> set[str]:
    """Take from the watcher until the union of what it reported satisfies `wanted`, or the deadline passes."""
    seen: set[str] = set()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        changed = watcher.take()
        if changed is not None:
            seen |= changed
            if wanted(seen):
                break
        time.sleep(POLL_SECONDS)
    return seen


def reported(watcher: Watcher, *paths: str) -> set[str]:
    """Take until every path in `paths` was reported; return everything reported meanwhile."""
    return taken_until(watcher, lambda seen: set(paths) <= seen)


def mark(root: Path, name: str) -> str:
    """Make an empty folder: one event, so that once it is reported every earlier event has been too."""
    (root / name).mkdir()
    return name


def watching_again(watcher: Watcher) -> list[set[str] | None]:
    """Take until the watcher has answered None (changes were missed) and then a set (it watches again).

    Returns the answers; a watcher that never says None, or never watches again, runs into the deadline.
    """
    answers: list[set[str] | None] = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        answers.append(watcher.take())
        if answers[-1] is not None and None in answers:
            break
        time.sleep(POLL_SECONDS)
    return answers


def test_first_take_after_start_is_none(root: Path) -> None:
    """The first take after starting says changes may have been missed: only a full walk knows the starting state."""
    watcher = Watcher(root)
    watcher.start()
    try:
        first = watcher.take()
        second = watcher.take()
    finally:
        watcher.stop()

    assert first is None
    assert second == set()


def test_created_file_is_reported(watcher: Watcher, root: Path) -> None:
    """Creating a file reports its path relative to the content directory."""
    (root / "new.md").write_text("x", encoding="utf-8")

    assert "new.md" in reported(watcher, "new.md")


def test_modified_file_is_reported(watcher: Watcher, root: Path) -> None:
    """Writing to an existing file reports its path."""
    with (root / "a.md").open("a", encoding="utf-8") as handle:
        handle.write("more\n")

    assert "a.md" in reported(watcher, "a.md")


def test_touched_file_is_reported(watcher: Watcher, root: Path) -> None:
    """Changing only a file's modification time is reported: an article without a date is dated by it."""
    os.utime(root / "a.md", (1_700_000_000, 1_700_000_000))

    assert "a.md" in reported(watcher, "a.md")


def test_deleted_file_is_reported(watcher: Watcher, root: Path) -> None:
    """Deleting a file reports its path."""
    (root / "a.md").unlink()

    assert "a.md" in reported(watcher, "a.md")


def test_renamed_file_reports_both_paths(watcher: Watcher, root: Path) -> None:
    """Renaming a file reports the old path and the new one."""
    os.rename(root / "a.md", root / "b.md")

    assert {"a.md", "b.md"} <= reported(watcher, "a.md", "b.md")


def test_created_folder_with_a_file_reports_both_in_posix_form(watcher: Watcher, root: Path) -> None:
    """Creating a folder with a file in it reports the folder and the file, with `/` separators."""
    (root / "posts").mkdir()
    (root / "posts" / "x.md").write_text("x", encoding="utf-8")

    seen = reported(watcher, "posts", "posts/x.md")

    assert {"posts", "posts/x.md"} <= seen
    assert all(not p.startswith("/") and "\\" not in p for p in seen)


def test_moved_in_folder_is_reported(tmp_path: Path, watcher: Watcher, root: Path) -> None:
    """A folder moved in from outside is reported under its new path."""
    outside = tmp_path / "drafts"
    outside.mkdir()
    (outside / "ready.md").write_text("x", encoding="utf-8")

    os.rename(outside, root / "ready")

    assert "ready" in reported(watcher, "ready")


def test_reading_a_file_is_not_a_change(watcher: Watcher, root: Path) -> None:
    """Opening and reading a file (as a refresh does) reports nothing; a later change still arrives."""
    for _ in range(3):
        (root / "a.md").read_bytes()

    seen = reported(watcher, mark(root, "sentinel"))  # events arrive in order: the mark's comes last

    assert seen == {"sentinel"}


def test_take_returns_each_change_once(watcher: Watcher, root: Path) -> None:
    """What one take returned is not returned again by the next."""
    (root / "new.md").write_text("x", encoding="utf-8")
    reported(watcher, "new.md", mark(root, "first"))  # events arrive in order: all of new.md's are taken by now

    seen = reported(watcher, mark(root, "second"))

    assert seen == {"second"}


def test_take_after_stop_is_none(watcher: Watcher, root: Path) -> None:
    """After stop, take says changes may be missed, and keeps saying so: nothing restarts a stopped watcher."""
    watcher.stop()
    (root / "new.md").write_text("x", encoding="utf-8")

    assert watcher.take() is None
    assert watcher.take() is None


def test_paths_outside_the_root_are_never_reported(tmp_path: Path, watcher: Watcher, root: Path) -> None:
    """Files moved in from or out to a sibling folder (sharing the root's name as a prefix) report only inside paths."""
    sibling = tmp_path / "content-other"
    sibling.mkdir()
    (sibling / "in.md").write_text("x", encoding="utf-8")
    (sibling / "elsewhere.md").write_text("x", encoding="utf-8")

    os.rename(sibling / "in.md", root / "in.md")
    os.rename(root / "a.md", sibling / "out.md")
    (sibling / "elsewhere.md").write_text("changed", encoding="utf-8")

    seen = reported(watcher, "in.md", "a.md", mark(root, "sentinel"))

    assert seen == {"in.md", "a.md", "sentinel"}


def test_event_paths_outside_the_root_are_dropped(watcher: Watcher, root: Path) -> None:
    """Events naming the root itself, a sibling sharing its prefix, or a move's outside end add nothing."""
    real = os.path.realpath(root)
    watcher.on_any_event(FileCreatedEvent(real + "-other/x.md"))
    watcher.on_any_event(FileCreatedEvent(real))
    watcher.on_any_event(FileMovedEvent(real + "/inside.md", os.path.dirname(real) + "/outside.md"))
    watcher.on_any_event(FileOpenedEvent(real + "/opened.md"))
    watcher.on_any_event(FileClosedNoWriteEvent(real + "/read.md"))

    assert watcher.take() == {"inside.md"}


def test_root_given_through_a_link_reports_relative_paths(tmp_path: Path, root: Path) -> None:
    """A content directory named through a symbolic link reports the same relative paths."""
    link = tmp_path / "link"
    link.symlink_to(root)
    watcher = Watcher(link)
    watcher.start()
    try:
        assert watcher.take() is None
        (root / "new.md").write_text("x", encoding="utf-8")
        seen = reported(watcher, "new.md")
    finally:
        watcher.stop()

    assert seen == {"new.md"}


def test_overflow_means_changes_may_be_lost(watcher: Watcher, root: Path) -> None:
    """When the kernel's inotify queue overflows, a take says None (walk everything), then events resume."""
    overflow = InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b"")  # as the kernel reports it: no watch
    watcher._observer._inotify_fd.handle_event(overflow)  # what watchdog's reader does with it

    answers = watching_again(watcher)
    (root / "new.md").write_text("x", encoding="utf-8")

    assert None in answers
    assert answers[-1] is not None
    assert "new.md" in reported(watcher, "new.md")


def test_watcher_on_a_missing_directory_starts_and_takes_effect_once_it_exists(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Watching a missing directory does not raise; take keeps answering None and starts watching once it exists."""
    missing = tmp_path / "later"
    watcher = Watcher(missing)
    try:
        with caplog.at_level(logging.WARNING, logger="feedsvc.watch"):
            assert watcher.start() is True
        before = [watcher.take(), watcher.take()]
        missing.mkdir()
        answers = watching_again(watcher)
        (missing / "new.md").write_text("x", encoding="utf-8")
        seen = reported(watcher, "new.md")
    finally:
        watcher.stop()

    assert before == [None, None]
    assert answers[0] is None
    assert answers[-1] is not None
    assert "new.md" in seen
    assert any("cannot watch" in r.getMessage() for r in caplog.records)


def test_recreated_directory_is_watched_again(watcher: Watcher, root: Path) -> None:
    """When the content directory is deleted and made again, take says changes were missed and then reports new ones."""
    shutil.rmtree(root)
    root.mkdir()

    answers = watching_again(watcher)
    (root / "new.md").write_text("x", encoding="utf-8")
    seen = reported(watcher, "new.md")

    assert None in answers
    assert answers[-1] is not None
    assert "new.md" in seen


def test_directory_swapped_for_another_is_watched_again(tmp_path: Path, watcher: Watcher, root: Path) -> None:
    """When another directory is moved in place of the content directory, the watcher follows the new one."""
    replacement = tmp_path / "release-2"
    replacement.mkdir()
    os.rename(root, tmp_path / "release-1")
    os.rename(replacement, root)

    answers = watching_again(watcher)
    (tmp_path / "release-1" / "old.md").write_text("x", encoding="utf-8")
    (root / "new.md").write_text("x", encoding="utf-8")
    seen = reported(watcher, "new.md")

    assert None in answers
    assert answers[-1] is not None
    assert "new.md" in seen
    assert "old.md" not in seen


def test_link_pointed_at_another_directory_is_watched_again(tmp_path: Path, root: Path) -> None:
    """When the configured path is a link that a deployment points at a new directory, the watcher follows it."""
    current = tmp_path / "current"
    current.symlink_to(root)
    release = tmp_path / "release-2"
    release.mkdir()
    watcher = Watcher(current)
    watcher.start()
    try:
        assert watcher.take() is None
        swap = tmp_path / "current.new"
        swap.symlink_to(release)
        os.replace(swap, current)  # atomically, as deployments do
        answers = watching_again(watcher)
        (root / "old.md").write_text("x", encoding="utf-8")
        (release / "new.md").write_text("x", encoding="utf-8")
        seen = reported(watcher, "new.md")
    finally:
        watcher.stop()

    assert None in answers
    assert "new.md" in seen
    assert "old.md" not in seen
