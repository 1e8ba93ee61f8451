"""Hexo's tag plugins and template syntax in bodies; `<!-- more -->`, `hidden` and `content.exclude_when`."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import feedparser
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feedsvc.cli import main
from feedsvc.config import Settings
from feedsvc.errors import ConfigError
from feedsvc.hexo.plugins import asset_url, split_arguments
from feedsvc.hexo.tags import render_tags
from feedsvc.model import Article, Format, feed_path
from feedsvc.parse.articles import parse_file
from feedsvc.parse.body import render_content
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from tests.conftest import Clock, make_settings
from tests.corpus import article_text, write_article

SITE = "https://www.example.com/blog/"
LINK = "https://www.example.com/blog/2022/05/04/post/"
_TEMPLATE = re.compile(r"\{[%{#]")
# What a template engine would read: any `{%`, and `{{ … }}` or `{# … #}` closed on its line
# (a `{{` or `{#` never closed is text).
_MARKER = re.compile(r"\{%|\{\{.*?\}\}|\{#.*?#\}")


@pytest.fixture(scope="module")
def site() -> Settings:
    """Settings of a site served under a path, https://www.example.com/blog/."""
    return make_settings(Path("/srv/content"), site={"link": SITE})


def parse(settings: Settings, body: str, **fields: Any) -> tuple[Article, str]:
    """Parse an article named post.md dated 2022-05-04 (so its URL is LINK); return it with its body."""
    front = {"title": "Post", "date": "2022-05-04T10:33:00+08:00", **fields}
    result, parsed_body = parse_file(article_text(front, body).encode(), source="post.md", mtime=0, settings=settings)
    assert isinstance(result, Article), result
    assert result.link == LINK
    return result, parsed_body


def render(settings: Settings, body: str, **fields: Any) -> str:
    """Return the feed HTML of a body, through parsing, tags, Markdown and the sanitizer."""
    return render_content(*parse(settings, body, **fields), summary_chars=200, root=SITE).html


def visible_text_outside_code(html: str) -> str:
    """Return the text a reader sees of some HTML, leaving out code blocks and inline code."""
    soup = BeautifulSoup(html, "html.parser")
    for code in soup.find_all(["pre", "code"]):
        code.replace_with("·")  # code stands apart from the text around it
    return soup.get_text()


def urls(html: str) -> list[str]:
    """Return every href and src of some HTML."""
    soup = BeautifulSoup(html, "html.parser")
    return [tag[name] for name in ("href", "src") for tag in soup.find_all(attrs={name: True})]


