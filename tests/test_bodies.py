"""The body reader: an article's body read again from its file, for the version the index holds, and rendered."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feedsvc.config import Settings
from feedsvc.refresh.bodies import BodyReader
from tests.conftest import make_settings
from tests.corpus import write_article
from tests.scans import article_of, indexed

DATE = "2022-05-04T10:00:00Z"


@pytest.fixture
def one_worker(content_dir: Path) -> Settings:
    """Settings over the content directory, parsing in this process."""
    return make_settings(content_dir, scan={"workers": 1})


def test_a_body_is_read_while_the_file_holds_the_indexed_version(one_worker: Settings) -> None:
    """The body comes back while the file is as indexed; once it is rewritten, that version's body is gone (None)."""
    path = write_article(one_worker.content_dir, "a.md", {"title": "A", "date": DATE}, "<p>first body</p>")
    reader = BodyReader(one_worker, indexed(one_worker))
    article = article_of(reader.index, "a.md")

    before = reader.read(article)
    write_article(one_worker.content_dir, "a.md", {"title": "A", "date": DATE}, "<p>second body</p>")
    os.utime(path, (1, 1))
    after = reader.read(article)

    assert before is not None
    assert "first body" in before
    assert after is None


def test_holds_tells_the_version_the_index_publishes(one_worker: Settings) -> None:
    """`holds` is true for the version the index has, false for another version or a file it does not know."""
    write_article(one_worker.content_dir, "a.md", {"title": "A", "date": DATE})
    reader = BodyReader(one_worker, indexed(one_worker))
    article = article_of(reader.index, "a.md")

    assert reader.holds(article)
    assert not reader.holds(article.replace(fingerprint="0" * 16))
    assert not reader.holds(article.replace(source="other.md"))
    assert reader.read(article.replace(source="other.md")) is None


def test_a_rendered_body_finds_other_posts_in_its_index(one_worker: Settings) -> None:
    """Hexo's post_link in a body gives the URL and title of the post the reader's index holds by that name."""
    write_article(one_worker.content_dir, "hello.md", {"title": "Hello there", "date": DATE})
    write_article(one_worker.content_dir, "a.md", {"title": "A", "date": DATE}, "See {% post_link hello %}.")
    reader = BodyReader(one_worker, indexed(one_worker))
    article = article_of(reader.index, "a.md")
    body = reader.read(article)
    assert body is not None

    content = reader.render(article, body)

    assert article_of(reader.index, "hello.md").link in content.html
    assert "Hello there" in content.html
