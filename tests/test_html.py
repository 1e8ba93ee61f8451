"""html: sanitizing, absolute URLs, XML-safe text, visible text, first image and shortening."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from lxml import etree

from feedsvc.parse.html import cut_html, first_image, sanitize, text_of
from feedsvc.parse.urls import absolute_url, web_url
from feedsvc.text import one_line, shorten, xml_safe

BASE = "https://www.example.com/2022/05/04/post/"


def attributes(html: str, name: str) -> list[str]:
    """Return every value of attribute `name` in the HTML, as a parser reads it."""
    soup = BeautifulSoup(html, "html.parser")
    values = [tag[name] for tag in soup.find_all(attrs={name: True})]
    return [" ".join(value) if isinstance(value, list) else str(value) for value in values]


def tags(html: str) -> set[str]:
    """Return the names of the elements in the HTML."""
    return {tag.name for tag in BeautifulSoup(html, "html.parser").find_all(True)}


ACTIVE = [
    ("<p>ok</p><script>alert(1)</script>", "<p>ok</p>"),
    ("<p>ok</p><SCRIPT SRC=//evil.example/x.js></SCRIPT>", "<p>ok</p>"),
    ("<style>p { color: red }</style><p>ok</p>", "<p>ok</p>"),
    ('<iframe src="https://evil.example/"><script>alert(1)</script>inner</iframe><p>ok</p>', "<p>ok</p>"),
    ('<object data="x.swf"><param name="a" value="b"></object><p>ok</p>', "<p>ok</p>"),
    ('<embed src="x.swf"><p>ok</p>', "<p>ok</p>"),
    ('<form action="https://evil.example/"><input name="q"><textarea>t</textarea></form><p>ok</p>', "<p>ok</p>"),
    ('<svg onload="alert(1)"><script>alert(1)</script><circle r="1"/></svg><p>ok</p>', "<p>ok</p>"),
    ('<math><mi xlink:href="javascript:alert(1)">x</mi></math><p>ok</p>', "<p>ok</p>"),
    ("<noscript><p>ns</p></noscript><template><p>tp</p></template><p>ok</p>", "<p>ok</p>"),
    ('<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=x"><p>ok</p>', "<p>ok</p>"),
    ('<link rel="stylesheet" href="x.css"><p>ok</p>', "<p>ok</p>"),
    ("<p>ok</p><!-- <script>alert(1)</script> -->", "<p>ok</p>"),
    ('<p onclick="x()" onmouseover="y()" style="color:red" class="c" id="i">ok</p>', "<p>ok</p>"),
    ('<img src="https://i.example/a.png" onerror="alert(1)">', '<img src="https://i.example/a.png">'),
    ('<body onload="alert(1)"><p>ok</p></body>', "<p>ok</p>"),
]


@pytest.mark.parametrize(("html", "expected"), ACTIVE)
def test_active_content_is_dropped(html: str, expected: str) -> None:
    """script, style, iframe, object, embed, form, svg, math and event handlers never survive, nor their text."""
    assert sanitize(html, BASE) == expected


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "jav&#x09;ascript:alert(1)",
        "jav&#x0A;ascript:alert(1)",
        "jav&#x0D;ascript:alert(1)",
        "&#14;javascript:alert(1)",
        "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)",
        "&#x6A;avascript&colon;alert(1)",
        "javascript&#58;alert(1)",
        "vbscript:msgbox(1)",
        "VBScript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "DATA:text/html,<script>alert(1)</script>",
        " data:image/png;base64,iVBORw0KGgo=",
        "livescript:x",
        "http://[broken",
    ],
)
def test_unsafe_urls_are_removed_from_links(href: str) -> None:
    """javascript:, vbscript:, data: (even images) and obfuscated forms never stay in a link's href."""
    html = sanitize(f'<a href="{href}">x</a>', BASE)
    assert attributes(html, "href") == []
    assert "x</a>" in html


@pytest.mark.parametrize(
    "src",
    [
        "javascript:alert(1)",
        "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
    ],
)
def test_unsafe_image_sources_are_removed(src: str) -> None:
    """An <img> keeps no script URL and no non-raster data: URL."""
    assert attributes(sanitize(f'<img src="{src}">', BASE), "src") == []


