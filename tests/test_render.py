"""Rendered feeds: RSS 2.0 and Atom 1.0 read back with feedparser and lxml, JSON Feed checked against its schema."""

from __future__ import annotations

import calendar
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import jsonschema
import pytest
from bs4 import BeautifulSoup
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from feedsvc.config import Settings
from feedsvc.feeds.archives import page_count
from feedsvc.feeds.catalog import Catalog, build_catalog
from feedsvc.feeds.render import EMPTY_FEED_DATE, atom_id, feed_url, image_type, json_document, render_feed
from feedsvc.model import Article, ArticleContent, Format, Paging, Snapshot, feed_path
from feedsvc.parse.articles import parse_file
from feedsvc.parse.body import render_content
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from tests.conftest import JSON_FEED, JSON_FEED_SCHEMA, NOW, Clock, make_settings
from tests.corpus import write_article, write_corpus

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "media": "http://search.yahoo.com/mrss/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
}
XML_FORMATS = (Format.RSS, Format.ATOM)
CATEGORIES = {
    "金融": {"slug": "finance"},
    "要闻": {"slug": "headlines", "aliases": ["头条"]},
    "空": {"slug": "empty", "description": "a configured category without articles"},
}
FORBIDDEN_TAGS = ("script", "style", "iframe", "object", "embed", "form", "input", "button", "base", "meta", "link")
# Characters XML 1.0 forbids (tab, newline and carriage return are allowed).
XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
HOSTILE_BODY = """<div>
<p onclick="steal()" onmouseover="steal()">Kept <strong>bold</strong> and <em>emphasis</em>.</p>
<script>alert(1)</script><style>p{color:red}</style>
<iframe src="https://evil.example.net/"></iframe>
<object data="x.swf"></object><embed src="x.swf">
<form action="/login"><input name="password"><button>go</button></form>
<a href="javascript:alert(1)">js</a> <a href="JaVaScRiPt:alert(2)">js2</a> <a href="vbscript:msgbox(1)">vb</a>
<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>
<img src="x.png" onerror="steal()">
<table><tr><td>cell</td></tr></table><ul><li>item</li></ol>
</div>"""


# --- helpers ---------------------------------------------------------------


def build(content_dir: Path, *, clock: Clock | None = None, **sections: dict[str, Any]) -> Snapshot:
    """Refresh once over the content directory and return the snapshot."""
    store = Store()
    Refresher(make_settings(content_dir, **sections), store, clock=clock or Clock()).refresh()
    return store.snapshot


def body(snapshot: Snapshot, slug: str, fmt: Format) -> bytes:
    """Return the bytes of one feed in a snapshot."""
    return snapshot.documents[feed_path(slug, fmt)].body


def read_feed(data: bytes) -> feedparser.FeedParserDict:
    """Parse a feed with feedparser, failing on anything it found ill-formed."""
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def strict_xml(data: bytes) -> etree._Element:
    """Parse raw bytes with lxml's strict parser (no recovery, no entities, no network)."""
    parser = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)
    return etree.fromstring(data, parser)


def read_json(data: bytes) -> dict[str, Any]:
    """Parse a JSON feed and validate it against the JSON Feed 1.1 schema."""
    document = json.loads(data.decode("utf-8"))
    JSON_FEED.validate(document)
    return document


def instant(parsed: Any) -> datetime:
    """Turn a feedparser struct_time (UTC) into an aware datetime."""
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def xml_entries(data: bytes, fmt: Format) -> list[etree._Element]:
    """Return the item (RSS) or entry (Atom) elements of a feed, in document order."""
    root = strict_xml(data)
    return root.findall("channel/item") if fmt is Format.RSS else root.findall("atom:entry", NS)


def content_htmls(snapshot: Snapshot, slug: str) -> dict[Format, list[str]]:
    """Return each entry's content HTML in every format."""
    rss = [
        e.findtext("content:encoded", namespaces=NS) or ""
        for e in xml_entries(body(snapshot, slug, Format.RSS), Format.RSS)
    ]
    atom = [
        e.findtext("atom:content", namespaces=NS) or ""
        for e in xml_entries(body(snapshot, slug, Format.ATOM), Format.ATOM)
    ]
    json_items = read_json(body(snapshot, slug, Format.JSON))["items"]
    return {Format.RSS: rss, Format.ATOM: atom, Format.JSON: [i.get("content_html", "") for i in json_items]}


