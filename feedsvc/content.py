"""Turn an article's Markdown body into what a feed carries: safe HTML, a summary, an image.

The only module that imports the Markdown renderer (markdown-it-py, CommonMark). The work
per body is bounded: nesting and re-opened formatting before sanitizing, the size after.
"""

from __future__ import annotations

import re
from itertools import accumulate

from markdown_it import MarkdownIt

from feedsvc.html import cut_html, first_image, sanitize, text_of
from feedsvc.model import Article, ArticleContent
from feedsvc.nesting import bound_html
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


def markdown_to_html(body: str) -> str:
    """Render a Markdown body to (unsanitized) HTML."""
    return str(_MARKDOWN.render(body))


def html_limit(body: str, max_html_bytes: int) -> int:
    """Return the most bytes of sanitized HTML a body may give."""
    return min(max_html_bytes, AMPLIFICATION * len(body) + _SLACK)


def body_html(body: str, base: str, *, max_depth: int, max_html_bytes: int) -> tuple[str, tuple[str, ...]]:
    """Render a body to sanitized absolute HTML, bounded in depth and size; with a warning for each bound applied."""
    shape = bound_html(markdown_to_html(remove_controls(body)), max_depth)
    warnings: tuple[str, ...] = () if shape.reason is None else (shape.reason,)
    html = sanitize(shape.html, base)
    limit = html_limit(body, max_html_bytes)
    cut = cut_html(html, limit)
    if cut is not html:
        warnings += (f"body: its HTML is over {limit:,} bytes, cut there (expected at most {limit:,})",)
    return cut, warnings


def body_warnings(body: str, *, max_depth: int, max_html_bytes: int) -> tuple[str, ...]:
    """Tell what `body_html` will have to bound in a body: nothing, at the cost of a few counts, for most bodies.

    Only a large body, or one whose tags nest deep or are left open (or much emphasis),
    is rendered to find out; `body_html` bounds every body all the same.
    """
    few = min(max_depth // 2, 256)
    emphasis = body.count("*") + body.count("_") + body.count("~")
    if (
        emphasis <= few
        and AMPLIFICATION * len(body) <= max_html_bytes
        and (body.count("<") <= few or _nesting_estimate(body) <= few)
    ):
        return ()
    return body_html(body, "https://localhost/", max_depth=max_depth, max_html_bytes=max_html_bytes)[1]


def _nesting_estimate(body: str) -> int:
    """Estimate how deep a body's tags nest, counting every start tag in and every end tag out.

    Tags left open count as nested: a run of them (which a parser may re-open in every
    paragraph) reads as deep as it is long.
    """
    return max(accumulate(map(_STEP.__getitem__, _TAG_EDGE.findall(body))), default=0)


def render_content(
    article: Article,
    body: str,
    *,
    summary_chars: int,
    max_depth: int = MAX_DEPTH,
    max_html_bytes: int = MAX_HTML_BYTES,
) -> ArticleContent:
    """Build the sanitized absolute HTML, the summary and the image of one article from its body."""
    html = body_html(body, article.link, max_depth=max_depth, max_html_bytes=max_html_bytes)[0]
    given = article.summary
    summary = one_line(given) if given is not None else shorten(text_of(html), summary_chars)
    image = article.image or first_image(html)
    return ArticleContent(html=html, summary=summary, image=image)
