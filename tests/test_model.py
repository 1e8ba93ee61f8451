"""The shared values: an article holds no body; a document makes its gzip copy once, the same every time."""

from __future__ import annotations

import dataclasses
import gzip
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from feedsvc.model import _HELD, ARTICLE_FIELDS, Article, Author, make_document, stored_article


def test_article_has_no_body_field() -> None:
    """An Article holds metadata only: no field carries the body."""
    names = set(ARTICLE_FIELDS)

    assert not names & {"body", "content", "html", "text", "markdown"}


def test_document_gzip_is_made_once_and_reproducible() -> None:
    """gzip_body decompresses to the body, is computed once (the same object again), and is reproducible."""
    body = "<rss>证券时报网</rss>".encode() * 100
    document = make_document(body, "application/rss+xml; charset=utf-8")

    first = document.gzip_body

    assert gzip.decompress(first) == body
    assert document.gzip_body is first
    assert make_document(body, "application/rss+xml; charset=utf-8").gzip_body == first


def _article(**changes: object) -> Article:
    fields: dict[str, Any] = {
        "source": "posts/a.md",
        "title": "科创50创下新高",
        "link": "https://example.com/a/",
        "id": "https://example.com/a/",
        "published": datetime(2024, 1, 2, tzinfo=UTC),
        "updated": datetime(2024, 1, 3, tzinfo=UTC),
        "categories": ("金融",),
        "tags": (),
        "author": Author("Ann"),
        "summary": None,
        "image": "https://example.com/a.png",
        "draft": False,
        "fingerprint": "0123456789abcdef",
    }
    return Article(**{**fields, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"summary": ""},  # empty, not None
        {"summary": "摘要", "language": "zh-CN", "image": None},
        {"title": "", "fingerprint": "0123456789abcdef:1700000000"},
        {"title": "\ud800 a lone surrogate, from a JSON escape", "warnings": ("title: x",)},
    ],
)
def test_an_article_gives_back_every_field_as_given(changes: dict[str, Any]) -> None:
    """Its packed text reads back field by field; it compares, hashes, copies and pickles as a frozen dataclass."""
    article = _article(**changes)
    expected = {**_article().fields(), **changes}

    assert article.fields() == expected
    assert {name: getattr(article, name) for name in ARTICLE_FIELDS} == expected
    assert article == _article(**changes)
    assert hash(article) == hash(_article(**changes))
    assert article != _article(**{**changes, "title": "other"})
    assert article.replace(title="other") == _article(**{**changes, "title": "other"})
    assert pickle.loads(pickle.dumps(article)) == article  # noqa: S301 - our own bytes, as workers send them
    held = tuple(getattr(article, name) for name in _HELD)  # as the cache reads a row back
    texts = (article.title, article.summary, article.image, article.fingerprint, article.language)
    assert stored_article(held, texts).fields() == expected
    assert repr(article).startswith("Article(source='posts/a.md', title=")
    with pytest.raises(dataclasses.FrozenInstanceError):
        article.title = "x"  # type: ignore[misc,unused-ignore]
    with pytest.raises(dataclasses.FrozenInstanceError):
        article.source = "x"
