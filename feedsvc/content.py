"""Turn an article's Markdown body into what a feed carries: safe HTML, a summary, an image.

The only module that imports the Markdown renderer (markdown-it-py, CommonMark).
"""

from __future__ import annotations

from markdown_it import MarkdownIt

from feedsvc.html import first_image, sanitize, text_of
from feedsvc.model import Article, ArticleContent
from feedsvc.text import one_line, remove_controls, shorten

# CommonMark with raw HTML passing through (most articles are HTML in a <div>),
# plus the two GitHub extensions news bodies use: tables and strikethrough.
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def markdown_to_html(body: str) -> str:
    """Render a Markdown body to (unsanitized) HTML."""
    return str(_MARKDOWN.render(body))


def render_content(article: Article, body: str, *, summary_chars: int) -> ArticleContent:
    """Build the sanitized absolute HTML, the summary and the image of one article from its body."""
    html = sanitize(markdown_to_html(remove_controls(body)), article.link)
    given = article.summary
    summary = one_line(given) if given is not None else shorten(text_of(html), summary_chars)
    image = article.image or first_image(html)
    return ArticleContent(html=html, summary=summary, image=image)
