"""Property tests: whatever a content file holds, parsing gives an Article or a Problem, never an exception."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feedsvc.config import Settings
from feedsvc.model import Article, Problem
from feedsvc.parse.articles import parse_article, read_body
from feedsvc.parse.body import render_content
from feedsvc.parse.html import sanitize
from feedsvc.text import shorten, xml_safe
from tests.conftest import make_settings, xml_compatible

# Deterministic (no example database, a fixed seed per test) and a few seconds for the whole file.
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SITES = [
    make_settings(Path("/srv/content")),
    make_settings(Path("/srv/content"), site={"timezone": "America/New_York", "link": "https://blog.example.org/x"}),
    make_settings(Path("/srv/content"), site={"timezone": "Pacific/Kiritimati"}, content={"permalink": "{slug}.html"}),
]
FIELDS = [
    "title",
    "date",
    "updated",
    "categories",
    "category",
    "tags",
    "thumbnail",
    "headimg",
    "cover",
    "image",
    "author",
    "description",
    "summary",
    "excerpt",
    "draft",
    "published",
    "link",
    "permalink",
    "slug",
    "id",
]
ZONES = st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=14)), dt.timezone(-dt.timedelta(hours=12))])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=60),
    st.sampled_from(["", "javascript:alert(1)", "//cdn.example/a.png", "../../etc", "<script>", "2022-02-30", "]]>"]),
    st.dates(),
    st.datetimes(timezones=ZONES),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(["name", "email", "url"]), st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=12,
)
FRONT_MATTER = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)),
    VALUES,
    max_size=10,
)
BODIES = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "",
            "<p>ok</p><script>alert(1)</script>",
            '<img src="/a.png" onerror="x()"><a href="jav&#x09;ascript:x">x</a>',
            "# Title\n\n| a |\n|---|\n| 1 |\n\n~~s~~",
            "---\nnot: front matter\n---",
            "<p>]]></p>\x00\x01\ufffe",
        ]
    ),
)
YAML_PIECES = st.sampled_from(
    [
        "a: !!int abc",
        "b: !!timestamp soon",
        "c: !!map [1]",
        "d: !!set {x}",
        "e: !!binary '!!!'",
        "f: !!python/object:os.system {}",
        "g: &g [*g]",
        "h: &h [x, x]\ni: [*h, *h, *h]",
        "<<: 1",
        "<<: {title: merged}",
        "title: 0x" + "f" * 500,
        "date: 2022-02-30",
        "date: 99999999999999999999",
        "categories: [[[[[[]]]]]]",
        "? [k]\n: v",
        "title: |\n  block\n  text",
        "%YAML 1.1",
        "---",
    ]
)
YAMLISH = st.lists(
    st.one_of(YAML_PIECES, st.text(alphabet="-:[]{}&*!|>'\"%@`#?,.<= \tab01xyz\u00e9\u4e2d\x07", max_size=30)),
    max_size=6,
).map("\n".join)


def strings_of(article: Article) -> list[str]:
    """Return every string an Article holds."""
    strings = [article.source, article.title, article.link, article.id, article.fingerprint]
    strings += [*article.categories, *article.tags, *article.warnings, article.summary or "", article.image or ""]
    if article.author is not None:
        strings += [article.author.name, article.author.email or ""]
    return strings


def check(raw: bytes, site: Settings) -> Article | Problem:
    """Parse `raw`; it must give an Article whose strings are all XML-safe, or a Problem with a message."""
    result = parse_article(raw, source="dir/post.md", mtime=1_650_000_000.0, settings=site)
    assert isinstance(result, Article | Problem)
    if isinstance(result, Problem):
        assert result.reason
        assert str(result).startswith("dir/post.md: ")
        return result
    for text in strings_of(result):
        assert xml_compatible(text), text
    assert result.title
    assert result.link.startswith(("http://", "https://"))
    assert result.published.utcoffset() == dt.timedelta(0)
    assert result.updated >= result.published
    return result


def dump(fields: dict[str, Any], body: str) -> bytes:
    """Write front matter and body as a content file (YAML escapes what it cannot write plainly)."""
    return f"---\n{yaml.safe_dump(fields, allow_unicode=True)}---\n{body}".encode("utf-8", "surrogatepass")


@pytest.mark.slow
@PROPERTY
@given(fields=FRONT_MATTER, body=BODIES, site=st.sampled_from(SITES))
def test_random_front_matter_gives_an_article_or_a_problem(fields: dict[str, Any], body: str, site: Settings) -> None:
    """Any mapping of any values under the documented field names parses to an Article or a Problem."""
    check(dump(fields, body), site)


@pytest.mark.slow
@PROPERTY
@given(fields=FRONT_MATTER, body=BODIES, site=st.sampled_from(SITES))
@example(fields={"date": "2022-05-04"}, body="<p>正文 ]]> <img src='a.png'></p>", site=SITES[0])  # an Article
def test_random_front_matter_with_a_title_renders(fields: dict[str, Any], body: str, site: Settings) -> None:
    """With a usable title, random fields still give an Article or a Problem, and its content renders XML-safe."""
    fields["title"] = "标题"
    raw = dump(fields, body)
    result = check(raw, site)
    if isinstance(result, Article):
        parsed_body = read_body(raw)
        assert parsed_body is not None
        assert xml_compatible(parsed_body)
        content = render_content(result, parsed_body, summary_chars=40)
        assert "]]>" not in content.html
        assert len(content.summary) <= 40 or result.summary is not None
        for text in (content.html, content.summary, content.image or ""):
            assert xml_compatible(text)


@PROPERTY
@given(raw=st.binary(max_size=2_000), site=st.sampled_from(SITES))
def test_random_bytes_give_an_article_or_a_problem(raw: bytes, site: Settings) -> None:
    """Arbitrary bytes parse to an Article or a Problem, never an exception."""
    check(raw, site)


@PROPERTY
@given(
    header=st.sampled_from([b"---\n", b"\xef\xbb\xbf---\r\n", b"---\ntitle: x\n", b"---\ntitle: x\n---\n"]),
    raw=st.binary(max_size=1_000),
    site=st.sampled_from(SITES),
)
def test_random_bytes_after_a_header_give_an_article_or_a_problem(header: bytes, raw: bytes, site: Settings) -> None:
    """Random bytes after a valid '---' header (in the YAML or in the body) parse to an Article or a Problem."""
    check(header + raw, site)


@PROPERTY
@given(yaml_text=YAMLISH, body=st.text(max_size=50), site=st.sampled_from(SITES))
def test_random_yaml_like_text_gives_an_article_or_a_problem(yaml_text: str, body: str, site: Settings) -> None:
    """Text made of YAML's special characters between the fences parses to an Article or a Problem."""
    check(f"---\ntitle: t\n{yaml_text}\n---\n{body}".encode(), site)
    check(f"---\n{yaml_text}\n---\n{body}".encode(), site)


@PROPERTY
@given(html=st.text(max_size=300))
def test_sanitize_output_is_xml_safe_and_never_ends_cdata(html: str) -> None:
    """Whatever the HTML, sanitized output holds no `]]>` and no character XML forbids."""
    cleaned = sanitize(html, "https://www.example.com/a/")
    assert "]]>" not in cleaned
    assert xml_safe(cleaned) == cleaned


@PROPERTY
@given(text=st.text(max_size=200), limit=st.integers(min_value=1, max_value=120))
def test_shorten_fits_the_limit(text: str, limit: int) -> None:
    """shorten never returns more than `limit` characters, and leaves text that fits unchanged."""
    result = shorten(text, limit)
    assert len(result) <= limit
    if len(text) <= limit:
        assert result == text
    else:
        assert result.endswith("…")
