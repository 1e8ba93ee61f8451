"""Hostile article bodies: stray NUL bytes, deep nesting and HTML that amplifies, each bounded and reported."""

from __future__ import annotations

import random
import string
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.articles import parse_file
from feedsvc.config import parse_settings
from feedsvc.model import Article, Problem

SETTINGS = parse_settings({"site": {"feed_url": "https://feeds.example.com/"}}, base_dir=Path("/srv"))
FRONT = "---\ntitle: Scraped {title}\ndate: 2024-05-01T08:00:00Z\ncategories: [news]\n---\n\n"


def parse(raw: bytes) -> Article | Problem:
    """Parse one file as the scanner does."""
    return parse_file(raw, source="scraped.md", mtime=0.0, settings=SETTINGS)[0]


def test_a_stray_nul_byte_publishes_the_article_with_a_warning() -> None:
    """A UTF-8 article holding a NUL byte publishes with the NUL removed and an encoding warning."""
    raw = FRONT.format(title="news\x00 item").encode() + "<p>正文\x00。</p>\n".encode()
    article = parse(raw)
    assert isinstance(article, Article), article
    assert article.title == "Scraped news item"
    assert [w.split(":")[0] for w in article.warnings] == ["encoding"]
    assert "(expected " in article.warnings[0]


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.text(alphabet=string.ascii_letters + "éß中文", min_size=1, max_size=12), min_size=5, max_size=30),
    controls=st.lists(st.sampled_from("\x00\x01\x07\x08\x0b\x0c\x1b\x7f"), min_size=1, max_size=8),
    at=st.randoms(use_true_random=False),
)
def test_utf8_with_a_few_control_bytes_always_publishes(
    words: list[str], controls: list[str], at: random.Random
) -> None:
    """Any UTF-8 article with a few NULs or C0 controls anywhere in the body publishes, warned, without them."""
    body = list(" ".join(words))
    for control in controls:
        body.insert(at.randrange(len(body) + 1), control)
    raw = (FRONT.format(title="x") + "".join(body) + "\n").encode()
    article = parse(raw)
    assert isinstance(article, Article), article
    assert any(w.startswith("encoding: ") for w in article.warnings)


def test_utf16_without_a_bom_and_binary_data_stay_problems() -> None:
    """Text in UTF-16 without a BOM, and binary data, are still problems: NULs there are no stray bytes."""
    utf16 = (FRONT.format(title="in UTF-16") + "<p>body</p>\n").encode("utf-16-le")
    binary = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    for raw in (utf16, binary):
        problem = parse(raw)
        assert isinstance(problem, Problem)
        assert problem.reason.startswith("encoding: bytes are not text")
