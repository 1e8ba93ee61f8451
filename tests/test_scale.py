"""What makes a large content directory cheap: files a refresh re-reads, documents it re-renders, what it holds."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import logging
import multiprocessing
import os
import shutil
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import feedsvc.index.progress
import feedsvc.index.scan
from feedsvc.config import Settings
from feedsvc.feeds.catalog import Catalog, build_catalog
from feedsvc.index.progress import MIN_FILES as PROGRESS_MIN_FILES
from feedsvc.index.progress import ScanProgress
from feedsvc.index.scan import (
    CHUNK_FILES,
    EMPTY_INDEX,
    PARALLEL_MIN_FILES,
    ContentIndex,
    ScanResult,
    scan_content,
)
from feedsvc.model import INDEX_PATH, OPML_PATH, Article, Format, Problem, feed_path, make_document
from feedsvc.parse.articles import parse_file, parse_for_scan, read_body
from feedsvc.runtime.refresh import Refresher, RefreshReport
from feedsvc.runtime.scanner import Scanner
from feedsvc.store import Store
from tests.conftest import NOW, Clock, make_settings
from tests.corpus import write_article, write_corpus

DATE = "Wed, 04 May 2022 10:33:00 GMT"
CORPUS_SIZE = 1500
SCAN_LOGGER = "feedsvc.scan"


# --- helpers -----------------------------------------------------------------------------------------------------


class RecordingParse:
    """The real parser, recording the source of every file it is handed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.calls: list[str] = []

    def __call__(self, raw: bytes, source: str, mtime: float) -> tuple[Article | Problem, str]:
        self.calls.append(source)
        return parse_file(raw, source=source, mtime=mtime, settings=self.settings)


def scan(
    settings: Settings,
    previous: ContentIndex = EMPTY_INDEX,
    changed: set[str] | None = None,
    **options: Any,
) -> tuple[ScanResult, list[str]]:
    """Scan the settings' content directory after `previous`; return the result and the files parsed."""
    parse = RecordingParse(settings)
    result = scan_content(
        settings.content_dir, previous, parse, max_bytes=settings.max_file_bytes, changed=changed, **options
    )
    return result, parse.calls


def write(directory: Path, name: str, **fields: Any) -> Path:
    """Write an article titled after its name, with a fixed date unless given."""
    return write_article(directory, name, {"title": name, "date": DATE, **fields})


def bump_mtime(path: Path, seconds: int = 10) -> None:
    """Move a file's modification time forward, so that a rewrite is told apart without sleeping."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + seconds * 1_000_000_000))


def retitle(path: Path) -> None:
    """Change an article's title in place and move its modification time forward, as an editor saving it would."""
    path.write_text(path.read_text(encoding="utf-8").replace("title: ", "title: 改", 1), encoding="utf-8")
    bump_mtime(path)


def feed_paths(*slugs: str) -> set[str]:
    """Return the paths of every format of the feeds with these slugs."""
    return {feed_path(slug, fmt) for slug in slugs for fmt in Format}


def shown_but_newest_nowhere(catalog: Catalog) -> str:
    """The source of an article the first feed shows that is the newest of no feed."""
    newest = {f.articles[0].source for f in catalog.feeds if f.articles}
    return next(a.source for a in catalog.feeds[0].articles if a.source not in newest)


def slugs_showing(catalog: Catalog, source: str) -> set[str]:
    """Return the slugs of the feeds whose entries include the article of `source`."""
    return {f.spec.slug for f in catalog.feeds if any(a.source == source for a in f.articles)}


def shown(catalog: Catalog) -> set[tuple[str, str]]:
    """Return (source, fingerprint) of every article some feed shows."""
    return {(a.source, a.fingerprint) for f in catalog.feeds for a in f.articles}


class FakeChanges:
    """A change source filled by hand: `take` hands over the paths noted since it was last called."""

    def __init__(self) -> None:
        self.pending: set[str] | None = set()
        self.taken = 0

    def note(self, *paths: str) -> None:
        """Record paths as filesystem events would."""
        if self.pending is not None:
            self.pending.update(paths)

    def lose(self) -> None:
        """Make the next `take` say that events were lost."""
        self.pending = None

    def take(self) -> set[str] | None:
        """Return what was noted since the last call, or None when events were lost."""
        self.taken += 1
        pending, self.pending = self.pending, set()
        return pending