TAGS = [
    ("img", "{% img /images/a.png %}", ['<img src="https://www.example.com/blog/images/a.png">']),
    (
        "img-full",
        '{% img left /images/a.png 300 200 \'"A title" "An alt"\' %}',
        ['src="https://www.example.com/blog/images/a.png"', 'width="300"', 'height="200"', 'alt="An alt"'],
    ),
    (
        "img-url",
        "{% img https://cdn.example.net/x.jpg My photo %}",
        ['src="https://cdn.example.net/x.jpg"', 'alt="My photo"'],
    ),
    ("asset_img", "{% asset_img diagram.png The diagram %}", [f'src="{LINK}diagram.png"', 'alt="The diagram"']),
    ("asset_img-quoted", '{% asset_img "spaced name.png" "A title" %}', [f'src="{LINK}spaced%20name.png"']),
    ("asset_link", "{% asset_link report.pdf The report %}", [f'href="{LINK}report.pdf"', ">The report</a>"]),
    ("asset_path", "![chart]({% asset_path chart.svg %})", [f'<img src="{LINK}chart.svg" alt="chart">']),
    (
        "link",
        "{% link Hexo docs https://hexo.io/docs/ true The manual %}",
        ['href="https://hexo.io/docs/"', 'title="The manual"', ">Hexo docs</a>"],
    ),
    ("url_for", "{% url_for About /about/ %}", ['href="https://www.example.com/blog/about/"', ">About</a>"]),
    ("post_link", "See {% post_link hello-world %}.", ["See hello-world."]),
    ("post_link-title", "See {% post_link hello-world 'My first post' %}.", ["See My first post."]),
    (
        "blockquote",
        "{% blockquote David Levithan, Wide Awake %}\nDo not just *seek* happiness.\n{% endblockquote %}",
        ["<blockquote>", "<em>seek</em>", "<strong>David Levithan</strong><cite>Wide Awake</cite>", "</blockquote>"],
    ),
    (
        "blockquote-link",
        "{% blockquote Seth Godin http://sethgodin.typepad.com/seths_blog/2009/07/welcome-to-island-marketing.html "
        "Welcome to Island Marketing %}\nEvery interaction is both precious and an opportunity.\n{% endblockquote %}",
        [
            'href="http://sethgodin.typepad.com/seths_blog/2009/07/welcome-to-island-marketing.html"',
            "Welcome to Island",
        ],
    ),
    (
        "codeblock",
        "{% codeblock _.compact http://underscorejs.org/#compact Underscore.js lang:js %}\n"
        "_.compact([0, 1, false, 2, '', 3]);\n=> [1, 2, 3]\n{% endcodeblock %}",
        [
            "<figcaption><span>_.compact</span>",
            ">Underscore.js</a>",
            '<pre><code class="language-js">',
            "=&gt; [1, 2, 3]</code></pre>",
        ],
    ),
    ("code", "{% code %}\n  if (a < b) {{ x }}\n{% endcode %}", ["<pre><code>if (a &lt; b) {{ x }}</code></pre>"]),
    ("raw", "{% raw %}<span>as written</span>{% endraw %}", ["<span>as written</span>"]),
    ("pullquote", "{% pullquote left %}\nThe *point*.\n{% endpullquote %}", ["<blockquote>", "<em>point</em>"]),
    ("iframe", "{% iframe https://player.example.net/v/1 600 400 %}", ['href="https://player.example.net/v/1"']),
    ("youtube", "{% youtube lJIrF4YjHfQ %}", ['href="https://www.youtube.com/watch?v=lJIrF4YjHfQ"']),
    (
        "youtube-list",
        "{% youtube PL9hW1uS6HUft playlist %}",
        ['href="https://www.youtube.com/playlist?list=PL9hW1uS6HUft"'],
    ),
    ("vimeo", "{% vimeo 82090131 %}", ['href="https://vimeo.com/82090131"']),
    ("jsfiddle", "{% jsfiddle ccWP7 %}", ['href="https://jsfiddle.net/ccWP7/"']),
    ("gist", "{% gist 4835586 hello.js %}", ['href="https://gist.github.com/4835586"', "(hello.js)"]),
    ("unknown", "{% note info %}\nInner **text**\n{% endnote %}", ["<p>Inner <strong>text</strong></p>"]),
    ("expression", "Before {{ page.title }}after {# a comment #}end", ["<p>Before after end</p>"]),
    ("whitespace-control", "{%- img /a.png -%}", ['src="https://www.example.com/blog/a.png"']),
]


@pytest.mark.parametrize(
    ("body", "fragments"), [(body, fragments) for _, body, fragments in TAGS], ids=[t[0] for t in TAGS]
)
def test_each_tag_renders_to_sanitized_absolute_html(site: Settings, body: str, fragments: list[str]) -> None:
    """Each of Hexo's built-in tags becomes HTML that survives sanitizing, with absolute URLs and no template text."""
    html = render(site, body)
    for fragment in fragments:
        assert fragment in html, html
    assert not _TEMPLATE.search(visible_text_outside_code(html)), html
    assert "iframe" not in html
    assert "script" not in html
    assert all(url.startswith(("https://", "http://")) for url in urls(html)), html


@pytest.mark.parametrize(
    "body",
    [
        "```\n{% img /a.png %} {{ x }}\n```",
        "~~~js\n{% note %}\n~~~",
        "> ```\n> {% img /a.png %}\n> ```",
        "Inline `{% img /a.png %}` and ``{{ x }}`` code.",
        "    {% img /indented.png %}",
    ],
)
def test_code_is_not_interpreted(site: Settings, body: str) -> None:
    """Tags inside fenced, inline and indented code stay as written, inside the code."""
    html = render(site, body)
    marker = re.search(r"\{[%{].*?[%}]\}", body)
    assert marker is not None
    assert marker[0] in BeautifulSoup(html, "html.parser").get_text()
    assert "<img" not in html


