"""The persistent parse cache: what a restart reads and renders again, and how a service copes when it cannot help."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import feedsvc.index.cache
import feedsvc.refresh.refresher
from feedsvc.config import Settings
from feedsvc.config.file import load_settings
from feedsvc.index.cache import Cache, default_cache_dir, open_cache
from feedsvc.model import Format, Snapshot, feed_path
from feedsvc.refresh.refresher import Refresher, RefreshReport
from feedsvc.store import Store
from tests.conftest import Clock, make_settings
from tests.corpus import bump_mtime, write_article, write_corpus

CACHE_LOGGER = "feedsvc.cache"
DATE = "Wed, 04 May 2022 10:33:00 GMT"


def write(directory: Path, name: str, **fields: Any) -> Path:
    """Write an article titled after its name, with a fixed date unless given."""
    return write_article(directory, name, {"title": name, "date": DATE, **fields})


def cached_settings(content_dir: Path, cache_dir: Path, **sections: dict[str, Any]) -> Settings:
    """Settings over the content directory with the cache in `cache_dir`, parsing in this process."""
    sections.setdefault("scan", {}).setdefault("workers", 1)
    sections.setdefault("cache", {}).setdefault("dir", str(cache_dir))
    return make_settings(content_dir, **sections)


def titles(snapshot: Snapshot, slug: str = "all") -> list[str]:
    """Return the titles of a feed's entries, read from its JSON Feed document."""
    return [item["title"] for item in json.loads(snapshot.documents[feed_path(slug, Format.JSON)].body)["items"]]


def assert_same_documents(one: Snapshot, two: Snapshot) -> None:
    """Assert two snapshots serve the same paths with the same bytes, ETags and validators."""
    assert sorted(one.documents) == sorted(two.documents)
    for path, document in one.documents.items():
        other = two.documents[path]
        assert (document.body, document.etag, document.gzip_etag) == (other.body, other.etag, other.gzip_etag), path
        assert (document.media_type, document.last_modified) == (other.media_type, other.last_modified), path


class Runs:
    """Starts refreshers as a service run would: open the cache, refresh; a restart closes the last run's cache."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.cache: Cache | None = None
        self.refresher: Refresher | None = None

    def start(self, settings: Settings) -> Refresher:
        """Stop the running one, if any, and start a new refresher with its own cache connection."""
        self.stop()
        self.cache = open_cache(settings)
        self.refresher = Refresher(settings, Store(), clock=self.clock, cache=self.cache)
        return self.refresher

    def run(self, settings: Settings) -> RefreshReport:
        """Start a new refresher and return its first refresh."""
        return self.start(settings).refresh()

    def stop(self) -> None:
        """Stop the running refresher as a service stops: write what it has not yet, close its cache."""
        if self.refresher is not None:
            self.refresher.flush()
            self.refresher = None
        if self.cache is not None:
            self.cache.close()
            self.cache = None


@pytest.fixture
def runs(clock: Clock) -> Iterator[Runs]:
    """Service runs sharing one clock; the last one's cache is closed afterwards."""
    started = Runs(clock)
    yield started
    started.stop()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """Where the tests' cache lives."""
    return tmp_path / "cache"


@pytest.fixture
def site(content_dir: Path, cache_dir: Path) -> Settings:
    """Thirty realistic articles, a draft, an undated article and a problem file; the cache under tmp_path."""
    write_corpus(content_dir, 30)
    write(content_dir, "draft.md", draft=True)
    # its date comes from the file's modification time
    (content_dir / "undated.md").write_text("---\ntitle: 无日期\ncategories: [金融]\n---\n正文\n", encoding="utf-8")
    (content_dir / "broken.md").write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")
    return cached_settings(content_dir, cache_dir)


