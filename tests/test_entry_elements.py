"""An article's entry is made once in each format and copied into its other feeds and pages, with the same bytes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import feedsvc.feeds.render
import feedsvc.refresh.archiveview
import feedsvc.refresh.rendered
from feedsvc.config import Settings
from feedsvc.feeds.render import EntryElements
from feedsvc.model import Article, ArticleContent, Format
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime.builder import start_builder
from feedsvc.store import Store
from tests.conftest import Clock, make_settings
from tests.corpus import write_article, write_corpus


def files_of(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def site(content_dir: Path) -> Settings:
    """Articles in several categories, tags and authors, one with its own language, some too large to carry all."""
    write_corpus(content_dir, 40)
    write_article(
        content_dir,
        "lang.md",
        {"title": "Bonjour", "date": "2024-01-01T12:00:00Z", "lang": "fr", "categories": ["金融"], "tags": ["t"]},
        "<p>Texte en français.</p>",
    )
    for number in range(3):
        write_article(
            content_dir,
            f"long-{number}.md",
            {"title": f"Long {number}", "date": f"2024-01-02T0{number}:00:00Z", "categories": ["金融"]},
            "<p>" + "很长的正文。" * 3000 + "</p>",
        )
    # Pages of 5, and a content budget that the long articles exhaust: the same article carries
    # its content in one document and only its summary in another.
    return make_settings(content_dir, feeds={"archive_size": 5, "max_content_bytes": 60_000})


def test_a_build_with_entries_copied_is_byte_for_byte_the_one_made_without(
    site: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every feed, archive page and view in RSS and Atom: the same bytes whether entries are copied or made again."""
    made: list[EntryElements] = []

    def recorded(size: int) -> EntryElements:
        made.append(EntryElements(size))
        return made[-1]

    monkeypatch.setattr(feedsvc.refresh.archiveview, "EntryElements", recorded)
    start_builder(site, tmp_path / "copied", watch=False).stop()
    monkeypatch.setattr(feedsvc.refresh.archiveview, "EntryElements", lambda size: None)
    monkeypatch.setattr(feedsvc.refresh.rendered, "EntryElements", lambda size: None)
    start_builder(site, tmp_path / "made", watch=False).stop()

    copied, fresh = files_of(tmp_path / "copied"), files_of(tmp_path / "made")
    del copied["status.json"], fresh["status.json"]  # when each refresh ran
    assert copied == fresh
    assert sum(name.endswith(".rss.gz") for name in copied) > 20
    elements = made[0]
    assert elements.reused > elements.made > 0  # each article is in `all`, its categories, tags and author


def test_an_edit_makes_the_edited_articles_entry_once_in_each_format(
    content_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edited article is in `all` and its two categories: its entry is made once for RSS, once for Atom."""
    write_corpus(content_dir, 12)
    edited = write_article(
        content_dir,
        "edited.md",
        {"title": "Before", "date": "2025-06-01T00:00:00Z", "categories": ["金融", "要闻"], "tags": ["a", "b"]},
        "<p>Body.</p>",
    )
    settings = make_settings(content_dir)
    refresher = Refresher(settings, Store(), clock=Clock())
    refresher.refresh()
    entries: Counter[tuple[str, Format]] = Counter()
    real = feedsvc.feeds.render._entry

    def counted(entry: Any, article: Article, fmt: Format, *args: Any, **options: Any) -> None:
        entries[(article.title, fmt)] += 1
        real(entry, article, fmt, *args, **options)

    monkeypatch.setattr(feedsvc.feeds.render, "_entry", counted)
    edited.write_text(edited.read_text(encoding="utf-8").replace("Before", "After"), encoding="utf-8")
    report = refresher.refresh()

    feeds = {path for path in report.rebuilt if path.endswith(".rss")}
    assert feeds == {"feeds/all.rss", "feeds/jin-rong.rss", "feeds/yao-wen.rss"}
    assert {fmt: count for (title, fmt), count in entries.items() if title == "After"} == {
        Format.RSS: 1,
        Format.ATOM: 1,
    }


def _article(source: str) -> Article:
    from tests.test_model import _article as article

    return article(source=source)


def test_an_element_is_reused_only_for_the_same_article_object_and_content() -> None:
    """Another content (a post_link's target renamed), another format, another object equal to it: made again."""
    elements = EntryElements(2)
    article = _article("a.md")
    content = ArticleContent(html="<p>x</p>", summary="x", image=None)
    element = feedsvc.feeds.render.etree.Element("item")
    elements.keep(article, Format.RSS, True, content, element)

    assert elements.get(article, Format.RSS, True, content) is element
    assert elements.get(article, Format.RSS, True, ArticleContent(html="<p>y</p>", summary="x", image=None)) is None
    assert elements.get(article, Format.ATOM, True, content) is None
    assert elements.get(article, Format.RSS, False, content) is None
    assert elements.get(_article("a.md"), Format.RSS, True, content) is None
    for other in ("b.md", "c.md"):  # the least recently used goes beyond the size
        elements.keep(_article(other), Format.RSS, True, content, element)
    assert elements.get(article, Format.RSS, True, content) is None
