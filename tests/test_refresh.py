"""One refresh after another: what is re-read and re-rendered, what keeps serving when things fail, and documents."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import feedsvc.refresh.rendered
from feedsvc.config import Settings
from feedsvc.model import INDEX_PATH, OPML_PATH, STYLESHEET_PATH, Feed, Format, Snapshot, feed_path, make_document
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from tests.conftest import NOW, Clock, make_settings
from tests.corpus import write_article, write_corpus

LOGGER = "feedsvc.refresh"
DATE = "Wed, 04 May 2022 10:33:00 GMT"
CATEGORIES = {"金融": {"slug": "finance"}, "要闻": {"slug": "headlines", "aliases": ["头条"]}}


def feed_paths(*slugs: str) -> set[str]:
    """Return the paths of every format of the feeds with these slugs."""
    return {feed_path(slug, fmt) for slug in slugs for fmt in Format}


def items(snapshot: Snapshot, slug: str) -> list[str]:
    """Return the titles of a feed's entries, in order, read from its JSON Feed document."""
    document = json.loads(snapshot.documents[feed_path(slug, Format.JSON)].body)
    return [item["title"] for item in document["items"]]


def write(directory: Path, name: str, **fields: Any) -> Path:
    """Write an article with a title (its name unless given) and a fixed date unless given."""
    return write_article(directory, name, {"title": name, "date": DATE, **fields})


def edit(path: Path, fields: dict[str, Any], body: str = "<div><p>正文。</p></div>", *, seconds: int = 10) -> None:
    """Rewrite an article and move its mtime forward, as an editor saving it later would."""
    write_article(path.parent, path.name, fields, body)
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + seconds * 1_000_000_000))


def assert_same_documents(one: Snapshot, two: Snapshot) -> None:
    """Assert two snapshots serve the same paths with the same bytes, gzip bytes, ETags and validators."""
    assert sorted(one.documents) == sorted(two.documents)
    for path, document in one.documents.items():
        other = two.documents[path]
        assert (document.body, document.gzip_body, document.etag) == (other.body, other.gzip_body, other.etag), path
        assert (document.media_type, document.last_modified) == (other.media_type, other.last_modified), path


@pytest.fixture
def categorized(content_dir: Path) -> Settings:
    """Settings with two configured categories, one with an alias."""
    return make_settings(content_dir, categories=CATEGORIES)


@pytest.fixture
def small_site(content_dir: Path) -> dict[str, Path]:
    """Four articles: `a` is in 金融 and 要闻 but newest in neither; `b`, `c`, `d` are each newest somewhere."""
    return {
        "a": write(content_dir, "a.md", title="A", date="2022-05-01T10:00:00Z", categories=["金融", "要闻"]),
        "b": write(content_dir, "b.md", title="B", date="2022-05-02T10:00:00Z", categories=["金融"]),
        "c": write(content_dir, "c.md", title="C", date="2022-05-03T10:00:00Z", categories=["头条"]),
        "d": write(content_dir, "d.md", title="D", date="2022-05-04T10:00:00Z", categories=["股票"]),
    }


# --- incremental work -------------------------------------------------------------------------------------------


def test_first_refresh_renders_every_document(content_dir: Path, categorized: Settings, clock: Clock) -> None:
    """The first refresh reads every file and renders every feed in every format, the index, OPML and stylesheet."""
    write_corpus(content_dir, 12)
    refresher = Refresher(categorized, Store(), clock=clock)

    report = refresher.refresh()

    snapshot = report.snapshot
    assert len(report.reread) == 12
    assert sorted(report.rebuilt) == sorted(snapshot.documents)
    slugs = {path[len("feeds/") :].rsplit(".", 1)[0] for path in snapshot.documents if path.startswith("feeds/")}
    assert {"all", "finance", "headlines"} <= slugs
    assert set(snapshot.documents) == feed_paths(*slugs) | {INDEX_PATH, OPML_PATH, STYLESHEET_PATH}
    assert refresher.store.snapshot is snapshot


def test_unchanged_refresh_rereads_and_rebuilds_nothing(content_dir: Path, categorized: Settings, clock: Clock) -> None:
    """A refresh with nothing changed re-reads no file, renders no document, and serves the very same documents."""
    write_corpus(content_dir, 12)
    refresher = Refresher(categorized, Store(), clock=clock)
    first = refresher.refresh().snapshot
    clock.now += timedelta(minutes=1)

    report = refresher.refresh()

    assert report.reread == ()
    assert report.rebuilt == ()
    assert (report.stats.files_parsed, report.stats.feeds_rebuilt, report.stats.files_seen) == (0, 0, 12)
    assert report.snapshot is not first
    assert report.snapshot.documents.keys() == first.documents.keys()
    for path, document in first.documents.items():
        again = report.snapshot.documents[path]
        assert again is document, path
        assert (again.body, again.etag) == (document.body, document.etag)


