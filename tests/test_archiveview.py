"""The archive pages' view of a snapshot: its feeds' lists and contents, read-only; other contents from the files."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import pytest

from feedsvc.config import Settings
from feedsvc.feeds.archives import Archives
from feedsvc.feeds.catalog import CatalogState
from feedsvc.index.scan import EMPTY_INDEX, ContentIndex
from feedsvc.model import ArticleContent, Format
from feedsvc.refresh import archiveview
from feedsvc.refresh.archiveview import ArchivePages, RecentContents, SnapshotArchive
from feedsvc.refresh.bodies import BodyReader
from feedsvc.refresh.contents import content_key
from tests.conftest import NOW, make_settings
from tests.corpus import write_article
from tests.scans import article_of, indexed

LATER = NOW + timedelta(days=3650)


@pytest.fixture
def site(content_dir: Path) -> Settings:
    """Three dated articles, pages of two, parsed in this process."""
    for number in range(3):
        fields = {"title": f"T{number}", "date": f"2022-05-0{number + 1}"}
        write_article(content_dir, f"{number}.md", fields, f"<p>body {number}</p>")
    return make_settings(content_dir, scan={"workers": 1}, feeds={"archive_size": 2})


def view(settings: Settings, index: ContentIndex, **contents: ArticleContent) -> SnapshotArchive:
    """Make a view of the index with the given feed contents (by source), keeping two recent contents."""
    articles = {a.source: a for a in index.articles()}
    return SnapshotArchive(
        feeds={},
        shelves={},
        version=0,
        contents={content_key(articles[source]): content for source, content in contents.items()},
        reader=BodyReader(settings, index),
        recent=RecentContents(2),
    )


def test_a_page_takes_the_feeds_contents_then_recent_ones_then_the_file(site: Settings) -> None:
    """The feeds' content needs no file; one made from its file is kept, and served again once the file is gone."""
    index = indexed(site)
    shown = ArticleContent("<p>the feeds'</p>", "s", None)
    pages = view(site, index, **{"0.md": shown})

    from_feeds = pages.content(article_of(index, "0.md"))
    made = pages.content(article_of(index, "1.md"))
    (site.content_dir / "0.md").unlink()
    (site.content_dir / "1.md").unlink()

    assert from_feeds == shown
    assert "body 1" in made.html
    assert pages.content(article_of(index, "0.md")) == shown
    assert pages.content(article_of(index, "1.md")) is made


def test_a_file_changed_since_its_snapshot_gives_no_content(site: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """An article whose file no longer holds the snapshot's version is archived without content, with a warning."""
    index = indexed(site)
    path = write_article(site.content_dir, "2.md", {"title": "T2 again", "date": "2022-05-03"}, "<p>new</p>")
    os.utime(path, (1, 1))

    with caplog.at_level(logging.WARNING, logger="feedsvc.refresh"):
        content = view(site, index).content(article_of(index, "2.md"))

    assert content.html == ""
    assert "2.md: its body cannot be read again; archived without content" in caplog.text


def test_recent_contents_keep_the_least_recently_used_out() -> None:
    """Recent contents hold at most their size; the one used least recently goes first."""
    recent = RecentContents(2)
    one, two, three = (ArticleContent(f"<p>{n}</p>", "", None) for n in range(3))

    recent.keep(("a", "1"), one)
    recent.keep(("b", "1"), two)
    recent.keep(("a", "1"), one)
    recent.keep(("c", "1"), three)

    assert len(recent) == 2
    assert recent.get(("b", "1")) is None
    assert recent.get(("a", "1")) is one
    assert recent.get(("c", "1")) is three


def test_snapshots_of_one_catalog_version_share_their_shelves(site: Settings) -> None:
    """Two refreshes that left the catalog's lists as they were give pages of one version, sharing their page keys."""
    index = indexed(site)
    state = CatalogState(site)
    state.update((), index.articles(), LATER)
    pages = ArchivePages(site)
    reader = BodyReader(site, index)

    first = pages.archives(state.catalog(), state, {}, reader)
    second = pages.archives(state.catalog(), state, {}, reader)
    state.update(["0.md"], (), LATER)
    third = pages.archives(state.catalog(), state, {}, reader)

    assert isinstance(first, Archives)
    assert isinstance(second, Archives)
    assert isinstance(third, Archives)
    assert first.keys is second.keys
    assert third.keys is not first.keys
    assert third.version != first.version
    page = first.page("all", 1, Format.JSON)
    assert page is not None
    assert [a.source for a in page.feed.articles] == ["1.md", "0.md"]  # the first snapshot's, though 0.md went


def test_a_change_copies_only_the_lists_it_changed(content_dir: Path) -> None:
    """After an edit, the next pages copy the lists of `all` and the article's category, and share the rest."""
    for number in range(6):
        fields = {"title": f"T{number}", "date": f"2022-05-0{number + 1}", "categories": ["甲" if number % 2 else "乙"]}
        write_article(content_dir, f"{number}.md", fields, f"<p>body {number}</p>")
    site = make_settings(content_dir, scan={"workers": 1}, feeds={"archive_size": 2})
    index = indexed(site)
    state = CatalogState(site)
    state.update((), index.articles(), LATER)
    pages = ArchivePages(site)
    reader = BodyReader(site, index)
    first = pages.archives(state.catalog(), state, {}, reader)
    write_article(content_dir, "1.md", {"title": "T1 edited", "date": "2022-05-02", "categories": ["甲"]}, "<p>1</p>")
    edited = indexed(site)

    state.update(["1.md"], [article_of(edited, "1.md")], LATER)
    second = pages.archives(state.catalog(), state, {}, BodyReader(site, edited))

    assert isinstance(first, Archives)
    assert isinstance(second, Archives)
    before, after = first._view.shelves, second._view.shelves  # type: ignore[attr-defined]
    assert after["乙"] is before["乙"]
    assert after["甲"] is not before["甲"]
    assert after[None] is not before[None]
    assert [a.title for a in after["甲"]] == ["T5", "T3", "T1 edited"]


def test_no_archive_pages_when_they_are_off(content_dir: Path) -> None:
    """With feeds.archive_size 0 a snapshot has no archive pages."""
    settings = make_settings(content_dir, feeds={"archive_size": 0})
    state = CatalogState(settings)
    state.update((), (), LATER)

    assert ArchivePages(settings).archives(state.catalog(), state, {}, BodyReader(settings, EMPTY_INDEX)) is None


@pytest.mark.parametrize(("for_build", "trims"), [(False, 1), (True, 0)])
def test_memory_is_given_back_after_each_page_served_not_built(
    site: Settings, monkeypatch: pytest.MonkeyPatch, for_build: bool, trims: int
) -> None:
    """`serve` gives back the memory each page took; a build, making every page in a row, does not."""
    released: list[None] = []
    monkeypatch.setattr(archiveview, "release_memory", lambda: released.append(None))
    index = indexed(site)
    state = CatalogState(site)
    state.update((), index.articles(), LATER)
    archives = ArchivePages(site, for_build=for_build).archives(state.catalog(), state, {}, BodyReader(site, index))
    assert archives is not None
    page = archives.page("all", 1, Format.RSS)
    assert page is not None

    archives.render(page)

    assert len(released) == trims