@pytest.mark.parametrize(
    "src",
    [
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
        "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
        "data:image/jpeg;base64,/9j/4AAQ",
        "data:image/webp;base64,UklGRg==",
    ],
)
def test_inline_raster_images_are_kept(src: str) -> None:
    """An <img> with an inline PNG, GIF, JPEG or WebP data: URL keeps it."""
    assert attributes(sanitize(f'<img src="{src}" alt="dot">', BASE), "src") == [src]


def test_formatting_links_images_tables_and_lists_are_kept() -> None:
    """Ordinary article markup survives sanitizing element for element."""
    html = (
        "<div><h2>Title</h2><p><b>b</b> <i>i</i> <em>e</em> <strong>s</strong> <u>u</u> <code>c</code>"
        " <del>d</del> <s>s</s> <sup>1</sup> <sub>2</sub> <small>m</small> <mark>k</mark></p>"
        "<blockquote>q</blockquote><pre>pre</pre><hr><br>"
        '<a href="https://x.example/" title="t">link</a><img src="https://i.example/a.png" alt="a" width="10">'
        '<table><caption>c</caption><thead><tr><th>h</th></tr></thead><tbody><tr><td colspan="2">d</td></tr>'
        "</tbody></table><ul><li>u</li></ul><ol start='3'><li>o</li></ol><dl><dt>t</dt><dd>d</dd></dl>"
        "<figure><img src='https://i.example/f.png'><figcaption>f</figcaption></figure></div>"
    )
    kept = tags(sanitize(html, BASE))
    expected = {"div", "h2", "p", "b", "i", "em", "strong", "u", "code", "del", "s", "sup", "sub", "small", "mark"}
    expected |= {"blockquote", "pre", "hr", "br", "a", "img", "table", "caption", "thead", "tbody", "tr", "th", "td"}
    expected |= {"ul", "ol", "li", "dl", "dt", "dd", "figure", "figcaption"}
    assert kept == expected


def test_kept_attributes() -> None:
    """Useful attributes (alt, title, colspan, start, lang) are kept; links get rel=noopener noreferrer."""
    html = sanitize(
        '<a href="https://x.example/" target="_blank" rel="opener">x</a><img src="https://i.example/a.png" '
        'alt="A" title="T"><td colspan="2">c</td><ol start="3"><li>x</li></ol><p lang="zh">中</p>',
        BASE,
    )
    assert attributes(html, "alt") == ["A"]
    assert attributes(html, "title") == ["T"]
    assert attributes(html, "start") == ["3"]
    assert attributes(html, "lang") == ["zh"]
    assert attributes(html, "rel") == ["noopener noreferrer"]
    assert attributes(html, "target") == []


@pytest.mark.parametrize(
    ("html", "attribute", "expected"),
    [
        ('<a href="/dc/stock/?code=1">x</a>', "href", "https://www.example.com/dc/stock/?code=1"),
        ('<a href="other/">x</a>', "href", BASE + "other/"),
        ('<a href="../up">x</a>', "href", "https://www.example.com/2022/05/04/up"),
        ('<a href="?page=2">x</a>', "href", BASE + "?page=2"),
        ('<a href="#part">x</a>', "href", BASE + "#part"),
        ('<a href="//cdn.example.org/x">x</a>', "href", "https://cdn.example.org/x"),
        ('<a href="http://plain.example/">x</a>', "href", "http://plain.example/"),
        ('<a href="mailto:a@b.example">x</a>', "href", "mailto:a@b.example"),
        ('<a href="中文/路径 空格">x</a>', "href", BASE + "%E4%B8%AD%E6%96%87/%E8%B7%AF%E5%BE%84%20%E7%A9%BA%E6%A0%BC"),
        ('<a href="https://x.example/a%20b">x</a>', "href", "https://x.example/a%20b"),
        ('<img src="img/a.png">', "src", BASE + "img/a.png"),
        ('<img src="//cdn.example.org/a.png">', "src", "https://cdn.example.org/a.png"),
        ('<img src="  /a.png  ">', "src", "https://www.example.com/a.png"),
        ('<blockquote cite="/source">q</blockquote>', "cite", "https://www.example.com/source"),
        ('<q cite="//x.example/q">q</q>', "cite", "https://x.example/q"),
        ('<del cite="why">d</del>', "cite", BASE + "why"),
    ],
)
def test_urls_resolve_against_the_article_url(html: str, attribute: str, expected: str) -> None:
    """Every href, src and cite is made absolute against the article's URL; protocol-relative ones get https."""
    assert attributes(sanitize(html, BASE), attribute) == [expected]


