"""A feed opened in a browser is a page: RSS and Atom name an XSLT stylesheet, served beside the feeds.

Fast tests check the processing instruction, the stylesheet document and what lxml's
XSLT makes of real RSS and Atom output (for static hosting, and browsers that still
apply it); the slow ones start `feedsvc serve` and load the index and feeds in headless
Chromium with XSLT turned off, where a browser gets each feed's HTML view
(tests/test_views.py), and take the screenshots under docs/ (set
FEEDSVC_SCREENSHOTS to a directory to keep them: see `test_screenshots_of_the_bundled_examples`).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import signal
import struct
import subprocess
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import pytest
from bs4 import BeautifulSoup
from flask.testing import FlaskClient
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

from feedsvc.builddir.manifest import read_build, write_build
from feedsvc.config import Settings
from feedsvc.feeds.listing import FEED_STYLESHEET
from feedsvc.http.app import create_app
from feedsvc.model import STYLESHEET_PATH, Format, feed_path, make_document
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from tests.conftest import ROOT, Clock, make_settings
from tests.corpus import write_article, write_corpus
from tests.test_server import BIN, _config, _free_port, _get, _running

XSL_TYPE = "text/xsl; charset=utf-8"
PI = b'<?xml-stylesheet href="../feed.xsl" type="text/xsl"?>'
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CATEGORIES = {"金融": {"slug": "finance", "description": "金融新闻与市场"}, "空": {"slug": "empty"}}
HOSTILE_TITLE = "<img src=x onerror=alert(2)> & <script>alert(1)</script>"
XML = [Format.RSS, Format.ATOM]
OTHER_FORMATS = {Format.RSS: ["finance.atom", "finance.json"], Format.ATOM: ["finance.rss", "finance.json"]}


@pytest.fixture
def site(content_dir: Path, store: Store, clock: Clock) -> Refresher:
    """A Chinese and an English article in 金融 (one with a thumbnail), a hostile title, an empty category."""
    write_article(
        content_dir,
        "2026/a.md",
        {
            "title": "央行下调存款准备金率",
            "categories": ["金融"],
            "author": "新华社",
            "date": "2026-11-01T08:00:00Z",
            "thumbnail": "https://img.example.com/a.jpg",
        },
        "<p>中国人民银行决定下调金融机构存款准备金率 0.5 个百分点。</p>",
    )
    write_article(
        content_dir,
        "2026/b.md",
        {"title": "Markets rally", "categories": ["金融"], "date": "2026-11-02T09:30:00Z"},
        "<p>Stocks rose for a third day.</p>",
    )
    write_article(content_dir, "2026/c.md", {"title": HOSTILE_TITLE, "date": "2026-11-03T10:00:00Z"})
    refresher = Refresher(site_settings(content_dir), store, clock=clock)
    refresher.refresh()
    return refresher


def site_settings(content_dir: Path) -> Settings:
    """The settings of the test site: in Chinese, with two configured categories."""
    return make_settings(content_dir, site={"language": "zh-CN"}, categories=CATEGORIES)


def body(store: Store, path: str) -> bytes:
    """Return the bytes of a document in the store."""
    return store.snapshot.documents[path].body


def transform(feed: bytes) -> BeautifulSoup:
    """Apply the stylesheet to a feed with lxml's XSLT (libxslt, as Chromium and Safari) and parse the page."""
    stylesheet = etree.XSLT(etree.fromstring(FEED_STYLESHEET))
    page = str(stylesheet(etree.fromstring(feed)))
    return BeautifulSoup(page, "html.parser")


# --- the processing instruction -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", XML)
def test_rss_and_atom_name_the_stylesheet_after_the_declaration(site: Refresher, fmt: Format) -> None:
    """RSS and Atom carry `<?xml-stylesheet?>` between the XML declaration and the root; JSON Feed has none."""
    data = body(site.store, feed_path("finance", fmt))
    lines = data.split(b"\n")
    assert lines[0] == b"<?xml version='1.0' encoding='UTF-8'?>"
    assert lines[1] == PI
    assert lines[2].startswith(b"<rss " if fmt is Format.RSS else b"<feed ")
    root = etree.fromstring(data)
    instruction = root.getprevious()
    assert isinstance(instruction, etree._ProcessingInstruction)
    assert instruction.target == "xml-stylesheet"
    assert instruction.get("type") == "text/xsl"
    # Relative to the feed's own URL, it names the stylesheet at the service's root.
    self_url = feed_url_of(data)
    assert urljoin(self_url, instruction.get("href")) == site.settings.feed_url + STYLESHEET_PATH
    assert b"xml-stylesheet" not in body(site.store, feed_path("finance", Format.JSON))


