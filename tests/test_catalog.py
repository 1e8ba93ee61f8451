"""The catalog: which feeds exist, their slugs, and which articles each holds in which order."""

from __future__ import annotations

import hashlib
import itertools
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from feedsvc.config import Settings
from feedsvc.feeds.catalog import Catalog, assign_slugs, build_catalog
from feedsvc.model import Article, Feed
from feedsvc.parse.articles import parse_article
from tests.conftest import NOW, make_settings
from tests.corpus import article_text

DAY = timedelta(days=1)


def sha1_hex(text: str) -> str:
    """Return the SHA-1 hex digest of a text's UTF-8 bytes."""
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def make_article(
    source: str,
    *,
    published: datetime = NOW - DAY,
    categories: tuple[str, ...] = (),
    identity: str | None = None,
    link: str | None = None,
    draft: bool = False,
) -> Article:
    """Build an article value as the parser would, with only what the catalog looks at varying."""
    link = link or f"https://www.example.com/{source.removesuffix('.md')}/"
    return Article(
        source=source,
        title=source,
        link=link,
        id=identity or link,
        published=published,
        updated=published,
        categories=categories,
        tags=(),
        author=None,
        summary=None,
        image=None,
        draft=draft,
        fingerprint=sha1_hex(source),
    )


def settings_with(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    """Settings with some config sections given."""
    return make_settings(tmp_path, **sections)


def feeds_by_slug(catalog: Catalog) -> dict[str, Feed]:
    """Index a catalog's feeds by slug."""
    return {feed.spec.slug: feed for feed in catalog.feeds}


def sources(feed: Feed) -> list[str]:
    """Return the sources of a feed's articles, in feed order."""
    return [article.source for article in feed.articles]


# --- slugs -------------------------------------------------------------------------------------------------------


def test_configured_slug_is_kept() -> None:
    """A category with a configured slug gets exactly that slug."""
    assert assign_slugs({"金融": "finance", "要闻": "headlines"}, ["金融"]) == {"金融": "finance", "要闻": "headlines"}


def test_generated_slug_is_transliterated() -> None:
    """A category without a configured slug gets its name transliterated to lower-case ASCII."""
    slugs = assign_slugs({"证券时报网": None}, ["Wall Street", "ESG"])

    assert slugs == {"证券时报网": "zheng-quan-shi-bao-wang", "Wall Street": "wall-street", "ESG": "esg"}


def test_emoji_name_gets_a_hash_slug() -> None:
    """A name that transliterates to nothing gets `c-` and 6 hex digits of its UTF-8 SHA-1."""
    slugs = assign_slugs({}, ["😀", "🚀📈"])

    assert slugs == {"😀": "c-" + sha1_hex("😀")[:6], "🚀📈": "c-" + sha1_hex("🚀📈")[:6]}


@pytest.mark.parametrize("name", ["all", "ALL", "All!"])
def test_name_slugifying_to_all_is_suffixed(name: str) -> None:
    """A name whose slug would be `all` gets `-` and its 6 hex digits, so it cannot shadow the all feed."""
    assert assign_slugs({}, [name]) == {name: "all-" + sha1_hex(name)[:6]}


@pytest.mark.parametrize("names", [("A股", "agu"), ("Wall Street", "wall-street"), ("ESG", "esg", "Esg")])
def test_names_sharing_a_slug_the_first_keeps_it(names: tuple[str, ...]) -> None:
    """Of names that transliterate to the same slug, the first (the senior) keeps it; the others get their 6 digits."""
    for order in itertools.permutations(names):
        slugs = assign_slugs({}, list(order))

        natural = slugs[order[0]]
        assert slugs == {order[0]: natural} | {name: f"{natural}-{sha1_hex(name)[:6]}" for name in order[1:]}


def test_configured_slug_keeps_its_own_when_shared() -> None:
    """A configured slug stays as it is, and configured names claim before found ones."""
    slugs = assign_slugs({"Finance": "finance", "A股": None}, ["finance", "agu"])

    assert slugs == {
        "Finance": "finance",
        "finance": "finance-" + sha1_hex("finance")[:6],
        "A股": "agu",
        "agu": "agu-" + sha1_hex("agu")[:6],
    }


def test_slugs_do_not_depend_on_config_order() -> None:
    """Every order of the configured names gives the same slugs; found names claim in the order given."""
    configured = [("金融", "finance"), ("Wall Street", None), ("要闻", None)]
    found = ["A股", "agu", "wall-street", "all", "😀", "finance", "证券时报网"]
    expected = assign_slugs(dict(configured), found)

    for order in itertools.permutations(configured):
        assert assign_slugs(dict(order), found) == expected
    assert len(set(expected.values())) == len(expected)


def test_a_newcomer_never_takes_an_earlier_slug() -> None:
    """Adding a found name after the others changes no earlier name's slug."""
    found = ["A股", "wall-street", "all", "😀", "finance", "证券时报网", "ESG"]
    before = assign_slugs({"金融": "finance"}, found)

    for newcomer in ("agu", "Wall Street", "ALL", "esg", "zheng quan shi bao wang", "c-" + sha1_hex("😀")[:6]):
        after = assign_slugs({"金融": "finance"}, [*found, newcomer])

        assert {name: after[name] for name in before} == before
        assert len(set(after.values())) == len(after)


def test_configured_slug_wins_over_an_equal_suffixed_one_in_any_order() -> None:
    """A configured slug equal to another category's suffixed slug is kept, whatever the config order."""
    clash = "wall-street-" + sha1_hex("Wall Street")[:6]

    for configured in ({"Wall Street": None, "X": clash}, {"X": clash, "Wall Street": None}):
        slugs = assign_slugs(configured, ["wall-street"])

        assert slugs["X"] == clash
        assert len(set(slugs.values())) == 3
        assert slugs == assign_slugs(dict(reversed(configured.items())), ["wall-street"])


@pytest.mark.parametrize("name", ["../../etc", "<script>alert(1)</script>", "a/b\\c", "%2e%2e", "  ", "?#&=", "\x00"])
def test_hostile_names_give_safe_slugs(name: str) -> None:
    """Names made of path parts, markup or URL syntax give slugs of lower-case ASCII letters, digits and dashes."""
    slug = assign_slugs({}, [name])[name]

    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug)
    assert slug not in ("all", ".", "..")


