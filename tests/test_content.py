"""body.render_content: Markdown to sanitized absolute HTML, the summary and the image of an article."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from feedsvc.config import Settings
from feedsvc.model import Article
from feedsvc.parse.articles import parse_file
from feedsvc.parse.body import markdown_to_html, render_content
from tests.conftest import make_settings
from tests.corpus import article_text

LINK = "https://www.example.com/2022/05/04/post/"


@pytest.fixture(scope="module")
def site() -> Settings:
    """Settings of the test site: https://www.example.com/, Asia/Shanghai."""
    return make_settings(Path("/srv/content"))


def article(settings: Settings, body: str, **fields: Any) -> tuple[Article, str]:
    """Parse an article named post.md dated 2022-05-04 (so its URL is LINK); return it with its body."""
    front = {"title": "Post", "date": "2022-05-04T10:33:00+08:00", **fields}
    result, parsed_body = parse_file(article_text(front, body).encode(), source="post.md", mtime=0, settings=settings)
    assert isinstance(result, Article), result
    assert result.link == LINK
    return result, parsed_body


def elements(html: str) -> set[str]:
    """Return the names of the elements in the HTML."""
    return {tag.name for tag in BeautifulSoup(html, "html.parser").find_all(True)}


@pytest.mark.parametrize(
    ("body", "present"),
    [
        ("# Title\n\n## Sub", {"h1", "h2"}),
        ("*em* **strong** `code`", {"p", "em", "strong", "code"}),
        ("- a\n- b\n\n1. x\n2. y", {"ul", "ol", "li"}),
        ("> quoted", {"blockquote", "p"}),
        ("```\ncode block\n```", {"pre", "code"}),
        ("| a | b |\n|---|---|\n| 1 | 2 |", {"table", "thead", "tbody", "tr", "th", "td"}),
        ("~~gone~~", {"p", "s"}),
        ("[link](https://x.example/)", {"p", "a"}),
        ("![alt](https://i.example/a.png)", {"p", "img"}),
        ("a  \nb", {"p", "br"}),
        ("***", {"hr"}),
    ],
)
def test_markdown_is_rendered(site: Settings, body: str, present: set[str]) -> None:
    """CommonMark with tables and strikethrough becomes the HTML elements it describes."""
    assert elements(render_content(*article(site, body), summary_chars=200).html) == present


def test_markdown_renderer_passes_raw_html_through() -> None:
    """The Markdown step keeps raw HTML as written; sanitizing is a separate step."""
    assert markdown_to_html('<div onclick="x()"><p>raw</p></div>\n') == '<div onclick="x()"><p>raw</p></div>\n'


def test_raw_html_passes_through_and_is_sanitized(site: Settings) -> None:
    """An HTML body keeps its markup while scripts, handlers and styles are removed."""
    body = (
        '<div class="x" onclick="steal()"><p>保留<b>格式</b></p><script>document.cookie</script>'
        '<style>p{}</style><iframe src="https://evil.example/"></iframe>'
        '<a href="javascript:alert(1)">bad</a><img src="/a.png" onload="x()"></div>'
    )
    html = render_content(*article(site, body), summary_chars=200).html
    assert elements(html) == {"div", "p", "b", "a", "img"}
    for fragment in ("script", "cookie", "onclick", "onload", "style", "iframe", "javascript:"):
        assert fragment not in html
    assert 'src="https://www.example.com/a.png"' in html


@pytest.mark.parametrize(
    ("body", "attribute", "expected"),
    [
        ("[a](other/)", "href", LINK + "other/"),
        ("[a](/root)", "href", "https://www.example.com/root"),
        ("[a](//cdn.example.org/x)", "href", "https://cdn.example.org/x"),
        ('<a href="../sibling/">a</a>', "href", "https://www.example.com/2022/05/04/sibling/"),
        ("![i](img/a.png)", "src", LINK + "img/a.png"),
        ('<img src="//cdn.example.org/i.png">', "src", "https://cdn.example.org/i.png"),
        ('<blockquote cite="/q">q</blockquote>', "cite", "https://www.example.com/q"),
    ],
)
def test_urls_in_content_resolve_against_the_article_url(
    site: Settings, body: str, attribute: str, expected: str
) -> None:
    """Relative URLs in the body resolve against the article's own URL, protocol-relative ones get https."""
    html = render_content(*article(site, body), summary_chars=200).html
    tag = BeautifulSoup(html, "html.parser").find(attrs={attribute: True})
    assert tag is not None
    assert tag[attribute] == expected


def test_urls_resolve_against_a_given_link(site: Settings) -> None:
    """An article with its own `link` resolves its relative URLs against that link."""
    front = {"title": "Post", "date": "2022-05-04", "link": "https://news.example.org/a/1.html"}
    result, body = parse_file(article_text(front, "[b](b.html)").encode(), source="p.md", mtime=0, settings=site)
    assert isinstance(result, Article)
    assert 'href="https://news.example.org/a/b.html"' in render_content(result, body, summary_chars=200).html