def feed_url_of(data: bytes) -> str:
    """Return the self link of an RSS or Atom feed."""
    root = etree.fromstring(data)
    links = root.xpath("//*[local-name() = 'link'][@rel = 'self']/@href")
    assert len(links) == 1
    return str(links[0])


@pytest.mark.parametrize("fmt", XML)
def test_feed_readers_still_read_the_feeds(site: Refresher, fmt: Format) -> None:
    """feedparser reads the feeds with the instruction as before: well-formed, every entry there."""
    parsed = feedparser.parse(body(site.store, feed_path("finance", fmt)))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [e.title for e in parsed.entries] == ["Markets rally", "央行下调存款准备金率"]


def test_feeds_stay_byte_identical_across_rebuilds(site: Refresher, content_dir: Path) -> None:
    """Another refresher over the same content renders the same feed and stylesheet bytes."""
    store = Store()
    Refresher(site_settings(content_dir), store, clock=Clock()).refresh()
    for path in [*(feed_path("finance", fmt) for fmt in Format), STYLESHEET_PATH]:
        assert body(store, path) == body(site.store, path), path


# --- the stylesheet document ---------------------------------------------------------------------


def test_the_stylesheet_is_a_snapshot_document_kept_across_refreshes(site: Refresher, content_dir: Path) -> None:
    """The stylesheet is in every snapshot with its media type, and is never rendered again."""
    document = site.store.snapshot.documents[STYLESHEET_PATH]
    assert document.body == FEED_STYLESHEET
    assert document.body == (ROOT / "feedsvc" / "templates" / "feed.xsl").read_bytes()
    assert document.media_type == XSL_TYPE
    assert document.etag == make_document(FEED_STYLESHEET, XSL_TYPE).etag
    write_article(content_dir, "2026/d.md", {"title": "D", "categories": ["金融"], "date": "2026-11-04"})
    report = site.refresh()
    assert STYLESHEET_PATH not in report.rebuilt
    assert report.snapshot.documents[STYLESHEET_PATH] is document