# --- ids ---------------------------------------------------------------------------------------------------------


def test_shared_ids_are_made_unique_with_the_path_hash(tmp_path: Path) -> None:
    """Two articles with the same id each get link + `#` + 8 hex of their path's SHA-1, and both publish."""
    settings = settings_with(tmp_path)
    one = make_article("2022/a.md", identity="same", link="https://www.example.com/a/")
    two = make_article("2023/a.md", identity="same", link="https://www.example.com/a/", published=NOW - 2 * DAY)
    other = make_article("b.md", identity="other")

    catalog = build_catalog([one, two, other], settings, NOW)

    ids = {a.source: a.id for a in feeds_by_slug(catalog)["all"].articles}
    assert ids == {
        "2022/a.md": "https://www.example.com/a/#" + sha1_hex("2022/a.md")[:8],
        "2023/a.md": "https://www.example.com/a/#" + sha1_hex("2023/a.md")[:8],
        "b.md": "other",
    }
    assert catalog.published == 3


def test_unique_ids_are_stable_across_runs_and_orders(tmp_path: Path) -> None:
    """The ids given to colliding articles are the same in every build and every input order."""
    settings = settings_with(tmp_path)
    articles = [make_article(f"{n}/a.md", link="https://www.example.com/a/", published=NOW - n * DAY) for n in range(4)]

    runs = [build_catalog(order, settings, NOW) for order in (articles, articles[::-1], articles)]

    ids = [[a.id for a in feeds_by_slug(run)["all"].articles] for run in runs]
    assert ids[0] == ids[1] == ids[2]
    assert len(set(ids[0])) == 4


# --- order and limits --------------------------------------------------------------------------------------------


def test_newest_first_ties_broken_by_path(tmp_path: Path) -> None:
    """Feeds list articles by date, newest first, and articles with the same date by file path."""
    settings = settings_with(tmp_path)
    same = NOW - DAY
    articles = [
        make_article("c.md", published=same),
        make_article("old.md", published=NOW - 3 * DAY),
        make_article("a.md", published=same),
        make_article("new.md", published=NOW - timedelta(hours=1)),
        make_article("b.md", published=same.astimezone(timezone(timedelta(hours=8)))),  # the same instant
    ]

    catalog = build_catalog(articles, settings, NOW)

    assert sources(feeds_by_slug(catalog)["all"]) == ["new.md", "a.md", "b.md", "c.md", "old.md"]