@pytest.fixture(scope="module")
def corpus_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus of realistic articles written once; tests work on copies."""
    directory = tmp_path_factory.mktemp("corpus") / "content"
    write_corpus(directory, CORPUS_SIZE)
    return directory


@pytest.fixture
def corpus(corpus_template: Path, tmp_path: Path) -> Path:
    """A private copy of the corpus, with the files' modification times."""
    directory = tmp_path / "corpus"
    shutil.copytree(corpus_template, directory)
    return directory


@pytest.fixture
def corpus_settings(corpus: Path) -> Settings:
    """Settings over the corpus, parsing in this process."""
    return make_settings(corpus, scan={"workers": 1})


def newest_source(corpus: Path) -> str:
    """Return the source of the corpus's newest article (write_corpus dates them in order)."""
    (path,) = corpus.rglob(f"article-{CORPUS_SIZE - 1:05d}.md")
    return path.relative_to(corpus).as_posix()


# --- targeted scans ----------------------------------------------------------------------------------------------


@pytest.fixture
def three(content_dir: Path, settings: Settings) -> ScanResult:
    """A full scan of three articles, two of them in a folder."""
    write(content_dir, "a.md")
    write(content_dir, "sub/b.md")
    write(content_dir, "sub/c.md")
    return scan(settings)[0]