def test_edit_rerenders_only_the_feeds_holding_the_article(
    small_site: dict[str, Path], categorized: Settings, clock: Clock
) -> None:
    """Editing an article's body re-reads that file and re-renders only the feeds holding it, in every format."""
    refresher = Refresher(categorized, Store(), clock=clock)
    before = refresher.refresh().snapshot
    edit(small_site["a"], {"title": "A", "date": "2022-05-01T10:00:00Z", "categories": ["金融", "要闻"]}, "<p>new</p>")

    report = refresher.refresh()

    after = report.snapshot
    assert report.reread == ("a.md",)
    assert set(report.rebuilt) == feed_paths("all", "finance", "headlines")
    assert report.stats.feeds_rebuilt == 9
    for path in feed_paths("all", "finance", "headlines"):
        assert after.documents[path].etag != before.documents[path].etag, path
    for path in [*feed_paths("gu-piao"), INDEX_PATH, OPML_PATH]:
        assert after.documents[path] is before.documents[path], path


def test_edit_of_a_newest_article_also_rerenders_the_index(
    small_site: dict[str, Path], categorized: Settings, clock: Clock
) -> None:
    """Retitling the newest article of a feed re-renders that feed and the index page, which shows it, not the OPML."""
    refresher = Refresher(categorized, Store(), clock=clock)
    before = refresher.refresh().snapshot
    edit(small_site["d"], {"title": "D, retitled", "date": "2022-05-04T10:00:00Z", "categories": ["股票"]})

    report = refresher.refresh()

    assert set(report.rebuilt) == feed_paths("all", "gu-piao") | {INDEX_PATH}
    assert "D, retitled" in report.snapshot.documents[INDEX_PATH].body.decode()
    assert report.snapshot.documents[OPML_PATH] is before.documents[OPML_PATH]
    assert items(report.snapshot, "all")[0] == "D, retitled"


def test_later_update_of_an_older_article_rerenders_the_opml(
    small_site: dict[str, Path], categorized: Settings, clock: Clock, content_dir: Path
) -> None:
    """An older article's new `updated` date moves the OPML's dateModified, as a fresh build would show it."""
    refresher = Refresher(categorized, Store(), clock=clock)
    before = refresher.refresh().snapshot
    fields = {"title": "A", "date": "2022-05-01T10:00:00Z", "updated": "2022-06-01T10:00:00Z"}
    edit(small_site["a"], {**fields, "categories": ["金融", "要闻"]})

    report = refresher.refresh()

    assert set(report.rebuilt) == feed_paths("all", "finance", "headlines") | {OPML_PATH}
    assert b"Wed, 01 Jun 2022 10:00:00 GMT" in report.snapshot.documents[OPML_PATH].body
    assert report.snapshot.documents[OPML_PATH].etag != before.documents[OPML_PATH].etag
    fresh = Refresher(categorized, Store(), clock=clock).refresh().snapshot
    assert_same_documents(report.snapshot, fresh)


def test_touched_file_is_reread_but_nothing_rebuilt(
    small_site: dict[str, Path], categorized: Settings, clock: Clock
) -> None:
    """A file saved again with the same bytes is re-read, yet no document is re-rendered."""
    refresher = Refresher(categorized, Store(), clock=clock)
    refresher.refresh()
    path = small_site["b"]
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10_000_000_000))

    report = refresher.refresh()

    assert report.reread == ("b.md",)
    assert report.rebuilt == ()


def test_new_category_creates_its_feeds(small_site: dict[str, Path], categorized: Settings, clock: Clock) -> None:
    """An article in a new category adds that category's feeds in every format, and lists them on the index and OPML."""
    refresher = Refresher(categorized, Store(), clock=clock)
    before = refresher.refresh().snapshot
    write(categorized.content_dir, "new/e.md", title="E", categories=["基金"])

    report = refresher.refresh()

    after = report.snapshot
    assert report.reread == ("new/e.md",)
    assert set(after.documents) - set(before.documents) == feed_paths("ji-jin")
    assert set(report.rebuilt) == feed_paths("all", "ji-jin") | {INDEX_PATH, OPML_PATH}
    assert items(after, "ji-jin") == ["E"]
    assert after.redirects["基金"] == "ji-jin"
    assert b"feeds/ji-jin.rss" in after.documents[OPML_PATH].body