def rows(cache: Cache | None, query: str, refresher: Refresher | None = None) -> set[Any]:
    """Return the first column of a query on the cache file, read through a connection of its own.

    With a refresher, what it has not written yet is written first (as its next refresh would).
    """
    if refresher is not None:
        refresher.flush()
    assert cache is not None
    with contextlib.closing(sqlite3.connect(cache.location)) as connection:
        return {row[0] for row in connection.execute(query)}


# --- restarts --------------------------------------------------------------------------------------------------------


def test_restart_over_unchanged_content_reads_and_renders_nothing(runs: Runs, site: Settings, clock: Clock) -> None:
    """A restart over unchanged content parses no file, renders no document and serves the same bytes and ETags."""
    first = runs.run(site)
    clock.now += timedelta(hours=1)

    second = runs.run(site)

    assert first.stats.files_parsed == 33
    assert second.stats.files_parsed == 0
    assert second.reread == ()
    assert second.rebuilt == ()
    assert second.bodies_read == 0
    assert second.stats.files_seen == first.stats.files_seen
    assert second.snapshot.problems == first.snapshot.problems
    assert (second.snapshot.articles, second.snapshot.held) == (first.snapshot.articles, first.snapshot.held)
    assert_same_documents(first.snapshot, second.snapshot)


def test_restart_serves_what_a_build_without_cache_serves(runs: Runs, site: Settings, clock: Clock) -> None:
    """Documents a restart takes from the cache are byte for byte those a refresher without cache builds."""
    runs.run(site)
    restarted = runs.run(site)

    fresh = Refresher(site, Store(), clock=clock).refresh()

    assert_same_documents(restarted.snapshot, fresh.snapshot)


def test_file_changed_while_down_is_the_only_one_reread(
    runs: Runs, site: Settings, content_dir: Path, clock: Clock
) -> None:
    """After a restart only files edited or added while the service was down are read; feeds follow every change."""
    runs.run(site)
    runs.stop()
    edited = content_dir / "posts/2024/01/article-00029.md"
    write_article(edited.parent, edited.name, {"title": "改过的标题", "date": "2025-01-01", "categories": ["金融"]})
    bump_mtime(edited)
    write(content_dir, "added.md", categories=["新栏目"])
    (content_dir / "posts/2024/01/article-00028.md").unlink()

    second = runs.run(site)

    assert sorted(second.reread) == ["added.md", "posts/2024/01/article-00029.md"]
    assert "改过的标题" in titles(second.snapshot)
    assert titles(second.snapshot, "xin-lan-mu") == ["added.md"]
    assert_same_documents(second.snapshot, Refresher(site, Store(), clock=clock).refresh().snapshot)


def test_file_saved_again_unchanged_while_down_is_reread_but_renders_nothing(
    runs: Runs, site: Settings, content_dir: Path
) -> None:
    """A file whose modification time moved but whose bytes did not is read again; no document changes."""
    runs.run(site)
    bump_mtime(content_dir / "posts/2024/01/article-00029.md")

    second = runs.run(site)

    assert second.reread == ("posts/2024/01/article-00029.md",)
    assert second.rebuilt == ()


def test_the_cache_keeps_serving_across_several_restarts(runs: Runs, site: Settings, content_dir: Path) -> None:
    """What a run learnt is what the next run starts from: a change is read once, not again after another restart."""
    runs.run(site)
    path = content_dir / "posts/2024/01/article-00010.md"
    path.write_text(path.read_text(encoding="utf-8").replace("title: ", "title: 改", 1), encoding="utf-8")
    bump_mtime(path)
    second = runs.start(site)
    second.refresh()
    second.refresh()

    third = runs.run(site)

    assert third.reread == ()
    assert third.rebuilt == ()


@pytest.mark.parametrize(
    "sections",
    [
        {"site": {"link": "https://news.example.org/"}},
        {"feeds": {"summary_chars": 50}},
        {"content": {"permalink": "{slug}.html"}},
    ],
    ids=["site-link", "summary-chars", "permalink"],
)
def test_other_settings_empty_the_cache(
    runs: Runs, site: Settings, content_dir: Path, cache_dir: Path, sections: dict[str, dict[str, Any]]
) -> None:
    """A cache made under other settings is emptied: every file is read and every document rendered again."""
    first = runs.run(site)

    second = runs.run(cached_settings(content_dir, cache_dir, **sections))

    assert second.stats.files_parsed == first.stats.files_parsed
    assert sorted(second.rebuilt) == sorted(first.rebuilt)