def test_the_stylesheet_is_served_with_its_media_type_and_validators(site: Refresher, client: FlaskClient) -> None:
    """`/feed.xsl` answers with text/xsl, a strong ETag, Cache-Control, 304, gzip and HEAD, and is counted."""
    response = client.get("/feed.xsl")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == XSL_TYPE
    assert response.get_data() == FEED_STYLESHEET
    etag = response.headers["ETag"]
    assert etag == make_document(FEED_STYLESHEET, XSL_TYPE).etag
    assert response.headers["Cache-Control"] == f"public, max-age={site.settings.interval_seconds}"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert client.get("/feed.xsl", headers={"If-None-Match": etag}).status_code == 304
    # A browser's Accept changes nothing: the stylesheet keeps its own type.
    assert client.get("/feed.xsl", headers={"Accept": BROWSER_ACCEPT}).headers["Content-Type"] == XSL_TYPE
    zipped = client.get("/feed.xsl", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == FEED_STYLESHEET
    head = client.head("/feed.xsl")
    assert head.status_code == 200
    assert head.get_data() == b""
    assert head.headers["Content-Length"] == str(len(FEED_STYLESHEET))
    counts = {
        (sample.labels["route"], sample.labels["format"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
        for sample in family.samples
        if sample.name == "feedsvc_http_requests_total"
    }
    assert counts[("stylesheet", "xsl", "200")] == 4
    assert counts[("stylesheet", "xsl", "304")] == 1


def test_the_stylesheet_answers_503_before_the_first_refresh(client: FlaskClient) -> None:
    """Like the index, the stylesheet is not there before the first refresh: 503 with Retry-After."""
    response = client.get("/feed.xsl")
    assert response.status_code == 503
    assert "Retry-After" in response.headers


def test_a_build_directory_holds_the_stylesheet_where_feeds_point(site: Refresher, tmp_path: Path) -> None:
    """`build --out` writes feed.xsl at the top, where `../feed.xsl` from feeds/ leads; `serve --from` serves it."""
    out = tmp_path / "out"
    write_build(site.store.snapshot, out)
    assert (out / "feeds" / ".." / STYLESHEET_PATH).read_bytes() == FEED_STYLESHEET
    served = Store()
    served.replace(read_build(out))
    response = create_app(served).test_client().get("/feed.xsl")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == XSL_TYPE
    assert response.get_data() == FEED_STYLESHEET


# --- what the stylesheet makes of a feed (lxml's XSLT, no browser) ---------------------------------


def test_the_stylesheet_is_xslt_1_with_no_script_and_no_external_resources() -> None:
    """XSLT 1.0 (what browsers run), output as HTML; no script, no stylesheet or font to fetch, no imports."""
    root = etree.fromstring(FEED_STYLESHEET)
    assert root.get("version") == "1.0"
    xsl = "{http://www.w3.org/1999/XSL/Transform}"
    assert root.find(f"{xsl}output").get("method") == "html"
    assert root.find(f"{xsl}import") is None
    assert root.find(f"{xsl}include") is None
    assert not root.xpath("//*[local-name() = 'script' or local-name() = 'link' or local-name() = 'iframe']")
    assert b"url(" not in FEED_STYLESHEET
    assert b"@import" not in FEED_STYLESHEET
    assert b"document(" not in FEED_STYLESHEET


@pytest.mark.parametrize("fmt", XML)
def test_a_feed_becomes_a_page_that_explains_how_to_subscribe(site: Refresher, fmt: Format) -> None:
    """Title, description, the subscribe explanation with the feed URL, the other formats and the site."""
    data = body(site.store, feed_path("finance", fmt))
    page = transform(data)
    settings: Settings = site.settings
    assert page.html["lang"] == "zh-CN"
    assert page.find("meta", attrs={"name": "viewport"})["content"] == "width=device-width, initial-scale=1"
    assert page.title.get_text() == "测试站 - 金融 – feed"
    assert page.h1.get_text() == "测试站 - 金融"
    assert "金融新闻与市场" in page.header.get_text()
    assert page.select_one("p.kind").get_text() == ("RSS 2.0 feed" if fmt is Format.RSS else "Atom 1.0 feed")
    about = page.select_one("section.about")
    assert about.h2.get_text() == "This is a feed"
    assert "Copy its URL into your feed reader to subscribe" in about.get_text()
    assert about.select_one("code.url").get_text() == f"{settings.feed_url}feeds/finance.{fmt.value}"
    assert [a["href"] for a in about.select("p.formats a")] == OTHER_FORMATS[fmt]
    assert about.select_one("p.formats strong").get_text() == ("RSS 2.0" if fmt is Format.RSS else "Atom 1.0")
    assert about.find("a", string="All feeds")["href"] == "../"
    assert about.find("a", string="Visit the site")["href"] == settings.site_link
    assert page.find("script") is None
    assert page.find("link") is None


@pytest.mark.parametrize("fmt", XML)
def test_an_archive_page_says_so_and_links_the_feed_and_the_pages_around_it(
    content_dir: Path, store: Store, clock: Clock, fmt: Format
) -> None:
    """An archive page shows the feed's URL to subscribe to, and links the newer page, the older one and the feed."""
    write_corpus(content_dir, 7)
    refresher = Refresher(make_settings(content_dir, feeds={"archive_size": 3}), store, clock=clock)
    refresher.refresh()
    assert store.snapshot.archives is not None
    settings: Settings = refresher.settings
    middle = store.snapshot.archives.document(f"feeds/all/archive/2.{fmt.value}")
    assert middle is not None
    page = transform(middle.body)
    assert page.select_one("p.kind").get_text().endswith(" · archive page")
    about = page.select_one("section.about")
    assert "This page holds older articles of the feed" in about.get_text()
    assert about.select_one("code.url").get_text() == f"{settings.feed_url}feeds/all.{fmt.value}"
    assert about.find("a", string="All feeds")["href"] == "../../../"
    assert [(a.get_text(), a["href"]) for a in page.select("nav.history a")] == [
        ("Newer articles", f"{settings.feed_url}feeds/all/archive/3.{fmt.value}"),
        ("Older articles", f"{settings.feed_url}feeds/all/archive/1.{fmt.value}"),
        ("The feed (newest articles)", f"{settings.feed_url}feeds/all.{fmt.value}"),
    ]
    assert page.find("h2", string="Articles on this page (3)") is not None
    current = transform(body(store, feed_path("all", fmt)))
    assert [a.get_text() for a in current.select("nav.history a")] == ["Older articles"]


@pytest.mark.parametrize("fmt", XML)
def test_a_feed_page_lists_every_entry_with_link_date_summary_and_thumbnail(site: Refresher, fmt: Format) -> None:
    """One list item per entry, newest first: linked title, date, author, summary, thumbnail when there is one."""
    page = transform(body(site.store, feed_path("finance", fmt)))
    assert page.find("h2", string="Latest articles (2)") is not None
    items = page.select("ol > li")
    assert [li.h3.get_text() for li in items] == ["Markets rally", "央行下调存款准备金率"]
    english, chinese = items
    assert chinese.h3.a["href"].startswith(site.settings.site_link)
    assert chinese.time.get_text() == "2026-11-01 16:00 +08:00"  # in site.timezone
    assert english.time.get_text() == "2026-11-02 17:30 +08:00"
    assert "新华社" in chinese.select_one("p.meta").get_text()
    assert "中国人民银行决定下调金融机构存款准备金率" in chinese.select_one("p.summary").get_text()
    assert chinese.img["src"] == "https://img.example.com/a.jpg"
    assert chinese.img["alt"] == ""
    assert english.img is None


@pytest.mark.parametrize("fmt", XML)
def test_markup_in_titles_stays_text_on_the_page(site: Refresher, fmt: Format) -> None:
    """A title holding markup is shown as text: no element, no handler comes of it."""
    page = transform(body(site.store, feed_path("all", fmt)))
    assert HOSTILE_TITLE in [li.h3.get_text() for li in page.select("ol > li")]
    assert page.find("script") is None
    assert all(img["src"].startswith("https://") for img in page.find_all("img"))
    assert all(not name.startswith("on") for tag in page.find_all(True) for name in tag.attrs)


@pytest.mark.parametrize("fmt", XML)
def test_an_empty_feed_says_so(site: Refresher, fmt: Format) -> None:
    """A feed without entries still explains how to subscribe, and says there are no articles yet."""
    page = transform(body(site.store, feed_path("empty", fmt)))
    assert page.select_one("code.url").get_text().endswith(f"/feeds/empty.{fmt.value}")
    assert page.find("ol") is None
    assert "No articles yet." in page.get_text()


HANDMADE_RSS = b"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:atom="http://www.w3.org/2005/Atom" version="2.0"><channel>
<title>T</title><link>javascript:alert(1)</link><description>D</description>
<atom:link href="https://hub.example.com/" rel="hub"/>
<atom:link href="https://feeds.example.org/x/feeds/a-b.c.rss" rel="self" type="application/rss+xml"/>
<item><title>East</title><link>javascript:alert(2)</link><pubDate>Tue, 03 Feb 2026 09:05:00 +0800</pubDate></item>
<item><title>Odd date</title><link>http://example.com/o</link><pubDate>yesterday</pubDate></item>
</channel></rss>"""
HANDMADE_ATOM = b"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>x</id><updated>2026-02-03T09:05:00Z</updated>
<author><name>Feed author</name></author>
<entry><title>West</title><id>w</id><link href="https://example.com/w"/><link rel="enclosure" href="https://e/x.mp3"/>
<updated>2026-02-04T00:00:00Z</updated><published>2026-02-03T09:05:00.500-05:00</published></entry>
<entry><title>Zulu</title><id>z</id><updated>2026-02-03T09:05:00Z</updated></entry>
</feed>"""


def test_dates_zones_unsafe_links_and_missing_parts() -> None:
    """Offsets other than UTC are kept, odd dates shown as given; only http(s) URLs become links."""
    rss = transform(HANDMADE_RSS)
    assert rss.select_one("code.url").get_text() == "https://feeds.example.org/x/feeds/a-b.c.rss"  # not the hub
    assert [a["href"] for a in rss.select("p.formats a")] == ["a-b.c.atom", "a-b.c.json"]
    assert rss.find("a", string="Visit the site") is None
    assert all(not a["href"].startswith("javascript") for a in rss.find_all("a"))
    assert [t.get_text() for t in rss.find_all("time")] == ["2026-02-03 09:05 +08:00", "yesterday"]
    assert rss.select("ol > li")[0].h3.get_text() == "East"
    atom = transform(HANDMADE_ATOM)
    assert atom.select_one("code.url") is None  # no self link: nothing to copy, no other formats to name
    assert atom.select_one("p.formats") is None
    west, zulu = atom.select("ol > li")
    assert west.h3.a["href"] == "https://example.com/w"  # the alternate link, not the enclosure
    assert west.time.get_text() == "2026-02-03 09:05 -05:00"  # published, not updated
    assert zulu.time.get_text() == "2026-02-03 09:05 UTC"
    assert zulu.h3.a is None
    assert "Feed author" in zulu.select_one("p.meta").get_text()


# --- the index page -----------------------------------------------------------------------------


def test_the_index_is_a_phone_sized_page_linking_the_site(site: Refresher) -> None:
    """The index has the viewport meta and no fixed widths, links to the site, and labels each newest article."""
    data = body(site.store, "index.html")
    page = BeautifulSoup(data.decode("utf-8"), "html.parser")
    assert page.find("meta", attrs={"name": "viewport"})["content"] == "width=device-width, initial-scale=1"
    assert page.find("a", href=site.settings.site_link) is not None
    finance = page.select_one("li#finance")
    assert "金融新闻与市场" in finance.get_text()
    # Shown in site.timezone (Asia/Shanghai); the machine-readable value stays UTC.
    newest = " ".join(finance.select_one("p.newest").stripped_strings)
    assert "Newest: Markets rally · 2026-11-02 17:30 +08:00" in newest
    assert finance.time["datetime"] == "2026-11-02T09:30:00+00:00"
    assert page.select_one("li#empty p.newest") is None
    style = page.style.get_text()
    assert "max-width:46rem" in style
    assert " width:" not in style
    assert ";width:" not in style
    assert "{width:" not in style


# --- in a real browser --------------------------------------------------------------------------


def _chromium() -> str | None:
    """Chromium or Chrome, as FEEDSVC_CHROMIUM names it or as found on PATH."""
    named = os.environ.get("FEEDSVC_CHROMIUM")
    if named:
        return shutil.which(named)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _chromium()
browser = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (Debian: apt-get install chromium)")


def chromium(tmp_path: Path, *arguments: str, timeout: float = 90) -> str:
    """Run headless Chromium once (a fresh profile, in a session of its own) and return what it printed.

    It may reach only 127.0.0.1: every other host name fails to resolve, so nothing
    goes out (thumbnails show as empty boxes) and nothing makes it wait.
    """
    assert CHROMIUM is not None
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # as root (CI containers) Chromium runs only without it; it loads only our own pages
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        *arguments,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # and whatever it left behind (crashpad, zygotes)
        process.wait(timeout=10)
    assert process.returncode == 0, err.decode("utf-8", "replace")[-2000:]
    return out.decode("utf-8")


def rendered_dom(tmp_path: Path, url: str, *switches: str) -> BeautifulSoup:
    """Load a URL in headless Chromium and return the DOM it ends with (after XSLT, where it applies)."""
    return BeautifulSoup(chromium(tmp_path, *switches, "--dump-dom", url), "html.parser")


def png_size(path: Path) -> tuple[int, int]:
    """Return the width and height of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# Chromium's switch that turns XSLT off (the base::Feature "XSLT"): what browsers do once it is removed.
NO_XSLT = "--disable-features=XSLT"


@pytest.mark.slow
@browser
def test_chromium_without_xslt_shows_the_index_and_feeds_as_pages(tmp_path: Path, content_dir: Path) -> None:
    """`feedsvc serve` in front of headless Chromium with XSLT turned off: the index, and each feed's HTML view."""
    write_corpus(content_dir, 6)
    write_article(
        content_dir,
        "news/rates.md",
        {"title": "央行宣布降息", "categories": ["金融"], "date": "2026-01-02T03:04:00Z"},
        "<p>一年期贷款市场报价利率下调十个基点。</p>",
    )
    port = _free_port()
    config = _config(tmp_path, content_dir, port)
    with _running([str(BIN / "feedsvc"), "serve", "--config", str(config), "--port", str(port)], port):
        base = f"http://127.0.0.1:{port}"
        # What Chromium asks with: the page for the feed, the stylesheet's own type.
        assert (
            _get(base + "/feeds/all.rss", {"Accept": BROWSER_ACCEPT})[1]["Content-Type"] == "text/html; charset=utf-8"
        )
        assert _get(base + "/feed.xsl")[1]["Content-Type"] == XSL_TYPE
        # The switch does turn XSLT off in this Chromium: no XSLTProcessor left for a page to use.
        probe = "data:text/html,<title>x</title><script>document.title=typeof XSLTProcessor</script>"
        assert BeautifulSoup(chromium(tmp_path, "--dump-dom", probe), "html.parser").title.get_text() == "function"
        assert BeautifulSoup(chromium(tmp_path, NO_XSLT, "--dump-dom", probe), "html.parser").title.get_text() == (
            "undefined"
        )

        index = rendered_dom(tmp_path, base + "/", NO_XSLT)
        assert index.h1.get_text() == "feedsvc"  # the config names no title: the default
        entry = index.select_one("li#jin-rong")
        assert entry is not None
        assert "央行宣布降息" in entry.get_text()
        assert [a.get_text() for a in entry.select("p.subscribe a")] == ["RSS 2.0", "Atom 1.0", "JSON Feed 1.1"]

        for fmt in Format:
            page = rendered_dom(tmp_path, f"{base}/feeds/all.{fmt.value}", NO_XSLT)
            assert page.find("rss") is None
            assert page.find("feed") is None
            assert page.find("xslt-warning-banner") is None
            assert page.h1.get_text() == "feedsvc"
            text = page.get_text(" ")
            assert "This is a feed" in text
            assert "Copy its URL into your feed reader to subscribe" in text
            assert page.select_one("code.url").get_text() == f"{base}/feeds/all.{fmt.value}"
            titles = [li.h3.get_text() for li in page.select("ol > li")]
            assert titles[0] == "央行宣布降息"
            assert len(titles) == 7
            assert all(li.h3.a["href"].startswith("https://www.example.com/") for li in page.select("ol > li"))
            assert "一年期贷款市场报价利率下调十个基点。" in text
            assert "2026-01-02 03:04 UTC" in text
            assert [a.get_text() for a in page.select("nav.history a")] == ["Older articles"]

            archive = rendered_dom(tmp_path, f"{base}/feeds/all/archive/1.{fmt.value}", NO_XSLT)  # 7 articles: one page
            text = archive.get_text(" ")
            assert "archive page" in archive.select_one("p.kind").get_text()
            assert "This page holds older articles of the feed" in text
            assert archive.select_one("code.url").get_text() == f"{base}/feeds/all.{fmt.value}"
            assert [li.h3.get_text() for li in archive.select("ol > li")] == titles
            assert [a.get_text() for a in archive.select("nav.history a")] == ["The feed (newest articles)"]

        # With XSLT still on, a browser gets the same page: nothing for Chromium to warn about.
        page = rendered_dom(tmp_path, f"{base}/feeds/all.atom")
        assert page.find("xslt-warning-banner") is None
        assert page.select_one("p.kind").get_text() == "Atom 1.0 feed"


@pytest.mark.slow
@browser
def test_screenshots_of_the_bundled_examples(tmp_path: Path) -> None:
    """Chromium shows the bundled examples: the index at a phone's width, a feed at a desktop's.

    With FEEDSVC_SCREENSHOTS=DIR the screenshots are kept there: `FEEDSVC_SCREENSHOTS=docs
    python -m pytest tests/test_browser.py -k screenshots` remakes docs/index.png and docs/feed.png
    (a CJK font must be installed for the Chinese text: Debian's fonts-noto-cjk).
    """
    port = _free_port()
    config = ROOT / "config" / "feedsvc.yaml"
    command = [str(BIN / "feedsvc"), "serve", "--config", str(config), "--port", str(port)]
    with _running(command, port):
        base = f"http://127.0.0.1:{port}"
        index = rendered_dom(tmp_path, base + "/")
        assert index.h1.get_text() == "证券时报网"
        assert index.select_one("li#finance h3").get_text() == "证券时报网 - 金融"
        assert "金融新闻" in index.select_one("li#finance").get_text()
        feed = rendered_dom(tmp_path, base + "/feeds/all.rss")
        assert feed.h1.get_text() == "证券时报网"
        assert "一周市场回顾：A股震荡上行，成交额连续放大" in feed.get_text()
        assert feed.select_one("code.url").get_text() == f"{base}/feeds/all.rss"  # where it serves: no feed_url set

        # The feed is its HTML view (Chromium's XSLT banner, over pages made by XSLT, has nothing to cover).
        shots = {
            "index.png": ("/", "390,844", "2", (780, 1688)),
            "feed.png": ("/feeds/all.rss", "1280,960", "1", (1280, 960)),
        }
        for name, (path, window, scale, size) in shots.items():
            chromium(
                tmp_path,
                f"--window-size={window}",
                f"--force-device-scale-factor={scale}",
                f"--screenshot={tmp_path / name}",
                base + path,
            )
            assert png_size(tmp_path / name) == size
    keep = os.environ.get("FEEDSVC_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in shots:
            shutil.copyfile(tmp_path / name, Path(keep) / name)