def test_deleting_the_last_article_of_an_auto_category_removes_its_feeds(
    small_site: dict[str, Path], categorized: Settings, clock: Clock
) -> None:
    """When the only article of an unconfigured category is deleted, that category's feeds are no longer served."""
    refresher = Refresher(categorized, Store(), clock=clock)
    before = refresher.refresh().snapshot
    small_site["d"].unlink()

    report = refresher.refresh()

    after = report.snapshot
    assert set(before.documents) - set(after.documents) == feed_paths("gu-piao")
    assert "股票" not in after.redirects
    assert set(report.rebuilt) == feed_paths("all") | {INDEX_PATH, OPML_PATH}
    assert b"gu-piao" not in after.documents[INDEX_PATH].body


def test_deleting_every_article_of_a_configured_category_leaves_an_empty_feed(
    small_site: dict[str, Path], categorized: Settings, clock: Clock
) -> None:
    """A configured category whose articles are all deleted keeps serving a valid, empty feed."""
    refresher = Refresher(categorized, Store(), clock=clock)
    refresher.refresh()
    small_site["a"].unlink()
    small_site["b"].unlink()

    snapshot = refresher.refresh().snapshot

    assert feed_paths("finance") <= set(snapshot.documents)
    assert items(snapshot, "finance") == []


def test_restart_and_replica_serve_identical_documents(
    tmp_path: Path, content_dir: Path, categorized: Settings, clock: Clock
) -> None:
    """A restarted refresher, and a replica over a copy of the content, serve byte-identical documents and ETags."""
    write_corpus(content_dir, 40)
    undated = write(content_dir, "undated.md", date=None, categories=["金融"])  # dated by its mtime, copied along
    os.utime(undated, (1_700_000_000, 1_700_000_000))
    first = Refresher(categorized, Store(), clock=clock).refresh().snapshot
    replica_dir = tmp_path / "replica" / "content"
    shutil.copytree(content_dir, replica_dir)
    replica_settings = make_settings(replica_dir, categories=CATEGORIES)

    restarted = Refresher(categorized, Store(), clock=Clock(NOW + timedelta(hours=5))).refresh().snapshot
    replica = Refresher(replica_settings, Store(), clock=Clock(NOW + timedelta(days=1))).refresh().snapshot

    assert first.articles == 41
    assert_same_documents(first, restarted)
    assert_same_documents(first, replica)


def test_incremental_refreshes_match_a_fresh_build(content_dir: Path, categorized: Settings, clock: Clock) -> None:
    """After edits, additions and deletions, the incrementally refreshed documents equal a fresh refresher's."""
    paths = write_corpus(content_dir, 30)
    refresher = Refresher(categorized, Store(), clock=clock)
    refresher.refresh()
    edit(paths[29], {"title": "Edited newest", "date": DATE, "categories": ["要闻", "新类"]})
    edit(paths[3], {"title": "Edited old", "date": "2024-01-01", "updated": "2030-01-01", "categories": ["头条"]})
    paths[10].unlink()
    paths[11].unlink()
    write(content_dir, "posts/extra.md", title="Extra", categories=["金融"], date="2024-01-01T12:00:00+08:00")
    clock.now += timedelta(minutes=30)

    incremental = refresher.refresh().snapshot

    fresh = Refresher(categorized, Store(), clock=clock).refresh().snapshot
    assert_same_documents(incremental, fresh)
    assert (incremental.articles, incremental.feed_documents) == (fresh.articles, fresh.feed_documents)


def test_future_article_is_published_once_the_clock_passes_its_date(
    content_dir: Path, settings: Settings, clock: Clock, refresher: Refresher
) -> None:
    """An article dated in the future is in no feed until the clock passes its date; then it publishes unchanged."""
    write(content_dir, "now.md", title="Now")
    when = NOW + timedelta(hours=2)
    write(content_dir, "later.md", title="Later", date=when.isoformat(), categories=["预告"])

    before = refresher.refresh().snapshot
    clock.now = when - timedelta(seconds=1)
    still = refresher.refresh()
    clock.now = when + timedelta(seconds=1)
    report = refresher.refresh()

    assert items(before, "all") == ["Now"]
    assert feed_paths("yu-gao").isdisjoint(before.documents)
    assert (before.articles, before.held) == (1, 1)
    assert still.rebuilt == ()
    assert report.reread == ()
    assert items(report.snapshot, "all") == ["Later", "Now"]
    assert items(report.snapshot, "yu-gao") == ["Later"]
    assert (report.snapshot.articles, report.snapshot.held) == (2, 0)