@pytest.mark.parametrize(
    "html",
    [
        "<p>text ]]> here</p>",
        '<img alt="]]>" title="x]]>y" src="https://i.example/a.png">',
        '<a href="https://x.example/]]>">x</a>',
        "<![CDATA[ ]]> ]]>",
        "<pre>]]]]><![CDATA[>]]></pre>",
        "]]&gt;",
    ],
)
def test_cdata_end_never_appears_in_output(html: str) -> None:
    """`]]>` can never come out of sanitize, so content is safe inside a CDATA section."""
    assert "]]>" not in sanitize(html, BASE)


def test_xml_invalid_characters_are_removed_from_sanitized_html() -> None:
    """Characters XML forbids are removed, written raw or as references; tab, newline and CR survive as white space."""
    html = sanitize("<p>a\x00b\x01c\x08d\x0be\x0cf\x1fg\ufffeh\uffffi &#1; &#x1F; &#xFFFE; j\tk\nl</p>", BASE)
    etree.Element("x").text = html  # raises ValueError on any XML-invalid character
    assert "abcdefghi" in html
    assert "j\tk\nl" in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("a\x00b\x01c\x08d\x0be\x0cf\x1fg", "abcdefg"),
        ("tab\tnew\nline\rcr", "tab\tnew\nline\rcr"),
        ("a\ufffeb\uffffc", "abc"),
        ("a\ud800b\udfffc", "abc"),
        ("中文 emoji 😀 \U0010fffd", "中文 emoji 😀 \U0010fffd"),
        ("\x7f\x85\xa0", "\x7f\x85\xa0"),
    ],
)
def test_xml_safe_removes_only_what_xml_forbids(text: str, expected: str) -> None:
    """xml_safe removes control characters, surrogates and U+FFFE/U+FFFF, and keeps tab, newline and CR."""
    assert xml_safe(text) == expected
    etree.Element("x").text = xml_safe(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("  a \n\t b  ", "a b"), ("a\x01b", "ab"), ("\u3000全角\u3000空格\u3000", "全角 空格"), ("", "")],
)
def test_one_line_collapses_white_space(text: str, expected: str) -> None:
    """one_line makes one trimmed line with single spaces, XML-safe."""
    assert one_line(text) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>a</p><p>b</p>", "a b"),
        ("<div>one<br>two</div>", "one two"),
        ("<h2>Head</h2>Body", "Head Body"),
        ("<div><p>a</p>tail</div>after", "a tail after"),
        ("x<br>y", "x y"),
        ("<ul><li>x</li><li>y</li></ul>", "x y"),
        ("<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>", "1 2 3"),
        ("<b>bold</b>ly <i>in</i>line", "boldly inline"),
        ("<p>  lots \n of   space </p>", "lots of space"),
        ("<p>x &amp; y &lt;z&gt; &nbsp;</p>", "x & y <z>"),
        ("<p>中文</p><p>段落</p>", "中文 段落"),
        ("<img src='https://i.example/a.png' alt='alt text'>", ""),
        ("", ""),
        ("<div>" * 5000 + "deep" + "</div>" * 5000, "deep"),
        ("<p>a</p><!-- a comment --><p>b</p>", "a b"),
    ],
)
def test_text_of_gives_visible_text_with_blocks_separated(html: str, expected: str) -> None:
    """text_of returns the visible text on one line, with a space between blocks but not inside inline markup."""
    assert text_of(html) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<p>x</p><img src="https://i.example/1.png"><img src="https://i.example/2.png">', "https://i.example/1.png"),
        ('<img src="data:image/png;base64,iVBORw0KGgo="><img src="http://i.example/2.png">', "http://i.example/2.png"),
        ('<img alt="no src"><img src="https://i.example/3.png">', "https://i.example/3.png"),
        ("<p>no image</p>", None),
        ("", None),
    ],
)
def test_first_image_is_the_first_http_image(html: str, expected: str | None) -> None:
    """first_image returns the first <img> whose src is an http(s) URL, skipping inline data: images."""
    assert first_image(html) == expected