def test_two_settings_over_one_directory_keep_their_own_caches(
    runs: Runs, site: Settings, content_dir: Path, cache_dir: Path
) -> None:
    """Services with other settings over one directory never mix results: each restart reads nothing again."""
    other = cached_settings(content_dir, cache_dir, site={"link": "https://mirror.example.org/"})
    runs.run(site)
    runs.run(other)

    again = runs.run(site)
    assert again.stats.files_parsed == 0
    assert all(
        link.startswith("https://www.example.com/") for link in rows(runs.cache, "SELECT link FROM files") - {None}
    )
    mirrored = runs.run(other)
    assert mirrored.stats.files_parsed == 0
    assert all(
        link.startswith("https://mirror.example.org/") for link in rows(runs.cache, "SELECT link FROM files") - {None}
    )


def test_cache_files_of_old_settings_go_after_a_week(
    runs: Runs, site: Settings, content_dir: Path, cache_dir: Path
) -> None:
    """A content directory's cache file made by other settings is removed once unused for a week."""
    runs.run(cached_settings(content_dir, cache_dir, site={"link": "https://old.example.org/"}))
    old = runs.cache.location if runs.cache is not None else None
    runs.stop()
    assert old is not None
    assert old.exists()
    week_ago = old.stat().st_mtime - feedsvc.index.cache.STALE_SECONDS - 60
    for path in cache_dir.glob(old.name + "*"):
        os.utime(path, (week_ago, week_ago))

    runs.run(site)

    assert not old.exists()
    assert runs.cache is not None
    assert runs.cache.location.exists()