def test_feed_limits_and_totals(tmp_path: Path) -> None:
    """`feeds.limit` caps `all` and unconfigured categories, a category's own `limit` caps it, and totals count all."""
    settings = settings_with(
        tmp_path,
        feeds={"limit": 3},
        categories={"金融": {"slug": "finance", "limit": 5}, "要闻": {"slug": "headlines"}},
    )
    articles = [
        make_article(f"{n:02d}.md", published=NOW - n * DAY, categories=("金融", "要闻", "股票")) for n in range(1, 11)
    ]

    feeds = feeds_by_slug(build_catalog(articles, settings, NOW))

    assert sources(feeds["all"]) == ["01.md", "02.md", "03.md"]
    assert sources(feeds["finance"]) == ["01.md", "02.md", "03.md", "04.md", "05.md"]
    assert sources(feeds["headlines"]) == ["01.md", "02.md", "03.md"]
    assert sources(feeds["gu-piao"]) == ["01.md", "02.md", "03.md"]
    assert {slug: feed.total for slug, feed in feeds.items()} == dict.fromkeys(feeds, 10)
    assert {slug: feed.spec.limit for slug, feed in feeds.items()} == {
        "all": 3,
        "finance": 5,
        "headlines": 3,
        "gu-piao": 3,
    }


def test_total_counts_each_categorys_articles(tmp_path: Path) -> None:
    """Feed.total is the number of published articles in the category, beyond the limit."""
    settings = settings_with(tmp_path, feeds={"limit": 1})
    articles = [
        make_article("a.md", categories=("x", "y")),
        make_article("b.md", categories=("x",)),
        make_article("c.md", categories=("x",), draft=True),
        make_article("d.md", categories=("x",), published=NOW + DAY),
    ]

    feeds = feeds_by_slug(build_catalog(articles, settings, NOW))

    assert {slug: (feed.total, len(feed.articles)) for slug, feed in feeds.items()} == {
        "all": (2, 1),
        "x": (2, 1),
        "y": (1, 1),
    }


# --- what is published -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", [{"draft": True}, {"published": False}, {"draft": "yes", "published": True}])
def test_drafts_are_never_published(tmp_path: Path, flag: dict[str, Any]) -> None:
    """An article marked `draft: true` or `published: false` is held, in no feed."""
    settings = settings_with(tmp_path, categories={"金融": {"slug": "finance"}})
    fields = {"title": "Draft", "date": "2020-01-01", "categories": ["金融", "auto"], **flag}
    draft = parse_article(article_text(fields).encode(), source="draft.md", mtime=0, settings=settings)
    assert isinstance(draft, Article)

    catalog = build_catalog([draft, make_article("ok.md")], settings, NOW)

    assert catalog.published == 1
    assert catalog.held == 1
    assert all("draft.md" not in sources(feed) for feed in catalog.feeds)
    assert "auto" not in feeds_by_slug(catalog)


def test_future_article_is_held_until_its_date(tmp_path: Path) -> None:
    """An article dated after `now` is held, and a catalog built after its date publishes it."""
    settings = settings_with(tmp_path)
    future = make_article("future.md", published=NOW + timedelta(minutes=5), categories=("later",))
    articles = [future, make_article("now.md", published=NOW)]

    before = build_catalog(articles, settings, NOW)
    after = build_catalog(articles, settings, NOW + timedelta(minutes=5))

    assert (before.published, before.held) == (1, 1)
    assert sources(feeds_by_slug(before)["all"]) == ["now.md"]
    assert "later" not in feeds_by_slug(before)
    assert (after.published, after.held) == (2, 0)
    assert sources(feeds_by_slug(after)["all"]) == ["future.md", "now.md"]
    assert sources(feeds_by_slug(after)["later"]) == ["future.md"]


def test_aliases_fold_into_the_configured_category(tmp_path: Path) -> None:
    """An article filed under an alias joins the configured category once, and both names redirect to its slug."""
    settings = settings_with(tmp_path, categories={"要闻": {"slug": "headlines", "aliases": ["头条", "top"]}})
    articles = [
        make_article("a.md", categories=("头条",)),
        make_article("b.md", categories=("要闻", "头条"), published=NOW - 2 * DAY),
        make_article("c.md", categories=("top", "其他"), published=NOW - 3 * DAY),
    ]

    catalog = build_catalog(articles, settings, NOW)

    feeds = feeds_by_slug(catalog)
    assert sorted(feeds) == ["all", "headlines", "qi-ta"]
    headlines = feeds["headlines"]
    assert sources(headlines) == ["a.md", "b.md", "c.md"]
    assert [a.categories for a in headlines.articles] == [("要闻",), ("要闻",), ("要闻", "其他")]
    assert headlines.total == 3
    assert headlines.spec.names == ("要闻", "头条", "top")
    assert catalog.redirects == {"要闻": "headlines", "头条": "headlines", "top": "headlines", "其他": "qi-ta"}