def strings(value: Any) -> list[str]:
    """Return every string (keys included) inside a parsed JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [key, *strings(item)]]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


def url_attributes(html: str) -> list[tuple[str, str, str]]:
    """Return (tag, attribute, value) of every href/src in an HTML fragment."""
    soup = BeautifulSoup(html, "html.parser")
    return [
        (tag.name, name, str(tag[name]))
        for tag in soup.find_all(True)
        for name in ("href", "src")
        if tag.has_attr(name)
    ]


# --- the sample site ---------------------------------------------------------

A_LINK = "https://www.example.com/2026/11/04/a/"
B_LINK = "https://www.example.com/2026/11/02/b/"
C_LINK = "https://www.example.com/2026/11/03/c/"
A_PUBLISHED = datetime(2026, 11, 4, 10, 33, tzinfo=UTC)
A_UPDATED = datetime(2026, 11, 5, 0, 0, tzinfo=UTC)
B_PUBLISHED = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
C_PUBLISHED = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def write_sample(content_dir: Path) -> None:
    """Write three articles that between them use every field a feed carries."""
    write_article(
        content_dir,
        "2026/a.md",
        {
            "title": "Article A",
            "categories": ["金融", "要闻"],
            "tags": ["t1", "金融"],
            "author": {"name": "Ann", "email": "ann@example.com"},
            "date": "Wed, 04 Nov 2026 10:33:00 GMT",
            "updated": "2026-11-05T08:00:00+08:00",
            "thumbnail": "//img.example.com/a.png",
        },
        '<div><p>Body of A with <a href="/rel/page">a relative link</a> <img src="//cdn.example.com/in.jpg"></p></div>',
    )
    write_article(
        content_dir,
        "2026/b.md",
        {"title": "Article B", "categories": "金融", "author": "Bob", "date": "2026-11-02 10:00:00", "id": "b-id"},
        '<p>Text of B <img src="img/b.gif"> and <img src="https://img.example.com/second.jpg"></p>',
    )
    write_article(
        content_dir,
        "2026/c.md",
        {
            "title": "Article C",
            "categories": ["头条"],
            "tags": "single",
            "date": "2026-11-03T09:00:00Z",
            "thumbnail": "https://img.example.com/c.webp",
        },
        "Plain *Markdown* body of C.",
    )


@pytest.fixture
def sample(content_dir: Path) -> Snapshot:
    """A snapshot of the three sample articles, with two configured categories and an empty one."""
    write_sample(content_dir)
    return build(content_dir, categories=CATEGORIES)


# --- RSS and Atom read back ---------------------------------------------------


def test_every_xml_feed_parses_without_bozo(sample: Snapshot) -> None:
    """Every RSS and Atom document of a snapshot parses with feedparser without bozo and with lxml's strict parser."""
    xml_paths = [path for path in sample.documents if path.endswith((".rss", ".atom"))]
    assert len(xml_paths) == 8  # all, finance, headlines, empty
    for path in xml_paths:
        data = sample.documents[path].body
        strict_xml(data)
        parsed = read_feed(data)
        assert parsed.version == ("rss20" if path.endswith(".rss") else "atom10")


@pytest.mark.parametrize("fmt", [*XML_FORMATS, Format.JSON])
def test_entries_are_newest_first_with_titles_and_absolute_links(sample: Snapshot, fmt: Format) -> None:
    """A feed lists its entries newest first, each with its title and absolute article link."""
    expected = [("Article A", A_LINK), ("Article C", C_LINK), ("Article B", B_LINK)]
    if fmt is Format.JSON:
        items = read_json(body(sample, "all", fmt))["items"]
        assert [(i["title"], i["url"]) for i in items] == expected
    else:
        entries = read_feed(body(sample, "all", fmt)).entries
        assert [(e.title, e.link) for e in entries] == expected
    finance = read_json(body(sample, "finance", Format.JSON))["items"]
    assert [i["title"] for i in finance] == ["Article A", "Article B"]


def test_entries_with_the_same_date_are_ordered_by_path(content_dir: Path) -> None:
    """Entries published at the same instant are ordered by their file path, in every format."""
    for name in ("b/same.md", "a/same.md", "c/same.md"):
        write_article(
            content_dir, name, {"title": name, "slug": name.replace("/", "-"), "date": "2026-01-01T00:00:00Z"}
        )
    snapshot = build(content_dir)
    expected = ["a/same.md", "b/same.md", "c/same.md"]
    for fmt in XML_FORMATS:
        assert [e.title for e in read_feed(body(snapshot, "all", fmt)).entries] == expected
    assert [i["title"] for i in read_json(body(snapshot, "all", Format.JSON))["items"]] == expected


def test_feed_holds_the_newest_limit_articles(content_dir: Path) -> None:
    """A feed of more articles than `feeds.limit` holds exactly the newest `limit`, newest first."""
    write_corpus(content_dir, 30)
    snapshot = build(content_dir, feeds={"limit": 7})
    for fmt in XML_FORMATS:
        entries = read_feed(body(snapshot, "all", fmt)).entries
        published = [instant(e.published_parsed) for e in entries]
        assert len(entries) == 7
        assert published == sorted(published, reverse=True)
        assert published[0] == datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=37 * 29)


def test_rss_dates_parse_to_the_right_instants(sample: Snapshot) -> None:
    """RSS pubDate carries each article's publication instant, whatever zone its front matter used."""
    entries = read_feed(body(sample, "all", Format.RSS)).entries
    assert [instant(e.published_parsed) for e in entries] == [A_PUBLISHED, C_PUBLISHED, B_PUBLISHED]


def test_atom_dates_parse_to_the_right_instants(sample: Snapshot) -> None:
    """Atom published and updated carry each article's publication and last-change instants."""
    entries = read_feed(body(sample, "all", Format.ATOM)).entries
    assert [instant(e.published_parsed) for e in entries] == [A_PUBLISHED, C_PUBLISHED, B_PUBLISHED]
    assert [instant(e.updated_parsed) for e in entries] == [A_UPDATED, C_PUBLISHED, B_PUBLISHED]