def test_other_cache_format_empties_the_cache(runs: Runs, site: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache written in another FORMAT is emptied, not read: every file is read again."""
    first = runs.run(site)
    monkeypatch.setattr(feedsvc.index.cache, "FORMAT", "format-of-another-release")

    second = runs.run(site)
    third = runs.run(site)

    assert second.stats.files_parsed == first.stats.files_parsed
    assert third.stats.files_parsed == 0


def test_other_version_empties_the_cache(runs: Runs, site: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache written by another feedsvc version is emptied: parsing or rendering may have changed."""
    first = runs.run(site)
    monkeypatch.setattr(feedsvc.index.cache, "GENERATOR_VERSION", "0.0.0-other")

    second = runs.run(site)

    assert second.stats.files_parsed == first.stats.files_parsed


def test_article_broken_after_publishing_keeps_its_last_good_version_across_a_restart(
    runs: Runs, content_dir: Path, cache_dir: Path
) -> None:
    """A published article caught half-written keeps publishing its last good version, also after a restart."""
    settings = cached_settings(content_dir, cache_dir)
    write(content_dir, "a.md", title="甲")
    write(content_dir, "b.md", title="乙", date="2022-05-05T00:00:00Z")
    runs.run(settings)
    half = content_dir / "a.md"
    half.write_text("---\ntitle: 甲（改\ncategories: [", encoding="utf-8")
    bump_mtime(half)
    broken = runs.start(settings).refresh()

    restarted = runs.run(settings)

    assert titles(broken.snapshot) == ["乙", "甲"]
    assert restarted.stats.files_parsed == 0
    assert titles(restarted.snapshot) == ["乙", "甲"]
    assert [p.source for p in restarted.snapshot.problems] == ["a.md"]
    assert_same_documents(broken.snapshot, restarted.snapshot)


def test_article_broken_while_down_keeps_its_last_good_version(runs: Runs, content_dir: Path, cache_dir: Path) -> None:
    """An article that became a problem while the service was down still publishes the version the cache knows."""
    settings = cached_settings(content_dir, cache_dir)
    write(content_dir, "a.md", title="甲")
    runs.run(settings)
    runs.stop()
    (content_dir / "a.md").write_text("---\ntitle: 甲（改\n", encoding="utf-8")
    bump_mtime(content_dir / "a.md")

    restarted = runs.run(settings)

    assert restarted.reread == ("a.md",)
    assert titles(restarted.snapshot) == ["甲"]
    assert [p.source for p in restarted.snapshot.problems] == ["a.md"]


def test_fixed_article_replaces_its_last_good_version_after_a_restart(
    runs: Runs, content_dir: Path, cache_dir: Path
) -> None:
    """Once a broken article is fixed, its new version publishes and the last good one is gone for good."""
    settings = cached_settings(content_dir, cache_dir)
    write(content_dir, "a.md", title="甲")
    runs.run(settings)
    (content_dir / "a.md").write_text("---\ntitle: 甲（改\n", encoding="utf-8")
    bump_mtime(content_dir / "a.md")
    runs.run(settings)
    write(content_dir, "a.md", title="甲二")
    bump_mtime(content_dir / "a.md", 20)
    runs.run(settings)

    restarted = runs.run(settings)

    assert titles(restarted.snapshot) == ["甲二"]
    assert restarted.snapshot.problems == ()


def test_restart_with_the_content_directory_away_serves_the_cached_feeds(
    runs: Runs, site: Settings, content_dir: Path, tmp_path: Path
) -> None:
    """A restart while the content directory is away serves the feeds the cache holds, and reports degraded."""
    first = runs.run(site)
    os.rename(content_dir, tmp_path / "away")

    second = runs.run(site)

    assert second.snapshot.degraded is not None
    assert second.rebuilt == ()
    assert_same_documents(first.snapshot, second.snapshot)


# --- what the cache keeps --------------------------------------------------------------------------------------------


def test_documents_of_feeds_no_longer_served_are_pruned(runs: Runs, content_dir: Path, cache_dir: Path) -> None:
    """When a category's last article goes, its documents leave the cache with its feeds."""
    settings = cached_settings(content_dir, cache_dir)
    write(content_dir, "a.md", categories=["甲"])
    write(content_dir, "b.md", categories=["乙"])
    refresher = runs.start(settings)
    refresher.refresh()
    before = rows(runs.cache, "SELECT path FROM documents", refresher)
    (content_dir / "b.md").unlink()

    refresher.refresh()

    after = rows(runs.cache, "SELECT path FROM documents", refresher)
    assert {p for p in before if p.startswith("feeds/yi.")} == {feed_path("yi", fmt) for fmt in Format}
    assert not {p for p in after if p.startswith("feeds/yi.")}
    assert after == set(refresher.store.snapshot.documents)


def test_contents_of_articles_pushed_out_of_every_feed_are_pruned(
    runs: Runs, content_dir: Path, cache_dir: Path
) -> None:
    """An article that a newer one pushes out of every feed loses its stored content; shown ones keep theirs."""
    settings = cached_settings(content_dir, cache_dir, feeds={"limit": 1})
    write(content_dir, "old.md", date="2022-05-01T00:00:00Z", categories=["甲"])
    refresher = runs.start(settings)
    refresher.refresh()
    before = rows(runs.cache, "SELECT source FROM contents", refresher)
    write(content_dir, "new.md", date="2022-05-02T00:00:00Z", categories=["甲"])

    refresher.refresh()

    assert before == {"old.md"}
    assert rows(runs.cache, "SELECT source FROM contents", refresher) == {"new.md"}


def test_contents_of_deleted_articles_are_pruned(runs: Runs, content_dir: Path, cache_dir: Path) -> None:
    """Deleting an article drops its stored content, even when no other article's content is made that refresh."""
    settings = cached_settings(content_dir, cache_dir)
    write(content_dir, "a.md", categories=["甲"])
    write(content_dir, "b.md", categories=["乙"])
    refresher = runs.start(settings)
    refresher.refresh()
    (content_dir / "b.md").unlink()

    refresher.refresh()

    assert rows(runs.cache, "SELECT source FROM contents", refresher) == {"a.md"}


def test_cache_stores_every_file_it_was_told_about(runs: Runs, site: Settings, content_dir: Path) -> None:
    """The cache holds one row per article file, problems included, and forgets deleted files."""
    refresher = runs.start(site)
    refresher.refresh()
    before = rows(runs.cache, "SELECT source FROM files", refresher)
    (content_dir / "broken.md").unlink()
    refresher.refresh()

    after = rows(runs.cache, "SELECT source FROM files", refresher)

    assert len(before) == 33
    assert before - after == {"broken.md"}
    assert after == {p.relative_to(content_dir).as_posix() for p in content_dir.rglob("*.md")}


# --- where the cache lives, and when there is none ----------------------------------------------------------------


def test_cache_file_lives_in_the_configured_directory(site: Settings, cache_dir: Path) -> None:
    """The cache of a content directory is one SQLite file in cache.dir, created with the directory."""
    cache = open_cache(site)
    assert cache is not None
    cache.close()

    assert cache.location.parent == cache_dir
    assert cache.location.suffix == ".sqlite3"
    assert cache.location.is_file()


def test_each_content_directory_has_its_own_cache_file(tmp_path: Path, cache_dir: Path) -> None:
    """Two content directories sharing a cache directory use two files."""
    caches = [open_cache(cached_settings(tmp_path / name, cache_dir)) for name in ("one", "two")]
    for cache in caches:
        assert cache is not None
        cache.close()

    assert len({c.location for c in caches if c is not None}) == 2


def test_default_cache_directory_follows_xdg(tmp_path: Path) -> None:
    """Without cache.dir the cache lives in $XDG_CACHE_HOME/feedsvc, else in ~/.cache/feedsvc."""
    assert default_cache_dir({"XDG_CACHE_HOME": "/var/cache/x"}) == Path("/var/cache/x/feedsvc")
    assert default_cache_dir({"XDG_CACHE_HOME": ""}) == Path(os.path.expanduser("~")) / ".cache" / "feedsvc"
    settings = make_settings(tmp_path)
    cache = open_cache(settings)
    assert cache is not None
    cache.close()
    assert cache.location.parent == Path(os.environ["XDG_CACHE_HOME"]) / "feedsvc"


def test_disabled_cache_opens_nothing(content_dir: Path, cache_dir: Path) -> None:
    """With cache.enabled false no cache is opened and nothing is written."""
    settings = cached_settings(content_dir, cache_dir, cache={"enabled": False})

    assert open_cache(settings) is None
    assert not cache_dir.exists()


def test_corrupt_cache_file_is_moved_aside_and_a_new_one_started(
    runs: Runs, site: Settings, caplog: pytest.LogCaptureFixture, clock: Clock
) -> None:
    """A cache file of garbage bytes is moved aside with one warning; a new cache serves the next start."""
    cache = open_cache(site)
    assert cache is not None
    cache.close()
    cache.location.write_bytes(b"\x00garbage, not a database\xff" * 100)

    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        report = runs.run(site)

    assert runs.cache is not None
    assert report.stats.files_parsed == 33
    assert_same_documents(report.snapshot, Refresher(site, Store(), clock=clock).refresh().snapshot)
    warnings = [r for r in caplog.records if r.name == CACHE_LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "moved aside" in warnings[0].getMessage()
    aside = list(cache.location.parent.glob(cache.location.name + ".corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes().startswith(b"\x00garbage")
    assert runs.run(site).stats.files_parsed == 0


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE files SET published = 'not a date' WHERE problem IS NULL",
        "UPDATE files SET title = NULL WHERE problem IS NULL",
        "UPDATE files SET last_good = '[1, 2]' WHERE problem IS NOT NULL",
        "UPDATE files SET title = x'ff' WHERE problem IS NULL",
        "UPDATE files SET summary = x'ff' WHERE problem IS NULL",
    ],
    ids=["bad-date", "null-title", "bad-last-good", "title-not-utf8", "summary-bytes"],
)
def test_cache_holding_a_malformed_row_warns_and_rereads_only_its_file(
    runs: Runs, site: Settings, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    """A stored row that does not read back gives a warning; its file is read again, the other rows serve."""
    first = runs.run(site)
    runs.stop()
    cache = open_cache(site)
    assert cache is not None
    cache.close()
    with contextlib.closing(sqlite3.connect(cache.location)) as connection, connection:
        damaged = connection.execute(damage).rowcount

    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        refresher = runs.start(site)
        second = refresher.refresh()
        third = refresher.refresh()

    assert 0 < damaged < first.stats.files_parsed
    assert second.stats.files_parsed == damaged
    assert third.reread == ()
    assert_same_documents(first.snapshot, second.snapshot)
    assert any(r.levelno == logging.WARNING for r in caplog.records if r.name == CACHE_LOGGER)


def test_unusable_cache_directory_warns_and_the_service_runs_without(
    runs: Runs, content_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file where the cache directory should be gives a warning; the service works without a cache."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x", encoding="utf-8")
    write(content_dir, "a.md")
    settings = cached_settings(content_dir, blocker)

    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        report = runs.run(settings)

    assert runs.cache is None
    assert titles(report.snapshot) == ["a.md"]
    assert any("cannot be used" in r.getMessage() for r in caplog.records if r.name == CACHE_LOGGER)


def test_a_refresh_leaves_the_cache_write_for_later(runs: Runs, site: Settings) -> None:
    """A refresh swaps its snapshot without writing the cache; the next refresh (or flush) writes it."""
    refresher = runs.start(site)
    refresher.refresh()
    assert rows(runs.cache, "SELECT source FROM files") == set()

    refresher.refresh()

    assert "broken.md" in rows(runs.cache, "SELECT source FROM files")


# Settings of how and when feedsvc works, each with a value other than make_settings' own.
HOW_AND_WHEN = {
    "scan": {"watch": False, "settle_ms": 0, "full_rescan_seconds": 60, "workers": 2},
    "cache": {"enabled": False, "dir": "elsewhere"},
    "websub": {"delay_seconds": 30},
    "build": {"archive_pages": "both"},
}


@pytest.mark.parametrize(("section", "key"), [(s, k) for s, keys in HOW_AND_WHEN.items() for k in keys], ids=str)
def test_settings_of_how_and_when_keep_the_cache_and_archive_pages(content_dir: Path, section: str, key: str) -> None:
    """A setting that never changes what a file makes (scan, cache, build storage) keeps the settings' identity."""
    base = make_settings(content_dir)
    changed = make_settings(content_dir, **{section: {key: HOW_AND_WHEN[section][key]}})
    assert changed != base
    assert feedsvc.index.cache.settings_identity(changed) == feedsvc.index.cache.settings_identity(base)


def test_the_same_config_named_another_way_keeps_the_cache_and_archive_pages(
    content_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--config feedsvc.yaml` and `--config /srv/site/feedsvc.yaml` are one config: one parse cache, the same pages.

    The path was part of the identity: a service started from another folder parsed every
    file again, and a build made every archive page again (an hour at a million articles).
    """
    config = tmp_path / "site" / "feedsvc.yaml"
    config.parent.mkdir()
    config.write_text(f"content:\n  dir: {content_dir}\n", encoding="utf-8")
    monkeypatch.chdir(config.parent)

    named = [load_settings(name) for name in ("feedsvc.yaml", "./feedsvc.yaml", str(config), "../site/feedsvc.yaml")]

    assert len({settings.source for settings in named}) > 1  # the settings say how each was named
    assert len({feedsvc.index.cache.settings_identity(settings) for settings in named}) == 1


@pytest.mark.parametrize(
    "sections", [{"feeds": {"limit": 7}}, {"scan": {"interval_seconds": 45}}, {"site": {"title": "另一站"}}], ids=str
)
def test_settings_of_what_is_made_change_the_identity(content_dir: Path, sections: dict[str, Any]) -> None:
    """A setting a feed's bytes depend on (its limit, its time to live, its title) changes the settings' identity."""
    base = make_settings(content_dir)
    changed = make_settings(content_dir, **sections)
    assert feedsvc.index.cache.settings_identity(changed) != feedsvc.index.cache.settings_identity(base)


def test_an_edit_is_in_the_cache_once_its_refresh_serves(runs: Runs, site: Settings, content_dir: Path) -> None:
    """An edit's few rows are written as soon as its snapshot serves: the next change's refresh does not wait.

    A first scan's 33 files wait for the next refresh (or a flush): writing 100,000 takes seconds.
    """
    runs.run(site)
    assert runs.cache is not None
    assert rows(runs.cache, "SELECT count(*) FROM files") == {0}  # the first scan's: not yet
    refresher = runs.refresher
    assert refresher is not None
    refresher.refresh()  # writes the first scan's, before it scans
    edited = write(content_dir, "extra.md", title="edited while serving")
    bump_mtime(edited)
    refresher.refresh()
    assert rows(runs.cache, "SELECT title FROM files WHERE source = 'extra.md'") == {b"edited while serving"}


def test_an_edit_refreshes_between_two_slices_of_a_first_scans_write(
    runs: Runs, site: Settings, content_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush writes a first scan's rows a slice at a time; a refresh waiting meanwhile runs before the next slice.

    The edit then serves while most of the first scan's rows are not yet written; the flush
    ends with them all, and the edited file's row is its latest.
    """
    monkeypatch.setattr(feedsvc.refresh.refresher, "BACKLOG_SLICE", 5)
    monkeypatch.setattr(feedsvc.refresh.refresher, "SMALL_FILES", 1)
    refresher = runs.start(site)
    refresher.refresh()
    cache = runs.cache
    assert cache is not None
    writing, go = threading.Event(), threading.Event()
    slices: list[tuple[int, bool]] = []  # each write of the flush: rows stored, and whether the edit had refreshed
    save_entries = cache.save_entries

    def slow_save(index: Any, changed: Any, removed: Any) -> None:
        changed = list(changed)
        if threading.current_thread().name == "flush":
            slices.append((len(changed), "extra.md" in refresher.index.entries))
            if len(slices) == 1:
                writing.set()
                assert go.wait(30)
        save_entries(index, changed, removed)

    monkeypatch.setattr(cache, "save_entries", slow_save)
    flush = threading.Thread(target=refresher.flush, name="flush")
    flush.start()
    assert writing.wait(30)
    edited = write(content_dir, "extra.md", title="edited while the cache is written", date="2026-11-28T00:00:00Z")
    bump_mtime(edited)
    reports: list[RefreshReport] = []
    edit = threading.Thread(target=lambda: reports.append(refresher.refresh()))
    edit.start()
    while refresher._waiting == 0:  # the edit waits for the lock the first slice holds
        time.sleep(0.001)
    go.set()
    edit.join(30)
    flush.join(30)

    assert len(reports) == 1
    assert reports[0].reread == ("extra.md",)
    assert "edited while the cache is written" in titles(reports[0].snapshot)
    assert slices[0] == (5, False)  # the first slice, then the edit's refresh (which wrote 1 more), then the rest
    assert all(edited for _, edited in slices[1:])
    assert max(rows for rows, _ in slices) == 5
    assert rows(cache, "SELECT title FROM files WHERE source = 'extra.md'") == {b"edited while the cache is written"}
    assert len(rows(cache, "SELECT source FROM files")) == 34  # the first scan's 33 files and the new one