# --- failures ---------------------------------------------------------------------------------------------------


def test_failed_render_keeps_the_previous_documents(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    small_site: dict[str, Path],
    categorized: Settings,
    clock: Clock,
) -> None:
    """A refresh whose rendering raises keeps the previous documents serving, marked degraded, counted and logged."""
    store = Store()
    refresher = Refresher(categorized, store, clock=clock)
    good = refresher.refresh().snapshot
    edit(small_site["a"], {"title": "A, edited", "date": "2022-05-01T10:00:00Z", "categories": ["金融"]})

    def broken_render(feed: Feed, *args: object) -> bytes:
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(feedsvc.refresh.rendered, "render_feed", broken_render)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        refresher.refresh_safely()

    failed = store.snapshot
    assert failed.documents == good.documents
    assert all(failed.documents[p] is good.documents[p] for p in good.documents)
    assert failed.degraded is not None
    assert "renderer exploded" in failed.degraded
    assert failed.refreshes_failed == 1
    assert refresher.failures == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert "renderer exploded" in caplog.text
    assert "Traceback" in caplog.text

    monkeypatch.undo()
    refresher.refresh_safely()

    recovered = store.snapshot
    assert recovered.degraded is None
    assert recovered.refreshes_failed == 1
    assert "A, edited" in items(recovered, "all")


def test_missing_content_directory_keeps_the_last_good_documents(
    tmp_path: Path, small_site: dict[str, Path], categorized: Settings, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """With the content directory gone, the last good documents keep serving, degraded says why, and it recovers."""
    store = Store()
    refresher = Refresher(categorized, store, clock=clock)
    good = refresher.refresh().snapshot
    aside = tmp_path / "aside"
    categorized.content_dir.rename(aside)

    with caplog.at_level(logging.INFO, logger=LOGGER):
        missing = refresher.refresh().snapshot
        again = refresher.refresh().snapshot
        shutil.copytree(aside, categorized.content_dir)
        write(categorized.content_dir, "e.md", title="E")
        back = refresher.refresh()

    assert all(missing.documents[p] is good.documents[p] for p in good.documents)
    assert missing.documents.keys() == good.documents.keys()
    assert missing.degraded is not None
    assert str(categorized.content_dir) in missing.degraded
    assert (missing.articles, missing.last_refresh and missing.last_refresh.files_seen) == (4, 0)
    assert again.degraded == missing.degraded
    assert store.snapshot is back.snapshot
    assert back.snapshot.degraded is None
    assert "E" in items(back.snapshot, "all")
    assert back.snapshot.articles == 5
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1  # said once, not every refresh
    assert "readable again" in caplog.text


def test_first_refresh_without_content_directory_degrades_then_recovers(
    content_dir: Path, refresher: Refresher, store: Store
) -> None:
    """With no content directory at the first refresh, nothing is published and degraded says why, until it appears."""
    content_dir.rmdir()

    missing = refresher.refresh().snapshot
    write(content_dir, "a.md", title="A")
    back = refresher.refresh().snapshot

    assert missing.degraded is not None
    assert str(content_dir) in missing.degraded
    assert missing.articles == 0
    assert items(missing, "all") == []
    assert back.degraded is None
    assert items(back, "all") == ["A"]
    assert store.snapshot is back


def test_content_directory_replaced_by_a_file_degrades(
    small_site: dict[str, Path], categorized: Settings, clock: Clock
) -> None:
    """A file where the content directory was leaves the last good documents serving, degraded."""
    store = Store()
    refresher = Refresher(categorized, store, clock=clock)
    good = refresher.refresh().snapshot
    shutil.rmtree(categorized.content_dir)
    categorized.content_dir.write_text("oops", encoding="utf-8")

    snapshot = refresher.refresh().snapshot

    assert snapshot.degraded is not None
    assert {p: d.etag for p, d in snapshot.documents.items()} == {p: d.etag for p, d in good.documents.items()}


def test_broken_published_file_keeps_its_last_good_version(
    small_site: dict[str, Path], categorized: Settings, clock: Clock
) -> None:
    """A published file caught half-written keeps its last version in the feeds, is a problem, and does not degrade."""
    refresher = Refresher(categorized, Store(), clock=clock)
    before = refresher.refresh().snapshot
    small_site["b"].write_text("---\ntitle: B half\n", encoding="utf-8")
    os.utime(small_site["b"], (1, 1))

    report = refresher.refresh()

    snapshot = report.snapshot
    assert report.rebuilt == ()
    assert snapshot.documents == before.documents
    assert [p.source for p in snapshot.problems] == ["b.md"]
    assert snapshot.degraded is None
    assert snapshot.articles == 4
    assert report.stats.files_failed == 1


# --- logging, counts and stats ----------------------------------------------------------------------------------


def test_problem_is_logged_once_when_it_appears(
    content_dir: Path, refresher: Refresher, caplog: pytest.LogCaptureFixture
) -> None:
    """A problem is logged when it appears, not on later refreshes or re-saves, and again when it changes."""
    write(content_dir, "ok.md")
    bad = content_dir / "bad.md"
    bad.write_text("no front matter\n", encoding="utf-8")

    def logged() -> list[str]:
        lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "bad.md" in r.getMessage()]
        caplog.clear()
        return lines

    with caplog.at_level(logging.INFO, logger=LOGGER):
        refresher.refresh()
        first = logged()
        refresher.refresh()
        refresher.refresh()
        unchanged = logged()
        os.utime(bad, (1, 1))  # saved again with the same bytes
        refresher.refresh()
        touched = logged()
        bad.write_text("---\ntitle: x\ndate: 2022-02-30\n---\nno such day\n", encoding="utf-8")
        os.utime(bad, (2, 2))
        refresher.refresh()
        changed = logged()

    assert len(first) == 1
    assert "front matter" in first[0]
    assert unchanged == []
    assert touched == []
    assert len(changed) == 1
    assert "date" in changed[0]