def test_targeted_scan_looks_only_at_the_named_paths(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A targeted scan re-reads the named file alone: a change to a file no event named goes unnoticed until a walk."""
    for name in ["a.md", "sub/b.md"]:
        write(content_dir, name, title=f"{name}, edited")
        bump_mtime(content_dir / name)

    result, parsed = scan(settings, three.index, {"a.md"})

    assert parsed == ["a.md"]
    assert result.reread == ("a.md",)
    assert result.full is False
    assert result.removed == ()
    assert result.files_seen == 3
    assert result.index.entries["sub/b.md"] is three.index.entries["sub/b.md"]
    assert result.index.entries["sub/c.md"] is three.index.entries["sub/c.md"]
    article = result.index.entries["sub/b.md"].article
    assert article is not None
    assert article.title == "sub/b.md"


def test_targeted_scan_with_no_events_reads_nothing(settings: Settings, three: ScanResult) -> None:
    """An empty event set re-reads nothing and keeps every entry as the same object."""
    result, parsed = scan(settings, three.index, set())

    assert parsed == []
    assert (result.reread, result.removed, result.full, result.files_seen) == ((), (), False, 3)
    assert all(result.index.entries[s] is e for s, e in three.index.entries.items())


def test_targeted_scan_reads_an_added_file(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A named new file is read and added; nothing else is read."""
    write(content_dir, "sub/new.md")

    result, parsed = scan(settings, three.index, {"sub/new.md"})

    assert parsed == ["sub/new.md"]
    assert sorted(result.index.entries) == ["a.md", "sub/b.md", "sub/c.md", "sub/new.md"]
    assert result.removed == ()
    assert result.full is False


def test_targeted_scan_rereads_an_edited_file(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A named edited file is re-read and its entry replaced; the others stay the same objects."""
    write(content_dir, "sub/b.md", title="B, edited")
    bump_mtime(content_dir / "sub/b.md")

    result, parsed = scan(settings, three.index, {"sub/b.md"})

    assert parsed == ["sub/b.md"]
    article = result.index.entries["sub/b.md"].article
    assert article is not None
    assert article.title == "B, edited"
    assert result.index.entries["a.md"] is three.index.entries["a.md"]
    assert result.index.entries["sub/c.md"] is three.index.entries["sub/c.md"]


def test_targeted_scan_of_an_unchanged_file_keeps_its_entry(settings: Settings, three: ScanResult) -> None:
    """A named file whose stamp did not change (opened and closed, say) is not re-read."""
    result, parsed = scan(settings, three.index, {"a.md"})

    assert parsed == []
    assert result.reread == ()
    assert result.index.entries["a.md"] is three.index.entries["a.md"]


def test_targeted_scan_forgets_a_deleted_file(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A named file that is gone leaves the index, is listed in `removed`, and nothing is read."""
    (content_dir / "sub/b.md").unlink()

    result, parsed = scan(settings, three.index, {"sub/b.md"})

    assert parsed == []
    assert sorted(result.index.entries) == ["a.md", "sub/c.md"]
    assert result.removed == ("sub/b.md",)
    assert result.files_seen == 2


def test_targeted_scan_forgets_every_file_of_a_deleted_folder(
    content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """A named folder that is gone takes every entry under it out of the index, and only those."""
    write(content_dir, "subway.md")  # shares the folder's name as a prefix, but is not inside it
    before = scan(settings, three.index)[0]
    shutil.rmtree(content_dir / "sub")

    result, parsed = scan(settings, before.index, {"sub"})

    assert parsed == []
    assert sorted(result.index.entries) == ["a.md", "subway.md"]
    assert result.removed == ("sub/b.md", "sub/c.md")


def test_targeted_scan_walks_a_created_folder(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A named new folder is walked: every article in it, at any depth, is read."""
    write(content_dir, "new/x.md")
    write(content_dir, "new/deeper/y.markdown")
    (content_dir / "new/notes.html").write_text("not an article", encoding="utf-8")

    result, parsed = scan(settings, three.index, {"new"})

    assert sorted(parsed) == ["new/deeper/y.markdown", "new/x.md"]
    assert result.full is False
    assert sorted(result.index.entries) == ["a.md", "new/deeper/y.markdown", "new/x.md", "sub/b.md", "sub/c.md"]


def test_targeted_scan_reads_each_file_once_when_events_name_a_folder_and_its_files(
    content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """Events naming a new folder and the files inside it (as inotify gives them) read each file once."""
    write(content_dir, "new/x.md")
    write(content_dir, "new/deeper/y.md")

    result, parsed = scan(
        settings, three.index, {"new", "new/deeper", "new/deeper/y.md", "new/x.md", "./new/x.md", "new//x.md"}
    )

    assert sorted(parsed) == ["new/deeper/y.md", "new/x.md"]
    assert sorted(result.reread) == ["new/deeper/y.md", "new/x.md"]


def test_targeted_scan_picks_up_a_folder_moved_in(
    tmp_path: Path, content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """A folder moved in from outside is walked when named, under its new path."""
    outside = tmp_path / "drafts"
    write(outside, "ready.md")
    os.rename(outside, content_dir / "moved")

    result, parsed = scan(settings, three.index, {"moved"})

    assert parsed == ["moved/ready.md"]
    assert "moved/ready.md" in result.index.entries


def test_targeted_scan_handles_a_folder_moved_within(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A folder renamed inside the content directory: its old entries are removed, its new paths read."""
    os.rename(content_dir / "sub", content_dir / "renamed")

    result, parsed = scan(settings, three.index, {"sub", "renamed"})

    assert sorted(parsed) == ["renamed/b.md", "renamed/c.md"]
    assert sorted(result.index.entries) == ["a.md", "renamed/b.md", "renamed/c.md"]
    assert result.removed == ("sub/b.md", "sub/c.md")


@pytest.mark.parametrize("name", [".hidden/a.md", ".a.md", "sub/.cache/b.md", "../outside.md", "notes.html", "a.md~"])
def test_targeted_scan_ignores_paths_that_are_not_articles(
    tmp_path: Path, content_dir: Path, settings: Settings, three: ScanResult, name: str
) -> None:
    """A named path inside a hidden folder, hidden, outside the directory, or not Markdown is never read."""
    target = content_dir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"---\ntitle: x\ndate: {DATE}\n---\nbody\n", encoding="utf-8")

    result, parsed = scan(settings, three.index, {name})

    assert parsed == []
    assert sorted(result.index.entries) == ["a.md", "sub/b.md", "sub/c.md"]
    assert result.removed == ()


def test_targeted_scan_ignores_a_hidden_folder_named_with_its_files(
    content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """A new hidden folder named together with its files is not walked."""
    write(content_dir, ".git/x.md")

    result, parsed = scan(settings, three.index, {".git", ".git/x.md"})

    assert parsed == []
    assert ".git/x.md" not in result.index.entries


def test_named_symlink_falls_back_to_a_full_walk(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A named path that is now a symbolic link makes the scan walk everything, so links are handled in one place."""
    (content_dir / "link.md").symlink_to(content_dir / "a.md")
    write(content_dir, "sub/c.md", title="C, edited")
    bump_mtime(content_dir / "sub/c.md")

    result, parsed = scan(settings, three.index, {"link.md"})

    assert result.full is True
    assert sorted(parsed) == ["link.md", "sub/c.md"]
    assert result.index.has_links is True
    assert "link.md" in result.index.entries


def test_named_folder_holding_a_symlink_falls_back_to_a_full_walk(
    content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """A named new folder that holds a symbolic link makes the scan walk everything."""
    write(content_dir, "new/x.md")
    (content_dir / "new/link.md").symlink_to(content_dir / "a.md")

    result, _ = scan(settings, three.index, {"new"})

    assert result.full is True
    assert sorted(result.index.entries) == ["a.md", "new/link.md", "new/x.md", "sub/b.md", "sub/c.md"]


def test_index_with_links_is_always_walked_in_full(content_dir: Path, settings: Settings) -> None:
    """Once a walk met a link, every scan walks in full: events name a link's target, not the link."""
    write(content_dir, "real/a.md")
    (content_dir / "alias").symlink_to(content_dir / "real")
    first, _ = scan(settings)
    write(content_dir, "real/a.md", title="A, edited")
    bump_mtime(content_dir / "real/a.md")

    second, parsed = scan(settings, first.index, set())

    assert first.index.has_links is True
    assert second.full is True
    assert sorted(parsed) == ["alias/a.md", "real/a.md"]


def test_targeted_scan_keeps_has_links_false(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A targeted scan that met no link leaves the index without links, so scans stay targeted."""
    write(content_dir, "new.md")

    result, _ = scan(settings, three.index, {"new.md"})

    assert result.full is False
    assert result.index.has_links is False


def test_targeted_scan_of_a_missing_content_directory_keeps_the_index(
    content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """When the directory itself is gone, a targeted scan reports the error and returns the previous index."""
    shutil.rmtree(content_dir)

    result, parsed = scan(settings, three.index, {"a.md"})

    assert parsed == []
    assert result.error is not None
    assert result.index is three.index


# --- the refresher and its change source -------------------------------------------------------------------------


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


# --- incremental work over a large corpus --------------------------------------------------------------------------


def corpus_refresher(settings: Settings, clock: Clock, changes: FakeChanges | None) -> Refresher:
    """A refresher over the corpus that has done its first refresh."""
    refresher = Refresher(settings, Store(), clock=clock, changes=changes)
    first = refresher.refresh()
    assert len(first.reread) == CORPUS_SIZE
    clock.now += timedelta(seconds=30)
    return refresher


def catalog_of(refresher: Refresher, now: datetime = NOW) -> Catalog:
    """Return the catalog of the refresher's current index, built from scratch."""
    return build_catalog(refresher.index.articles(), refresher.settings, now)


def assert_only_rebuilt(before: RefreshReport, after: RefreshReport, expected: set[str]) -> None:
    """Assert `after` re-rendered exactly `expected` and served every other document as the same object."""
    assert set(after.rebuilt) == expected
    assert len(after.rebuilt) == len(expected)
    for path, document in after.snapshot.documents.items():
        if path not in expected:
            assert document is before.snapshot.documents[path], path


MODES = pytest.mark.parametrize("events", [False, True], ids=["walk", "events"])


@MODES
def test_unchanged_corpus_refresh_rereads_and_rebuilds_nothing(
    corpus_settings: Settings, clock: Clock, events: bool
) -> None:
    """A refresh with nothing changed re-reads no file, renders no document and serves the same objects."""
    refresher = Refresher(corpus_settings, Store(), clock=clock, changes=FakeChanges() if events else None)
    before = refresher.refresh()
    clock.now += timedelta(seconds=30)

    after = refresher.refresh()

    assert after.reread == ()
    assert after.rebuilt == ()
    assert after.bodies_read == 0
    assert after.snapshot.documents == before.snapshot.documents
    assert all(after.snapshot.documents[p] is d for p, d in before.snapshot.documents.items())


@MODES
def test_editing_the_newest_article_rerenders_its_feeds_and_the_index(
    corpus: Path, corpus_settings: Settings, clock: Clock, events: bool
) -> None:
    """Editing the newest article re-reads it alone and re-renders its feeds (every format) and the index, no more."""
    changes = FakeChanges() if events else None
    refresher = corpus_refresher(corpus_settings, clock, changes)
    before = refresher.refresh()
    source = newest_source(corpus)
    slugs = slugs_showing(catalog_of(refresher), source)
    retitle(corpus / source)
    if changes is not None:
        changes.note(source)

    after = refresher.refresh()

    assert "all" in slugs
    assert after.full is not events
    assert after.reread == (source,)
    assert after.bodies_read == 0  # the body came with the scan, not from a second read
    assert_only_rebuilt(before, after, feed_paths(*slugs) | {INDEX_PATH})


@MODES
def test_editing_an_article_newest_nowhere_rerenders_only_its_feeds(
    corpus: Path, corpus_settings: Settings, clock: Clock, events: bool
) -> None:
    """Editing an article shown in feeds but newest in none re-renders exactly those feeds, not index or OPML."""
    changes = FakeChanges() if events else None
    refresher = corpus_refresher(corpus_settings, clock, changes)
    before = refresher.refresh()
    catalog = catalog_of(refresher)
    source = shown_but_newest_nowhere(catalog)
    slugs = slugs_showing(catalog, source)
    retitle(corpus / source)
    if changes is not None:
        changes.note(source)

    after = refresher.refresh()

    assert after.reread == (source,)
    assert after.bodies_read == 0
    assert_only_rebuilt(before, after, feed_paths(*slugs))


def test_editing_an_article_no_feed_shows_rerenders_nothing(
    corpus: Path, corpus_settings: Settings, clock: Clock
) -> None:
    """Editing an old article that no feed shows re-reads it and renders nothing at all."""
    refresher = corpus_refresher(corpus_settings, clock, None)
    before = refresher.refresh()
    source = "posts/2024/01/article-00000.md"
    assert slugs_showing(catalog_of(refresher), source) == set()
    retitle(corpus / source)

    after = refresher.refresh()

    assert after.reread == (source,)
    assert after.bodies_read == 0
    assert_only_rebuilt(before, after, set())


def test_later_updated_date_also_rerenders_the_opml(corpus: Path, corpus_settings: Settings, clock: Clock) -> None:
    """An edit that moves the latest `updated` of all feeds re-renders the OPML as well."""
    refresher = corpus_refresher(corpus_settings, clock, None)
    before = refresher.refresh()
    source = newest_source(corpus)
    slugs = slugs_showing(catalog_of(refresher), source)
    path = corpus / source
    path.write_text(
        path.read_text(encoding="utf-8").replace("title: ", "updated: 2026-01-01T00:00:00Z\ntitle: ", 1),
        encoding="utf-8",
    )
    bump_mtime(path)

    after = refresher.refresh()

    assert after.reread == (source,)
    assert_only_rebuilt(before, after, feed_paths(*slugs) | {INDEX_PATH, OPML_PATH})


@MODES
def test_adding_a_newest_article_rerenders_only_its_feeds(
    corpus: Path, corpus_settings: Settings, clock: Clock, events: bool
) -> None:
    """A new newest article in one category re-renders `all`, that category, the index and the OPML."""
    changes = FakeChanges() if events else None
    refresher = corpus_refresher(corpus_settings, clock, changes)
    before = refresher.refresh()
    write(corpus, "posts/new.md", date="2026-06-01T00:00:00Z", categories=["金融"])
    if changes is not None:
        changes.note("posts/new.md")

    after = refresher.refresh()

    assert after.reread == ("posts/new.md",)
    assert after.bodies_read == 0
    assert slugs_showing(catalog_of(refresher), "posts/new.md") == {"all", "jin-rong"}
    assert_only_rebuilt(before, after, feed_paths("all", "jin-rong") | {INDEX_PATH, OPML_PATH})


def test_adding_an_old_article_in_a_new_category_renders_only_that_category(
    corpus: Path, corpus_settings: Settings, clock: Clock
) -> None:
    """An old article in a new category adds that category's feeds; `all` keeps its entries and so its bytes.

    (Unless it starts a new archive page of `all`, which the current `all` then links.)
    """
    settings = dataclasses.replace(corpus_settings, archive_size=CORPUS_SIZE + 10)
    refresher = corpus_refresher(settings, clock, None)
    before = refresher.refresh()
    write(corpus, "old.md", date="2020-01-01T00:00:00Z", categories=["新栏目"])

    after = refresher.refresh()

    catalog = catalog_of(refresher)
    assert slugs_showing(catalog, "old.md") == {"xin-lan-mu"}
    assert after.reread == ("old.md",)
    assert_only_rebuilt(before, after, feed_paths("xin-lan-mu") | {INDEX_PATH, OPML_PATH})

    # Pages of 50: the 1,501st article starts page 31 of `all`; without it `all` links page 30 again.
    refresher = Refresher(corpus_settings, Store(), clock=clock)
    before = refresher.refresh()
    (corpus / "old.md").unlink()
    after = refresher.refresh()
    assert_only_rebuilt(before, after, feed_paths("all") | {INDEX_PATH, OPML_PATH})


@MODES
def test_deleting_a_shown_article_rerenders_only_its_feeds(
    corpus: Path, corpus_settings: Settings, clock: Clock, events: bool
) -> None:
    """Deleting an article re-renders its feeds and the index, and reads only the bodies of articles newly shown."""
    changes = FakeChanges() if events else None
    refresher = corpus_refresher(corpus_settings, clock, changes)
    before = refresher.refresh()
    catalog = catalog_of(refresher)
    source = shown_but_newest_nowhere(catalog)
    slugs = slugs_showing(catalog, source)
    (corpus / source).unlink()
    if changes is not None:
        changes.note(source)

    after = refresher.refresh()

    newly_shown = {s for s, _ in shown(catalog_of(refresher))} - {s for s, _ in shown(catalog)}
    assert after.reread == ()
    assert after.bodies_read == len(newly_shown) > 0
    assert_only_rebuilt(before, after, feed_paths(*slugs) | {INDEX_PATH})


def test_deleting_an_article_no_feed_shows_rerenders_only_the_index(
    corpus: Path, corpus_settings: Settings, clock: Clock
) -> None:
    """Deleting an article no feed shows changes only category sizes: the index is the one document re-rendered."""
    refresher = corpus_refresher(corpus_settings, clock, None)
    before = refresher.refresh()
    source = "posts/2024/01/article-00000.md"
    (corpus / source).unlink()

    after = refresher.refresh()

    assert after.reread == ()
    assert after.bodies_read == 0
    assert_only_rebuilt(before, after, {INDEX_PATH})


def test_incremental_corpus_refreshes_match_a_fresh_build(
    corpus: Path, corpus_settings: Settings, clock: Clock
) -> None:
    """After edits, additions and deletions by events, the documents equal those of a fresh refresher's first build."""
    changes = FakeChanges()
    refresher = corpus_refresher(corpus_settings, clock, changes)
    refresher.refresh()
    retitle(corpus / newest_source(corpus))
    write(corpus, "posts/new.md", date="2026-06-01T00:00:00Z", categories=["金融", "新栏目"])
    doomed = sorted(corpus.rglob("*.md"))[-3]
    doomed.unlink()
    changes.note(newest_source(corpus), "posts/new.md", doomed.relative_to(corpus).as_posix())

    incremental = refresher.refresh().snapshot
    fresh = Refresher(corpus_settings, Store(), clock=clock).refresh().snapshot

    assert sorted(incremental.documents) == sorted(fresh.documents)
    for path, document in fresh.documents.items():
        assert incremental.documents[path].body == document.body, path


# --- bodies are not held -----------------------------------------------------------------------------------------


def test_article_has_no_body_field() -> None:
    """An Article holds metadata only: no field carries the body."""
    names = {f.name for f in dataclasses.fields(Article)}

    assert not names & {"body", "content", "html", "text", "markdown"}


def test_content_memo_holds_only_articles_shown_in_feeds(corpus: Path, corpus_settings: Settings, clock: Clock) -> None:
    """After each refresh the refresher's content memo holds exactly the versions of articles some feed shows."""
    refresher = corpus_refresher(corpus_settings, clock, None)
    first, first_shown = set(refresher.contents), shown(catalog_of(refresher))
    retitle(corpus / newest_source(corpus))
    sorted(corpus.rglob("*.md"))[-2].unlink()
    refresher.refresh()
    second, second_shown = set(refresher.contents), shown(catalog_of(refresher))

    assert first == first_shown
    assert second == second_shown
    assert first != second
    assert len(second) < CORPUS_SIZE // 10


def test_scan_keeps_bodies_of_reread_files_only(content_dir: Path, settings: Settings) -> None:
    """ScanResult.bodies holds the bodies of the files this scan re-read and parsed as articles, nothing else."""
    write(content_dir, "a.md")
    write(content_dir, "b.md")
    (content_dir / "bad.md").write_text("no front matter\n", encoding="utf-8")
    first, _ = scan(settings)
    path = write_article(content_dir, "b.md", {"title": "B2", "date": DATE}, "<p>新的正文</p>")
    bump_mtime(path)

    second, _ = scan(settings, first.index)
    third, _ = scan(settings, second.index)

    assert sorted(first.bodies) == ["a.md", "b.md"]
    assert dict(second.bodies) == {"b.md": read_body(path.read_bytes())}
    assert "新的正文" in second.bodies["b.md"]
    assert dict(third.bodies) == {}


def test_scan_keeps_no_bodies_when_too_many_files_were_reread(
    content_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When more than MAX_KEPT_BODIES files are re-read no body is kept; up to that many, all are."""
    monkeypatch.setattr(feedsvc.index.scan, "MAX_KEPT_BODIES", 2)
    write(content_dir, "a.md")
    write(content_dir, "b.md")
    at_limit, _ = scan(settings)
    write(content_dir, "c.md")

    over_limit, _ = scan(settings)

    assert sorted(at_limit.bodies) == ["a.md", "b.md"]
    assert len(over_limit.reread) == 3
    assert dict(over_limit.bodies) == {}


def test_refresh_reads_bodies_again_when_the_scan_kept_none(
    content_dir: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without kept bodies, a refresh reads again only the files whose articles feeds show, and renders them."""
    monkeypatch.setattr(feedsvc.index.scan, "MAX_KEPT_BODIES", 1)
    settings = make_settings(content_dir, scan={"workers": 1}, feeds={"limit": 2})
    for day in range(1, 5):
        write(content_dir, f"{day}.md", date=f"2022-05-0{day}T00:00:00Z")

    report = Refresher(settings, Store(), clock=clock).refresh()

    assert report.bodies_read == 2  # the two newest: the only ones the `all` feed shows
    assert "正文" in report.snapshot.documents[feed_path("all", Format.JSON)].body.decode()


# --- parallel parsing --------------------------------------------------------------------------------------------


def parallel_corpus(directory: Path) -> int:
    """Write more than PARALLEL_MIN_FILES articles and a few problem files; return how many files there are."""
    write_corpus(directory, PARALLEL_MIN_FILES + CHUNK_FILES // 2)
    (directory / "bad-yaml.md").write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")
    (directory / "bad-date.md").write_text("---\ntitle: x\ndate: 2022-02-30\n---\nbody\n", encoding="utf-8")
    return PARALLEL_MIN_FILES + CHUNK_FILES // 2 + 2


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


def entries_summary(index: ContentIndex) -> dict[str, Any]:
    """Return what an index holds, comparable across processes: each entry's stamp, result and last good article."""
    return {source: (e.stamp, e.result, e.last_good, e.path) for source, e in index.entries.items()}


@pytest.mark.slow
def test_parallel_refresh_builds_the_same_index_as_one_process(
    content_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With scan.workers 2 the cold scan parses in worker processes and gives the same articles and problems as 1."""
    total = parallel_corpus(content_dir)
    one = Refresher(make_settings(content_dir, scan={"workers": 1}), Store(), clock=Clock())
    two = Refresher(make_settings(content_dir, scan={"workers": 2}), Store(), clock=Clock())

    with caplog.at_level(logging.WARNING, logger=SCAN_LOGGER):
        alone = one.refresh()
        parallel = two.refresh()

    assert not [r for r in caplog.records if r.name == SCAN_LOGGER]  # no fall back to parsing in this process
    assert len(parallel.reread) == total
    assert entries_summary(two.index) == entries_summary(one.index)
    assert two.index.problems() == one.index.problems()
    assert len(two.index.problems()) == 2
    assert parallel.stats.files_failed == alone.stats.files_failed == 2
    for path, document in alone.snapshot.documents.items():
        assert parallel.snapshot.documents[path].body == document.body, path


@pytest.mark.slow
def test_parallel_scan_hands_chunks_to_worker_processes(
    content_dir: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A large batch is parsed in chunks by the executor, in order, with progress counts ending at the total."""
    total = parallel_corpus(content_dir)
    parse = partial(parse_for_scan, settings=settings)
    calls: list[tuple[int, int]] = []
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


@pytest.mark.slow
def test_cold_scan_uses_every_core_by_default(content_dir: Path) -> None:
    """With scan.workers 0 (the default) parsing gets one worker process per CPU; with 1 it stays in this process."""
    cores = os.cpu_count() or 1
    scanner = Scanner(make_settings(content_dir))
    assert scanner.workers == cores
    executor = scanner.executor()
    try:
        assert isinstance(executor, ProcessPoolExecutor)
        assert executor._max_workers == cores
    finally:
        executor.shutdown()

    write(content_dir, "a.md")
    alone = Refresher(make_settings(content_dir, scan={"workers": 1}), Store())
    with mock.patch.object(Scanner, "executor", side_effect=AssertionError("no worker processes")):
        assert alone.refresh().stats.files_parsed == 1


@pytest.mark.slow
def test_rescan_of_a_large_unchanged_directory_starts_no_worker_process(content_dir: Path) -> None:
    """A full rescan (or a restart) that finds nothing to re-read never starts the worker processes."""
    parallel_corpus(content_dir)
    settings = make_settings(content_dir, scan={"workers": 2})
    refresher = Refresher(settings, Store())
    refresher.refresh()

    with mock.patch.object(Scanner, "executor", side_effect=AssertionError("no worker processes")):
        report = refresher.refresh()

    assert report.full
    assert report.reread == ()


def assert_progress(calls: list[tuple[int, int]], total: int) -> None:
    """Assert progress calls count up, never down, to the total, each giving that total."""
    assert calls
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert calls[-1] == (total, total)
    assert {of for _, of in calls} == {total}


def test_progress_counts_up_to_the_total_in_process(content_dir: Path, settings: Settings) -> None:
    """Parsing in this process reports progress chunk by chunk, ending at the number of files read."""
    for number in range(CHUNK_FILES + 5):
        write(content_dir, f"{number}.md")
    calls: list[tuple[int, int]] = []

    scan(settings, progress=lambda done, of: calls.append((done, of)))

    assert_progress(calls, CHUNK_FILES + 5)
    assert len(calls) == 2


def test_refresher_passes_its_progress_callback_to_the_scan(content_dir: Path, settings: Settings) -> None:
    """A refresher's progress callback hears the first scan's count of files."""
    for number in range(3):
        write(content_dir, f"{number}.md")
    calls: list[tuple[int, int]] = []

    Refresher(settings, Store(), clock=Clock(), progress=lambda done, of: calls.append((done, of))).refresh()

    assert_progress(calls, 3)


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


def test_progress_of_a_later_scan_counts_its_own_time(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second large scan, an hour after the first, reports its own few seconds, not the time since start."""
    clock = Monotonic()
    monkeypatch.setattr(feedsvc.index.progress, "time", clock)
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


def test_broken_executor_falls_back_to_parsing_here(
    content_dir: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """When the worker pool is broken, the scan parses every file in this process and logs a warning."""
    total = parallel_corpus(content_dir)
    calls: list[tuple[int, int]] = []

    with caplog.at_level(logging.WARNING, logger=SCAN_LOGGER):
        result, parsed = scan(settings, executor=BrokenPool(), progress=lambda done, of: calls.append((done, of)))
    alone, _ = scan(settings)

    assert len(parsed) == total
    assert entries_summary(result.index) == entries_summary(alone.index)
    assert_progress(calls, total)
    assert any("worker processes failed" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


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


# --- documents ---------------------------------------------------------------------------------------------------


def test_document_gzip_is_made_once_and_reproducible() -> None:
    """gzip_body decompresses to the body, is computed once (the same object again), and is reproducible."""
    body = "<rss>证券时报网</rss>".encode() * 100
    document = make_document(body, "application/rss+xml; charset=utf-8")

    first = document.gzip_body

    assert gzip.decompress(first) == body
    assert document.gzip_body is first
    assert make_document(body, "application/rss+xml; charset=utf-8").gzip_body == first
