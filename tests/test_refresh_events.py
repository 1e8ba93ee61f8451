"""The refresher and its change source: a walk first, then only the paths events name, a walk when they cannot tell."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from feedsvc.model import INDEX_PATH, Format, feed_path
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from tests.conftest import Clock, feed_paths, make_settings
from tests.corpus import bump_mtime
from tests.scans import FakeChanges, write


@pytest.fixture
def changes() -> FakeChanges:
    """A hand-filled change source."""
    return FakeChanges()


@pytest.fixture
def watched(content_dir: Path, clock: Clock, changes: FakeChanges) -> Refresher:
    """A refresher over three articles that learns changes from the fake change source, full rescans every 60 s."""
    write(content_dir, "a.md", categories=["金融"])
    write(content_dir, "b.md", categories=["股票"])
    write(content_dir, "c.md")
    settings = make_settings(content_dir, scan={"workers": 1, "full_rescan_seconds": 60})
    return Refresher(settings, Store(), clock=clock, changes=changes)


def test_first_refresh_walks_in_full_despite_events(watched: Refresher, changes: FakeChanges) -> None:
    """The first refresh walks the whole directory: events only say what changed since a known state."""
    changes.note("a.md")

    report = watched.refresh()

    assert report.full is True
    assert sorted(report.reread) == ["a.md", "b.md", "c.md"]
    assert changes.taken == 1


def test_later_refreshes_read_only_what_events_name(
    content_dir: Path, watched: Refresher, changes: FakeChanges, clock: Clock
) -> None:
    """After the first walk, a refresh looks only at the named paths: an unnamed edit waits for the next walk."""
    watched.refresh()
    write(content_dir, "a.md", title="A, edited", categories=["金融"])
    write(content_dir, "b.md", title="B, edited", categories=["股票"])
    bump_mtime(content_dir / "a.md")
    bump_mtime(content_dir / "b.md")
    changes.note("a.md")
    clock.now += timedelta(seconds=30)

    report = watched.refresh()

    assert report.full is False
    assert report.reread == ("a.md",)
    # `a` is newest everywhere it is (a tie broken by path), so the index shows it too; `b`'s feed is untouched
    assert set(report.rebuilt) == feed_paths("all", "jin-rong") | {INDEX_PATH}


def test_lost_events_force_a_full_walk(
    content_dir: Path, watched: Refresher, changes: FakeChanges, clock: Clock
) -> None:
    """When the change source answers None (events were lost), the refresh walks everything."""
    watched.refresh()
    write(content_dir, "b.md", title="B, edited")
    bump_mtime(content_dir / "b.md")
    changes.lose()
    clock.now += timedelta(seconds=1)

    report = watched.refresh()

    assert report.full is True
    assert report.reread == ("b.md",)


def test_full_walk_comes_back_on_the_refresh_clock(
    content_dir: Path, watched: Refresher, changes: FakeChanges, clock: Clock
) -> None:
    """A full walk happens again once scan.full_rescan_seconds have passed on the refresh clock, and not before."""
    watched.refresh()
    write(content_dir, "c.md", title="C, edited")
    bump_mtime(content_dir / "c.md")

    clock.now += timedelta(seconds=59)
    early = watched.refresh()
    clock.now += timedelta(seconds=1)
    due = watched.refresh()
    clock.now += timedelta(seconds=59)
    after = watched.refresh()

    assert (early.full, early.reread) == (False, ())
    assert (due.full, due.reread) == (True, ("c.md",))
    assert (after.full, after.reread) == (False, ())


def test_refresh_after_the_directory_was_away_walks_in_full(
    tmp_path: Path, content_dir: Path, watched: Refresher, changes: FakeChanges, clock: Clock
) -> None:
    """Once the content directory comes back, the next refresh walks in full: events cannot say what happened."""
    watched.refresh()
    os.rename(content_dir, tmp_path / "away")
    clock.now += timedelta(seconds=1)
    away = watched.refresh()
    os.rename(tmp_path / "away", content_dir)
    write(content_dir, "b.md", title="B, edited while away")
    bump_mtime(content_dir / "b.md")
    clock.now += timedelta(seconds=1)

    back = watched.refresh()

    assert away.snapshot.degraded is not None
    assert back.snapshot.degraded is None
    assert back.full is True
    assert back.reread == ("b.md",)


def test_events_for_a_new_folder_and_its_file_publish_it_once_with_its_own_id(
    content_dir: Path, clock: Clock, changes: FakeChanges
) -> None:
    """A folder created with an article in it, named by events as folder and file, is read once and keeps its id."""
    settings = make_settings(content_dir, scan={"workers": 1})
    refresher = Refresher(settings, Store(), clock=clock, changes=changes)
    refresher.refresh()
    write(content_dir, "new/x.md", title="X")
    changes.note("new", "new/x.md")
    clock.now += timedelta(seconds=1)

    report = refresher.refresh()

    (item,) = json.loads(report.snapshot.documents[feed_path("all", Format.JSON)].body)["items"]
    assert report.reread == ("new/x.md",)
    assert item["id"] == item["url"]  # not made unique with a path hash, as if another article shared it
