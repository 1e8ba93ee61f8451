"""Turn an article's Markdown body into what a feed carries: safe HTML, a summary, an image.

The only module that imports the Markdown renderer (markdown-it-py, CommonMark). The work
per body is bounded: nesting and re-opened formatting before sanitizing, the size after.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import accumulate
from pathlib import PurePosixPath

from markdown_it import MarkdownIt

from feedsvc.hexo.tags import FindPost, Tagged, has_template_syntax, render_tags, restore
from feedsvc.model import Article, ArticleContent
from feedsvc.parse.html import cut_html, first_image, sanitize, text_of
from feedsvc.parse.nesting import bound_html
from feedsvc.text import one_line, remove_controls, shorten

# CommonMark with raw HTML passing through (most articles are HTML in a <div>),
# plus the two GitHub extensions news bodies use: tables and strikethrough.
# Block nesting (`>`, lists) stops at markdown-it's maxNesting (20 for CommonMark).
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

MAX_DEPTH = 512  # content.max_depth
MAX_HTML_BYTES = 2_000_000  # content.max_html_bytes
# Sanitized HTML is also cut at this many times the body's size (plus a little): real
# Markdown grows about threefold at most (a table: `|x` becomes `<td>x</td>`).
AMPLIFICATION = 10
_SLACK = 64 * 1024
# The start or end of a tag that may hold others (void elements never do).
# (Both cases spelled out: IGNORECASE makes the scan twice as slow.)
_VOIDS = "area|br|col|embed|hr|img|input|link|meta|param|source|track|wbr"
_TAG_EDGE = re.compile(rf"<(/?)(?!(?:{_VOIDS}|{_VOIDS.upper()})[\s/>])[A-Za-z]")
_STEP = {"": 1, "/": -1}
# Where the summary ends, as Hexo's excerpt filter finds it in the rendered body.
_MORE = re.compile(r"<!-- ?more ?-->", re.IGNORECASE)


def markdown_to_html(body: str) -> str:
    """Render a Markdown body to (unsanitized) HTML."""
    return str(_MARKDOWN.render(body))


def html_limit(body: str, max_html_bytes: int) -> int:
    """Return the most bytes of sanitized HTML a body may give."""
    return min(max_html_bytes, AMPLIFICATION * len(body) + _SLACK)


def body_html(
    body: str,
    base: str,
    *,
    max_depth: int,
    max_html_bytes: int,
    hexo_tags: bool = True,
    root: str = "",
    find_post: FindPost | None = None,
) -> tuple[str, tuple[str, ...]]:
    """Render a body to sanitized absolute HTML, bounded in depth and size; with a warning for each bound applied."""
    html, _, warnings = _render(
        body,
        base,
        max_depth=max_depth,
        max_html_bytes=max_html_bytes,
        hexo_tags=hexo_tags,
        root=root,
        find_post=find_post,
    )
    return html, warnings


def _render(
    body: str,
    base: str,
    *,
    max_depth: int,
    max_html_bytes: int,
    hexo_tags: bool,
    root: str,
    find_post: FindPost | None,
) -> tuple[str, str | None, tuple[str, ...]]:
    """Render a body as `body_html` does; also return the sanitized HTML before `<!-- more -->`, if it has one."""
    limit = html_limit(body, max_html_bytes)
    text = remove_controls(body)
    tagged = render_tags(text, page=base, root=root or base, find_post=find_post, budget=limit) if hexo_tags else None
    rendered = markdown_to_html(text if tagged is None else tagged.text)
    warnings: tuple[str, ...] = ()
    if tagged is not None:
        rendered = restore(rendered, tagged)
        warnings = tagged.warnings
    shape = bound_html(rendered, max_depth)
    if shape.reason is not None:
        warnings += (shape.reason,)
    html = sanitize(shape.html, base)
    cut = cut_html(html, limit)
    if cut is not html:
        warnings += (f"body: its HTML is over {limit:,} bytes, cut there (expected at most {limit:,})",)
    more = _MORE.search(rendered)
    excerpt = None if more is None else sanitize(bound_html(rendered[: more.start()], max_depth).html, base)
    return cut, excerpt, warnings


def body_warnings(body: str, *, max_depth: int, max_html_bytes: int, hexo_tags: bool = True) -> tuple[str, ...]:
    """Tell what `body_html` will have to bound or remove in a body: nothing, at the cost of a few counts, for most.

    Only a large body, or one whose tags nest deep or are left open (or much emphasis),
    is rendered to find out; `body_html` bounds every body all the same. Template tags
    are found by one scan, without rendering.
    """
    tagged: Tagged | None = None
    if hexo_tags and has_template_syntax(body):
        tagged = render_tags(body, page="https://localhost/", root="https://localhost/")
    few = min(max_depth // 2, 256)
    emphasis = body.count("*") + body.count("_") + body.count("~")
    tags = 0 if tagged is None else len(tagged.snippets)
    if (
        emphasis <= few
        and AMPLIFICATION * len(body) <= max_html_bytes
        and (body.count("<") + tags <= few or _nesting_estimate(body) + tags <= few)
    ):
        return () if tagged is None else tagged.warnings
    return body_html(
        body, "https://localhost/", max_depth=max_depth, max_html_bytes=max_html_bytes, hexo_tags=hexo_tags
    )[1]


def _nesting_estimate(body: str) -> int:
    """Estimate how deep a body's tags nest, counting every start tag in and every end tag out.

    Tags left open count as nested: a run of them (which a parser may re-open in every
    paragraph) reads as deep as it is long.
    """
    return max(accumulate(map(_STEP.__getitem__, _TAG_EDGE.findall(body))), default=0)


def post_finder(articles: Iterable[Article]) -> FindPost:
    """Make the look-up of Hexo's post_link: a post by its path without extension, its file name, or its title."""
    by_name: dict[str, tuple[str, str]] = {}
    by_title: dict[str, tuple[str, str]] = {}
    for article in sorted(articles, key=lambda a: a.source):  # the same post for the same names, in any order
        if article.draft:
            continue
        found = (article.link, article.title)
        path = PurePosixPath(article.source)
        by_name.setdefault(str(path.with_suffix("")), found)
        by_name.setdefault(path.stem, found)
        by_title.setdefault(article.title, found)

    def find(name: str) -> tuple[str, str] | None:
        return by_name.get(name) or by_title.get(name)

    return find


def render_content(
    article: Article,
    body: str,
    *,
    summary_chars: int,
    max_depth: int = MAX_DEPTH,
    max_html_bytes: int = MAX_HTML_BYTES,
    hexo_tags: bool = True,
    root: str = "",
    find_post: FindPost | None = None,
) -> ArticleContent:
    """Build the sanitized absolute HTML, the summary and the image of one article from its body.

    The summary is the article's own (front matter), else all the text before `<!-- more -->`,
    else the body's text cut to `summary_chars`. `root` is the site's URL, where Hexo tags
    resolve `/x`; `find_post` finds another post for `post_link`.
    """
    html, excerpt, _ = _render(
        body,
        article.link,
        max_depth=max_depth,
        max_html_bytes=max_html_bytes,
        hexo_tags=hexo_tags,
        root=root,
        find_post=find_post,
    )
    given = article.summary
    excerpt_text = "" if excerpt is None else text_of(excerpt)
    if given is not None:
        summary = one_line(given)
    elif excerpt_text:
        summary = excerpt_text
    else:
        summary = shorten(text_of(html), summary_chars)
    image = article.image or first_image(html)
    return ArticleContent(html=html, summary=summary, image=image)
