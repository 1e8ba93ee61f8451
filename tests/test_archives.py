"""RFC 5005 archive pages: walking a feed's history, caching headers, stability, on-demand rendering, builds."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

import feedparser
import pytest
from flask.testing import FlaskClient
from lxml import etree
from werkzeug.test import TestResponse

from feedsvc.builddir.follower import Follower, empty_snapshot
from feedsvc.builddir.manifest import MANIFEST, read_build
from feedsvc.builddir.pages import write_archives
from feedsvc.config import Settings
from feedsvc.feeds import render
from feedsvc.feeds.archives import Archives
from feedsvc.http.app import IMMUTABLE_CACHE_CONTROL, create_app
from feedsvc.model import Format, make_document
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime.builder import start_builder
from feedsvc.store import Store
from tests.conftest import NOW, Clock, make_settings
from tests.corpus import write_article

FEED_URL = "https://feeds.example.com/"
INTERVAL = 120
SIZE = 50
START = datetime(2025, 1, 1, tzinfo=UTC)
# Slugs `markets` and `others`: `markets` holds every article but each 13th, `others` the rest.
MARKETS, OTHERS = "市场", "其他"
ATOM = "http://www.w3.org/2005/Atom"
HISTORY = "http://purl.org/syndication/history/1.0"
RSS_CONTENT = "http://purl.org/rss/1.0/modules/content/"
CURRENT_CACHE_CONTROL = f"public, max-age={INTERVAL}"
NEW = 200  # the number of the article a test adds: the newest, in MARKETS, dated in the past


# --- content and settings ----------------------------------------------------------------------------------------


def article_id(number: int) -> str:
    return f"https://www.example.com/id/{number}"


def categories_of(number: int) -> list[str]:
    return [MARKETS] if number % 13 else [OTHERS]


def write_numbered(content_dir: Path, number: int, title: str | None = None, **extra: Any) -> Path:
    """Write article `number`, dated `number` hours after START, with a body naming it."""
    fields = {
        "title": title or f"Article {number}",
        "id": article_id(number),
        "date": (START + timedelta(hours=number)).isoformat(),
        "categories": categories_of(number),
        **extra,
    }
    return write_article(content_dir, f"posts/a{number:04d}.md", fields, f"<p>Body of article {number}.</p>")


def write_history(content_dir: Path, count: int) -> None:
    """Write articles 0..count-1, plus a draft and one dated after NOW: neither is ever published."""
    for number in range(count):
        write_numbered(content_dir, number)
    write_numbered(content_dir, 900, draft=True)
    write_article(content_dir, "future.md", {"title": "Future", "id": article_id(901), "date": "2027-01-01"})


def published_ids(numbers: Iterable[int], category: str | None = None) -> set[str]:
    return {article_id(n) for n in numbers if category is None or category in categories_of(n)}


def archive_settings(content_dir: Path, **sections: dict[str, Any]) -> Settings:
    base: dict[str, dict[str, Any]] = {
        "site": {"feed_url": FEED_URL},
        "scan": {"workers": 1, "interval_seconds": INTERVAL},
        "feeds": {"archive_size": SIZE},
        "categories": {MARKETS: {"slug": "markets"}, OTHERS: {"slug": "others"}},
    }
    for section, values in sections.items():
        base[section] = {**base.get(section, {}), **values}
    return make_settings(content_dir, **base)


@dataclass
class Served:
    """`feedsvc serve` over a content directory: a refresher with the test clock, and a client of its app."""

    refresher: Refresher
    client: FlaskClient

    def get(self, path: str, **headers: str) -> TestResponse:
        return self.client.get(path, headers=headers)

    def body(self, path: str) -> bytes:
        response = self.get(path)
        assert response.status_code == 200, path
        return response.get_data()


def serve(settings: Settings, clock: Clock | None = None) -> Served:
    store = Store()
    refresher = Refresher(settings, store, clock=clock or Clock())
    refresher.refresh()
    return Served(refresher, create_app(store).test_client())


@pytest.fixture
def history(content_dir: Path) -> Served:
    """130 articles, pages of 50: `all` and `markets` (120) have 3 pages, `others` (10) one."""
    write_history(content_dir, 130)
    return serve(archive_settings(content_dir))


def page_path(slug: str, number: int, fmt: Format) -> str:
    return f"/feeds/{slug}/archive/{number}.{fmt.value}"


def current_path(slug: str, fmt: Format) -> str:
    return f"/feeds/{slug}.{fmt.value}"


def url(path: str) -> str:
    return FEED_URL + path.lstrip("/")


def all_pages(slug: str, pages: int) -> set[str]:
    return {page_path(slug, n, fmt) for n in range(1, pages + 1) for fmt in Format}


HISTORY_PAGES = all_pages("all", 3) | all_pages("markets", 3) | all_pages("others", 1)
NEWEST_PAGES = {page_path(slug, 3, fmt) for slug in ("all", "markets") for fmt in Format}  # of `history`


# --- reading a feed document -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """What a feed document says of its place in the history, in any format."""

    ids: list[str]
    titles: list[str]
    dates: list[datetime]
    contents: list[str]
    links: dict[str, str]  # rel -> href; JSON Feed: `next_url` as prev-archive
    archived: bool  # <fh:archive/>
    identity: str | None  # the Atom id, the JSON Feed's feed_url


def read_page(fmt: Format, body: bytes) -> Page:
    if fmt is Format.JSON:
        document = json.loads(body)
        items = document["items"]
        return Page(
            ids=[item["id"] for item in items],
            titles=[item["title"] for item in items],
            dates=[datetime.fromisoformat(item["date_published"]) for item in items],
            contents=[item.get("content_html", "") for item in items],
            links={"prev-archive": document["next_url"]} if "next_url" in document else {},
            archived=False,
            identity=document["feed_url"],
        )
    root = etree.fromstring(body)
    if fmt is Format.RSS:
        channel = root.find("channel")
        assert channel is not None
        items = channel.findall("item")
        return Page(
            ids=[item.findtext("guid") or "" for item in items],
            titles=[item.findtext("title") or "" for item in items],
            dates=[parsedate_to_datetime(item.findtext("pubDate") or "") for item in items],
            contents=[item.findtext(f"{{{RSS_CONTENT}}}encoded") or "" for item in items],
            links={link.get("rel", ""): link.get("href", "") for link in channel.findall(f"{{{ATOM}}}link")},
            archived=channel.find(f"{{{HISTORY}}}archive") is not None,
            identity=None,
        )
    entries = root.findall(f"{{{ATOM}}}entry")
    return Page(
        ids=[entry.findtext(f"{{{ATOM}}}id") or "" for entry in entries],
        titles=[entry.findtext(f"{{{ATOM}}}title") or "" for entry in entries],
        dates=[datetime.fromisoformat(entry.findtext(f"{{{ATOM}}}published") or "") for entry in entries],
        contents=[entry.findtext(f"{{{ATOM}}}content") or "" for entry in entries],
        links={link.get("rel", ""): link.get("href", "") for link in root.findall(f"{{{ATOM}}}link")},
        archived=root.find(f"{{{HISTORY}}}archive") is not None,
        identity=root.findtext(f"{{{ATOM}}}id"),
    )


def fetch_page(served: Served, href: str, fmt: Format) -> Page:
    assert href.startswith(FEED_URL), href
    return read_page(fmt, served.body("/" + href.removeprefix(FEED_URL)))


# --- walking the history -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "category", "sizes"), [("all", None, [30, 50, 50]), ("markets", MARKETS, [20, 50, 50])]
)
@pytest.mark.parametrize("fmt", list(Format))
def test_walking_back_from_the_feed_finds_every_article_once(
    history: Served, fmt: Format, slug: str, category: str | None, sizes: list[int]
) -> None:
    """prev-archive (next_url) from the feed to page 1 visits every published article once, newest first."""
    current = read_page(fmt, history.body(current_path(slug, fmt)))
    assert not current.archived
    assert "current" not in current.links
    feed_identity = current.identity

    visited: list[str] = []
    pages: list[Page] = []
    href = current.links.get("prev-archive")
    while href is not None and len(pages) < 10:
        visited.append(href)
        pages.append(fetch_page(history, href, fmt))
        href = pages[-1].links.get("prev-archive")

    assert visited == [url(page_path(slug, n, fmt)) for n in (3, 2, 1)]
    assert [len(page.ids) for page in pages] == sizes
    found = [entry for page in pages for entry in page.ids]
    assert len(found) == len(set(found))
    assert set(found) == published_ids(range(130), category)
    dates = [date for page in pages for date in page.dates]
    assert dates == sorted(dates, reverse=True)  # within each page, and from page to page
    assert len(set(dates)) == len(dates)
    for page in pages:
        for entry, html in zip(page.ids, page.contents, strict=True):
            assert f"Body of article {entry.rsplit('/', 1)[1]}." in html
        assert page.identity == feed_identity  # the Atom id, the JSON Feed's feed_url: the current feed's
        if fmt is not Format.JSON:
            assert page.archived
            assert page.links["current"] == url(current_path(slug, fmt))


@pytest.mark.parametrize("slug", ["all", "markets"])
@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM])
def test_walking_forward_from_page_one_reaches_the_newest_page(history: Served, fmt: Format, slug: str) -> None:
    """next-archive from page 1 leads page by page to the newest page, which has none; each page links itself."""
    href: str | None = url(page_path(slug, 1, fmt))
    visited: list[str] = []
    while href is not None and len(visited) < 10:
        page = fetch_page(history, href, fmt)
        assert page.links["self"] == href
        visited.append(href)
        href = page.links.get("next-archive")
    assert visited == [url(page_path(slug, n, fmt)) for n in (1, 2, 3)]


# --- HTTP: caching and validators --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(Format))
def test_complete_pages_are_immutable_the_newest_page_and_the_feed_are_not(history: Served, fmt: Format) -> None:
    """Pages 1 and 2 answer the immutable Cache-Control; page 3 and the feed the usual max-age."""
    for path, expected in [
        (page_path("all", 1, fmt), IMMUTABLE_CACHE_CONTROL),
        (page_path("all", 2, fmt), IMMUTABLE_CACHE_CONTROL),
        (page_path("all", 3, fmt), CURRENT_CACHE_CONTROL),
        (current_path("all", fmt), CURRENT_CACHE_CONTROL),
        (page_path("others", 1, fmt), CURRENT_CACHE_CONTROL),  # the only page is the newest
    ]:
        response = history.get(path)
        assert (response.status_code, response.headers["Cache-Control"]) == (200, expected), path
        assert response.headers["Content-Type"] == fmt.media_type


@pytest.mark.parametrize("number", [1, 3])
def test_archive_pages_answer_validators_gzip_and_head(history: Served, number: int) -> None:
    """If-None-Match answers 304 (plain or gzip ETag), gzip is the same bytes, HEAD has the headers and no body."""
    path = page_path("all", number, Format.ATOM)
    plain = history.get(path)
    etag, cache_control = plain.headers["ETag"], plain.headers["Cache-Control"]
    assert etag == make_document(plain.get_data(), Format.ATOM.media_type).etag

    not_modified = history.get(path, **{"If-None-Match": etag})
    assert (not_modified.status_code, not_modified.get_data()) == (304, b"")
    assert not_modified.headers["Cache-Control"] == cache_control
    assert history.get(path, **{"If-None-Match": '"something-else"'}).status_code == 200

    zipped = history.get(path, **{"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert zipped.headers["ETag"] == etag[:-1] + '-gz"'
    assert history.get(path, **{"If-None-Match": zipped.headers["ETag"]}).status_code == 304

    head = history.client.head(path)
    assert (head.status_code, head.get_data()) == (200, b"")
    assert head.headers["Content-Length"] == str(len(plain.get_data()))
    assert (head.headers["ETag"], head.headers["Cache-Control"]) == (etag, cache_control)


# --- stability -----------------------------------------------------------------------------------------------------


def bodies(served: Served, paths: Iterable[str]) -> dict[str, bytes]:
    return {path: served.body(path) for path in paths}


def test_a_new_article_changes_only_the_newest_pages(content_dir: Path, history: Served) -> None:
    """Adding the newest article leaves every complete page byte-identical (same ETag); only page 3 changes."""
    before = bodies(history, HISTORY_PAGES)
    etags = {path: history.get(path).headers["ETag"] for path in HISTORY_PAGES}

    write_numbered(content_dir, NEW)
    history.refresher.refresh()

    after = bodies(history, HISTORY_PAGES)
    assert {path for path in HISTORY_PAGES if after[path] != before[path]} == NEWEST_PAGES
    assert all(history.get(p).headers["ETag"] == etags[p] for p in HISTORY_PAGES - NEWEST_PAGES)
    for slug in ("all", "markets"):
        newest = read_page(Format.JSON, after[page_path(slug, 3, Format.JSON)])
        assert newest.ids[0] == article_id(NEW)


def test_a_full_newest_page_is_completed_by_the_next_article(content_dir: Path) -> None:
    """At 100 articles page 2 is the newest; the 101st completes it, page 3 holds it alone; one fewer: page 3 goes."""
    write_history(content_dir, 100)
    served = serve(archive_settings(content_dir))
    page_1 = bodies(served, {page_path("all", 1, fmt) for fmt in Format})
    for fmt in Format:
        current = read_page(fmt, served.body(current_path("all", fmt)))
        assert current.links["prev-archive"] == url(page_path("all", 2, fmt))
        assert served.get(page_path("all", 2, fmt)).headers["Cache-Control"] == CURRENT_CACHE_CONTROL
        assert served.get(page_path("all", 3, fmt)).status_code == 404

    write_numbered(content_dir, NEW)
    served.refresher.refresh()

    assert bodies(served, page_1) == page_1
    for fmt in Format:
        current = read_page(fmt, served.body(current_path("all", fmt)))
        assert current.links["prev-archive"] == url(page_path("all", 3, fmt))
        second = served.get(page_path("all", 2, fmt))
        assert second.headers["Cache-Control"] == IMMUTABLE_CACHE_CONTROL
        third = read_page(fmt, served.body(page_path("all", 3, fmt)))
        assert third.ids == [article_id(NEW)]
        assert third.links["prev-archive"] == url(page_path("all", 2, fmt))
        assert "next-archive" not in third.links
        if fmt is not Format.JSON:
            assert read_page(fmt, second.get_data()).links["next-archive"] == url(page_path("all", 3, fmt))

    (content_dir / "posts" / "a0000.md").unlink()  # the oldest: the newest 100 fill two pages again
    served.refresher.refresh()

    for fmt in Format:
        current = read_page(fmt, served.body(current_path("all", fmt)))
        assert current.links["prev-archive"] == url(page_path("all", 2, fmt))
        assert served.get(page_path("all", 3, fmt)).status_code == 404
        assert served.get(page_path("all", 2, fmt)).headers["Cache-Control"] == CURRENT_CACHE_CONTROL


def test_editing_an_old_article_changes_only_its_page(content_dir: Path, history: Served) -> None:
    """A new title for article 5 (page 1) shows on page 1 under the same id; pages 2 and 3 keep their bytes."""
    paths = all_pages("all", 3)
    before = bodies(history, paths)

    write_numbered(content_dir, 5, title="Article 5, corrected")
    history.refresher.refresh()

    after = bodies(history, paths)
    assert {path for path in paths if after[path] != before[path]} == {page_path("all", 1, fmt) for fmt in Format}
    for fmt in Format:
        old, new = read_page(fmt, before[page_path("all", 1, fmt)]), read_page(fmt, after[page_path("all", 1, fmt)])
        assert new.ids == old.ids
        assert new.titles[new.ids.index(article_id(5))] == "Article 5, corrected"


# --- what is not an archive page -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/all/archive/0.rss",
        "/feeds/all/archive/01.rss",
        "/feeds/all/archive/4.atom",
        "/feeds/others/archive/2.json",
        "/feeds/nope/archive/1.rss",
        "/feeds/all/archive/one.rss",
        "/feeds/all/archive/1.xml",
        "/feeds/all/archive/.rss",
    ],
)
def test_paths_that_are_no_archive_page_answer_404(history: Served, path: str) -> None:
    """Page 0, a leading zero, a page past the last, an unknown slug, a non-numeric page or format: 404."""
    assert history.get(path).status_code == 404
    assert history.client.head(path).status_code == 404


@pytest.mark.parametrize("fmt", list(Format))
def test_a_category_name_redirects_to_its_slugs_archive_page(history: Served, fmt: Format) -> None:
    """A configured category's name, percent-encoded, answers 301 to the slug's archive page."""
    response = history.get(f"/feeds/{quote(MARKETS)}/archive/1.{fmt.value}")
    assert response.status_code == 301
    assert response.headers["Location"] == page_path("markets", 1, fmt)


def test_archive_size_zero_publishes_no_archive(content_dir: Path) -> None:
    """With `feeds.archive_size: 0` no feed links an archive page in any format, and there are none."""
    write_history(content_dir, 60)
    served = serve(archive_settings(content_dir, feeds={"archive_size": 0}))
    for slug in ("all", "markets"):
        for fmt in Format:
            body = served.body(current_path(slug, fmt))
            assert read_page(fmt, body).links.keys() <= {"self", "alternate"}
            assert b"archive" not in body
            assert served.get(page_path(slug, 1, fmt)).status_code == 404
    assert served.refresher.store.snapshot.archives is None


# --- rendered on demand ---------------------------------------------------------------------------------------------


def test_pages_are_rendered_when_asked_for_and_kept(content_dir: Path, history: Served) -> None:
    """A refresh renders no page; a request renders one, once; a complete page survives a refresh adding an article."""
    pages = history.refresher.pages
    assert pages.rendered == 0
    history.body(current_path("all", Format.RSS))
    assert pages.rendered == 0

    first = history.body(page_path("all", 1, Format.RSS))
    assert pages.rendered == 1
    assert history.body(page_path("all", 1, Format.RSS)) == first
    assert pages.rendered == 1

    write_numbered(content_dir, NEW)
    history.refresher.refresh()
    assert pages.rendered == 1
    assert history.body(page_path("all", 1, Format.RSS)) == first
    assert pages.rendered == 1
    history.body(page_path("all", 3, Format.RSS))  # the newest page changed: made again
    assert pages.rendered == 2


def test_concurrent_requests_for_a_new_page_render_it_once(history: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests together for a page not yet made render it once: one waits, the others get 503 at once; then all 200."""
    requests = 8
    cache = history.refresher.pages
    answered = threading.Semaphore(0)

    def render_once_the_others_answered(*args: Any, **kwargs: Any) -> bytes:
        for _ in range(requests - 1):  # every request but the one waiting has had its 503
            answered.acquire(timeout=10)
        return render.render_feed(*args, **kwargs)

    monkeypatch.setattr("feedsvc.refresh.rendered.render_feed", render_once_the_others_answered)
    history.refresher.renders.wait = 10.0
    app = history.client.application
    start = threading.Barrier(requests)

    def ask(_: int) -> tuple[int, bytes]:
        client = app.test_client()
        start.wait(timeout=10)
        response = client.get(page_path("markets", 2, Format.ATOM))
        if response.status_code == 503:
            answered.release()
        return response.status_code, response.get_data()

    with ThreadPoolExecutor(requests) as pool:
        answers = list(pool.map(ask, range(requests)))

    assert cache.rendered == 1
    assert sorted(status for status, _ in answers) == [200] + [503] * (requests - 1)
    made = next(body for status, body in answers if status == 200)
    assert {history.body(page_path("markets", 2, Format.ATOM)) for _ in range(requests)} == {made}
    assert cache.rendered == 1


