"""A feed opened in a browser is a page made on the server: the feed's HTML view, beside the feed at the same URL.

Pure tests read the view back against what the XSLT stylesheet makes of the same feed;
the HTTP tests pin negotiation, validators, gzip and HEAD; the build tests the files
written beside the feeds and `serve --from` answering as `serve` does.
"""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Tag
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from feedsvc.builddir.manifest import MANIFEST, read_build, write_build
from feedsvc.feeds.listing import VIEW_POLICY
from feedsvc.feeds.views import VIEW_TYPE, FeedViews, read_view, view_document, view_path
from feedsvc.http.app import create_app
from feedsvc.model import Format, feed_path, make_document
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime.builder import start_builder
from feedsvc.store import Store
from tests.conftest import Clock, make_settings
from tests.corpus import write_article, write_corpus
from tests.test_browser import (
    BROWSER_ACCEPT,
    HANDMADE_ATOM,
    HANDMADE_RSS,
    HOSTILE_TITLE,
    XML,
    site,
    site_settings,
    transform,
)

__all__ = ["site"]  # the fixture, shared with tests/test_browser.py

ATOM = "{http://www.w3.org/2005/Atom}"
READER_ACCEPT = "application/rss+xml, application/atom+xml;q=0.9, application/xml;q=0.4"


def view_of(store: Store, path: str) -> BeautifulSoup:
    """Return the parsed HTML view of a document in the store."""
    view = view_document(path, store.snapshot.documents[path])
    assert view is not None
    return page(view.body)


def page(body: bytes) -> BeautifulSoup:
    """Parse an HTML page."""
    return BeautifulSoup(body.decode("utf-8"), "html.parser")


def shown(soup: BeautifulSoup) -> dict[str, object]:
    """What a feed page shows a person, as comparable values: the same for the XSLT's page and the view."""

    def text(tag: Tag | None) -> str | None:
        return None if tag is None else " ".join(tag.get_text(" ").split())

    about = soup.select_one("section.about")
    assert about is not None
    return {
        "lang": soup.html.get("lang"),
        "title": text(soup.title),
        "kind": text(soup.select_one("p.kind")),
        "h1": text(soup.h1),
        "header": text(soup.header),
        "about": text(about),
        "url": text(about.select_one("code.url")),
        "formats": [(a.name, a.get("href"), text(a)) for a in about.select("p.formats a, p.formats strong")],
        "links": [(a["href"], text(a)) for a in about.select("p:not(.formats) > a")],
        "history": [(a["href"], text(a), a.get("rel")) for a in soup.select("nav.history a")],
        "heading": text(soup.find("h2", string=lambda s: s is not None and "rticles" in s)),
        "entries": [
            (
                text(li.h3),
                li.h3.a["href"] if li.h3.a else None,
                text(li.time),
                text(li.select_one("p.meta")),
                text(li.select_one("p.summary")),
                li.img["src"] if li.img else None,
            )
            for li in soup.select("ol > li")
        ],
        "empty": "No articles yet." in soup.get_text(),
        "footer": text(soup.footer),
    }


# --- what the view shows ------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["finance", "all", "empty"])
@pytest.mark.parametrize("fmt", XML)
def test_the_view_shows_what_the_stylesheet_shows(site: Refresher, fmt: Format, slug: str) -> None:
    """Title, subscribe block, formats, links and every entry: the same as libxslt makes of the feed."""
    path = feed_path(slug, fmt)
    expected = shown(transform(site.store.snapshot.documents[path].body))
    assert shown(view_of(site.store, path)) == expected


@pytest.mark.parametrize("fmt", XML)
def test_an_archive_page_view_shows_what_the_stylesheet_shows(
    content_dir: Path, store: Store, clock: Clock, fmt: Format
) -> None:
    """An archive page's view says so, gives the feed's URL, and links the pages around it, as the stylesheet does."""
    write_corpus(content_dir, 7)
    Refresher(make_settings(content_dir, feeds={"archive_size": 3}), store, clock=clock).refresh()
    assert store.snapshot.archives is not None
    for number in (1, 2, 3):
        path = f"feeds/all/archive/{number}.{fmt.value}"
        document = store.snapshot.archives.document(path)
        assert document is not None
        view = view_document(path, document)
        assert view is not None
        assert view.immutable == document.immutable == (number < 3)
        assert shown(page(view.body)) == shown(transform(document.body))
    assert "archive page" in (shown(page(view.body))["kind"] or "")