def test_auto_categories_off_publishes_only_configured_ones(tmp_path: Path) -> None:
    """With `feeds.auto_categories: false` only configured categories get feeds; every article is still in `all`."""
    settings = settings_with(tmp_path, feeds={"auto_categories": False}, categories={"金融": {"slug": "finance"}})
    articles = [make_article("a.md", categories=("金融", "股票")), make_article("b.md", categories=("股票",))]

    catalog = build_catalog(articles, settings, NOW)

    feeds = feeds_by_slug(catalog)
    assert sorted(feeds) == ["all", "finance"]
    assert sources(feeds["all"]) == ["a.md", "b.md"]
    assert sources(feeds["finance"]) == ["a.md"]
    assert "股票" not in catalog.redirects


def test_all_feed_can_be_turned_off(tmp_path: Path) -> None:
    """With `feeds.all: false` there is no `all` feed, only categories."""
    settings = settings_with(tmp_path, feeds={"all": False})

    catalog = build_catalog([make_article("a.md", categories=("x",)), make_article("b.md")], settings, NOW)

    assert sorted(feeds_by_slug(catalog)) == ["x"]
    assert catalog.published == 2


def test_configured_category_without_articles_has_an_empty_feed(tmp_path: Path) -> None:
    """A configured category no article uses still gets a feed, with no articles and a total of 0."""
    settings = settings_with(
        tmp_path, categories={"基金": {"slug": "funds", "title": "基金", "description": "基金新闻"}}
    )

    catalog = build_catalog([make_article("a.md", categories=("x",))], settings, NOW)

    funds = feeds_by_slug(catalog)["funds"]
    assert funds.articles == ()
    assert funds.total == 0
    assert funds.updated is None
    assert funds.spec.description == "基金新闻"
    assert funds.spec.title == "测试站 - 基金"


def test_empty_content_still_has_the_all_feed(tmp_path: Path) -> None:
    """With no articles at all, the catalog holds the empty `all` feed and the configured categories."""
    settings = settings_with(tmp_path, categories={"金融": {"slug": "finance"}})

    catalog = build_catalog([], settings, NOW)

    assert [(f.spec.slug, f.total, f.articles) for f in catalog.feeds] == [("all", 0, ()), ("finance", 0, ())]
    assert (catalog.published, catalog.held) == (0, 0)


def test_article_without_categories_is_only_in_all(tmp_path: Path) -> None:
    """An article with no categories is published in `all` and in no category feed."""
    settings = settings_with(tmp_path, categories={"金融": {"slug": "finance"}})

    catalog = build_catalog([make_article("plain.md"), make_article("x.md", categories=("x",))], settings, NOW)

    feeds = feeds_by_slug(catalog)
    assert sources(feeds["all"]) == ["plain.md", "x.md"]
    assert [slug for slug, feed in feeds.items() if "plain.md" in sources(feed)] == ["all"]


def test_category_feeds_carry_spec_and_redirects(tmp_path: Path) -> None:
    """Auto categories get a titled feed under their generated slug, and their name redirects to it."""
    settings = settings_with(tmp_path)

    catalog = build_catalog([make_article("a.md", categories=("证券时报网", "A股", "agu"))], settings, NOW)

    feeds = feeds_by_slug(catalog)
    spec = feeds["zheng-quan-shi-bao-wang"].spec
    assert (spec.title, spec.description, spec.category, spec.names) == (
        "测试站 - 证券时报网",
        "证券时报网",
        "证券时报网",
        ("证券时报网",),
    )
    # Both have the same oldest article: the folded names settle it ("agu" before "a股").
    assert catalog.redirects == {
        "证券时报网": "zheng-quan-shi-bao-wang",
        "A股": "agu-" + sha1_hex("a股")[:6],
        "a股": "agu-" + sha1_hex("a股")[:6],
    }
    assert feeds["all"].spec.category is None


def test_catalog_is_the_same_for_any_input_order(tmp_path: Path) -> None:
    """Building from the same articles in another order gives an equal catalog."""
    settings = settings_with(tmp_path, feeds={"limit": 4})
    articles = [
        make_article(f"{n}.md", published=NOW - (n % 3) * DAY, categories=(("A股", "agu", "x")[n % 3],))
        for n in range(12)
    ]

    assert build_catalog(articles, settings, NOW) == build_catalog(articles[::-1], settings, NOW)