def test_json_dates_parse_to_the_right_instants(sample: Snapshot) -> None:
    """JSON Feed date_published and date_modified are RFC 3339 texts of the right instants."""
    items = read_json(body(sample, "all", Format.JSON))["items"]
    assert [datetime.fromisoformat(i["date_published"]) for i in items] == [A_PUBLISHED, C_PUBLISHED, B_PUBLISHED]
    assert [datetime.fromisoformat(i["date_modified"]) for i in items] == [A_UPDATED, C_PUBLISHED, B_PUBLISHED]


def test_rss_guid_is_a_permalink_only_when_the_id_is_the_link(sample: Snapshot) -> None:
    """RSS guid is the article id, with isPermaLink="true" exactly when that id is the article URL."""
    guids = [item.find("guid") for item in xml_entries(body(sample, "all", Format.RSS), Format.RSS)]
    assert [(g.text, g.get("isPermaLink")) for g in guids] == [(A_LINK, "true"), (C_LINK, "true"), ("b-id", "false")]
    assert [e.id for e in read_feed(body(sample, "all", Format.RSS)).entries] == [A_LINK, C_LINK, "b-id"]


def test_atom_ids_are_uris_and_json_ids_are_the_article_ids(sample: Snapshot) -> None:
    """Atom ids are URIs (a tag: URI for an id that is not one); JSON Feed ids are the article ids."""
    atom_ids = [e.id for e in read_feed(body(sample, "all", Format.ATOM)).entries]
    assert atom_ids == [A_LINK, C_LINK, "tag:www.example.com,2000:b-id"]
    json_ids = [i["id"] for i in read_json(body(sample, "all", Format.JSON))["items"]]
    assert json_ids == [A_LINK, C_LINK, "b-id"]


def test_shared_ids_publish_as_distinct_ids_in_every_format(content_dir: Path) -> None:
    """Two articles with the same `id` publish with two distinct ids in every format."""
    for name in ("x.md", "y.md"):
        write_article(content_dir, name, {"title": name, "id": "same", "date": "2026-01-01"})
    snapshot = build(content_dir)
    for fmt in XML_FORMATS:
        ids = [e.id for e in read_feed(body(snapshot, "all", fmt)).entries]
        assert len(set(ids)) == 2
    json_ids = [i["id"] for i in read_json(body(snapshot, "all", Format.JSON))["items"]]
    assert len(set(json_ids)) == 2
    guids = [item.find("guid") for item in xml_entries(body(snapshot, "all", Format.RSS), Format.RSS)]
    assert all(g.get("isPermaLink") == "false" for g in guids)


def test_atom_id_keeps_uris_and_makes_tag_uris() -> None:
    """atom_id keeps an id that is a URI and turns any other into a tag: URI on the site's host."""
    settings = make_settings(Path("/nonexistent"))
    assert atom_id("https://www.example.com/a/", settings) == "https://www.example.com/a/"
    uuid = "urn:uuid:5a0e0c2e-0000-4000-8000-000000000001"
    assert atom_id(uuid, settings) == uuid
    assert atom_id("urn:uuid:1234", settings).startswith("tag:")  # no UUID: not a valid urn:uuid
    assert atom_id("b id/é", settings) == "tag:www.example.com,2000:b%20id%2F%C3%A9"
    assert atom_id("12:30", settings).startswith("tag:")


# --- images -----------------------------------------------------------------


def test_rss_image_is_media_thumbnail_media_content_and_enclosure(sample: Snapshot) -> None:
    """An RSS item carries its image as item-level media:thumbnail and media:content and as an <enclosure>."""
    item = xml_entries(body(sample, "all", Format.RSS), Format.RSS)[0]
    image = "https://img.example.com/a.png"
    assert [t.get("url") for t in item.findall("media:thumbnail", NS)] == [image]
    (media,) = item.findall("media:content", NS)
    assert (media.get("url"), media.get("medium"), media.get("type")) == (image, "image", "image/png")
    assert item.findall(".//media:group", NS) == []
    (enclosure,) = item.findall("enclosure")
    assert (enclosure.get("url"), enclosure.get("type")) == (image, "image/png")
    assert enclosure.get("length", "").isdigit()
    entry = read_feed(body(sample, "all", Format.RSS)).entries[0]
    assert entry.media_thumbnail[0]["url"] == image
    assert entry.enclosures[0]["href"] == image


def test_atom_image_is_an_enclosure_link_and_media_elements(sample: Snapshot) -> None:
    """An Atom entry carries its image as link rel="enclosure" with type and length, and as media elements."""
    entry = xml_entries(body(sample, "all", Format.ATOM), Format.ATOM)[1]  # Article C
    image = "https://img.example.com/c.webp"
    (enclosure,) = [link for link in entry.findall("atom:link", NS) if link.get("rel") == "enclosure"]
    assert (enclosure.get("href"), enclosure.get("type")) == (image, "image/webp")
    assert enclosure.get("length", "").isdigit()
    assert [t.get("url") for t in entry.findall("media:thumbnail", NS)] == [image]
    assert [t.get("url") for t in entry.findall("media:content", NS)] == [image]
    parsed = read_feed(body(sample, "all", Format.ATOM)).entries[1]
    assert [link.href for link in parsed.links if link.rel == "enclosure"] == [image]