@pytest.mark.parametrize("body", ["<p>]]></p>", "`]]>`", '<img alt="]]>" src="/a.png">', "<![CDATA[x]]>"])
def test_content_never_holds_a_cdata_end(site: Settings, body: str) -> None:
    """Rendered content never contains `]]>`, whatever the body holds."""
    assert "]]>" not in render_content(*article(site, body), summary_chars=200).html


@pytest.mark.parametrize("limit", [10, 11, 30, 57, 200])
def test_summary_from_the_body_is_cut_to_the_limit(site: Settings, limit: int) -> None:
    """Without a given summary, the body's text is cut to at most summary_chars characters including '…'."""
    body = "<p>" + "Lorem ipsum dolor sit amet consectetur " * 20 + "</p>"
    summary = render_content(*article(site, body), summary_chars=limit).summary
    assert len(summary) <= limit
    assert summary.endswith("…")
    assert summary.startswith("Lorem")


def test_summary_of_cjk_body(site: Settings) -> None:
    """A Chinese body is cut at exactly summary_chars characters, '…' included."""
    summary = render_content(*article(site, "<p>" + "中文正文" * 100 + "</p>"), summary_chars=30).summary
    assert summary == ("中文正文" * 10)[:29] + "…"


def test_summary_is_the_visible_text_with_blocks_separated(site: Settings) -> None:
    """The body's summary is its visible text, headings and paragraphs separated by spaces, without markup."""
    body = "## 小标题\n\n*强调* 与 [链接](/x)。\n\n<div><p>第一段</p><p>第二段</p><script>hidden()</script></div>"
    assert render_content(*article(site, body), summary_chars=200).summary == "小标题 强调 与 链接。 第一段 第二段"


def test_short_body_is_the_whole_summary(site: Settings) -> None:
    """A body shorter than summary_chars is the summary, without '…'."""
    assert render_content(*article(site, "Short body."), summary_chars=200).summary == "Short body."


def test_empty_body_gives_an_empty_summary(site: Settings) -> None:
    """An article without a body has empty content and an empty summary."""
    content = render_content(*article(site, ""), summary_chars=200)
    assert (content.html, content.summary, content.image) == ("", "", None)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"description": "Given summary."}, "Given summary."),
        ({"summary": "  spaced\n  out  "}, "spaced out"),
        ({"excerpt": "摘要"}, "摘要"),
        ({"description": "long " * 100}, ("long " * 100).strip()),
    ],
)
def test_given_summary_is_used_as_given(site: Settings, fields: dict[str, str], expected: str) -> None:
    """A description/summary/excerpt is the summary on one line, never cut to summary_chars."""
    content = render_content(*article(site, "<p>Body text that is not the summary.</p>", **fields), summary_chars=20)
    assert content.summary == expected


@pytest.mark.parametrize(
    ("body", "fields", "expected"),
    [
        ('<img src="https://i.example/body.png">', {"thumbnail": "https://i.example/t.png"}, "https://i.example/t.png"),
        ('<p>x</p><img src="body.png"><img src="second.png">', {}, LINK + "body.png"),
        ("![a](//cdn.example.org/a.png)", {}, "https://cdn.example.org/a.png"),
        ('<img src="data:image/png;base64,iVBORw0KGgo="><img src="/b.png">', {}, "https://www.example.com/b.png"),
        ('<img src="javascript:alert(1)"><img src="/c.png">', {}, "https://www.example.com/c.png"),
        ('<img src="https://i.example/body.png">', {"thumbnail": "javascript:x"}, "https://i.example/body.png"),
        ("<p>no image</p>", {}, None),
    ],
)
def test_image_is_front_matter_else_first_body_image(
    site: Settings, body: str, fields: dict[str, str], expected: str | None
) -> None:
    """The image is the front matter image, else the body's first http(s) <img>, resolved like the content."""
    assert render_content(*article(site, body, **fields), summary_chars=200).image == expected


def test_hostile_body_sample(site: Settings) -> None:
    """The hostile sample body (script, handler, relative image) renders safe, absolute content."""
    body = '<p>ok</p><script>document.cookie</script><img src="/a.png" onload="x()">'
    content = render_content(*article(site, body), summary_chars=200)
    assert content.html == '<p>ok</p><img src="https://www.example.com/a.png">\n'
    assert content.summary == "ok"
    assert content.image == "https://www.example.com/a.png"


def test_pathological_markdown_renders_quickly(site: Settings) -> None:
    """Deep blockquotes, deep HTML nesting and long emphasis runs render without error."""
    body = ">" * 200 + " deep\n\n" + "<div>" * 3000 + "x" + "</div>" * 3000 + "\n\n" + "*" * 5000 + "\n\n" + "[" * 3000
    content = render_content(*article(site, body), summary_chars=50)
    assert len(content.summary) <= 50
