"""Category names, future dates and feed URLs that one file used to turn against the whole service.

Many or huge category names are bounded per article; an `updated` ahead of now does not
hold a feed's Last-Modified; a feed URL, once published, keeps answering its feed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from werkzeug.http import http_date

from feedsvc.config import Settings, parse_settings
from feedsvc.errors import ConfigError
from feedsvc.feeds.catalog import Catalog, build_catalog
from feedsvc.http.app import create_app
from feedsvc.model import Article, Feed, Problem
from feedsvc.parse.articles import parse_article
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from tests.conftest import NOW, Clock, make_settings
from tests.corpus import article_text, write_article

DAY = timedelta(days=1)


def parse(fields: dict[str, Any], settings: Settings, source: str = "a.md") -> Article:
    """Parse an article made of these front matter fields; fail the test if it is a problem."""
    result = parse_article(article_text(fields).encode(), source=source, mtime=0, settings=settings)
    assert isinstance(result, Article), result
    return result


def feeds_by_slug(catalog: Catalog) -> dict[str, Feed]:
    """Index a catalog's feeds by slug."""
    return {feed.spec.slug: feed for feed in catalog.feeds}


def sha6(name: str) -> str:
    """Return the first 6 hex digits of the SHA-1 of a name's UTF-8 bytes."""
    return hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:6]


class Site:
    """A content directory served by a refresher and a Flask client, with a hand-moved clock."""

    def __init__(self, content_dir: Path, **sections: dict[str, Any]) -> None:
        self.content_dir = content_dir
        self.clock = Clock()
        self.store = Store()
        self.refresher = Refresher(make_settings(content_dir, **sections), self.store, clock=self.clock)
        self.client: FlaskClient = create_app(self.store).test_client()

    def write(self, name: str, fields: dict[str, Any]) -> None:
        """Write an article and refresh."""
        write_article(self.content_dir, name, fields)
        self.refresher.refresh()

    def remove(self, name: str) -> None:
        """Delete an article and refresh."""
        (self.content_dir / name).unlink()
        self.refresher.refresh()


# --- 5. many or huge names ---------------------------------------------------------------------------------------


def test_two_thousand_categories_keep_the_first_fifty_with_a_warning(settings: Settings) -> None:
    """An article naming 2,000 categories publishes in the first 50, with a warning naming the field."""
    article = parse({"title": "x", "date": "2026-11-01", "categories": [f"c{n}" for n in range(2000)]}, settings)

    assert article.categories == tuple(f"c{n}" for n in range(50))
    assert article.warnings == ("categories: 1,950 names past the first 50 left out (expected at most 50 an article)",)


def test_tags_are_limited_too(settings: Settings) -> None:
    """Tags (which every entry carries as terms) are held to the same limits as categories."""
    article = parse(
        {"title": "x", "date": "2026-11-01", "tags": ["t" * 5000, *(f"t{n}" for n in range(100))]}, settings
    )

    assert article.tags == tuple(f"t{n}" for n in range(50))
    assert [w.split(":")[0] for w in article.warnings] == ["tags", "tags"]


def test_an_overlong_category_name_is_left_out_and_the_rest_kept(settings: Settings) -> None:
    """A category name over 200 characters is left out with a warning; the article keeps its other categories."""
    text = f"---\ntitle: x\ndate: 2026-11-01\ncategories: [金融, {'名' * 4_000_000}, 要闻]\n---\nbody\n"
    article = parse_article(text.encode(), source="a.md", mtime=0, settings=settings)

    assert isinstance(article, Article), article

    assert article.categories == ("金融", "要闻")
    assert article.warnings == ("categories: 1 name over 200 characters left out (expected shorter names)",)