@pytest.mark.parametrize("fmt", XML)
def test_a_tag_feed_and_its_archive_pages_link_the_index_from_their_folder(
    content_dir: Path, store: Store, clock: Clock, fmt: Format
) -> None:
    """A feed one folder further down (`feeds/tags/…`) links all feeds two folders up, as the stylesheet does now."""
    for day in range(1, 6):
        write_article(content_dir, f"{day}.md", {"title": f"T{day}", "date": f"2026-11-0{day}", "tags": ["Python"]})
    Refresher(make_settings(content_dir, feeds={"archive_size": 2}), store, clock=clock).refresh()
    assert store.snapshot.archives is not None
    documents = {f"feeds/tags/python.{fmt.value}": store.snapshot.documents[f"feeds/tags/python.{fmt.value}"]}
    for number in (1, 3):
        path = f"feeds/tags/python/archive/{number}.{fmt.value}"
        document = store.snapshot.archives.document(path)
        assert document is not None
        documents[path] = document
    homes = []
    for path, document in documents.items():
        view = view_document(path, document)
        assert view is not None
        ours = shown(page(view.body))
        assert ours == shown(transform(document.body)), path
        links = ours["links"]
        assert isinstance(links, list)
        homes.append(links[0][0])  # (href, text) of All feeds
    assert homes == ["../../", "../../../../", "../../../../"]


def test_the_json_feed_view_shows_the_same_entries(site: Refresher) -> None:
    """JSON Feed gets a view too: the same entries as RSS, its own URL to subscribe to, JSON Feed marked current."""
    rss = shown(view_of(site.store, feed_path("finance", Format.RSS)))
    json_view = shown(view_of(site.store, feed_path("finance", Format.JSON)))
    assert json_view["kind"] == "JSON Feed 1.1"
    assert json_view["url"] == f"{site.settings.feed_url}feeds/finance.json"
    assert json_view["formats"] == [
        ("a", "finance.rss", "RSS 2.0"),
        ("a", "finance.atom", "Atom 1.0"),
        ("strong", None, "JSON Feed 1.1"),
    ]
    assert json_view["entries"] == rss["entries"]
    assert json_view["h1"] == rss["h1"]


def test_the_view_of_handmade_feeds_drops_unsafe_links_as_the_stylesheet_does() -> None:
    """javascript: links become no link, odd dates are shown as given, an entry has the feed's author."""
    for path, body in (("feeds/a-b.c.rss", HANDMADE_RSS), ("feeds/x.atom", HANDMADE_ATOM)):
        view = view_document(path, make_document(body, "application/xml"))
        assert view is not None
        ours, theirs = shown(page(view.body)), shown(transform(body))
        assert ours["entries"] == theirs["entries"]
        assert ours["links"] == theirs["links"]
        assert ours["formats"] == theirs["formats"]
        assert ours["url"] == theirs["url"]
        assert all(not a["href"].startswith("javascript") for a in page(view.body).find_all("a"))


def test_markup_in_titles_stays_text_and_no_script_can_run(site: Refresher) -> None:
    """A hostile title is shown as text in every format; the page has no script and a policy that forbids any."""
    for fmt in Format:
        view = view_document(feed_path("all", fmt), site.store.snapshot.documents[feed_path("all", fmt)])
        assert view is not None
        assert b"<script>" not in view.body
        assert b"<img src=x" not in view.body
        soup = page(view.body)
        assert HOSTILE_TITLE in [li.h3.get_text() for li in soup.select("ol > li")]
        assert soup.find("script") is None
        assert all(not name.startswith("on") for tag in soup.find_all(True) for name in tag.attrs)
        policy = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})
        assert policy is not None
        assert policy["content"] == VIEW_POLICY
        assert "default-src 'none'" in VIEW_POLICY
        assert "script" not in VIEW_POLICY  # scripts fall under default-src 'none'