def test_raw_keeps_template_syntax_and_comments_stay_comments(site: Settings) -> None:
    """`{% raw %}` shows what it holds as written; a tag inside an HTML comment goes with the comment."""
    html = render(site, "{% raw %}{{ name }}{% endraw %}\n\n<!-- {% img /a.png %} -->\n\nafter")
    assert "{{ name }}" in html
    assert "<img" not in html
    assert "after" in html


def test_unclosed_and_stray_markers_are_removed_with_warnings(site: Settings) -> None:
    """A `{%` never closed, an end tag without its start, and an unclosed blockquote each give a warning."""
    result, body = parse(site, "a {% img /x.png\n\nb {% endblockquote %} c\n\n{% blockquote %}\nq")
    html = render_content(result, body, summary_chars=200).html
    assert "{%" not in html
    assert "<blockquote>" in html
    warnings = "\n".join(result.warnings)
    assert "never closed" in warnings
    assert "{% endblockquote %} closes no open tag" in warnings
    assert "{% blockquote %} not closed" in warnings


def test_unknown_tags_and_expressions_are_warnings_naming_them(site: Settings) -> None:
    """A theme's tag and a `{{ … }}` outside code are warned about, naming the tag; built-in tags are not."""
    result, _ = parse(site, "{% note info %}x{% endnote %} {% tabs a %} {{ page.title }} {% img /a.png %} `{% zzz %}`")
    (tags, expressions) = result.warnings
    assert tags.startswith("body: {% note %}, {% tabs %}: not a tag feedsvc renders")
    assert "zzz" not in tags
    assert expressions.startswith("body: 1 template expression")


def test_check_reports_files_with_unknown_tags(tmp_path: Path, content_dir: Path) -> None:
    """`feedsvc check` prints a warning for each file holding a tag it does not render, with the tag's name."""
    write_article(
        content_dir, "a.md", {"title": "A", "date": "2024-01-01"}, "{% note warning %}\nCareful\n{% endnote %}"
    )
    write_article(content_dir, "b.md", {"title": "B", "date": "2024-01-02"}, "{% img /b.png %} and `{% note %}`")
    config = tmp_path / "feedsvc.yaml"
    config.write_text(f"site:\n  link: https://www.example.com/\ncontent:\n  dir: {content_dir}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "warning: a.md: body: {% note %}: not a tag feedsvc renders" in result.output
    assert "b.md" not in result.output


def test_the_setting_off_leaves_bodies_as_written(content_dir: Path) -> None:
    """With `content.hexo_tags: false` a body's template syntax is text, and nothing is warned."""
    off = make_settings(content_dir, content={"hexo_tags": False})
    front = {"title": "Post", "date": "2022-05-04"}
    result, body = parse_file(article_text(front, "{% note %} {{ x }}").encode(), source="p.md", mtime=0, settings=off)
    assert isinstance(result, Article)
    assert result.warnings == ()
    assert "{% note %} {{ x }}" in render_content(result, body, summary_chars=200, hexo_tags=False).html


def test_post_link_uses_a_known_post() -> None:
    """When another post is known by its slug, post_link and post_path give its URL and title."""
    posts = {"hello": ("https://www.example.com/2020/hello/", "Hello <World>")}
    tagged = render_tags("{% post_link hello %} [x]({% post_path hello %})", page=LINK, root=SITE, find_post=posts.get)
    html = tagged.snippets[0][0]
    assert html == '<a href="https://www.example.com/2020/hello/" title="Hello &lt;World&gt;">Hello &lt;World&gt;</a>'
    assert "[x](https://www.example.com/2020/hello/)" in tagged.text


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("https://x.example/2024/01/02/hello/", "https://x.example/2024/01/02/hello/a%20b.png"),
        ("https://x.example/2024/hello.html", "https://x.example/2024/hello/a%20b.png"),
        ("https://x.example/2024/hello", "https://x.example/2024/hello/a%20b.png"),
    ],
)
def test_asset_urls_follow_hexo_post_asset_folder(page: str, expected: str) -> None:
    """An asset lives under its post's URL, `.html` removed, as Hexo's post_asset_folder publishes it."""
    assert asset_url(page, "a b.png") == expected