def test_limits_are_settings(tmp_path: Path) -> None:
    """`content.max_categories` and `content.max_name_chars` change the limits."""
    settings = make_settings(tmp_path, content={"max_categories": 2, "max_name_chars": 3})

    article = parse({"title": "x", "date": "2026-11-01", "categories": ["abcd", "a", "b", "c"]}, settings)

    assert article.categories == ("a", "b")
    assert [w.split(":")[0] for w in article.warnings] == ["categories", "categories"]


def test_an_overlong_author_name_is_cut(settings: Settings) -> None:
    """An author name over 200 characters is cut to 200, with a warning; a huge email is left out."""
    text = f"---\ntitle: x\ndate: 2026-11-01\nauthor: {'作' * 1_000_000}\n---\nbody\n"
    article = parse_article(text.encode(), source="a.md", mtime=0, settings=settings)
    mapped = parse(
        {"title": "x", "date": "2026-11-01", "author": {"name": "N", "email": "a" * 100_000 + "@example.com"}},
        settings,
    )

    assert isinstance(article, Article)
    assert article.author is not None
    assert len(article.author.name) == 200
    assert article.warnings[0].startswith("author: name of 1,000,000 characters cut to 200")
    assert mapped.author is not None
    assert (mapped.author.name, mapped.author.email) == ("N", None)