def test_the_view_reuses_the_index_style_and_works_on_a_phone(site: Refresher) -> None:
    """The view carries the index page's CSS, the viewport meta, and autodiscovery of its own feed."""
    soup = view_of(site.store, feed_path("finance", Format.ATOM))
    index = page(site.store.snapshot.documents["index.html"].body)
    assert soup.style.get_text().startswith(index.style.get_text())
    assert soup.find("meta", attrs={"name": "viewport"})["content"] == "width=device-width, initial-scale=1"
    alternate = soup.find("link", rel="alternate")
    assert alternate["type"] == "application/atom+xml"
    assert alternate["href"] == f"{site.settings.feed_url}feeds/finance.atom"
    assert soup.find("link", rel="stylesheet") is None


def test_the_view_is_the_same_bytes_after_a_restart_and_differs_from_the_feed(
    site: Refresher, content_dir: Path
) -> None:
    """Another process over the same content makes byte-identical views (the same ETag), never the feed's ETag."""
    store = Store()
    Refresher(site_settings(content_dir), store, clock=Clock()).refresh()
    for fmt in Format:
        path = feed_path("finance", fmt)
        ours, theirs = (view_document(path, s.snapshot.documents[path]) for s in (site.store, store))
        assert ours is not None
        assert theirs is not None
        assert ours.body == theirs.body
        assert ours.etag == theirs.etag != site.store.snapshot.documents[path].etag
        assert ours.media_type == VIEW_TYPE
        assert ours.last_modified == site.store.snapshot.documents[path].last_modified


def test_only_feed_documents_have_a_view() -> None:
    """Other paths, and bytes that are not the feed their path says, have no view (the feed is answered instead)."""
    assert read_view("index.html", b"<html/>") is None
    assert read_view("feeds/x.rss", b"not xml") is None
    assert read_view("feeds/x.atom", HANDMADE_RSS) is None
    assert read_view("feeds/x.json", b"[1, 2]") is None
    assert view_path("feeds/x.rss") == "feeds/x.rss.html"


def test_views_are_made_once_per_feed_change_and_bounded_in_bytes(site: Refresher, content_dir: Path) -> None:
    """A kept view serves until its feed's ETag changes; the cache drops the least recently used past its bound."""
    views = FeedViews()
    path = feed_path("finance", Format.RSS)
    first = views.document(path, site.store.snapshot.documents[path])
    assert views.document(path, site.store.snapshot.documents[path]) is first
    site.refresh()  # nothing changed: the same feed, the same view
    assert views.document(path, site.store.snapshot.documents[path]) is first
    assert views.made == 1
    write_article(content_dir, "2026/d.md", {"title": "Rates cut", "categories": ["金融"], "date": "2026-11-04"})
    site.refresh()
    second = views.document(path, site.store.snapshot.documents[path])
    assert second is not None
    assert first is not None
    assert second.etag != first.etag
    assert "Rates cut" in second.body.decode("utf-8")
    assert views.made == 2
    assert views.held_bytes == len(second.body)

    small = FeedViews(max_bytes=1)  # room for none: the last view made is kept, the others go
    made = [
        small.document(feed_path("finance", fmt), site.store.snapshot.documents[feed_path("finance", fmt)])
        for fmt in Format
    ]
    assert made[-1] is not None
    assert small.made == 3
    assert small.held_bytes == len(made[-1].body)


# --- over HTTP -----------------------------------------------------------------------------------------