def test_snapshot_problems_are_sorted_by_path(content_dir: Path, refresher: Refresher) -> None:
    """snapshot.problems lists every problem file, ordered by path."""
    for name in ["z.md", "a/b.md", "m.md", "a.md"]:
        path = content_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")
    write(content_dir, "fine.md")

    snapshot = refresher.refresh().snapshot

    assert [p.source for p in snapshot.problems] == ["a.md", "a/b.md", "m.md", "z.md"]
    assert snapshot.degraded is None


def test_snapshot_counts(content_dir: Path, categorized: Settings, clock: Clock) -> None:
    """A snapshot counts published articles, held ones (drafts and future), and feed documents."""
    write(content_dir, "a.md", categories=["金融"])
    write(content_dir, "b.md", categories=["股票", "基金"])
    write(content_dir, "c.md")
    write(content_dir, "draft.md", draft=True, categories=["隐藏"])
    write(content_dir, "unpublished.md", published=False)
    write(content_dir, "future.md", date=(NOW + timedelta(days=1)).isoformat(), categories=["未来"])
    (content_dir / "bad.md").write_text("---\ntitle: [x\n---\n", encoding="utf-8")

    snapshot = Refresher(categorized, Store(), clock=clock).refresh().snapshot

    # all, finance, headlines (configured, empty), 股票, 基金: five feeds in three formats
    assert (snapshot.articles, snapshot.held, snapshot.feed_documents) == (3, 3, 15)
    assert len(snapshot.problems) == 1
    assert snapshot.max_age == categorized.interval_seconds
    assert snapshot.redirects == {
        "金融": "finance",
        "要闻": "headlines",
        "头条": "headlines",
        "股票": "gu-piao",
        "基金": "ji-jin",
    }


def test_last_refresh_stats(small_site: dict[str, Path], categorized: Settings, clock: Clock) -> None:
    """last_refresh reports files seen, parsed and failed, and feed documents rebuilt, for each refresh."""
    refresher = Refresher(categorized, Store(), clock=clock)
    first = refresher.refresh().snapshot.last_refresh
    (categorized.content_dir / "bad.md").write_text("nothing\n", encoding="utf-8")
    edit(small_site["d"], {"title": "D2", "date": "2022-05-04T10:00:00Z", "categories": ["股票"]})
    clock.now += timedelta(seconds=30)
    second = refresher.refresh().snapshot.last_refresh
    third = refresher.refresh().snapshot.last_refresh

    assert first is not None
    assert second is not None
    assert third is not None
    # all, finance, headlines, 股票 in three formats
    assert (first.files_seen, first.files_parsed, first.files_failed, first.feeds_rebuilt) == (4, 4, 0, 12)
    assert (second.files_seen, second.files_parsed, second.files_failed, second.feeds_rebuilt) == (5, 2, 1, 6)
    assert (third.files_seen, third.files_parsed, third.files_failed, third.feeds_rebuilt) == (5, 0, 0, 0)
    assert (first.started, second.started) == (NOW, NOW + timedelta(seconds=30))
    assert first.duration_s >= 0