def test_first_image_of_sanitized_html_is_absolute() -> None:
    """After sanitizing, a relative or protocol-relative <img> is found as an absolute https URL."""
    assert first_image(sanitize('<p><img src="//cdn.example.org/a.png"></p>', BASE)) == "https://cdn.example.org/a.png"
    assert first_image(sanitize('<img src="a.png">', BASE)) == BASE + "a.png"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("hello world", 20, "hello world"),
        ("hello world", 11, "hello world"),
        ("hello world", 10, "hello…"),
        ("the quick brown fox jumps over", 12, "the quick…"),
        ("the quick brown fox jumps over", 16, "the quick brown…"),
        ("hello, world", 9, "hello,…"),
        ("Straße Straßenbahn", 12, "Straße…"),
        ("résumé naïve café", 12, "résumé…"),
        ("Съешь же ещё этих мягких", 14, "Съешь же ещё…"),
        ("abcdefghijklmnopqrstuvwxyz0123456789", 10, "abcdefghi…"),
        ("中文文本很长很长很长", 5, "中文文本…"),
        ("证券时报网 要闻 金融新闻报道", 8, "证券时报网 要…"),
        ("日本語のテキストです", 6, "日本語のテ…"),
        ("한국어 텍스트입니다", 6, "한국어 텍…"),
        ("x", 1, "x"),
        ("xyz", 1, "…"),
        ("", 5, ""),
    ],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    """shorten cuts to at most `limit` characters including '…', between Latin words when a space is near."""
    result = shorten(text, limit)
    assert result == expected
    assert len(result) <= limit


@pytest.mark.parametrize("limit", range(1, 60))
def test_shorten_never_exceeds_the_limit_or_splits_a_latin_word(limit: int) -> None:
    """For any limit, the result fits and ends with a whole word (when a space is near) followed by '…'."""
    text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod"
    result = shorten(text, limit)
    assert len(result) <= limit
    assert result.endswith("…")
    kept = result[:-1]
    words = text.replace(",", "").split()
    if " " in text[: limit - 1] and kept:
        assert kept.replace(",", "").split()[-1] in words


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/a", "https://www.example.com/a"),
        ("//cdn.example.org/a", "https://cdn.example.org/a"),
        ("https://x.example/路径", "https://x.example/%E8%B7%AF%E5%BE%84"),
        ("  https://x.example/a  ", "https://x.example/a"),
        ("mailto:a@b.example", "mailto:a@b.example"),
        ("", None),
        ("   ", None),
        ("https://x.example/<script>", None),
        ('https://x.example/"', None),
        ("jav\tascript:alert(1)", None),
        ("http://[broken", None),
    ],
)
def test_absolute_url(value: str, expected: str | None) -> None:
    """absolute_url resolves against a base, adds https to protocol-relative URLs, and refuses unusable ones."""
    assert absolute_url(value, BASE) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://i.example/a.png", "https://i.example/a.png"),
        ("img/a.png", BASE + "img/a.png"),
        ("//i.example/a.png", "https://i.example/a.png"),
        ("javascript:alert(1)", None),
        ("data:image/png;base64,AAAA", None),
        ("mailto:a@b.example", None),
        ("ftp://i.example/a.png", None),
        ("not a url", None),
    ],
)
def test_web_url_keeps_only_http_urls_with_a_host(value: str, expected: str | None) -> None:
    """web_url gives an absolute http(s) URL with a host, or None."""
    assert web_url(value, BASE) == expected


def test_cut_html_cuts_between_tags_and_closes_what_is_open() -> None:
    """Sanitized HTML cut at any length stays well-formed: no half tag or entity, every element closed, '…' added."""
    source = '<div><p>hello <b>wor&amp;ld</b></p><ul><li>a</li><li>b<img src="/x.png"></li></ul>中文</div>'
    html = sanitize(source, BASE)
    assert cut_html(html, len(html.encode())) is html
    for limit in range(1, len(html.encode())):
        cut = cut_html(html, limit)
        assert cut.endswith(("…", ">"))
        assert "…" in cut
        etree.fromstring(f"<root>{cut}</root>".replace("<br>", "<br/>").replace('.png">', '.png"/>'))
