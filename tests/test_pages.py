"""The pages around the feeds: the OPML subscription list and the HTML index with autodiscovery links."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from lxml import etree

from feedsvc.config import Settings
from feedsvc.feeds.catalog import Catalog, build_catalog
from feedsvc.feeds.listing import FORMAT_NAMES, render_index, render_opml
from feedsvc.model import INDEX_PATH, OPML_PATH, Article, Format
from feedsvc.parse.articles import parse_article
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from tests.conftest import NOW, Clock, make_settings
from tests.corpus import write_article, write_corpus

HOSTILE = "<script>alert(1)</script>"
HOSTILE_TITLE = "<img src=x onerror=alert(2)> & \"quotes\" 'too'"
MEDIA_TYPES = {
    Format.RSS: "application/rss+xml",
    Format.ATOM: "application/atom+xml",
    Format.JSON: "application/feed+json",
}
CATEGORIES = {
    "金融": {"slug": "finance", "title": "Finance", "description": "Money news"},
    "空": {"slug": "empty"},
}


def catalog_of(content_dir: Path, settings: Settings) -> Catalog:
    """Parse every article under the directory and choose the feeds at NOW."""
    articles = []
    for path in sorted(content_dir.rglob("*.md")):
        result = parse_article(
            path.read_bytes(), source=path.relative_to(content_dir).as_posix(), mtime=0, settings=settings
        )
        assert isinstance(result, Article), result
        articles.append(result)
    return build_catalog(articles, settings, NOW)


def latest_update(catalog: Catalog) -> datetime | None:
    """Return the latest `updated` over every feed, as the refresh passes it to render_opml."""
    return max((feed.updated for feed in catalog.feeds if feed.updated is not None), default=None)


@pytest.fixture
def site(content_dir: Path) -> tuple[Settings, Catalog]:
    """Settings and a catalog: a configured category, an empty one, an auto one with a hostile name."""
    write_article(
        content_dir,
        "a.md",
        {"title": "Older", "categories": ["金融"], "date": "2026-11-01T08:00:00Z", "updated": "2026-11-20T00:00:00Z"},
    )
    write_article(
        content_dir, "b.md", {"title": "Newer", "categories": ["金融", HOSTILE], "date": "2026-11-02T08:00:00Z"}
    )
    write_article(
        content_dir, "c.md", {"title": HOSTILE_TITLE, "categories": [HOSTILE], "date": "2026-11-03T08:00:00Z"}
    )
    settings = make_settings(content_dir, categories=CATEGORIES)
    return settings, catalog_of(content_dir, settings)


def parse_opml(data: bytes) -> ET.Element:
    """Parse OPML bytes with ElementTree and check the OPML 2.0 skeleton."""
    root = ET.fromstring(data)  # noqa: S314 - the document is our own output, parsed to check it
    assert root.tag == "opml"
    assert root.get("version") == "2.0"
    assert root.find("head") is not None
    assert root.find("body") is not None
    return root


def soup_of(data: bytes) -> BeautifulSoup:
    """Parse the index page."""
    return BeautifulSoup(data.decode("utf-8"), "html.parser")


# --- OPML ---------------------------------------------------------------------


def test_opml_is_opml_2_with_a_title(site: tuple[Settings, Catalog]) -> None:
    """The OPML parses with ElementTree as OPML 2.0 with the site's title in its head."""
    settings, catalog = site
    root = parse_opml(render_opml(catalog.feeds, settings, latest_update(catalog)))
    assert root.findtext("head/title") == "测试站 – feeds"


def test_opml_has_one_outline_per_feed_and_format_grouped_by_format(site: tuple[Settings, Catalog]) -> None:
    """The OPML body groups outlines by format, each group holding one outline per feed in catalog order."""
    settings, catalog = site
    root = parse_opml(render_opml(catalog.feeds, settings, latest_update(catalog)))
    groups = root.findall("body/outline")
    assert [g.get("text") for g in groups] == [FORMAT_NAMES[fmt] for fmt in Format]
    assert len(root.findall("body/outline/outline")) == len(catalog.feeds) * len(Format)
    for group, fmt in zip(groups, Format, strict=True):
        urls = [o.get("xmlUrl") for o in group.findall("outline")]
        assert urls == [f"http://127.0.0.1:8080/feeds/{feed.spec.slug}.{fmt.value}" for feed in catalog.feeds]