def test_json_image_is_the_thumbnail(sample: Snapshot) -> None:
    """A JSON Feed item's `image` is the article's thumbnail, made absolute with https."""
    items = read_json(body(sample, "all", Format.JSON))["items"]
    assert [i["image"] for i in items[:2]] == ["https://img.example.com/a.png", "https://img.example.com/c.webp"]


@pytest.mark.parametrize("fmt", [*XML_FORMATS, Format.JSON])
def test_article_without_thumbnail_takes_the_first_body_image(sample: Snapshot, fmt: Format) -> None:
    """An article without a thumbnail field takes its body's first <img>, resolved against the article URL."""
    first = B_LINK + "img/b.gif"
    data = body(sample, "all", fmt)
    if fmt is Format.JSON:
        assert read_json(data)["items"][2]["image"] == first
        return
    entry = xml_entries(data, fmt)[2]
    assert [t.get("url") for t in entry.findall("media:thumbnail", NS)] == [first]
    enclosures = entry.findall("enclosure") if fmt is Format.RSS else entry.findall("atom:link[@rel='enclosure']", NS)
    assert [e.get("url") or e.get("href") for e in enclosures] == [first]
    assert enclosures[0].get("type") == "image/gif"


def test_article_without_any_image_has_no_media(content_dir: Path) -> None:
    """An article with no thumbnail and no body image has no enclosure, media element or JSON image."""
    write_article(content_dir, "plain.md", {"title": "Plain", "date": "2026-01-01"}, "<p>No pictures.</p>")
    snapshot = build(content_dir)
    rss = body(snapshot, "all", Format.RSS)
    atom = body(snapshot, "all", Format.ATOM)
    assert b"enclosure" not in rss
    assert b"enclosure" not in atom
    assert b"media:thumbnail" not in rss + atom
    assert "image" not in read_json(body(snapshot, "all", Format.JSON))["items"][0]


@pytest.mark.parametrize(
    ("url", "media_type"),
    [
        ("https://x.example/a.PNG", "image/png"),
        ("https://x.example/a.jpeg?w=1", "image/jpeg"),
        ("https://x.example/a.webp#f", "image/webp"),
        ("https://x.example/photo", "image/jpeg"),
        ("https://x.example/a.svg", "image/svg+xml"),
    ],
)
def test_image_type_follows_the_url_path_extension(url: str, media_type: str) -> None:
    """image_type guesses from the path's extension, ignoring query and fragment, JPEG when there is none."""
    assert image_type(url) == media_type


# --- authors and categories -------------------------------------------------------


def test_rss_authors_use_dc_creator_or_email_form(sample: Snapshot) -> None:
    """RSS names a name-only author in dc:creator and an author with an email as `email (name)` in <author>."""
    items = xml_entries(body(sample, "all", Format.RSS), Format.RSS)
    a, c, b = items
    assert a.findtext("author") == "ann@example.com (Ann)"
    assert a.find("dc:creator", NS) is None
    assert b.findtext("dc:creator", namespaces=NS) == "Bob"
    assert b.find("author") is None
    assert c.findtext("dc:creator", namespaces=NS) == "编辑部"  # site.author for an article naming none
    entries = read_feed(body(sample, "all", Format.RSS)).entries
    assert entries[0].author_detail.email == "ann@example.com"
    assert entries[2].author == "Bob"


def test_atom_authors_have_names(sample: Snapshot) -> None:
    """Atom entries name their author in <author><name>, and the feed names the site author."""
    parsed = read_feed(body(sample, "all", Format.ATOM))
    assert parsed.feed.author_detail.name == "编辑部"
    a, _c, b = parsed.entries
    assert (a.author_detail.name, a.author_detail.email) == ("Ann", "ann@example.com")
    assert b.author_detail.name == "Bob"


def test_json_authors_are_objects_with_names(sample: Snapshot) -> None:
    """JSON Feed authors are objects with a name, and a mailto: url for an email."""
    document = read_json(body(sample, "all", Format.JSON))
    assert document["authors"] == [{"name": "编辑部"}]
    a, c, b = document["items"]
    assert a["authors"] == [{"name": "Ann", "url": "mailto:ann@example.com"}]
    assert b["authors"] == [{"name": "Bob"}]
    assert "authors" not in c


def test_categories_and_tags_are_category_terms(sample: Snapshot) -> None:
    """Categories then tags, without repeats, are RSS <category>, Atom category terms and JSON tags."""
    expected = [["金融", "要闻", "t1"], ["要闻", "single"], ["金融"]]  # the alias 头条 reads as 要闻
    rss = xml_entries(body(sample, "all", Format.RSS), Format.RSS)
    assert [[c.text for c in item.findall("category")] for item in rss] == expected
    atom = read_feed(body(sample, "all", Format.ATOM)).entries
    assert [[t.term for t in e.tags] for e in atom] == expected
    items = read_json(body(sample, "all", Format.JSON))["items"]
    assert [i["tags"] for i in items] == expected