def test_arguments_split_as_hexo_does() -> None:
    """Arguments split at white space; a quoted part is one argument without its quotes."""
    assert split_arguments(""" a "b c" 'd "e"' f"g h"i lang:js """) == ["a", "b c", 'd "e"', "fg hi", "lang:js"]


# Text made of the pieces template syntax and Markdown code are built from.
_PIECES = st.sampled_from(
    [
        *("{", "}", "%", "#", "{%", "%}", "{{", "}}", "{#", "#}", "`", "``", "```", "~~~", "\n", "\n\n", " ", "-"),
        *("img /a.png", "note", "endnote", "blockquote", "endblockquote", "codeblock", "endcodeblock", ">", "x"),
        *("link a http://b", "youtube x", "asset_img a.png", "pullquote", "endpullquote", "text", "    ", "- "),
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=60).map("".join))
@example("`\n`{%`")  # the first backtick's span closes on the next line: `{%` is not code there
@example("`\nx ``a ` {% ``")
def test_no_template_marker_reaches_a_reader(body: str) -> None:
    """Whatever the text, no `{%`, and no closed `{{ … }}` or `{# … #}`, reaches what a reader sees outside code."""
    html = render_content(_plain_article(), body, summary_chars=200).html
    assert not _MARKER.search(visible_text_outside_code(html)), (body, html)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_renders(body: str) -> None:
    """Any text at all renders without an error, and keeps no placeholder of the scan."""
    html = render_content(_plain_article(), body, summary_chars=200).html
    assert "\ufffe" not in html
    assert "x-hexo" not in html


@pytest.mark.parametrize(
    "body",
    [
        "{%" * 100_000,
        "{" * 200_000 + "%",
        "`" * 1000 + " " + " `".join(str(n) for n in range(20_000)),
        "".join("`" * n + " x " for n in range(1, 600)),
        "{% blockquote %}\n" * 20_000,
        "{% img " + "a@" * 50_000 + " %}",
        "{% link " + "x " * 900 + "%}" * 50_000,
        "{{ " * 50_000 + "\n\n" + "}}",
        "```\n" + "{% raw %}" * 50_000,
    ],
    ids=[
        "open-markers",
        "brace-run",
        "backtick-runs",
        "distinct-runs",
        "nested-quotes",
        "long-arg",
        "many-links",
        "exprs",
        "fence",
    ],
)
def test_hostile_bodies_finish_quickly(body: str) -> None:
    """The scan is linear: bodies built against it still render in well under a few seconds."""
    started = time.perf_counter()
    tagged = render_tags(body, page=LINK, root=SITE, budget=10 * len(body))
    assert time.perf_counter() - started < 2, len(body)
    assert len(tagged.text) <= 2 * len(body) + 64


def _plain_article() -> Article:
    settings = make_settings(Path("/srv/content"), site={"link": SITE})
    return parse(settings, "x")[0]


# Excerpts and visibility


def test_more_ends_the_summary(site: Settings) -> None:
    """The summary is all the text before `<!-- more -->`, however long; the content is the whole body."""
    intro = "Intro sentence. " * 30
    content = render_content(*parse(site, f"{intro}\n\n<!-- more -->\n\nThe rest."), summary_chars=50)
    assert content.summary == intro.strip()
    assert "The rest." in content.html


@pytest.mark.parametrize("field", ["excerpt", "description"])
def test_front_matter_excerpt_wins_over_more(site: Settings, field: str) -> None:
    """`excerpt:` or `description:` in front matter is the summary, even with `<!-- more -->`."""
    content = render_content(*parse(site, "Intro\n\n<!--more-->\n\nRest", **{field: "Given"}), summary_chars=50)
    assert content.summary == "Given"


def _entry_feed(content_dir: Path, settings: Settings) -> feedparser.FeedParserDict:
    snapshot = Refresher(settings, Store(), clock=Clock()).refresh().snapshot
    return feedparser.parse(snapshot.documents[feed_path("all", Format.ATOM)].body)


BODY = """Intro with {% link Hexo https://hexo.io %} and {{ page.title }}{# note #}.

{% asset_img cover.png A cover %}

<!-- more -->

{% blockquote Someone, Somewhere %}
Quoted.
{% endblockquote %}

{% note info %}
Theme note.
{% endnote %}

{% youtube lJIrF4YjHfQ %}

```
{% code stays %}
```
"""


