"""Feeds per tag, per author and per entity named in bodies (stocks): what exists, what they hold, their URLs."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import feedparser
import pytest
from bs4 import BeautifulSoup
from flask.testing import FlaskClient
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from feedsvc.config import EntitySettings, Settings, load_settings
from feedsvc.errors import ConfigError
from feedsvc.feeds.listing import FOLD_ABOVE
from feedsvc.index.cache import open_cache
from feedsvc.model import INDEX_PATH, OPML_PATH
from feedsvc.parse.entities import entities_of, hint, might_name
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime.builder import start_builder
from feedsvc.store import Store
from tests.conftest import Clock, feed_paths, make_settings
from tests.corpus import write_article

STOCKS = {
    "stocks": {
        "selector": "a.trsHotWords",
        "key": "query:stockcode",
        "feed_title": "{title}（{key}）",
    }
}


def stock(code: str, name: str) -> str:
    """The stock link of Chinese financial news, as the articles feedsvc was made for write it."""
    return (
        f'<a class="trsHotWords" style="color: #2f67d1;" target="_blank" '
        f'href="https://info.stcn.com/dc/stock/?stockcode={code}" code="{code[2:]}">{name}</a>'
    )


def refreshed(content_dir: Path, store: Store, clock: Clock, **sections: Any) -> Refresher:
    refresher = Refresher(make_settings(content_dir, **sections), store, clock=clock)
    refresher.refresh()
    return refresher


def feed_slugs(store: Store) -> set[str]:
    return {path[len("feeds/") : -len(".rss")] for path in store.snapshot.documents if path.endswith(".rss")}


def titles(store: Store, slug: str) -> list[str]:
    parsed = feedparser.parse(store.snapshot.documents[f"feeds/{slug}.rss"].body)
    return [entry.title for entry in parsed.entries]


# --- tags -----------------------------------------------------------------------


def test_a_tag_of_two_articles_has_a_feed_and_a_one_off_tag_has_none(
    content_dir: Path, store: Store, clock: Clock
) -> None:
    write_article(content_dir, "a.md", {"title": "A", "date": "2026-11-01", "tags": ["Python", "once"]})
    write_article(content_dir, "b.md", {"title": "B", "date": "2026-11-02", "tags": ["python"]})
    write_article(content_dir, "c.md", {"title": "C", "date": "2026-11-03", "tags": "ＰＹＴＨＯＮ"})
    refreshed(content_dir, store, clock)
    assert {slug for slug in feed_slugs(store) if slug.startswith("tags/")} == {"tags/python"}
    assert titles(store, "tags/python") == ["C", "B", "A"]
    channel = feedparser.parse(store.snapshot.documents["feeds/tags/python.rss"].body).feed
    # The most used spelling names it (each is used once here: the first in code order).
    assert channel.title == "测试站 - Python"
    # An entry keeps its article's own tags, as written.
    entry = feedparser.parse(store.snapshot.documents["feeds/tags/python.rss"].body).entries[2]
    assert [term.term for term in entry.tags] == ["Python", "once"]


def test_the_minimum_and_the_switch_of_tag_feeds(content_dir: Path, store: Store, clock: Clock) -> None:
    write_article(content_dir, "a.md", {"title": "A", "date": "2026-11-01", "tags": ["once"]})
    refreshed(content_dir, store, clock, feeds={"tag_min_articles": 1})
    assert "tags/once" in feed_slugs(store)
    refreshed(content_dir, store, clock, feeds={"tag_min_articles": 1, "auto_tags": False})
    assert not any(slug.startswith("tags/") for slug in feed_slugs(store))


def test_a_configured_tag_has_a_feed_with_its_aliases_and_its_own_slug(
    content_dir: Path, store: Store, clock: Clock
) -> None:
    write_article(content_dir, "a.md", {"title": "A", "date": "2026-11-01", "tags": ["FOMC"]})
    tags = {"Fed": {"slug": "fed", "title": "Federal Reserve", "aliases": ["FOMC"]}, "空": {"slug": "empty"}}
    refreshed(content_dir, store, clock, tags=tags, feeds={"auto_tags": False})
    assert titles(store, "tags/fed") == ["A"]
    assert titles(store, "tags/empty") == []  # configured: a valid, empty feed
    channel = feedparser.parse(store.snapshot.documents["feeds/tags/fed.rss"].body).feed
    assert channel.title == "测试站 - Federal Reserve"


def test_tag_feeds_are_served_with_validators_redirects_and_archive_pages(
    content_dir: Path, store: Store, clock: Clock, client: FlaskClient
) -> None:
    for number in range(3):
        write_article(
            content_dir,
            f"{number}.md",
            {"title": f"T{number}", "date": f"2026-11-0{number + 1}", "tags": ["Deep Learning"]},
        )
    refreshed(content_dir, store, clock, feeds={"archive_size": 2}, tags={"深度学习": {"slug": "dl", "aliases": []}})
    response = client.get("/feeds/tags/deep-learning.rss")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    again = client.get("/feeds/tags/deep-learning.rss", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    # Asked for by its name, as written in front matter: sent on to its slug (found in content: not for good).
    by_name = client.get("/feeds/tags/Deep%20Learning.atom")
    assert (by_name.status_code, by_name.headers["Location"]) == (302, "/feeds/tags/deep-learning.atom")
    configured = client.get("/feeds/tags/%E6%B7%B1%E5%BA%A6%E5%AD%A6%E4%B9%A0.json")
    assert (configured.status_code, configured.headers["Location"]) == (301, "/feeds/tags/dl.json")
    # The oldest two articles are archive page 1, which names the stylesheet four folders up.
    page = client.get("/feeds/tags/deep-learning/archive/1.rss")
    assert page.status_code == 200
    assert b'<?xml-stylesheet href="../../../../feed.xsl"' in page.data
    assert [entry.title for entry in feedparser.parse(page.data).entries] == ["T1", "T0"]
    assert b'<?xml-stylesheet href="../../feed.xsl"' in response.data
    assert client.get("/feeds/tags/deep-learning/archive/9.rss").status_code == 404
    assert client.get("/feeds/tags/nothing.rss").status_code == 404


# --- authors --------------------------------------------------------------------


def test_authors_have_feeds_by_their_name(content_dir: Path, store: Store, clock: Clock, client: FlaskClient) -> None:
    write_article(content_dir, "a.md", {"title": "A", "date": "2026-11-01", "author": "新华社"})
    write_article(
        content_dir,
        "b.md",
        {"title": "B", "date": "2026-11-02", "author": {"name": "新华社", "email": "x@example.com"}},
    )
    write_article(content_dir, "c.md", {"title": "C", "date": "2026-11-03", "author": "Feed Desk"})
    write_article(content_dir, "d.md", {"title": "D", "date": "2026-11-04"})  # the site's author: no feed of its own
    refreshed(content_dir, store, clock, authors={"Feed Desk": {"slug": "desk"}})
    assert {slug for slug in feed_slugs(store) if slug.startswith("authors/")} == {
        "authors/xin-hua-she",
        "authors/desk",
    }
    assert titles(store, "authors/xin-hua-she") == ["B", "A"]
    assert titles(store, "authors/desk") == ["C"]
    response = client.get("/feeds/authors/%E6%96%B0%E5%8D%8E%E7%A4%BE.rss")
    assert (response.status_code, response.headers["Location"]) == (302, "/feeds/authors/xin-hua-she.rss")


# --- entities -------------------------------------------------------------------


def test_stocks_named_in_bodies_have_feeds(content_dir: Path, store: Store, clock: Clock, client: FlaskClient) -> None:
    write_article(
        content_dir,
        "a.md",
        {"title": "A", "date": "2026-11-01"},
        f"<div><p>{stock('SZ000931', '中关村')}涨停。</p></div>",
    )
    write_article(
        content_dir,
        "b.md",
        {"title": "B", "date": "2026-11-02"},
        f"<p>{stock('SZ000931', '中关村')}与{stock('SH600000', '浦发银行')}，{stock('SZ000931', '中关村')}。</p>",
    )
    write_article(content_dir, "c.md", {"title": "C", "date": "2026-11-03"}, "没有股票。")
    refreshed(content_dir, store, clock, entities=STOCKS)
    # 浦发银行 is named by one article only: below the minimum of two.
    assert {slug for slug in feed_slugs(store) if slug.startswith("stocks/")} == {"stocks/SZ000931"}
    assert titles(store, "stocks/SZ000931") == ["B", "A"]
    channel = feedparser.parse(store.snapshot.documents["feeds/stocks/SZ000931.rss"].body).feed
    assert channel.title == "测试站 - 中关村（SZ000931）"
    json_feed = json.loads(store.snapshot.documents["feeds/stocks/SZ000931.json"].body)
    assert json_feed["feed_url"] == "http://127.0.0.1:8080/feeds/stocks/SZ000931.json"
    # The key in another case, and the stock's name, lead to its feed.
    for asked in ("sz000931", "%E4%B8%AD%E5%85%B3%E6%9D%91"):
        response = client.get(f"/feeds/stocks/{asked}.atom")
        assert (response.status_code, response.headers["Location"]) == (302, "/feeds/stocks/SZ000931.atom")


def test_a_body_that_stops_naming_a_stock_leaves_its_feed(content_dir: Path, store: Store, clock: Clock) -> None:
    body = f"<p>{stock('SZ000931', '中关村')}</p>"
    write_article(content_dir, "a.md", {"title": "A", "date": "2026-11-01"}, body)
    path = write_article(content_dir, "b.md", {"title": "B", "date": "2026-11-02"}, body)
    refresher = refreshed(content_dir, store, clock, entities=STOCKS)
    assert titles(store, "stocks/SZ000931") == ["B", "A"]
    write_article(content_dir, "b.md", {"title": "B", "date": "2026-11-02"}, "<p>改写。</p>")
    assert path.exists()
    refresher.refresh()
    assert "stocks/SZ000931" not in feed_slugs(store)


def test_entities_are_cached_with_the_article(content_dir: Path, tmp_path: Path, clock: Clock) -> None:
    body = f"<p>{stock('SZ000931', '中关村')}</p>"
    write_article(content_dir, "a.md", {"title": "A", "date": "2026-11-01"}, body)
    write_article(content_dir, "b.md", {"title": "B", "date": "2026-11-02"}, body)
    settings = make_settings(content_dir, entities=STOCKS, cache={"dir": str(tmp_path / "cache")})
    snapshots = []
    for _ in range(2):  # a run, then a restart over the same cache
        cache = open_cache(settings)
        refresher = Refresher(settings, Store(), clock=clock, cache=cache)
        report = refresher.refresh()
        refresher.flush()
        assert cache is not None
        cache.close()
        snapshots.append(report)
    restart = snapshots[1]
    assert restart.stats.files_parsed == 0  # every article, with its entities, came from the cache
    assert "feeds/stocks/SZ000931.rss" in restart.snapshot.documents
    etags = [{path: d.etag for path, d in report.snapshot.documents.items()} for report in snapshots]
    assert etags[0] == etags[1]


def test_the_index_page_and_the_opml_group_feeds_by_kind(content_dir: Path, store: Store, clock: Clock) -> None:
    body = f"<p>{stock('SZ000931', '中关村')}</p>"
    for name in ("a", "b"):
        fields = {
            "title": name.upper(),
            "date": "2026-11-01",
            "tags": ["Fed"],
            "author": "Reuters",
            "categories": ["金融"],
        }
        write_article(content_dir, f"{name}.md", fields, body)
    refreshed(content_dir, store, clock, entities={"stocks": {**STOCKS["stocks"], "label": "个股"}})
    page = BeautifulSoup(store.snapshot.documents[INDEX_PATH].body, "html.parser")
    groups = {section["id"]: [li["id"] for li in section.select("li.feed")] for section in page.select("section.kind")}
    assert groups == {
        "kind-categories": ["all", "jin-rong"],
        "kind-tags": ["tags/fed"],
        "kind-authors": ["authors/reuters"],
        "kind-stocks": ["stocks/SZ000931"],
    }
    assert [h2.get_text(" ", strip=True) for h2 in page.select("section.kind h2")] == [
        "Categories (2)",
        "Tags (1)",
        "Authors (1)",
        "个股 (1)",
    ]
    # Autodiscovery names the categories' feeds only: a page with a thousand stock feeds stays small.
    discovered = {link["href"] for link in page.select('link[rel="alternate"]')}
    assert discovered == {f"feeds/{slug}.{fmt}" for slug in ("all", "jin-rong") for fmt in ("rss", "atom", "json")}
    opml = ET.fromstring(store.snapshot.documents[OPML_PATH].body)  # noqa: S314 - made by the test
    rss = opml.find("body/outline[@text='RSS 2.0']")
    assert rss is not None
    assert [o.get("text") for o in rss if o.get("xmlUrl") is None] == ["Tags", "Authors", "个股"]
    stocks = rss.find("outline[@text='个股']")
    assert stocks is not None
    assert [o.get("xmlUrl") for o in stocks] == ["http://127.0.0.1:8080/feeds/stocks/SZ000931.rss"]


def test_a_build_directory_holds_every_kind(content_dir: Path, tmp_path: Path) -> None:
    body = f"<p>{stock('SZ000931', '中关村')}</p>"
    for name in ("a", "b"):
        write_article(content_dir, f"{name}.md", {"title": name, "date": "2026-11-01", "tags": ["Fed"]}, body)
    settings = make_settings(content_dir, entities=STOCKS)
    out = tmp_path / "out"
    start_builder(settings, out, watch=False).stop()
    for path in sorted(feed_paths("tags/fed", "stocks/SZ000931")):
        assert (out / path).is_file(), path
    assert (out / "feeds/stocks/SZ000931/archive/1.rss.gz").is_file()


# --- the config -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entities", "message"),
    [
        ({"stocks": {"key": "text"}}, "test.yaml: entities.stocks.selector: missing"),
        ({"stocks": {"selector": "a..b"}}, "test.yaml: entities.stocks.selector: 'a..b' is not a CSS selector"),
        ({"stocks": {"selector": "a::text"}}, "entities.stocks.selector: 'a::text' is not a CSS selector"),
        ({"tags": {"selector": "a"}}, "entities.tags: 'tags' is where tags feeds are"),
        ({"Stocks": {"selector": "a"}}, "test.yaml: entities: 'Stocks' is not a usable name"),
        ({"stocks": {"selector": "a", "key": "href"}}, "entities.stocks.key: 'href' is not a source"),
        ({"stocks": {"selector": "a", "feed_title": "{name}"}}, "entities.stocks.feed_title: '{name}' is not a title"),
        ({"stocks": {"selector": "a", "feed_title": "{title.x}"}}, "is not a title pattern"),
        ({"stocks": {"selector": "a", "colour": "red"}}, "entities.stocks.colour: unknown key"),
        ({"stocks": "a.x"}, "entities.stocks: 'a.x' is not a mapping"),
    ],
)
def test_a_wrong_entity_kind_names_the_key(content_dir: Path, entities: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=".*".join(map(_escaped, message.split("*")))):
        make_settings(content_dir, entities=entities)


def test_a_tag_configured_twice_is_refused(content_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"tags\.fed: 'fed' is the same tag as 'Fed'"):
        make_settings(content_dir, tags={"Fed": None, "fed": None})
    with pytest.raises(
        ConfigError, match=r"authors\.B\.slug: 'x' is also the slug of 'A' \(expected a slug per author\)"
    ):
        make_settings(content_dir, authors={"A": {"slug": "x"}, "B": {"slug": "x"}})


def _escaped(text: str) -> str:
    return re.escape(text)


# --- finding entities -------------------------------------------------------------

KIND = EntitySettings(name="stocks", selector="a.trsHotWords", key=("query", "stockcode"))


def test_entities_are_found_once_each_in_the_order_named() -> None:
    body = stock("SZ1", "甲") + stock("SH2", "乙") + stock("SZ1", "甲又") + '<a class="trsHotWords" href="/x">无</a>'
    found, warnings = entities_of(body, [KIND], max_entities=50, max_chars=200)
    assert [(e.key, e.title) for e in found] == [("SZ1", "甲"), ("SH2", "乙")]
    assert warnings == ()


def test_too_many_or_too_long_entities_are_left_out_with_a_warning() -> None:
    body = stock("SZ" + "9" * 300, "长") + "".join(stock(f"SZ{n:06d}", f"股{n}") for n in range(5))
    found, warnings = entities_of(body, [KIND], max_entities=3, max_chars=200)
    assert [e.key for e in found] == ["SZ000000", "SZ000001", "SZ000002"]
    assert warnings == (
        "entities: more than 3 stocks named, the rest left out (expected at most 3, content.max_categories)",
        "entities: 1 stocks key over 200 characters left out (expected at most 200, content.max_name_chars)",
    )


def test_keys_and_titles_come_from_attributes_text_or_a_query_parameter() -> None:
    body = stock("SZ000931", " 中关村\n科技 ")
    by_attribute = EntitySettings(name="codes", selector="a[code]", key=("attribute", "code"), title=("text", ""))
    by_text = EntitySettings(name="names", selector="a.trsHotWords", key=("text", ""), title=("query", "stockcode"))
    found, _ = entities_of(body, [by_attribute, by_text], max_entities=50, max_chars=200)
    assert [(e.kind, e.key, e.title) for e in found] == [
        ("codes", "000931", "中关村 科技"),
        ("names", "中关村 科技", "SZ000931"),
    ]


def test_the_hint_of_a_selector() -> None:
    assert hint("a.trsHotWords") == "trshotwords"
    assert hint("div.news > a[data-code]") == "data-code"
    assert hint("a:not(.x)") is None  # a name the body must not hold
    assert hint("a.x, b.yyy") is None
    assert hint("a") is None


_PIECES = st.sampled_from(
    [
        stock("SZ000931", "中关村"),
        '<a class="trshotwords" href="?stockcode=SZ1">x</a>',
        '<A CLASS="trsHotWords" HREF="?stockcode=SZ2">y</A>',
        '<a class="trs&#72;otWords" href="?stockcode=SZ3">z</a>',
        '<a class="x trsHotWords" href="?stockcode=SZ4">w</a>',
        "<p>trsHotWords</p>",
        "&amp;",
        "<div>",
        "</div>",
        "<a href='?stockcode=SZ5'>",
        "文字",
    ]
)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES, max_size=8).map("".join))
@example('<a class="trs&#72;otWords" href="?stockcode=SZ3">z</a>')
def test_a_body_passed_over_by_its_hint_names_nothing(body: str) -> None:
    """The hint only saves work: a body it rules out has no element the selector matches."""
    kind = EntitySettings(name="stocks", selector="a.trsHotWords", key=("query", "stockcode"))
    if not might_name(body, body.lower(), kind):
        unhinted = EntitySettings(name="stocks", selector="a.trsHotWords, x", key=("query", "stockcode"))
        assert entities_of(body, [unhinted], max_entities=50, max_chars=200)[0] == ()


def test_the_bundled_examples_publish_stock_tag_and_author_feeds(tmp_path: Path) -> None:

    settings: Settings = load_settings(Path(__file__).resolve().parent.parent / "config" / "feedsvc.yaml")
    store = Store()
    Refresher(settings, store).refresh()
    slugs = feed_slugs(store)
    stocks = {slug for slug in slugs if slug.startswith("stocks/")}
    assert len(stocks) >= 5
    assert "tags/fed" in slugs
    assert any(slug.startswith("authors/") for slug in slugs)


def test_a_kind_of_many_feeds_is_folded_on_the_index_page(content_dir: Path, store: Store, clock: Clock) -> None:
    """Thousands of stocks do not bury the categories: past FOLD_ABOVE feeds a kind's list opens on a click."""
    many = FOLD_ABOVE + 1
    body = "".join(stock(f"SZ{n:06d}", f"股{n}") for n in range(many))
    for name in ("a", "b"):
        write_article(content_dir, f"{name}.md", {"title": name, "date": "2026-11-01", "tags": ["Fed"]}, body)
    refreshed(content_dir, store, clock, entities=STOCKS)
    page = BeautifulSoup(store.snapshot.documents[INDEX_PATH].body, "html.parser")
    stocks = page.select_one("section#kind-stocks")
    assert stocks is not None
    summary = stocks.select_one("details > summary")
    assert summary is not None
    assert summary.get_text() == f"Show all {many} stocks feeds"
    assert len(stocks.select("details li.feed")) == many
    assert page.select("section#kind-tags details") == []  # one tag: listed open
