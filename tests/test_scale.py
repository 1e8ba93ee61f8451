"""The refresher over a large content directory: what a refresh re-reads, what it re-renders, and what it holds."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest

import feedsvc.index.scan
from feedsvc.config import Settings
from feedsvc.feeds.catalog import Catalog, build_catalog
from feedsvc.model import INDEX_PATH, OPML_PATH, Format, feed_path
from feedsvc.refresh.refresher import Refresher, RefreshReport
from feedsvc.refresh.scanner import Scanner
from feedsvc.store import Store
from tests.conftest import NOW, Clock, feed_paths, make_settings
from tests.corpus import bump_mtime, retitle, write_corpus
from tests.scans import FakeChanges, assert_progress, entries_summary, parallel_corpus, write

CORPUS_SIZE = 1500
SCAN_LOGGER = "feedsvc.scan"


# --- helpers -----------------------------------------------------------------------------------------------------


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


OLDEST = "posts/2024/01/article-00000.md"  # shown by no feed: each feed shows newer ones


def edit_newest(corpus: Path, catalog: Catalog) -> str:
    """Retitle the newest article."""
    source = newest_source(corpus)
    retitle(corpus / source)
    return source


def edit_newest_nowhere(corpus: Path, catalog: Catalog) -> str:
    """Retitle an article some feed shows that is the newest of none."""
    source = shown_but_newest_nowhere(catalog)
    retitle(corpus / source)
    return source


def edit_oldest(corpus: Path, catalog: Catalog) -> str:
    """Retitle the oldest article, which no feed shows."""
    retitle(corpus / OLDEST)
    return OLDEST


def date_newest_later(corpus: Path, catalog: Catalog) -> str:
    """Give the newest article an `updated` date later than any other."""
    source = newest_source(corpus)
    path = corpus / source
    path.write_text(
        path.read_text(encoding="utf-8").replace("title: ", "updated: 2026-01-01T00:00:00Z\ntitle: ", 1),
        encoding="utf-8",
    )
    bump_mtime(path)
    return source


def add_newest(corpus: Path, catalog: Catalog) -> str:
    """Add an article newer than all, in the category 金融."""
    write(corpus, "posts/new.md", date="2026-06-01T00:00:00Z", categories=["金融"])
    return "posts/new.md"


def delete_shown(corpus: Path, catalog: Catalog) -> str:
    """Delete an article some feed shows that is the newest of none."""
    source = shown_but_newest_nowhere(catalog)
    (corpus / source).unlink()
    return source


def delete_oldest(corpus: Path, catalog: Catalog) -> str:
    """Delete the oldest article, which no feed shows."""
    (corpus / OLDEST).unlink()
    return OLDEST


@dataclasses.dataclass(frozen=True)
class Change:
    """One change to the corpus, and what the refresh after it must re-read and re-render."""

    make: Callable[[Path, Catalog], str]  # changes the corpus; returns the source of the article it touched
    shown_in: Callable[[set[str]], bool]  # holds for the slugs of the feeds showing that article, before or after
    rebuilt: Callable[[set[str]], set[str]]  # the documents re-rendered, from those slugs
    reread: bool = True  # the file is read again (False: it was deleted)
    shows_others: bool = False  # other articles move into feeds: their bodies are read again
    events: bool = True  # also with events naming the file, not only with a walk


CHANGES = {
    "editing the newest article": Change(
        edit_newest, lambda slugs: "all" in slugs, lambda slugs: feed_paths(*slugs) | {INDEX_PATH}
    ),
    "editing an article newest nowhere": Change(edit_newest_nowhere, bool, lambda slugs: feed_paths(*slugs)),
    "editing an article no feed shows": Change(
        edit_oldest, lambda slugs: slugs == set(), lambda _: set(), events=False
    ),
    "a later updated date": Change(
        date_newest_later,
        lambda slugs: "all" in slugs,
        lambda slugs: feed_paths(*slugs) | {INDEX_PATH, OPML_PATH},  # the latest update of all feeds moved
        events=False,
    ),
    "adding a newest article": Change(
        add_newest,
        lambda slugs: slugs == {"all", "jin-rong"},
        lambda slugs: feed_paths(*slugs) | {INDEX_PATH, OPML_PATH},
    ),
    "deleting a shown article": Change(
        delete_shown, bool, lambda slugs: feed_paths(*slugs) | {INDEX_PATH}, reread=False, shows_others=True
    ),
    "deleting an article no feed shows": Change(  # only the category sizes change: the index shows them
        delete_oldest, lambda slugs: slugs == set(), lambda _: {INDEX_PATH}, reread=False, events=False
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "events"),
    [
        pytest.param(change, events, id=f"{name}, {'events' if events else 'walk'}")
        for name, change in CHANGES.items()
        for events in ([False, True] if change.events else [False])
    ],
)
def test_a_refresh_redoes_only_what_one_change_touched(
    corpus: Path, corpus_settings: Settings, clock: Clock, change: Change, events: bool
) -> None:
    """A refresh re-reads the changed file alone, re-renders the documents showing it, and keeps every other one."""
    changes = FakeChanges() if events else None
    refresher = Refresher(corpus_settings, Store(), clock=clock, changes=changes)
    first = refresher.refresh()
    clock.now += timedelta(seconds=30)
    unchanged = refresher.refresh()
    catalog = catalog_of(refresher)
    source = change.make(corpus, catalog)
    if changes is not None:
        changes.note(source)

    after = refresher.refresh()

    now_catalog = catalog_of(refresher)
    slugs = slugs_showing(catalog, source) | slugs_showing(now_catalog, source)
    newly_shown = {s for s, _ in shown(now_catalog)} - {s for s, _ in shown(catalog)} - set(after.reread)
    assert len(first.reread) == CORPUS_SIZE
    assert (unchanged.reread, unchanged.bodies_read, unchanged.full) == ((), 0, not events)
    assert_only_rebuilt(first, unchanged, set())
    assert unchanged.snapshot.documents == first.snapshot.documents
    assert change.shown_in(slugs), slugs
    assert after.full is not events
    assert after.reread == ((source,) if change.reread else ())
    assert after.bodies_read == len(newly_shown)  # a re-read file's body came with the scan
    assert bool(newly_shown) is change.shows_others
    assert_only_rebuilt(unchanged, after, change.rebuilt(slugs))
    assert set(unchanged.snapshot.documents) <= set(after.snapshot.documents)  # no feed went away


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


# --- parsing in worker processes ---------------------------------------------------------------------------------


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
def test_cold_scan_uses_every_core_by_default(content_dir: Path) -> None:
    """With scan.workers 0 (the default) parsing gets one worker process per CPU; with 1 it stays in this process."""
    cores = os.cpu_count() or 1
    scanner = Scanner(make_settings(content_dir, scan={"workers": 0}))
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


def test_refresher_passes_its_progress_callback_to_the_scan(content_dir: Path, settings: Settings) -> None:
    """A refresher's progress callback hears the first scan's count of files."""
    for number in range(3):
        write(content_dir, f"{number}.md")
    calls: list[tuple[int, int | None]] = []

    Refresher(settings, Store(), clock=Clock(), progress=lambda done, of: calls.append((done, of))).refresh()

    assert_progress(calls, 3)
