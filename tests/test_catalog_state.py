"""The incremental catalog: after any sequence of changes it equals the catalog built from scratch."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.config import Settings
from feedsvc.feeds.catalog import Catalog, CatalogState, build_catalog
from feedsvc.model import Article
from tests.conftest import NOW, make_settings

SOURCES = [f"posts/{n}.md" for n in range(8)]
# 金融 is configured with the alias 财经; 要闻 is configured; the rest are found in content
# (ａ股 and `a股 ` are other spellings of A股, and ＦＵＮＤ of fund: one category each).
CATEGORIES = ["金融", "财经", "要闻", "股票", "基金", "A股", "ａ股", "a股 ", "fund", "ＦＵＮＤ"]
IDS = ["shared-1", "shared-2"]  # ids several articles may claim; otherwise an article's id is its link
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Put:
    """Add an article at a source, or change the one there."""

    source: str
    hours: int  # publication time relative to the current `now`, in hours
    categories: tuple[str, ...]
    identity: str | None
    draft: bool
    revision: int


@dataclass(frozen=True)
class Remove:
    """Delete the article at a source (which may hold none)."""

    source: str


@dataclass(frozen=True)
class Tick:
    """Move `now` forward."""

    hours: int


Step = Put | Remove | Tick

puts = st.builds(
    Put,
    source=st.sampled_from(SOURCES),
    hours=st.integers(-6, 6),
    categories=st.lists(st.sampled_from(CATEGORIES), max_size=3).map(tuple),
    identity=st.one_of(st.none(), st.sampled_from(IDS)),
    draft=st.booleans(),
    revision=st.integers(0, 3),
)
removes = st.builds(Remove, source=st.sampled_from(SOURCES))
ticks = st.builds(Tick, hours=st.integers(0, 4))
# One update of the catalog: what a refresh hands it (several changes at once), or a single step.
batches = st.lists(st.one_of(puts, puts, removes, ticks), min_size=1, max_size=4)


@pytest.fixture(scope="module")
def catalog_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with a configured category that has an alias, another configured one, and small feed limits."""
    return make_settings(
        tmp_path_factory.mktemp("content"),
        feeds={"limit": 3},
        categories={"金融": {"slug": "finance", "aliases": ["财经"], "limit": 2}, "要闻": {}},
    )


def article(put: Put, now: datetime) -> Article:
    """Build the article a Put describes, as the parser would."""
    link = f"https://www.example.com/{put.source.removesuffix('.md')}/"
    published = now + put.hours * HOUR
    fingerprint = hashlib.sha1(repr(put).encode(), usedforsecurity=False).hexdigest()[:16]
    return Article(
        source=put.source,
        title=f"{put.source} r{put.revision}",
        link=link,
        id=put.identity or link,
        published=published,
        updated=published + put.revision * HOUR,
        categories=put.categories,
        tags=(),
        author=None,
        summary=None,
        image=None,
        draft=put.draft,
        fingerprint=fingerprint,
    )


def comparable(catalog: Catalog) -> tuple[object, ...]:
    """Return everything a catalog says: each feed's spec, articles and total, redirects, and counts."""
    return (
        tuple((feed.spec, feed.articles, feed.total) for feed in catalog.feeds),
        dict(catalog.redirects),
        catalog.published,
        catalog.held,
    )


def apply(state: CatalogState, current: dict[str, Article], batch: list[Step], now: datetime) -> datetime:
    """Apply one batch to the state and to the plain dict of current articles; return the new `now`."""
    removed: list[str] = []
    added: dict[str, Article] = {}
    for step in batch:
        if isinstance(step, Tick):
            now += step.hours * HOUR
        elif isinstance(step, Remove):
            current.pop(step.source, None)
            added.pop(step.source, None)
            removed.append(step.source)
        else:
            current[step.source] = added[step.source] = article(step, now)
            if step.source in removed:
                removed.remove(step.source)
    state.update(removed, list(added.values()), now)
    return now


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.lists(batches, min_size=1, max_size=12))
def test_incremental_catalog_equals_a_fresh_build(catalog_settings: Settings, history: list[list[Step]]) -> None:
    """After every update (adds, changes, removals, time passing), the state's catalog equals build_catalog."""
    state = CatalogState(catalog_settings)
    current: dict[str, Article] = {}
    now = NOW
    for batch in history:
        now = apply(state, current, batch, now)

        expected = build_catalog(current.values(), catalog_settings, now)
        assert comparable(state.catalog()) == comparable(expected), batch


@settings(max_examples=200, deadline=None)
@given(st.lists(puts, min_size=1, max_size=6), st.lists(st.lists(puts, min_size=1, max_size=3), max_size=4))
def test_a_source_given_twice_in_one_update_counts_once(
    catalog_settings: Settings, first: list[Put], later: list[list[Put]]
) -> None:
    """When one update names a source twice, the later article wins, on a first load as on any other."""
    state = CatalogState(catalog_settings)
    current: dict[str, Article] = {}
    for batch in [first, *later]:
        articles = [article(put, NOW) for put in batch]
        current.update((a.source, a) for a in articles)
        state.update((), articles, NOW)

        expected = build_catalog(current.values(), catalog_settings, NOW)
        assert comparable(state.catalog()) == comparable(expected)


def test_removing_every_article_then_adding_again_starts_clean(catalog_settings: Settings) -> None:
    """After every article is removed, adding new ones (a first load again) gives the fresh catalog."""
    state = CatalogState(catalog_settings)
    one = article(Put("posts/0.md", -1, ("金融",), "shared-1", draft=False, revision=0), NOW)
    two = article(Put("posts/1.md", -2, ("财经",), "shared-1", draft=False, revision=0), NOW)
    state.update((), [one, two], NOW)
    state.update([one.source, two.source], (), NOW)

    state.update((), [two], NOW)

    assert comparable(state.catalog()) == comparable(build_catalog([two], catalog_settings, NOW))
    (finance,) = (f for f in state.catalog().feeds if f.spec.slug == "finance")
    assert [a.id for a in finance.articles] == ["shared-1"]


def test_future_article_is_published_when_now_passes_its_date(catalog_settings: Settings) -> None:
    """A held future article moves into the feeds on the first update at or after its date, and no sooner."""
    state = CatalogState(catalog_settings)
    future = article(Put("posts/0.md", 2, ("股票",), None, draft=False, revision=0), NOW)
    state.update((), [future], NOW)
    early = state.catalog()

    state.update((), (), NOW + 2 * HOUR)
    due = state.catalog()

    assert (early.published, early.held) == (0, 1)
    assert (due.published, due.held) == (1, 0)
    assert state.next_publication is None


def test_empty_catalog_state_serves_only_the_all_feed(tmp_path: Path) -> None:
    """A catalog state over an empty configuration serves the `all` feed alone."""
    state = CatalogState(make_settings(tmp_path))
    state.update((), (), NOW)

    assert [f.spec.slug for f in state.catalog().feeds] == ["all"]