def request_counts(client: FlaskClient) -> dict[tuple[str, str, str], float]:
    """Scrape /metrics and return the request counter by (route, format, status)."""
    return {
        (sample.labels["route"], sample.labels["format"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
        for sample in family.samples
        if sample.name == "feedsvc_http_requests_total"
    }


@pytest.mark.parametrize("fmt", list(Format))
def test_a_browser_gets_the_view_and_a_reader_the_feed_at_the_same_url(
    site: Refresher, client: FlaskClient, fmt: Format
) -> None:
    """Same URL: the browser's Accept gets the HTML view, with validators of its own; a reader's, the feed unchanged."""
    url = f"/feeds/finance.{fmt.value}"
    document = site.store.snapshot.documents[url[1:]]
    view = view_document(url[1:], document)
    assert view is not None
    browser = client.get(url, headers={"Accept": BROWSER_ACCEPT})
    assert browser.status_code == 200
    assert browser.headers["Content-Type"] == VIEW_TYPE
    assert browser.get_data() == view.body
    assert browser.headers["ETag"] == view.etag
    assert browser.headers["Vary"] == "Accept, Accept-Encoding"
    assert browser.headers["Cache-Control"] == f"public, max-age={site.settings.interval_seconds}"
    assert browser.headers["Last-Modified"] == client.get(url).headers["Last-Modified"]
    for accept in (None, READER_ACCEPT, "*/*", fmt.media_type.split(";")[0]):
        reader = client.get(url, headers={} if accept is None else {"Accept": accept})
        assert reader.headers["Content-Type"] == fmt.media_type
        assert reader.get_data() == document.body
        assert reader.headers["ETag"] == document.etag
        assert reader.headers["Vary"] == "Accept, Accept-Encoding"


def test_the_view_answers_304_gzip_and_head_like_the_feeds(site: Refresher, client: FlaskClient) -> None:
    """If-None-Match (either ETag) gets 304, gzip has its `-gz` ETag, HEAD has no body, and each is counted."""
    url = "/feeds/finance.atom"
    browser = {"Accept": BROWSER_ACCEPT}
    answer = client.get(url, headers=browser)
    etag = answer.headers["ETag"]
    zipped = client.get(url, headers={**browser, "Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["ETag"] == etag[:-1] + '-gz"'
    assert gzip.decompress(zipped.get_data()) == answer.get_data()
    for tag in (etag, zipped.headers["ETag"], f'W/{etag}, "other"'):
        again = client.get(url, headers={**browser, "If-None-Match": tag})
        assert again.status_code == 304
        assert again.headers["ETag"] == etag
        assert again.headers["Vary"] == "Accept, Accept-Encoding"
    # The feed's ETag does not validate the view, nor the view's the feed.
    feed_etag = site.store.snapshot.documents["feeds/finance.atom"].etag
    assert client.get(url, headers={**browser, "If-None-Match": feed_etag}).status_code == 200
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200
    head = client.head(url, headers=browser)
    assert head.status_code == 200
    assert head.get_data() == b""
    assert head.headers["Content-Length"] == str(len(answer.get_data()))
    assert head.headers["Content-Type"] == VIEW_TYPE
    assert "Link" not in answer.headers
    counts = request_counts(client)
    assert counts[("view", "atom", "200")] == 4
    assert counts[("view", "atom", "304")] == 3
    assert counts[("feed", "atom", "200")] == 1


def test_the_flask_route_answers_the_view_as_the_fast_path_does(site: Refresher, client: FlaskClient) -> None:
    """Through the Flask route (the fast path passes on what it does not know), the browser still gets the view."""
    app = create_app(site.store)
    app.wsgi_app = app.wsgi_app._app  # type: ignore[attr-defined]  # the Flask app behind the fast path
    flask_only = app.test_client()
    for fmt in Format:
        url = f"/feeds/finance.{fmt.value}"
        ours, theirs = (c.get(url, headers={"Accept": BROWSER_ACCEPT}) for c in (flask_only, client))
        assert ours.get_data() == theirs.get_data()
        assert {k: v for k, v in ours.headers.items() if k != "Date"} == {
            k: v for k, v in theirs.headers.items() if k != "Date"
        }


def test_an_archive_page_has_a_view_with_its_cache_headers(content_dir: Path, store: Store, clock: Clock) -> None:
    """A browser gets an archive page's view; a complete page's view is immutable like the page."""
    write_corpus(content_dir, 7)
    Refresher(make_settings(content_dir, feeds={"archive_size": 3}), store, clock=clock).refresh()
    client = create_app(store).test_client()
    browser = {"Accept": BROWSER_ACCEPT}
    complete = client.get("/feeds/all/archive/1.rss", headers=browser)
    assert complete.status_code == 200
    assert complete.headers["Content-Type"] == VIEW_TYPE
    assert complete.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "archive page" in page(complete.get_data()).select_one("p.kind").get_text()
    newest = client.get("/feeds/all/archive/3.json", headers=browser)
    assert newest.headers["Content-Type"] == VIEW_TYPE
    assert "immutable" not in newest.headers["Cache-Control"]
    assert client.get("/feeds/all/archive/1.rss").headers["Content-Type"] == Format.RSS.media_type
    assert (
        client.get("/feeds/all/archive/1.rss", headers={"If-None-Match": complete.headers["ETag"]}).status_code == 200
    )
    again = client.get("/feeds/all/archive/1.rss", headers={**browser, "If-None-Match": complete.headers["ETag"]})
    assert again.status_code == 304


# --- a build directory ---------------------------------------------------------------------------------


def test_a_build_writes_the_view_beside_each_feed_and_serve_from_answers_as_serve(
    site: Refresher, client: FlaskClient, tmp_path: Path
) -> None:
    """`{slug}.{fmt}.html` beside each feed holds what `serve` sends a browser; `serve --from` sends the same."""
    out = tmp_path / "out"
    write_build(site.store.snapshot, out)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    feeds = [path for path in site.store.snapshot.documents if path.startswith("feeds/")]
    assert manifest["views"] == {f"{path}.html": {"type": VIEW_TYPE, "of": path} for path in sorted(feeds)}
    served = Store()
    served.replace(read_build(out))
    follower = create_app(served).test_client()
    for path in feeds:
        answer = client.get(f"/{path}", headers={"Accept": BROWSER_ACCEPT})
        assert (out / f"{path}.html").read_bytes() == answer.get_data(), path
        from_build = follower.get(f"/{path}", headers={"Accept": BROWSER_ACCEPT})
        assert from_build.get_data() == answer.get_data()
        assert from_build.headers["ETag"] == answer.headers["ETag"]
        assert from_build.headers["Vary"] == answer.headers["Vary"]
    assert (out / "feeds" / "finance.rss.html").read_bytes().startswith(b"<!DOCTYPE html>")
    assert not list(out.glob("feeds/*/archive/*.html"))  # archive pages: made by the servers when asked for


def test_a_rebuild_writes_only_the_views_of_changed_feeds_and_removes_those_gone(
    site: Refresher, content_dir: Path, tmp_path: Path
) -> None:
    """A view is rewritten only with its feed; the view of a feed that is gone goes with it."""
    out = tmp_path / "out"
    first = site.store.snapshot
    write_build(first, out)
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("feeds/*.html")}
    (content_dir / "2026" / "c.md").unlink()  # in no category: only `all` changes
    site.refresh()
    write_build(site.store.snapshot, out, previous=first)
    after = {p: p.stat().st_mtime_ns for p in out.glob("feeds/*.html")}
    changed = {str(p.relative_to(out)) for p in after if after[p] != stamps.get(p)}
    assert changed == {f"feeds/all.{fmt.value}.html" for fmt in Format}
    assert "<img src=x" not in (out / "feeds" / "all.rss.html").read_text(encoding="utf-8")

    write_article(content_dir, "2026/e.md", {"title": "E", "categories": ["新"], "date": "2026-11-05"})
    site.refresh()
    write_build(site.store.snapshot, out)
    assert (out / "feeds" / "xin.rss.html").is_file()
    (content_dir / "2026" / "e.md").unlink()
    site.refresh()
    write_build(site.store.snapshot, out)
    assert not (out / "feeds" / "xin.rss.html").exists()


def test_serve_from_a_build_answers_every_view_as_serve_does(content_dir: Path, tmp_path: Path) -> None:
    """Over a real build (archive pages stored gzip), `serve --from` answers each feed's and page's view as `serve`."""
    write_corpus(content_dir, 7)
    settings = make_settings(content_dir, feeds={"archive_size": 3})
    builder = start_builder(settings, tmp_path / "out", watch=False)
    try:
        serve = create_app(builder.refresher.store).test_client()
        served = Store()
        served.replace(read_build(tmp_path / "out"))
        serve_from = create_app(served).test_client()
        paths = [f"/feeds/all.{fmt.value}" for fmt in Format]
        paths += [f"/feeds/all/archive/{n}.{fmt.value}" for n in (1, 2, 3) for fmt in Format]
        for path in paths:
            for headers in ({"Accept": BROWSER_ACCEPT}, {"Accept": BROWSER_ACCEPT, "Accept-Encoding": "gzip"}):
                ours, theirs = serve.get(path, headers=headers), serve_from.get(path, headers=headers)
                assert ours.status_code == theirs.status_code == 200, path
                assert ours.headers["Content-Type"] == VIEW_TYPE
                assert ours.get_data() == theirs.get_data(), path
                for name in ("ETag", "Cache-Control", "Vary", "Last-Modified", "Content-Encoding"):
                    assert ours.headers.get(name) == theirs.headers.get(name), (path, name)
    finally:
        builder.stop()


def test_a_kept_view_follows_its_feeds_completeness(site: Refresher) -> None:
    """The same bytes complete or not (a JSON archive page) give a view cached as the page is, and use keeps a view."""
    views = FeedViews()
    path = "feeds/all/archive/1.json"
    body = site.store.snapshot.documents[feed_path("all", Format.JSON)].body
    complete = views.document(path, make_document(body, Format.JSON.media_type, immutable=True))
    newest = views.document(path, make_document(body, Format.JSON.media_type))
    assert complete is not None
    assert newest is not None
    assert (complete.immutable, newest.immutable, complete.etag) == (True, False, newest.etag)
    assert views.made == 2

    documents = site.store.snapshot.documents
    first, second, third = (feed_path("all", fmt) for fmt in Format)
    bounded = FeedViews()
    kept = bounded.document(first, documents[first])
    assert kept is not None
    bounded.max_bytes = len(kept.body) * 5 // 2  # room for two views of about this size
    bounded.document(second, documents[second])
    assert bounded.document(first, documents[first]) is kept  # used last: the second goes first
    bounded.document(third, documents[third])
    assert bounded.document(first, documents[first]) is kept
    assert bounded.made == 3
    bounded.document(second, documents[second])  # gone: made again
    assert bounded.made == 4
    assert bounded.held_bytes <= bounded.max_bytes


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    title=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")), max_size=40),
    fmt=st.sampled_from(XML),
)
def test_any_title_is_shown_as_text_and_makes_no_element(title: str, fmt: Format) -> None:
    """Whatever a title holds (markup, quotes, entities), the view shows it as text, as the stylesheet would."""
    if fmt is Format.RSS:
        root = ET.Element("rss", version="2.0")
        channel = ET.SubElement(root, "channel")
        ET.SubElement(channel, "title").text = title
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = title
        ET.SubElement(item, "description").text = title
    else:
        root = ET.Element(f"{ATOM}feed")
        ET.SubElement(root, f"{ATOM}title").text = title
        entry = ET.SubElement(root, f"{ATOM}entry")
        ET.SubElement(entry, f"{ATOM}title").text = title
        ET.SubElement(entry, f"{ATOM}summary").text = title
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    view = view_document(f"feeds/x.{fmt.value}", make_document(body, fmt.media_type))
    assert view is not None
    soup = page(view.body)
    ours, theirs = shown(soup), shown(transform(body))
    assert (ours["h1"], ours["entries"]) == (theirs["h1"], theirs["entries"])
    names = {tag.name for tag in soup.body.find_all(True)}
    assert names <= {"header", "p", "h1", "main", "section", "h2", "ol", "li", "article", "h3", "time", "footer", "a"}
    assert [a["href"] for a in soup.body.find_all("a")] == ["../"]  # All feeds: the feed names no link
    assert soup.find("script") is None