def test_two_refreshers_over_the_same_content_make_the_same_pages(content_dir: Path) -> None:
    """Fresh stores, no cache, other clocks: every archive page of every feed is byte-identical."""
    write_history(content_dir, 130)
    settings = archive_settings(content_dir, cache={"enabled": False})
    shelves = [serve(settings, Clock(now)).refresher.store.snapshot.archives for now in (NOW, NOW + timedelta(days=3))]
    assert isinstance(shelves[0], Archives)
    assert isinstance(shelves[1], Archives)
    paths = [page.path for page in shelves[0].pages()]
    assert {"/" + p for p in paths} == HISTORY_PAGES
    assert [page.path for page in shelves[1].pages()] == paths
    for path in paths:
        one, two = shelves[0].document(path), shelves[1].document(path)
        assert one is not None
        assert two is not None
        assert (one.body, one.etag, one.immutable) == (two.body, two.etag, two.immutable), path


# --- feedsvc build and serve --from --------------------------------------------------------------------------------


def archive_files(out: Path) -> dict[str, tuple[int, int]]:
    """The archive page files of a build (each `.gz`), by URL path: their (inode, mtime), which a rewrite changes."""
    files = [p for p in (out / "feeds").glob("*/archive/*") if p.is_file()]
    assert all(p.name.endswith(".gz") for p in files), files
    return {"/" + str(p.relative_to(out)).removesuffix(".gz"): (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}


def stored(out: Path, path: str) -> Path:
    """The file of the archive page at URL `path`: its gzip form."""
    return out / (path.lstrip("/") + ".gz")


def listed_archives(out: Path) -> dict[str, Any]:
    return {"/" + path: entry for path, entry in json.loads((out / MANIFEST).read_bytes())["archives"].items()}


@pytest.fixture
def build(content_dir: Path, tmp_path: Path) -> Path:
    """The 130 articles of `history`, built once into a directory."""
    write_history(content_dir, 130)
    out = tmp_path / "out"
    builder = start_builder(archive_settings(content_dir), out, watch=False)
    builder.stop()
    assert builder.refresher.pages.rendered == len(HISTORY_PAGES)
    return out


def test_a_build_writes_every_page_as_serve_answers_it(content_dir: Path, build: Path) -> None:
    """Each page is a gzip file, listed with its type, ETags and immutability, holding the bytes serve sends."""
    served = serve(archive_settings(content_dir))
    listed = listed_archives(build)
    assert set(archive_files(build)) == set(listed) == HISTORY_PAGES
    for path, entry in listed.items():
        compressed = stored(build, path).read_bytes()
        body = gzip.decompress(compressed)
        answer = served.get(path)
        assert answer.get_data() == body, path
        assert entry["etag"] == answer.headers["ETag"] == make_document(body, entry["type"]).etag
        assert entry["type"] == answer.headers["Content-Type"]
        assert (entry["size"], entry["stored"], entry["stored_size"]) == (len(body), ["gzip"], len(compressed))
        assert entry["immutable"] is (answer.headers["Cache-Control"] == IMMUTABLE_CACHE_CONTROL)
        assert entry["immutable"] is not (path in NEWEST_PAGES or path.startswith("/feeds/others/"))
        zipped = served.get(path, **{"Accept-Encoding": "gzip"})
        assert zipped.get_data() == compressed, path  # the very bytes serve sends: no time, no name, one level
        assert entry["gzip_etag"] == zipped.headers["ETag"] == entry["etag"][:-1] + '-gz"'
        assert not (build / path.lstrip("/")).exists()


def test_a_rebuild_writes_only_the_pages_that_changed(content_dir: Path, build: Path) -> None:
    """Unchanged content: nothing written or rendered; one new article: only the newest pages of its feeds."""
    before = archive_files(build)
    manifest = (build / MANIFEST).read_bytes()
    builder = start_builder(archive_settings(content_dir), build, watch=False)
    try:
        assert (builder.files_written, builder.files_removed, builder.refresher.pages.rendered) == (0, 0, 0)
        assert archive_files(build) == before
        assert (build / MANIFEST).read_bytes() == manifest

        write_numbered(content_dir, NEW)
        builder.build()

        after = archive_files(build)
        assert {path for path in after if after[path] != before.get(path)} == NEWEST_PAGES
        assert set(after) == set(before)
        assert builder.refresher.pages.rendered == len(NEWEST_PAGES)
        assert set(listed_archives(build)) == HISTORY_PAGES
    finally:
        builder.stop()


def test_a_rebuild_of_an_unchanged_catalog_looks_at_no_page(content_dir: Path, build: Path) -> None:
    """`build --watch`: a refresh that changed no article does not walk the archive pages; one that did, does."""
    # Without filesystem events: each build below walks the directory, whenever an event would come.
    builder = start_builder(archive_settings(content_dir, scan={"watch": False}), build, watch=True)
    try:
        with mock.patch("feedsvc.runtime.builder.write_archives", wraps=write_archives) as walk:
            builder.build()
            assert walk.call_count == 0
            write_numbered(content_dir, NEW)
            builder.build()
            assert walk.call_count == 1
            builder.build()
            assert walk.call_count == 1
        assert set(listed_archives(build)) == HISTORY_PAGES
    finally:
        builder.stop()


def test_a_build_removes_the_pages_a_feed_no_longer_has(content_dir: Path, build: Path) -> None:
    """Deleting 30 articles leaves `all` and `markets` two pages: page 3's files go, page 2 is the newest again."""
    for number in range(100, 130):
        (content_dir / "posts" / f"a{number:04d}.md").unlink()
    builder = start_builder(archive_settings(content_dir), build, watch=False)
    builder.stop()

    listed = listed_archives(build)
    assert set(archive_files(build)) == set(listed) == HISTORY_PAGES - NEWEST_PAGES
    assert builder.files_removed == 6
    assert not listed[page_path("all", 2, Format.RSS)]["immutable"]
    assert listed[page_path("all", 1, Format.RSS)]["immutable"]


def test_serve_from_a_build_answers_its_pages_as_serve_does(content_dir: Path, build: Path) -> None:
    """`serve --from` answers each page, plain or gzip, as serve does, 304s too; a page whose file is gone: 404."""
    served = serve(archive_settings(content_dir))
    from_build = create_app(Store(read_build(build))).test_client()
    for path in sorted(HISTORY_PAGES):
        for asked in ({}, {"Accept-Encoding": "gzip"}):
            ours, theirs = from_build.get(path, headers=asked), served.get(path, **asked)
            assert ours.status_code == 200, path
            assert ours.get_data() == theirs.get_data(), path
            for header in ("ETag", "Cache-Control", "Content-Type", "Last-Modified", "Content-Encoding", "Vary"):
                assert ours.headers.get(header) == theirs.headers.get(header), (path, header)
            again = from_build.get(path, headers={**asked, "If-None-Match": theirs.headers["ETag"]})
            assert (again.status_code, again.headers["ETag"]) == (304, theirs.headers["ETag"]), path
    assert from_build.get(page_path("all", 4, Format.RSS)).status_code == 404

    stored(build, page_path("all", 1, Format.RSS)).unlink()
    fresh = create_app(Store(read_build(build))).test_client()
    assert fresh.get(page_path("all", 1, Format.RSS)).status_code == 404
    assert fresh.get(page_path("all", 1, Format.ATOM)).status_code == 200


# --- a real feed reader ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM])
@pytest.mark.parametrize("number", [1, 2, 3])
def test_feedparser_reads_each_page_and_its_history_links(history: Served, fmt: Format, number: int) -> None:
    """feedparser parses every page without bozo and finds current, prev-archive and next-archive where they belong."""
    parsed = feedparser.parse(history.body(page_path("all", number, fmt)))
    assert not parsed.bozo, parsed.get("bozo_exception")
    links = {link["rel"]: link["href"] for link in parsed.feed.links if link.get("rel") != "alternate"}
    expected = {"self": url(page_path("all", number, fmt)), "current": url(current_path("all", fmt))}
    if number > 1:
        expected["prev-archive"] = url(page_path("all", number - 1, fmt))
    if number < 3:
        expected["next-archive"] = url(page_path("all", number + 1, fmt))
    assert links == expected
    assert len(parsed.entries) == (30 if number == 3 else 50)


# --- slugs with an underscore, completeness under serve --from --------------------------------------------------


def test_serve_answers_the_archive_pages_of_a_slug_with_an_underscore(content_dir: Path) -> None:
    """A slug the config accepts (`world_news`): the page its feed links as prev-archive is served."""
    write_history(content_dir, 60)
    served = serve(archive_settings(content_dir, categories={MARKETS: {"slug": "world_news"}}))
    for fmt in Format:
        href = read_page(fmt, served.body(current_path("world_news", fmt))).links["prev-archive"]
        assert href == url(page_path("world_news", 2, fmt))  # 55 articles
        assert fetch_page(served, href, fmt).ids


def test_serve_from_reads_a_build_with_a_slug_with_an_underscore(content_dir: Path, tmp_path: Path) -> None:
    """The build of a slug the config accepts (`world_news`) is read by serve --from, its archive pages served."""
    write_history(content_dir, 60)
    out = tmp_path / "out"
    start_builder(archive_settings(content_dir, categories={MARKETS: {"slug": "world_news"}}), out, watch=False).stop()
    assert (out / "feeds" / "world_news" / "archive" / "1.rss.gz").is_file()
    client = create_app(Store(read_build(out))).test_client()
    assert client.get(page_path("world_news", 1, Format.RSS)).status_code == 200


def test_serve_from_follows_a_page_that_is_the_newest_again(content_dir: Path, tmp_path: Path) -> None:
    """The newest article deleted, page 2 is the newest again: a following serve --from no longer calls it immutable."""
    write_history(content_dir, 100)
    newest = write_numbered(content_dir, NEW)
    out = tmp_path / "out"
    builder = start_builder(archive_settings(content_dir), out, watch=False)
    try:
        store = Store(empty_snapshot(out))
        follower = Follower(out, store)
        client = create_app(store).test_client()
        assert follower.check()
        for fmt in Format:
            assert client.get(page_path("all", 2, fmt)).headers["Cache-Control"] == IMMUTABLE_CACHE_CONTROL

        newest.unlink()
        builder.build()

        assert follower.check()
        for fmt in Format:
            assert listed_archives(out)[page_path("all", 2, fmt)]["immutable"] is False
            assert client.get(page_path("all", 2, fmt)).headers["Cache-Control"] == CURRENT_CACHE_CONTROL, fmt
    finally:
        builder.stop()
