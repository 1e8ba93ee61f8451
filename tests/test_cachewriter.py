"""The cache writer: what refreshes changed reaches the persistent cache when written, and a failed write is dropped."""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import pytest

from feedsvc.config import Settings
from feedsvc.index.cache import Cache, inputs_digest
from feedsvc.index.scan import EMPTY_INDEX, ScanResult
from feedsvc.model import ArticleContent, Document, make_document
from feedsvc.refresh.cachewriter import CacheWriter
from feedsvc.refresh.contents import ContentKey
from feedsvc.refresh.scanner import Scanner
from tests.conftest import make_settings
from tests.corpus import write_article
from tests.scans import opened_cache

DATE = "2022-05-04T10:00:00Z"
PAGE = make_document(b"<p>index</p>", "text/html; charset=utf-8")


@pytest.fixture
def site(content_dir: Path, tmp_path: Path) -> Settings:
    """Two articles, parsed in this process; the cache under tmp_path."""
    write_article(content_dir, "a.md", {"title": "A", "date": DATE})
    write_article(content_dir, "b.md", {"title": "B", "date": DATE})
    return make_settings(content_dir, scan={"workers": 1}, cache={"dir": str(tmp_path / "cache")})


@pytest.fixture
def cache(site: Settings) -> Iterator[Cache]:
    """The persistent cache of the settings, closed afterwards."""
    yield from opened_cache(site)


def remember(writer: CacheWriter, scan: ScanResult, contents: dict[ContentKey, ArticleContent]) -> None:
    """Note a refresh of `scan` whose feeds show (and made) `contents` and whose one document is the index page."""
    rendered: dict[str, tuple[Hashable, Document]] = {"index.html": ("key", PAGE)}
    writer.remember(
        scan,
        in_feeds=set(contents),
        contents=contents,
        made=set(contents),
        rendered=rendered,
        rebuilt=["index.html"],
        served={"articles": 1},
    )


def test_what_a_refresh_changed_reaches_the_cache_when_written(site: Settings, cache: Cache) -> None:
    """Files, contents and documents a refresh noted are in the cache after `write`, not before."""
    scan = Scanner(site).scan(EMPTY_INDEX, 0.0)
    key = ("a.md", "f" * 16)
    content = ArticleContent("<p>A</p>", "A", None)
    writer = CacheWriter(cache)

    remember(writer, scan, {key: content})
    before = (len(cache.load_index().entries), cache.content(*key), cache.document("index.html", inputs_digest("key")))
    writer.write()

    assert before == (0, None, None)
    assert set(cache.load_index().entries) == {"a.md", "b.md"}
    assert cache.content(*key) == content
    cached = cache.document("index.html", inputs_digest("key"))
    assert cached is not None
    assert cached.body == PAGE.body


def test_contents_no_feed_shows_leave_the_cache(site: Settings, cache: Cache) -> None:
    """A content whose article left every feed is dropped from the cache at the next write, though nothing was made."""
    scan = Scanner(site).scan(EMPTY_INDEX, 0.0)
    key = ("a.md", "f" * 16)
    writer = CacheWriter(cache)
    remember(writer, scan, {key: ArticleContent("<p>A</p>", "A", None)})
    writer.write()

    remember(writer, scan, {})
    writer.write()

    assert cache.content(*key) is None


def test_a_stopped_scans_files_are_kept_at_once(site: Settings, cache: Cache) -> None:
    """The files a stopped scan parsed are written by `keep_parsed` right away: a restart need not parse them again."""
    scan = Scanner(site).scan(EMPTY_INDEX, 0.0)
    stopped = ScanResult(scan.index, files_seen=2, reread=("a.md",), failed=0, stopped=True)

    CacheWriter(cache).keep_parsed(stopped)

    assert set(cache.load_index().entries) == {"a.md"}


class BrokenCache:
    """A cache whose every write raises, as a bug in what it is given would; it counts the writes tried."""

    def __init__(self) -> None:
        self.tried = 0

    def save_entries(self, *args: Any) -> None:
        self.tried += 1
        raise RuntimeError("a bug")

    save_contents = save_documents = save_entries


def test_a_failed_write_is_logged_and_dropped(site: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """A write that raises is logged, never raised, and not tried again by the next write."""
    broken = BrokenCache()
    writer = CacheWriter(broken)  # type: ignore[arg-type]
    remember(writer, Scanner(site).scan(EMPTY_INDEX, 0.0), {})

    with caplog.at_level(logging.ERROR, logger="feedsvc.refresh"):
        writer.write()
        writer.write()

    assert broken.tried == 1
    assert "writing the parse cache failed; the changes are not cached" in caplog.text


def test_a_first_scans_rows_are_written_a_slice_at_a_time_from_the_latest_index(
    content_dir: Path, site: Settings, cache: Cache
) -> None:
    """`write(backlog=n)` writes n more of a first scan's files; one edited or deleted since is written as it is now."""
    for name in "cdefg":
        write_article(content_dir, f"{name}.md", {"title": name.upper(), "date": DATE})
    first = Scanner(site).scan(EMPTY_INDEX, 0.0)
    writer = CacheWriter(cache)
    remember(writer, first, {})

    writer.write(backlog=3)
    written = set(cache.load_index().entries)
    write_article(content_dir, "f.md", {"title": "F edited", "date": DATE})
    os.utime(content_dir / "f.md", (1, 1))
    (content_dir / "g.md").unlink()
    edit = Scanner(site).scan(first.index, 1.0)
    remember(writer, edit, {})
    between = writer.done
    writer.write(backlog=4)  # d, e, f and g, which is gone

    assert written == {"a.md", "b.md", "c.md"}
    assert not between
    assert writer.done
    entries = cache.load_index().entries
    assert set(entries) == {"a.md", "b.md", "c.md", "d.md", "e.md", "f.md"}
    article = entries["f.md"].article
    assert article is not None
    assert article.title == "F edited"