def test_content_cache_keeps_only_articles_in_feeds(content_dir: Path, clock: Clock) -> None:
    """The rendered-content cache holds only the versions of articles that some feed shows now."""
    settings = make_settings(content_dir, feeds={"limit": 3})
    paths = write_corpus(content_dir, 20)
    refresher = Refresher(settings, Store(), clock=clock)

    def in_feeds() -> set[tuple[str, str]]:
        shown = set()
        for path, document in refresher.store.snapshot.documents.items():
            if path.endswith(".json"):
                shown |= {item["id"] for item in json.loads(document.body)["items"]}
        assert shown
        return {(a.source, a.fingerprint) for a in refresher.index.articles() if a.link in shown}

    refresher.refresh()
    assert set(refresher.contents) <= in_feeds()
    for round_number in range(1, 4):
        for path in paths[-5:]:
            fields = {"title": f"v{round_number}", "date": "2025-01-01"}  # still the newest, so in a feed
            edit(path, fields, f"<p>{round_number}</p>", seconds=round_number * 10)
        refresher.refresh()
        assert set(refresher.contents) <= in_feeds()
        assert len(refresher.contents) <= 20


def test_store_swaps_whole_snapshots() -> None:
    """A new store serves an empty snapshot, and replace swaps in the given snapshot as it is."""
    store = Store()
    snapshot = Snapshot(documents={"index.html": make_document(b"<p>", "text/html")}, redirects={}, max_age=30)

    empty = store.snapshot
    store.replace(snapshot)

    assert (dict(empty.documents), dict(empty.redirects), empty.degraded) == ({}, {}, None)
    assert store.snapshot is snapshot


def test_published_to_another_store_later_snapshots_go_there(content_dir: Path, clock: Clock) -> None:
    """After `publish_to`, refreshes swap their snapshots into the new store; the first store keeps what it had."""
    write(content_dir, "a.md")
    trial, served = Store(), Store()
    refresher = Refresher(make_settings(content_dir), trial, clock=clock)
    first = refresher.refresh().snapshot

    refresher.publish_to(served)
    write(content_dir, "b.md")
    second = refresher.refresh().snapshot

    assert trial.snapshot is first
    assert served.snapshot is second
    assert refresher.store is served
    assert second.articles == 2


# --- documents --------------------------------------------------------------------------------------------------


def test_document_etag_is_a_strong_hash_of_the_bytes_only() -> None:
    """A document's ETag is strong, quoted, and depends on the bytes alone, not on the media type or date."""
    one = make_document(b"<rss/>", "application/rss+xml; charset=utf-8", datetime(2022, 5, 4, tzinfo=UTC))
    two = make_document(b"<rss/>", "application/feed+json")
    other = make_document(b"<rss />", "application/rss+xml; charset=utf-8")

    assert re.fullmatch(r'"[0-9a-f]{16,}"', one.etag)
    assert one.etag == two.etag
    assert one.etag != other.etag
    assert one.etag.strip('"') in hashlib.sha256(b"<rss/>").hexdigest()


def test_document_gzip_body_is_the_body_and_reproducible() -> None:
    """The gzip form decompresses to the body, and the same bytes always compress to the same gzip bytes."""
    body = ("<p>证券时报网</p>" * 200).encode()

    one = make_document(body, "text/html; charset=utf-8")
    two = make_document(body, "text/html; charset=utf-8")

    assert gzip.decompress(one.gzip_body) == body
    assert one.gzip_body == two.gzip_body
    assert len(one.gzip_body) < len(body)
    assert one.body == body
    assert one.media_type == "text/html; charset=utf-8"


def test_document_gzip_etag_adds_gz_inside_the_quotes() -> None:
    """The gzip form's ETag is the same value with `-gz` inside the quotes."""
    document = make_document(b"{}", "application/feed+json")

    assert document.gzip_etag == document.etag[:-1] + '-gz"'
    assert document.gzip_etag.startswith('"')
    assert document.gzip_etag.endswith('-gz"')