def test_opml_outlines_carry_text_title_type_and_absolute_urls(site: tuple[Settings, Catalog]) -> None:
    """Every feed outline has text and title (the feed title), type="rss", an absolute xmlUrl and an htmlUrl."""
    settings, catalog = site
    root = parse_opml(render_opml(catalog.feeds, settings, latest_update(catalog)))
    titles = [feed.spec.title for feed in catalog.feeds]
    groups = root.findall("body/outline")
    assert len(titles) > 1
    assert len(groups) == len(Format)
    for group in groups:
        outlines = group.findall("outline")
        assert [o.get("text") for o in outlines] == titles
        assert [o.get("title") for o in outlines] == titles
        for outline in outlines:
            assert outline.get("type") == "rss"
            xml_url = outline.get("xmlUrl", "")
            assert xml_url.startswith(settings.feed_url + "feeds/")
            assert urlsplit(xml_url).scheme in ("http", "https")
            assert urlsplit(xml_url).hostname
            html_url = outline.get("htmlUrl", "")
            assert urlsplit(html_url).scheme in ("http", "https")
            assert urlsplit(html_url).hostname


def test_opml_xml_urls_follow_site_feed_url(content_dir: Path) -> None:
    """OPML xmlUrls live under site.feed_url, whatever host and path it names."""
    write_article(content_dir, "a.md", {"title": "A", "categories": ["金融"], "date": "2026-01-01"})
    settings = make_settings(content_dir, site={"feed_url": "https://feeds.example.org/svc"}, categories=CATEGORIES)
    catalog = catalog_of(content_dir, settings)
    root = parse_opml(render_opml(catalog.feeds, settings, latest_update(catalog)))
    urls = {o.get("xmlUrl") for o in root.findall("body/outline/outline")}
    assert "https://feeds.example.org/svc/feeds/finance.atom" in urls
    assert all(url.startswith("https://feeds.example.org/svc/feeds/") for url in urls)


def test_opml_date_modified_is_the_latest_update(site: tuple[Settings, Catalog]) -> None:
    """The OPML dateModified is the latest entry update (RFC 822), and is left out when there is none."""
    settings, catalog = site
    root = parse_opml(render_opml(catalog.feeds, settings, latest_update(catalog)))
    assert parsedate_to_datetime(root.findtext("head/dateModified") or "") == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_opml(render_opml(catalog.feeds, settings, None)).find("head/dateModified") is None


def test_opml_keeps_hostile_names_as_text(site: tuple[Settings, Catalog]) -> None:
    """Markup in a category name stays text in the OPML: escaped in the bytes, intact once parsed."""
    settings, catalog = site
    data = render_opml(catalog.feeds, settings, latest_update(catalog))
    assert b"<script>" not in data
    titles = {o.get("title") for o in parse_opml(data).findall("body/outline/outline")}
    assert f"测试站 - {HOSTILE}" in titles


def test_opml_without_feeds_is_still_valid(content_dir: Path) -> None:
    """With no feeds at all the OPML is still OPML 2.0, with empty format groups."""
    settings = make_settings(content_dir, feeds={"all": False})
    root = parse_opml(render_opml((), settings, None))
    assert len(root.findall("body/outline")) == len(Format)
    assert root.findall("body/outline/outline") == []


# --- the index page ---------------------------------------------------------------


def test_index_lists_every_feed_with_title_count_newest_and_subscribe_links(site: tuple[Settings, Catalog]) -> None:
    """The index has one entry per feed with its title, article count, newest article and a link per format."""
    settings, catalog = site
    soup = soup_of(render_index(catalog.feeds, settings))
    entries = soup.select("li.feed")
    assert len(catalog.feeds) > 1
    assert [li.get("id") for li in entries] == [feed.spec.slug for feed in catalog.feeds]
    for li, feed in zip(entries, catalog.feeds, strict=True):
        text = li.get_text(" ")
        assert li.find("h3").get_text() == feed.spec.title
        plural = "article" if feed.total == 1 else "articles"
        assert re.search(rf"\b{feed.total} {plural}\b", text), text
        links = li.select("p.subscribe a")
        assert [(a["href"], a["type"]) for a in links] == [
            (f"feeds/{feed.spec.slug}.{fmt.value}", MEDIA_TYPES[fmt]) for fmt in Format
        ]
        assert [a.get_text() for a in links] == [FORMAT_NAMES[fmt] for fmt in Format]
        newest = li.select("p.newest a")
        if feed.articles:
            assert [(a.get_text(), a["href"]) for a in newest] == [(feed.articles[0].title, feed.articles[0].link)]
            local = feed.articles[0].published.astimezone(settings.timezone)
            assert local.strftime("%Y-%m-%d %H:%M +08:00") in text
        else:
            assert newest == []
    counts = {li.get("id"): li.get_text(" ") for li in entries}
    assert "3 articles" in counts["all"]
    assert "2 articles" in counts["finance"]
    assert "0 articles" in counts["empty"]
    assert "Newer" in counts["finance"]