# --- content ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(Format))
def test_content_is_sanitized(content_dir: Path, fmt: Format) -> None:
    """Content keeps formatting, links, images, tables and lists but no active element, handler or script URL."""
    write_article(content_dir, "h.md", {"title": "Hostile", "date": "2026-01-01"}, HOSTILE_BODY)
    (html,) = content_htmls(build(content_dir), "all")[fmt]
    soup = BeautifulSoup(html, "html.parser")
    for name in FORBIDDEN_TAGS:
        assert soup.find(name) is None, name
    for tag in soup.find_all(True):
        for attribute, value in tag.attrs.items():
            assert not attribute.lower().startswith("on"), (tag.name, attribute)
            text = " ".join(value) if isinstance(value, list) else str(value)
            assert not re.match(r"\s*(javascript|vbscript|data):", text, re.IGNORECASE), (tag.name, text)
    assert "alert(1)" not in html
    assert "color:red" not in html
    for kept in ("strong", "em", "a", "img", "table", "td", "ul", "li"):
        assert soup.find(kept) is not None, kept


@pytest.mark.parametrize("fmt", list(Format))
def test_content_urls_are_absolute(content_dir: Path, fmt: Format) -> None:
    """Every href and src in content is absolute: relative ones resolve against the article URL, // gets https."""
    write_article(
        content_dir,
        "u.md",
        {"title": "URLs", "date": "2026-01-01", "slug": "u"},
        '<p><a href="/root">r</a> <a href="sib">s</a> <a href="../up">u</a> <a href="?q=1">q</a> '
        '<a href="#frag">f</a> <a href="//cdn.example.org/x">p</a> <img src="//cdn.example.org/i.png"> '
        '<img src="pic.jpg"> <a href="mailto:a@example.com">m</a> <a href="https://other.example/">o</a></p>\n\n'
        "[md](relative/md) ![alt](/md.png)",
    )
    (html,) = content_htmls(build(content_dir), "all")[fmt]
    found = {value for _tag, _name, value in url_attributes(html)}
    base = "https://www.example.com/2026/01/01/u/"
    assert found == {
        "https://www.example.com/root",
        base + "sib",
        "https://www.example.com/2026/01/01/up",
        base + "?q=1",
        base + "#frag",
        "https://cdn.example.org/x",
        "https://cdn.example.org/i.png",
        base + "pic.jpg",
        "mailto:a@example.com",
        "https://other.example/",
        base + "relative/md",
        "https://www.example.com/md.png",
    }
    for _tag, _name, value in url_attributes(html):
        assert urlsplit(value).scheme in ("http", "https", "mailto")


def test_cdata_terminator_does_not_break_the_xml(content_dir: Path) -> None:
    """`]]>` in a title, in content text and in attribute values leaves every feed well-formed and intact."""
    write_article(
        content_dir,
        "cdata.md",
        {"title": "A ]]> B", "categories": ["x]]>y"], "description": "sum ]]> mary", "date": "2026-01-01"},
        '<p title="t]]>t">text ]]> more <a href="/q?a=]]>">l</a> <![CDATA[ raw ]]></p>',
    )
    snapshot = build(content_dir)
    for fmt in XML_FORMATS:
        data = body(snapshot, "all", fmt)
        strict_xml(data)
        (entry,) = read_feed(data).entries
        assert entry.title == "A ]]> B"
        # An RSS description is HTML to readers: the text comes escaped, and reads as written.
        assert entry.summary == ("sum ]]&gt; mary" if fmt is Format.RSS else "sum ]]> mary")
        assert [t.term for t in entry.tags] == ["x]]>y"]
    (html,) = content_htmls(snapshot, "all")[Format.RSS]
    assert "text ]]&gt; more" in html
    assert BeautifulSoup(html, "html.parser").find("p")["title"] == "t]]>t"
    assert read_json(body(snapshot, "all", Format.JSON))["items"][0]["title"] == "A ]]> B"


def test_xml_invalid_characters_never_reach_the_output(content_dir: Path) -> None:
    """Characters XML forbids, in any front matter field, the body or the config, never reach a feed."""
    bad = "\x01\x08\x0b\x0c\x1f\ufffe\uffff"
    fields = {
        "title": f"T{bad}itle",
        "categories": [f"C{bad}at"],
        "tags": [f"T{bad}ag"],
        "author": {"name": f"A{bad}uthor", "email": "a@example.com"},
        "description": f"S{bad}ummary",
        "id": f"i{bad}d",
        "slug": f"s{bad}lug",
        "date": "2026-01-01",
    }
    write_article(content_dir, "bad.md", fields, f"<p title='x{bad}'>B{bad}ody\ttab\r\nline</p>")
    raw = f"---\ntitle: R{bad}aw\ndate: 2026-01-02\n---\n<p>r{bad}aw body</p>\n".encode()
    (content_dir / "raw.md").write_bytes(raw)
    snapshot = build(
        content_dir,
        site={"title": f"S{bad}ite", "author": f"E{bad}ditor"},
        categories={f"C{bad}at": {"slug": "cat", "title": f"C{bad}T", "description": f"D{bad}esc"}},
    )
    assert snapshot.articles == 2
    feeds = {path: document for path, document in snapshot.documents.items() if path.startswith("feeds/")}
    assert len(feeds) == 6  # all, and the configured category: cleaned, its name is the one the article spells
    for path, document in feeds.items():
        text = document.body.decode("utf-8")
        assert not XML_INVALID.search(text), path
        if path.endswith((".rss", ".atom")):
            strict_xml(document.body)
            read_feed(document.body)
        elif path.endswith(".json"):
            assert not any(XML_INVALID.search(value) for value in strings(read_json(document.body))), path
    entries = read_feed(body(snapshot, "all", Format.ATOM)).entries
    assert [e.title for e in entries] == ["Raw", "Title"]
    assert "\t" in read_json(body(snapshot, "all", Format.JSON))["items"][1]["content_html"]


