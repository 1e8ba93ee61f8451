"""The shared values: an article holds no body; a document makes its gzip copy once, the same every time."""

from __future__ import annotations

import gzip

from feedsvc.model import ARTICLE_FIELDS, make_document


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
