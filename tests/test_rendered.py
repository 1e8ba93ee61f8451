"""The render memo: a snapshot's documents rendered only when what they are made of changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsvc.config import Settings
from feedsvc.feeds import listing
from feedsvc.feeds.catalog import Catalog, build_catalog
from feedsvc.index.cache import Cache, inputs_digest
from feedsvc.index.scan import EMPTY_INDEX
from feedsvc.model import INDEX_PATH, OPML_PATH, STYLESHEET_PATH, Article, ArticleContent, Format, feed_path
from feedsvc.refresh import rendered
from feedsvc.refresh.contents import content_key
from feedsvc.refresh.rendered import RenderMemo
from feedsvc.refresh.scanner import Scanner
from tests.conftest import NOW, make_settings
from tests.corpus import write_article
from tests.scans import opened_cache


@pytest.fixture
def site(content_dir: Path, tmp_path: Path) -> Settings:
    """Two categories of two articles each, parsed in this process; the cache under tmp_path."""
    for number, category in enumerate(["x", "x", "y", "y"]):
        date = f"2022-05-0{number + 1}T10:00:00Z"
        write_article(content_dir, f"{number}.md", {"title": f"T{number}", "date": date, "categories": [category]})
    return make_settings(content_dir, scan={"workers": 1}, cache={"dir": str(tmp_path / "cache")})


@pytest.fixture
def cache(site: Settings) -> Iterator[Cache]:
    """The persistent cache of the settings, closed afterwards."""
    yield from opened_cache(site)


def catalog_of(settings: Settings, *, retitle: str | None = None) -> Catalog:
    """Scan the content into a catalog; `retitle` names an article given another title first."""
    articles = list(Scanner(settings).scan(EMPTY_INDEX, 0.0).index.articles())
    if retitle is not None:
        articles = [retitled(a) if a.source == retitle else a for a in articles]
    return build_catalog(articles, settings, NOW + timedelta(days=3650))


def retitled(article: Article) -> Article:
    """Return another version of the article, with another title."""
    return article.replace(title=article.title + " (edited)", fingerprint="f" * 16)


def content_of(article: Article) -> ArticleContent:
    """Return a content made of the article's title."""
    return ArticleContent(html=f"<p>{article.title}</p>", summary=article.title, image=None)


def test_the_first_render_makes_every_document_and_the_next_reuses_them(site: Settings) -> None:
    """Rendering the same catalog again renders nothing: every document is the one already made."""
    memo = RenderMemo(site)
    catalog = catalog_of(site)

    first = memo.render(catalog, content_of)
    second = memo.render(catalog, content_of)

    assert sorted(first.rebuilt) == sorted(first.documents)
    assert {INDEX_PATH, OPML_PATH, STYLESHEET_PATH, feed_path("all", Format.RSS)} <= set(first.documents)
    assert second.rebuilt == ()
    assert all(second.documents[path] is document for path, document in first.documents.items())
    assert set(memo.rendered) == set(second.documents)


def test_an_edited_article_rerenders_only_the_documents_that_show_it(site: Settings) -> None:
    """Editing the newest article of `y` renders again its feeds, `all`'s and the index page, nothing else."""
    memo = RenderMemo(site)
    memo.render(catalog_of(site), content_of)

    edited = memo.render(catalog_of(site, retitle="3.md"), content_of)

    feeds = {feed_path(slug, fmt) for slug in ("all", "y") for fmt in Format}
    assert set(edited.rebuilt) == feeds | {INDEX_PATH}


def test_documents_come_from_the_cache_when_their_inputs_match(site: Settings, cache: Cache) -> None:
    """A new memo (a restart) takes every document whose inputs the cache holds from it, rendering none."""
    before = RenderMemo(site)
    made = before.render(catalog_of(site), content_of)
    cache.save_documents(
        {path: (inputs_digest(key), document) for path, (key, document) in before.rendered.items()},
        made.documents,
        {"articles": 0},
    )

    restarted = RenderMemo(site, cache).render(catalog_of(site), content_of)

    assert restarted.rebuilt == ()
    assert {p: d.body for p, d in restarted.documents.items()} == {p: d.body for p, d in made.documents.items()}


def test_an_edit_renders_without_looking_in_the_cache(
    site: Settings, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once this run has rendered a path, a changed input means a new document: the cache is not read for it."""
    memo = RenderMemo(site, cache)
    memo.render(catalog_of(site), content_of)
    looked: list[str] = []
    monkeypatch.setattr(cache, "document", lambda path, digest: looked.append(path))

    edited = memo.render(catalog_of(site, retitle="3.md"), content_of)

    assert edited.rebuilt
    assert looked == []


def test_an_edit_works_out_the_entry_keys_of_the_feeds_that_show_it_only(
    site: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feeds whose articles are the same objects keep their keys; `shown` still names every feed's versions."""
    memo = RenderMemo(site)
    memo.render(catalog_of(site), content_of)
    worked_out: list[tuple[str, ...]] = []
    original = rendered.entries_key

    def counted(articles: tuple[Article, ...]) -> tuple[rendered.EntryKey, ...]:
        worked_out.append(tuple(a.source for a in articles))
        return original(articles)

    monkeypatch.setattr(rendered, "entries_key", counted)
    catalog = catalog_of(site, retitle="3.md")
    unchanged = memo.render(catalog_of(site), content_of)  # another scan: equal articles, other objects
    worked_out.clear()
    edited = memo.render(catalog, content_of)

    assert unchanged.rebuilt == ()
    assert sorted(worked_out) == [("3.md", "2.md"), ("3.md", "2.md", "1.md", "0.md")]
    assert edited.shown == {content_key(a) for feed in catalog.feeds for a in feed.articles}


def test_an_edit_makes_again_the_index_entries_of_the_feeds_it_shows_in_only(
    site: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index page is put together from each feed's entry, kept while it shows the same; the same bytes."""
    memo = RenderMemo(site)
    memo.render(catalog_of(site), content_of)
    made: list[str] = []
    original = listing._FEED_ITEM

    def counted(feed: Any, *args: Any) -> Any:
        made.append(feed.spec.slug)
        return original(feed, *args)

    monkeypatch.setattr(listing, "_FEED_ITEM", counted)
    catalog = catalog_of(site, retitle="3.md")
    edited = memo.render(catalog, content_of)

    assert sorted(made) == ["all", "y"]  # the edited article is the newest of these two
    assert edited.documents[INDEX_PATH].body == listing.render_index(catalog.feeds, site)