@pytest.mark.parametrize("fmt", list(Format))
def test_summary_is_at_most_summary_chars(content_dir: Path, fmt: Format) -> None:
    """A summary made from the body is at most `feeds.summary_chars` characters, ending with … when cut."""
    long_body = "<p>" + "市场资金流动性上涨。" * 40 + "</p>"
    write_article(content_dir, "long.md", {"title": "Long", "date": "2026-01-01"}, long_body)
    write_article(content_dir, "latin.md", {"title": "Latin", "date": "2026-01-02"}, "<p>" + "word " * 200 + "</p>")
    snapshot = build(content_dir, feeds={"summary_chars": 50})
    data = body(snapshot, "all", fmt)
    if fmt is Format.JSON:
        summaries = [i["summary"] for i in read_json(data)["items"]]
    else:
        summaries = [e.summary for e in read_feed(data).entries]
    assert len(summaries) == 2
    for summary in summaries:
        assert 0 < len(summary) <= 50
        assert summary.endswith("…")


def entry_parts(data: bytes, fmt: Format) -> list[dict[str, str | None]]:
    """Return the summary and content each entry carries, read from the XML (None when absent)."""
    parts = []
    for entry in xml_entries(data, fmt):
        if fmt is Format.RSS:
            summary = entry.findtext("description")
            content = entry.findtext("content:encoded", namespaces=NS)
        else:
            summary = entry.findtext("atom:summary", namespaces=NS)
            content = entry.findtext("atom:content", namespaces=NS)
        parts.append({"summary": summary, "content": content})
    return parts


@pytest.mark.parametrize("mode", ["full", "summary", "none"])
def test_content_mode_decides_what_entries_carry(content_dir: Path, mode: str) -> None:
    """`feeds.content` full carries content and summary, summary only the summary, none neither, in every format."""
    write_article(content_dir, "m.md", {"title": "Mode", "date": "2026-01-01"}, "<p>The <b>body</b> text.</p>")
    snapshot = build(content_dir, feeds={"content": mode})
    for fmt in XML_FORMATS:
        data = body(snapshot, "all", fmt)
        read_feed(data)
        (parts,) = entry_parts(data, fmt)
        assert parts["summary"] == (None if mode == "none" else "The body text.")
        assert (parts["content"] is not None) == (mode == "full")
        if mode == "full":
            assert "<b>body</b>" in parts["content"]
    (item,) = read_json(body(snapshot, "all", Format.JSON))["items"]
    if mode == "full":
        assert "<b>body</b>" in item["content_html"]
        assert item["summary"] == "The body text."
        assert "content_text" not in item
    elif mode == "summary":
        assert item["content_text"] == "The body text."
        assert "content_html" not in item
    else:
        assert item["content_text"] == ""
        assert "content_html" not in item
        assert "summary" not in item


# --- feed-level elements ----------------------------------------------------------


def test_rss_channel_links_to_the_site_and_to_itself(sample: Snapshot) -> None:
    """The RSS channel <link> is site.link, and an atom:link rel="self" gives the feed's own URL."""
    channel = strict_xml(body(sample, "finance", Format.RSS)).find("channel")
    assert channel.findtext("link") == "https://www.example.com/"
    (self_link,) = [link for link in channel.findall("atom:link", NS) if link.get("rel") == "self"]
    assert self_link.get("href") == "http://127.0.0.1:8080/feeds/finance.rss"
    assert self_link.get("type") == "application/rss+xml"
    assert channel.findtext("title") == "测试站 - 金融"
    assert channel.findtext("description")


def test_atom_feed_has_id_updated_author_and_self_link(sample: Snapshot) -> None:
    """An Atom feed has an id, an updated date, an author and a self link to its URL."""
    root = strict_xml(body(sample, "finance", Format.ATOM))
    url = "http://127.0.0.1:8080/feeds/finance.atom"
    assert root.findtext("atom:id", namespaces=NS) == url
    assert root.findtext("atom:author/atom:name", namespaces=NS) == "编辑部"
    (self_link,) = [link for link in root.findall("atom:link", NS) if link.get("rel") == "self"]
    assert self_link.get("href") == url
    assert datetime.fromisoformat(root.findtext("atom:updated", namespaces=NS)) == A_UPDATED


def test_feed_url_is_under_site_feed_url(tmp_path: Path) -> None:
    """feed_url joins site.feed_url, feeds/, the slug and the format."""
    settings = make_settings(tmp_path, site={"feed_url": "https://feeds.example.com/base"})
    assert feed_url(settings, "finance", Format.ATOM) == "https://feeds.example.com/base/feeds/finance.atom"