def test_index_count_is_the_category_size_not_the_feed_limit(content_dir: Path) -> None:
    """The article count on the index is the number of articles in the category, not the feed's limit."""
    write_corpus(content_dir, 30)
    settings = make_settings(content_dir, feeds={"limit": 5})
    catalog = catalog_of(content_dir, settings)
    soup = soup_of(render_index(catalog.feeds, settings))
    assert "30 articles" in soup.select_one("li#all").get_text(" ")


def test_index_has_one_autodiscovery_link_per_feed_and_format(site: tuple[Settings, Catalog]) -> None:
    """The index head has one <link rel="alternate"> per feed and format, with the format's media type."""
    settings, catalog = site
    soup = soup_of(render_index(catalog.feeds, settings))
    links = soup.head.find_all("link", rel="alternate")
    expected = [(MEDIA_TYPES[fmt], f"feeds/{f.spec.slug}.{fmt.value}") for f in catalog.feeds for fmt in Format]
    assert [(link["type"], link["href"]) for link in links] == expected
    titles = [link["title"] for link in links]
    assert titles == [f"{f.spec.title} ({FORMAT_NAMES[fmt]})" for f in catalog.feeds for fmt in Format]


def test_index_escapes_hostile_names_and_titles(site: tuple[Settings, Catalog]) -> None:
    """Markup in category names, feed descriptions and article titles is shown as text, never as elements."""
    settings, catalog = site
    data = render_index(catalog.feeds, settings)
    assert data.count(b"<script") == 1  # feedsvc's own, which fills in the subscribers from stats.json
    assert b"<img" not in data
    soup = soup_of(data)
    scripts = soup.find_all("script")
    assert len(scripts) == 1
    assert 'fetch("stats.json")' in scripts[0].get_text()
    assert HOSTILE not in scripts[0].get_text()
    assert soup.find("img") is None
    assert all(not name.startswith("on") for tag in soup.find_all(True) for name in tag.attrs)
    text = soup.get_text()
    assert f"测试站 - {HOSTILE}" in text
    assert HOSTILE_TITLE in text


def test_index_title_and_language_come_from_the_site(content_dir: Path) -> None:
    """The index page's title, heading and lang attribute come from site.title and site.language."""
    settings = make_settings(content_dir, site={"title": "My <Site>", "language": "zh-CN"})
    soup = soup_of(render_index((), settings))
    assert soup.html["lang"] == "zh-CN"
    assert soup.title.get_text() == "My <Site> – feeds"
    assert soup.h1.get_text() == "My <Site>"


@pytest.mark.parametrize("path", [INDEX_PATH, OPML_PATH])
def test_pages_strip_characters_xml_forbids(content_dir: Path, path: str) -> None:
    """Control characters in configured titles never reach the index or the OPML, which stays well-formed."""
    bad = "\x01\x0b\ufffe"
    write_article(content_dir, "a.md", {"title": "A", "categories": ["金融"], "date": "2026-01-01"})
    settings = make_settings(
        content_dir,
        site={"title": f"S{bad}ite"},
        categories={"金融": {"slug": "finance", "title": f"F{bad}in", "description": f"D{bad}esc"}},
    )
    store = Store()
    Refresher(settings, store, clock=Clock()).refresh()
    data = store.snapshot.documents[path].body
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", data.decode("utf-8"))
    if path == OPML_PATH:
        etree.fromstring(data, etree.XMLParser(recover=False, resolve_entities=False, no_network=True))
        assert "Site - Fin" in {o.get("title") for o in parse_opml(data).findall("body/outline/outline")}
    else:
        assert "Site - Fin" in soup_of(data).get_text()


def test_pages_are_deterministic_and_served_as_rendered(site: tuple[Settings, Catalog], content_dir: Path) -> None:
    """The same catalog renders identical page bytes, and the refresh serves exactly those bytes."""
    settings, catalog = site
    index = render_index(catalog.feeds, settings)
    opml = render_opml(catalog.feeds, settings, latest_update(catalog))
    assert render_index(catalog.feeds, settings) == index
    assert render_opml(catalog.feeds, settings, latest_update(catalog)) == opml
    store = Store()
    Refresher(settings, store, clock=Clock()).refresh()
    documents: dict[str, Any] = dict(store.snapshot.documents)
    assert documents[INDEX_PATH].body == index
    assert documents[OPML_PATH].body == opml
    assert documents[INDEX_PATH].media_type == "text/html; charset=utf-8"
    assert documents[OPML_PATH].media_type.startswith("text/x-opml")