def test_a_hexo_post_reaches_feeds_without_template_syntax(content_dir: Path) -> None:
    """Through a refresh, a post with tags and `<!-- more -->` gives entries with no `{%`, `{{` or `{#` outside code."""
    write_article(content_dir, "2024/hello.md", {"title": "Hello", "date": "2024-01-02"}, BODY)
    for mode in ("full", "summary"):
        settings = make_settings(content_dir, feeds={"content": mode}, site={"link": SITE})
        (entry,) = _entry_feed(content_dir, settings).entries
        assert entry.summary.startswith("Intro with Hexo and .")
        assert "Quoted" not in entry.summary
        texts = [entry.summary]
        if mode == "full":
            html = entry.content[0].value
            assert "https://www.youtube.com/watch?v=lJIrF4YjHfQ" in html
            assert "/2024/01/02/hello/cover.png" in html
            assert "{% code stays %}" in html
            texts.append(visible_text_outside_code(html))
        else:
            assert "content" not in entry
        for text in texts:
            assert not _TEMPLATE.search(text), text


def test_post_link_finds_another_post_through_a_refresh(content_dir: Path) -> None:
    """In a refresh, post_link names another post by its path, file name or title, and links to its URL."""
    write_article(content_dir, "2023/first.md", {"title": "First <post>", "date": "2023-03-04"})
    body = "By path {% post_link 2023/first %}, by name {% post_link first 'the start' %}, "
    body += "[url]({% post_path first %})."
    write_article(content_dir, "second.md", {"title": "Second", "date": "2024-01-02"}, body)
    settings = make_settings(content_dir, site={"link": SITE})
    entry = next(e for e in _entry_feed(content_dir, settings).entries if e.title == "Second")
    links = BeautifulSoup(entry.content[0].value, "html.parser").find_all("a")
    first = "https://www.example.com/blog/2023/03/04/first/"
    assert [(a["href"], a.get("title"), a.get_text()) for a in links] == [
        (first, "First <post>", "First <post>"),
        (first, "First <post>", "the start"),
        (first, None, "url"),
    ]


def test_hidden_and_unpublished_posts_are_held(content_dir: Path) -> None:
    """`hidden: true` and `published: false` are held out of feeds by default; never problems."""
    write_article(content_dir, "shown.md", {"title": "Shown", "date": "2024-01-01"})
    write_article(content_dir, "hidden.md", {"title": "Hidden", "date": "2024-01-02", "hidden": True})
    write_article(content_dir, "unpublished.md", {"title": "Unpublished", "date": "2024-01-03", "published": False})
    settings = make_settings(content_dir)
    assert [entry.title for entry in _entry_feed(content_dir, settings).entries] == ["Shown"]


def test_exclude_when_matches_any_field_and_value(content_dir: Path) -> None:
    """`content.exclude_when` holds articles whose field matches a value (a list field by any item); `{}` none."""
    write_article(content_dir, "post.md", {"title": "Post", "date": "2024-01-01", "layout": "post"})
    write_article(content_dir, "page.md", {"title": "Page", "date": "2024-01-02", "layout": "page"})
    write_article(content_dir, "tagged.md", {"title": "Tagged", "date": "2024-01-03", "tags": ["a", "private"]})
    write_article(content_dir, "hidden.md", {"title": "Hidden", "date": "2024-01-04", "hidden": True})
    excluding = make_settings(content_dir, content={"exclude_when": {"layout": ["page", "draft"], "tags": "private"}})
    assert [entry.title for entry in _entry_feed(content_dir, excluding).entries] == ["Hidden", "Post"]
    nothing = make_settings(content_dir, content={"exclude_when": {}})
    assert len(_entry_feed(content_dir, nothing).entries) == 4


@pytest.mark.parametrize("value", [["hidden"], "hidden", {"hidden": {"a": 1}}, {"": True}])
def test_exclude_when_must_be_fields_and_values(content_dir: Path, value: object) -> None:
    """A `content.exclude_when` that is not a mapping of fields to values stops the start with a message."""
    with pytest.raises(ConfigError, match=r"content\.exclude_when: .* \(expected a mapping"):
        make_settings(content_dir, content={"exclude_when": value})