def test_feed_dates_are_the_latest_entry_update_not_now(sample: Snapshot) -> None:
    """RSS lastBuildDate and Atom updated are the latest entry `updated`, never the time of rendering."""
    for slug in ("all", "finance", "headlines"):
        feed = sample.documents[feed_path(slug, Format.RSS)]
        newest = feed.last_modified
        assert newest is not None
        rss = read_feed(body(sample, slug, Format.RSS)).feed
        assert instant(rss.updated_parsed) == newest  # feedparser reads lastBuildDate as updated
        atom = read_feed(body(sample, slug, Format.ATOM)).feed
        assert instant(atom.updated_parsed) == newest
    assert sample.documents[feed_path("headlines", Format.RSS)].last_modified == A_UPDATED
    assert sample.documents[feed_path("finance", Format.RSS)].last_modified == A_UPDATED


@pytest.mark.parametrize("fmt", list(Format))
def test_empty_configured_category_is_a_valid_empty_feed(sample: Snapshot, fmt: Format) -> None:
    """A configured category without articles renders a valid feed with no entries and a fixed date."""
    data = body(sample, "empty", fmt)
    if fmt is Format.JSON:
        document = read_json(data)
        assert document["items"] == []
        assert document["description"] == "a configured category without articles"
        return
    parsed = read_feed(data)
    assert parsed.entries == []
    assert parsed.feed.title == "测试站 - 空"
    assert instant(parsed.feed.updated_parsed) == EMPTY_FEED_DATE


# --- determinism ---------------------------------------------------------------------


def test_rendering_is_byte_identical_across_refreshes_and_refreshers(content_dir: Path) -> None:
    """The same content renders the same bytes in a second refresh and in another Refresher at a later time."""
    write_corpus(content_dir, 25)
    settings = make_settings(content_dir, categories=CATEGORIES)
    first_store, second_store = Store(), Store()
    first = Refresher(settings, first_store, clock=Clock())
    first.refresh()
    before = {path: doc.body for path, doc in first_store.snapshot.documents.items()}
    report = first.refresh()
    assert report.rebuilt == ()
    Refresher(settings, second_store, clock=Clock(NOW + timedelta(days=3, seconds=17))).refresh()
    for store in (first_store, second_store):
        assert {path: doc.body for path, doc in store.snapshot.documents.items()} == before
        assert {path: doc.etag for path, doc in store.snapshot.documents.items()} == {
            path: doc.etag for path, doc in first_store.snapshot.documents.items()
        }


def parsed_catalog(content_dir: Path, settings: Settings) -> tuple[Catalog, Callable[[Article], ArticleContent]]:
    """Parse every article under a directory, build a catalog at NOW (no Refresher), and a content maker."""
    articles = []
    bodies: dict[str, str] = {}
    for path in sorted(content_dir.rglob("*.md")):
        source = path.relative_to(content_dir).as_posix()
        article, bodies[source] = parse_file(path.read_bytes(), source=source, mtime=0, settings=settings)
        assert isinstance(article, Article)
        articles.append(article)

    def content_of(article: Article) -> ArticleContent:
        return render_content(article, bodies[article.source], summary_chars=settings.summary_chars)

    return build_catalog(articles, settings, NOW), content_of


def test_render_feed_on_a_catalog_feed_matches_the_refresher(content_dir: Path) -> None:
    """render_feed over a catalog's feed gives the same bytes the Refresher serves."""
    write_sample(content_dir)
    settings = make_settings(content_dir, categories=CATEGORIES)
    snapshot = build(content_dir, categories=CATEGORIES)
    catalog, content_of = parsed_catalog(content_dir, settings)
    assert [feed.spec.slug for feed in catalog.feeds] == ["all", "finance", "headlines", "empty"]
    for feed in catalog.feeds:
        for fmt in Format:
            paging = Paging(None, page_count(feed.total, settings.archive_size))
            assert render_feed(feed, fmt, settings, content_of, paging) == body(snapshot, feed.spec.slug, fmt)


def test_concurrent_renders_give_identical_bytes(content_dir: Path) -> None:
    """Rendering RSS from several threads at once gives the same bytes as rendering alone."""
    write_corpus(content_dir, 20)
    settings = make_settings(content_dir)
    catalog, content_of = parsed_catalog(content_dir, settings)
    (feed, *_rest) = catalog.feeds
    expected = render_feed(feed, Format.RSS, settings, content_of)
    results: list[bytes] = []

    def work() -> None:
        for _ in range(5):
            results.append(render_feed(feed, Format.RSS, settings, content_of))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    assert all(result == expected for result in results)


def test_empty_site_title_is_refused_and_the_shortest_title_renders(content_dir: Path) -> None:
    """An empty site.title is refused by the config (no feed can be written without one); one character renders."""
    from feedsvc.errors import ConfigError

    write_article(content_dir, "a.md", {"title": "A", "date": "2026-01-01"})
    with pytest.raises(ConfigError, match=r"site\.title: '' is empty"):
        make_settings(content_dir, site={"title": ""})
    store = Store()
    Refresher(make_settings(content_dir, site={"title": "X"}), store, clock=Clock()).refresh()
    for fmt in XML_FORMATS:
        assert read_feed(body(store.snapshot, "all", fmt)).feed.title == "X"
    assert read_json(body(store.snapshot, "all", Format.JSON))["title"] == "X"


# --- JSON Feed ---------------------------------------------------------------------