@hypothesis_settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(count=st.integers(0, 20_000), length=st.integers(1, 100_000))
def test_any_category_count_or_name_length_is_bounded_work(settings: Settings, count: int, length: int) -> None:
    """Any number of categories of any length parses and catalogs in bounded time; the other articles publish."""
    length = min(length, 1_000_000 // max(count, 1))  # files up to 2 MB, as content.max_file_bytes allows
    names = "".join(f"\n - '{n}-{'x' * length}'" for n in range(count)) or " []"
    hostile = f"---\ntitle: hostile\ndate: 2026-11-01\ncategories:{names}\ntags:{names}\n---\nbody\n"
    plain = [
        parse({"title": f"p{n}", "date": f"2026-11-0{n}", "categories": ["金融"]}, settings, f"p{n}.md") for n in (2, 3)
    ]

    started = time.perf_counter()
    result = parse_article(hostile.encode(), source="hostile.md", mtime=0, settings=settings)
    catalog = build_catalog([result, *plain] if isinstance(result, Article) else plain, settings, NOW)
    elapsed = time.perf_counter() - started

    assert not isinstance(result, Problem)
    assert len(result.categories) <= 50
    assert len(result.tags) <= 50
    assert all(len(name) <= 200 for name in (*result.categories, *result.tags))
    assert len(catalog.feeds) <= 1 + 1 + 50
    assert [a.source for a in feeds_by_slug(catalog)["jin-rong"].articles] == ["p3.md", "p2.md"]
    assert elapsed < 5, elapsed  # a YAML parse of up to 4 MB dominates; 2,000 names once took 44 s


# --- 6. an `updated` ahead of now --------------------------------------------------------------------------------


def test_a_far_future_updated_does_not_hold_last_modified(content_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`updated: 9999-12-31` is shown as the article's date, warned once; a later article moves Last-Modified on."""
    site = Site(content_dir)
    with caplog.at_level(logging.WARNING, logger="feedsvc.catalog"):
        site.write("old.md", {"title": "old", "date": "2026-11-01T00:00:00Z", "updated": "9999-12-31"})
        site.refresher.refresh()
    first = site.client.get("/feeds/all.atom")
    site.write("new.md", {"title": "new", "date": "2026-11-20T00:00:00Z"})
    polled = site.client.get("/feeds/all.atom", headers={"If-Modified-Since": first.headers["Last-Modified"]})

    assert first.headers["Last-Modified"] == http_date(datetime.fromisoformat("2026-11-01T00:00:00+00:00"))
    assert b"9999" not in first.data
    assert [r.getMessage() for r in caplog.records] == [
        "old.md: updated: 9999-12-30T16:00:00+00:00 is in the future, the date is used until then "
        "(expected a time before now)"  # midnight in site.timezone, Asia/Shanghai
    ]
    assert polled.status_code == 200
    assert polled.headers["Last-Modified"] == http_date(datetime.fromisoformat("2026-11-20T00:00:00+00:00"))


def test_a_future_updated_takes_effect_when_it_comes(settings: Settings) -> None:
    """An `updated` a day ahead is like a scheduled edit: the date until then, the `updated` after it."""
    article = parse({"title": "x", "date": "2026-11-01T00:00:00Z", "updated": (NOW + DAY).isoformat()}, settings)

    before = build_catalog([article], settings, NOW)
    again = build_catalog([article], settings, NOW + timedelta(hours=1))
    after = build_catalog([article], settings, NOW + 2 * DAY)

    assert feeds_by_slug(before)["all"].updated == article.published
    assert feeds_by_slug(again) == feeds_by_slug(before)  # the same on every rescan until then
    assert feeds_by_slug(after)["all"].updated == NOW + DAY


def test_an_updated_within_the_clock_skew_is_kept(settings: Settings) -> None:
    """An `updated` a minute ahead (clocks differ) is shown as it is."""
    article = parse({"title": "x", "date": "2026-11-01", "updated": (NOW + timedelta(minutes=1)).isoformat()}, settings)

    assert feeds_by_slug(build_catalog([article], settings, NOW))["all"].updated == NOW + timedelta(minutes=1)


# --- 12. one category per folded name; a published URL keeps answering ------------------------------------------


def test_names_differing_by_case_width_or_spacing_are_one_category(settings: Settings) -> None:
    """`News`, `news`, `ＮＥＷＳ` and ` news ` are one category with one feed at `news`."""
    articles = [
        parse({"title": n, "date": f"2026-11-0{n}", "categories": [name]}, settings, f"{n}.md")
        for n, name in enumerate(["news", "News", "ＮＥＷＳ", " news ", "NEWS", "News"], 1)
    ]

    feeds = feeds_by_slug(build_catalog(articles, settings, NOW))

    assert sorted(feeds) == ["all", "news"]
    assert feeds["news"].total == 6
    assert feeds["news"].spec.title == "测试站 - News"  # the most used spelling


def test_configured_names_match_any_spelling(tmp_path: Path) -> None:
    """An article's `FINANCE` or `Ｆｉｎａｎｃｅ` joins the configured `Finance`; entries show the configured name."""
    settings = make_settings(tmp_path, categories={"Finance": {"slug": "money"}})
    article = parse({"title": "x", "date": "2026-11-01", "categories": ["FINANCE", "Ｆｉｎａｎｃｅ"]}, settings)

    feeds = feeds_by_slug(build_catalog([article], settings, NOW))

    assert sorted(feeds) == ["all", "money"]
    assert feeds["money"].articles[0].categories == ("Finance",)


def test_config_refuses_two_spellings_of_one_name(tmp_path: Path) -> None:
    """Configuring `News` and `news`, or an alias that is another category's name in capitals, is refused."""
    with pytest.raises(ConfigError, match="same category"):
        parse_settings({"categories": {"News": {}, "news": {}}})
    with pytest.raises(ConfigError, match="already means"):
        parse_settings({"categories": {"News": {}, "Sport": {"aliases": ["NEWS"]}}})


def test_a_published_feed_url_stays_when_another_spelling_comes_and_goes(content_dir: Path) -> None:
    """With `news` published, an article filed under `News` joins it; deleting it leaves /feeds/news.rss answering."""
    site = Site(content_dir)
    site.write("a.md", {"title": "a", "date": "2026-11-01", "categories": ["news"]})
    site.write("b.md", {"title": "b", "date": "2026-11-02", "categories": ["News"]})
    with_both = site.client.get("/feeds/news.rss")
    site.remove("b.md")
    after = site.client.get("/feeds/news.rss")

    assert with_both.status_code == 200
    assert b"<title>b</title>" in with_both.data
    assert b"<title>a</title>" in with_both.data
    assert after.status_code == 200


def test_a_newcomer_sharing_a_slug_gets_the_suffix(content_dir: Path) -> None:
    """`C#` arriving after `C++` (both slug `c`) gets `c-` and its 6 digits; `C++` keeps `/feeds/c.rss`."""
    site = Site(content_dir)
    site.write("a.md", {"title": "a", "date": "2026-11-01", "categories": ["C++"]})
    before = site.client.get("/feeds/c.rss")
    site.write("b.md", {"title": "b", "date": "2026-11-02", "categories": ["C#"]})
    senior = site.client.get("/feeds/c.rss")
    newcomer = site.client.get(f"/feeds/c-{sha6('c#')}.rss")

    assert before.status_code == senior.status_code == newcomer.status_code == 200
    assert b"<title>a</title>" in senior.data
    assert b"<title>b</title>" not in senior.data
    assert b"<title>b</title>" in newcomer.data


def test_a_suffixed_url_keeps_answering_when_the_senior_is_gone(content_dir: Path) -> None:
    """When the category that held `c` is deleted, `C#` moves to `c`, and its old `c-<digits>` URL answers 200."""
    site = Site(content_dir)
    site.write("a.md", {"title": "a", "date": "2026-11-01", "categories": ["C++"]})
    site.write("b.md", {"title": "b", "date": "2026-11-02", "categories": ["C#"]})
    site.remove("a.md")
    old = site.client.get(f"/feeds/c-{sha6('c#')}.rss")
    unknown = site.client.get(f"/feeds/c-{sha6('c--')}.rss")

    assert old.status_code == 200
    assert b"<title>b</title>" in old.data
    assert unknown.status_code == 404


def test_a_name_lookup_of_a_found_category_is_not_permanent(content_dir: Path) -> None:
    """`/feeds/<name>.rss` of a category found in content answers 302, never 301 or 308."""
    site = Site(content_dir)
    site.write("a.md", {"title": "a", "date": "2026-11-01", "categories": ["股票", "Wall Street"]})

    response = site.client.get(f"/feeds/{quote('股票')}.rss")
    folded = site.client.get(f"/feeds/{quote('ＷＡＬＬ  street')}.atom")
    unknown = site.client.get("/feeds/%EF%BC%A2.rss")  # a full-width B: folded to b, not a category

    assert response.status_code == 302
    assert response.headers["Location"] == "/feeds/gu-piao.rss"
    assert folded.status_code == 302
    assert folded.headers["Location"] == "/feeds/wall-street.atom"
    assert unknown.status_code == 404


def test_a_category_named_all_does_not_redirect_archive_pages(content_dir: Path) -> None:
    """A category named `all` gets `all-<digits>`; `/feeds/all/archive/99.rss` answers 404, not a redirect."""
    site = Site(content_dir)
    site.write("a.md", {"title": "a", "date": "2026-11-01", "categories": ["all"]})

    archive = site.client.get("/feeds/all/archive/99.rss")
    own = site.client.get(f"/feeds/all-{sha6('all')}.rss")

    assert archive.status_code == 404
    assert own.status_code == 200


def test_another_spelling_of_a_slug_finds_its_feed(content_dir: Path) -> None:
    """`/feeds/ＮＥＷＳ.rss` finds the feed of the category `news`, whose name is its own slug."""
    site = Site(content_dir)
    site.write("a.md", {"title": "a", "date": "2026-11-01", "categories": ["news"]})

    response = site.client.get(f"/feeds/{quote('ＮＥＷＳ')}.rss")
    archive = site.client.get(f"/feeds/{quote('NEWS')}/archive/1.atom")

    assert response.status_code == 302
    assert response.headers["Location"] == "/feeds/news.rss"
    assert archive.status_code == 302
    assert archive.headers["Location"] == "/feeds/news/archive/1.atom"
