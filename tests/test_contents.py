"""Feed contents: each article version's content made once, from the freshest body, kept while a feed shows it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedsvc.config import Settings
from feedsvc.index.cache import Cache
from feedsvc.model import ArticleContent
from feedsvc.refresh.contents import FeedContents, content_key
from tests.conftest import make_settings
from tests.corpus import write_article
from tests.scans import article_of, indexed, opened_cache

DATE = "2022-05-04T10:00:00Z"


@pytest.fixture
def one_worker(content_dir: Path, tmp_path: Path) -> Settings:
    """Settings over the content directory, parsing in this process, the cache under tmp_path."""
    return make_settings(content_dir, scan={"workers": 1}, cache={"dir": str(tmp_path / "cache")})


@pytest.fixture
def cache(one_worker: Settings) -> Iterator[Cache]:
    """The persistent cache of the settings, closed afterwards."""
    yield from opened_cache(one_worker)


def test_a_version_is_made_once_and_kept_while_shown(one_worker: Settings) -> None:
    """The next refresh reuses the content kept for a version its feeds show, reading no body; one not shown goes."""
    write_article(one_worker.content_dir, "a.md", {"title": "A", "date": DATE}, "<p>the body</p>")
    write_article(one_worker.content_dir, "b.md", {"title": "B", "date": DATE}, "<p>another</p>")
    index = indexed(one_worker)
    a, b = article_of(index, "a.md"), article_of(index, "b.md")
    contents = FeedContents(one_worker)

    contents.start(index, {})
    first = contents.content_of(a)
    contents.content_of(b)
    read_first = contents.bodies_read
    kept = contents.keep_only({content_key(a)})
    contents.start(index, {})
    again = contents.content_of(a)

    assert "the body" in first.html
    assert read_first == 2
    assert set(kept) == {content_key(a)}
    assert again is first
    assert contents.bodies_read == 0


def test_the_scans_bodies_are_used_for_the_version_the_index_holds(one_worker: Settings) -> None:
    """A body the scan kept is rendered without reading the file again."""
    write_article(one_worker.content_dir, "a.md", {"title": "A", "date": DATE}, "<p>on disk</p>")
    index = indexed(one_worker)
    contents = FeedContents(one_worker)

    contents.start(index, {"a.md": "<p>kept by the scan</p>"})
    content = contents.content_of(article_of(index, "a.md"))

    assert "kept by the scan" in content.html
    assert contents.bodies_read == 0


def test_a_version_whose_file_changed_is_published_without_content(
    one_worker: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A version its file no longer holds gets empty content and its summary, with a warning."""
    path = write_article(one_worker.content_dir, "a.md", {"title": "A", "date": DATE, "summary": "S"}, "<p>v1</p>")
    first = indexed(one_worker)
    old = article_of(first, "a.md")
    write_article(one_worker.content_dir, "a.md", {"title": "A2", "date": DATE}, "<p>v2</p>")
    os.utime(path, (1, 1))
    contents = FeedContents(one_worker)

    contents.start(indexed(one_worker, first), {"a.md": "<p>v2</p>"})
    with caplog.at_level(logging.WARNING, logger="feedsvc.refresh"):
        content = contents.content_of(old)

    assert content == ArticleContent(html="", summary="S", image=None)
    assert contents.bodies_read == 1
    assert "a.md: its body cannot be read again; published without content" in caplog.text


def test_kept_contents_are_read_only(one_worker: Settings) -> None:
    """What a refresh keeps cannot be changed by its readers: the next refresh makes another mapping."""
    write_article(one_worker.content_dir, "a.md", {"title": "A", "date": DATE})
    index = indexed(one_worker)
    article = article_of(index, "a.md")
    contents = FeedContents(one_worker)
    contents.start(index, {})
    contents.content_of(article)

    kept = contents.keep_only({content_key(article)})
    contents.start(index, {})
    contents.keep_only(set())

    with pytest.raises(TypeError):
        kept[content_key(article)] = ArticleContent("", "", None)  # type: ignore[index]
    assert set(kept) == {content_key(article)}
    assert contents.kept == {}


def test_contents_made_are_handed_to_the_cache_once_and_cached_ones_never(one_worker: Settings, cache: Cache) -> None:
    """`take_fresh` names each content made from a body once; one found in the cache is used as it is, not named."""
    write_article(one_worker.content_dir, "a.md", {"title": "A", "date": DATE})
    write_article(one_worker.content_dir, "b.md", {"title": "B", "date": DATE})
    index = indexed(one_worker)
    a, b = article_of(index, "a.md"), article_of(index, "b.md")
    stored = ArticleContent("<p>from the cache</p>", "cached", None)
    cache.save_contents({content_key(b): stored}, {content_key(b)})
    contents = FeedContents(one_worker, cache)

    contents.start(index, {})
    contents.content_of(a)
    from_cache = contents.content_of(b)

    assert from_cache == stored
    assert contents.bodies_read == 1
    assert contents.take_fresh() == {content_key(a)}
    assert contents.take_fresh() == set()