def test_schema_is_a_valid_json_schema() -> None:
    """The JSON Feed 1.1 schema in tests/data is itself a valid draft 2020-12 schema."""
    jsonschema.Draft202012Validator.check_schema(JSON_FEED_SCHEMA)


@pytest.mark.parametrize(
    "document",
    [
        {"version": JSON_FEED_VERSION, "title": "t"},
        {"version": JSON_FEED_VERSION, "items": []},
        {"version": JSON_FEED_VERSION, "title": "t", "items": [{"id": "1"}]},
        {"version": JSON_FEED_VERSION, "title": "t", "items": [{"id": 1, "content_text": ""}]},
        {
            "version": JSON_FEED_VERSION,
            "title": "t",
            "items": [{"id": "1", "content_text": "", "date_published": "2026-01-01"}],
        },
        {"version": JSON_FEED_VERSION, "title": "t", "items": [{"id": "1", "content_text": "", "authors": [{}]}]},
        {"version": JSON_FEED_VERSION, "title": "t", "items": [{"id": "1", "content_text": "", "tags": "x"}]},
        {"version": JSON_FEED_VERSION, "title": "t", "items": [{"id": "1", "content_text": "", "image": "/x.png"}]},
        {"version": JSON_FEED_VERSION, "title": "t", "items": [], "unknown": 1},
        {"version": JSON_FEED_VERSION, "title": "t", "items": [], "hubs": [{"type": "WebSub"}]},
    ],
)
def test_schema_refuses_what_the_specification_forbids(document: dict[str, Any]) -> None:
    """The schema refuses a feed without title or items, an item without id or content, bad dates, authors or URLs."""
    assert not JSON_FEED.is_valid(document)


def test_schema_accepts_the_specification_example() -> None:
    """The schema accepts a full feed shaped like the specification's example, extensions included."""
    document = {
        "version": JSON_FEED_VERSION,
        "title": "My Example Feed",
        "home_page_url": "https://example.org/",
        "feed_url": "https://example.org/feed.json",
        "authors": [{"name": "Optional Author", "url": "https://example.org/a", "avatar": "https://example.org/a.png"}],
        "language": "en-US",
        "_blue_shed": {"explicit": False},
        "items": [
            {
                "id": "2",
                "content_text": "This is a second item.",
                "url": "https://example.org/second-item",
                "date_published": "2010-02-07T14:04:00-05:00",
                "attachments": [{"url": "https://example.org/a.ogg", "mime_type": "audio/ogg", "size_in_bytes": 3}],
            },
            {"id": "1", "content_html": "<p>Hello, world!</p>", "date_modified": "2010-02-07T19:04:00.5Z"},
        ],
    }
    JSON_FEED.validate(document)


@pytest.mark.parametrize("mode", ["full", "summary", "none"])
def test_every_json_feed_is_valid_json_feed_1_1(content_dir: Path, mode: str) -> None:
    """Every JSON feed validates against the schema, has the 1.1 version URL, dated items and unique ids."""
    write_corpus(content_dir, 40)
    write_sample(content_dir)
    snapshot = build(content_dir, feeds={"content": mode}, categories=CATEGORIES)
    json_paths = [path for path in snapshot.documents if path.endswith(".json")]
    assert len(json_paths) > 5
    for path in json_paths:
        document = read_json(snapshot.documents[path].body)
        assert document["version"] == JSON_FEED_VERSION
        slug = path.removeprefix("feeds/").removesuffix(".json")
        assert document["feed_url"] == f"http://127.0.0.1:8080/feeds/{slug}.json"
        assert document["home_page_url"] == "https://www.example.com/"
        ids = [item["id"] for item in document["items"]]
        assert len(ids) == len(set(ids))
        for item in document["items"]:
            assert "date_published" in item
            assert datetime.fromisoformat(item["date_published"]).tzinfo is not None
        published = [datetime.fromisoformat(item["date_published"]) for item in document["items"]]
        assert published == sorted(published, reverse=True)


# What a JSON Feed document holds: text (any character but a lone surrogate, which no UTF-8 takes),
# lists of text and objects, true and false; in the shape render_json gives it.
_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
_ITEM = st.fixed_dictionaries(
    {"id": _TEXT, "url": _TEXT, "title": _TEXT, "content_html": _TEXT},
    optional={"tags": st.lists(_TEXT, max_size=4), "authors": st.lists(st.fixed_dictionaries({"name": _TEXT}))},
)


@given(
    st.fixed_dictionaries(
        {"version": _TEXT, "title": _TEXT, "items": st.lists(_ITEM, max_size=5)},
        optional={"hubs": st.lists(st.fixed_dictionaries({"type": _TEXT, "url": _TEXT}), max_size=2)},
    ),
    _TEXT,
)
def test_json_documents_are_the_bytes_the_standard_encoder_gives(document: dict[str, Any], odd: str) -> None:
    """The fast encoder writes a document byte for byte as `json.dumps(..., ensure_ascii=False, indent=2)` does.

    Controls, quotes, backslashes, U+2028 and U+2029, emoji and empty lists and objects included.
    """
    document = {**document, "odd": [odd, '\u2028\u2029\x00\x1f\x7f"\\/😀'], "empty": [], "none": {}, "flag": True}

    assert json_document(document) == (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()
