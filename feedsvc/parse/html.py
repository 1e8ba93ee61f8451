"""Make article HTML fit for a feed: sanitized, absolute, XML-safe; and read text and images from it.

The only module that imports nh3 and lxml's HTML parser (and runs selectors over a body). Pure functions.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

import nh3
from lxml import etree

from feedsvc.parse.urls import absolute_url
from feedsvc.text import one_line, xml_safe

_IMAGE_DATA = re.compile(r"data:image/(?:png|gif|jpe?g|webp|avif|bmp);", re.IGNORECASE)
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
# The one class kept: a code block's language (`language-python`, as Markdown renderers write it),
# which readers' highlighters use. Only on `pre` and `code`; every other class is dropped.
_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+-]+")
_CLASS_TAGS = frozenset({"pre", "code"})
# A tag of sanitized HTML, which nh3 writes well-formed: names in lower case, values quoted.
_SANITIZED_TAG = re.compile(r"<(/?)([a-z][a-z0-9]*)[^>]*>")
_VOID = frozenset({"area", "br", "col", "hr", "img", "wbr"})

TAGS = frozenset(nh3.ALLOWED_TAGS)
# Elements dropped with everything inside: their content is raw text or markup that a
# browser never shows as text (`<iframe><script>…` would otherwise become visible text).
CLEAN_CONTENT_TAGS = frozenset(
    {"script", "style", "iframe", "noscript", "noembed", "noframes", "template", "textarea", "xmp"}
)
ATTRIBUTES: dict[str, set[str]] = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
ATTRIBUTES["*"] = {"lang", "title", "dir"}
ATTRIBUTES["a"] = ATTRIBUTES.get("a", set()) | {"href", "hreflang"}
for _tag in _CLASS_TAGS:
    ATTRIBUTES[_tag] = ATTRIBUTES.get(_tag, set()) | {"class"}
URL_SCHEMES = frozenset(nh3.ALLOWED_URL_SCHEMES) | {"data"}
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "caption",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)


def sanitize(html: str, base: str) -> str:
    """Keep formatting, links, images, tables and lists; drop active content; make URLs absolute."""

    def check_attribute(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "class":
            kept = [name for name in value.split() if _LANGUAGE_CLASS.fullmatch(name)] if tag in _CLASS_TAGS else []
            return " ".join(kept) or None
        if attribute not in _URL_ATTRIBUTES:
            return value
        if value.lstrip()[:5].lower() == "data:":
            # Only inline raster images: a data: URL in a link can carry a whole page.
            return value.strip() if tag == "img" and attribute == "src" and _IMAGE_DATA.match(value.strip()) else None
        return absolute_url(value, base)

    cleaned = nh3.clean(
        xml_safe(html),
        tags=set(TAGS),
        attributes=ATTRIBUTES,
        attribute_filter=check_attribute,
        url_schemes=set(URL_SCHEMES),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        strip_comments=True,
        link_rel="noopener noreferrer",
    )
    return xml_safe(cleaned)


class _TextCollector:
    """An lxml parser target gathering visible text; a block puts a space on both sides."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def start(self, tag: str, attributes: object) -> None:
        if tag in _BLOCKS:
            self.parts.append(" ")

    def end(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append(" ")

    def data(self, text: str) -> None:
        self.parts.append(text)

    def close(self) -> str:
        return one_line("".join(self.parts))


def text_of(html: str) -> str:
    """Return the visible text of sanitized HTML on one line, blocks separated by a space.

    "<h2>Head</h2>Body" reads "Head Body", not "HeadBody". Read from lxml's parser
    events: no tree is built, so any depth of nesting is fine, and it is several
    times faster than building and walking a BeautifulSoup tree.
    """
    if not html.strip():
        return ""
    parser = etree.HTMLParser(target=_TextCollector(), huge_tree=True)
    parser.feed(html)
    return str(parser.close())


class _ImageFinder:
    """An lxml parser target noting the `src` of each image, in order."""

    def __init__(self) -> None:
        self.sources: list[str] = []

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        if tag == "img" and attributes.get("src"):
            self.sources.append(attributes["src"])

    def close(self) -> list[str]:
        return self.sources


def first_image(html: str) -> str | None:
    """Return the first http(s) image `src` of sanitized absolute HTML, if any."""
    if "<img" not in html.lower():
        return None
    parser = etree.HTMLParser(target=_ImageFinder(), huge_tree=True)
    parser.feed(html)
    for src in parser.close():
        if urlsplit(src).scheme in ("http", "https"):
            return str(src)
    return None


def cut_html(html: str, max_bytes: int) -> str:
    """Cut sanitized HTML to about `max_bytes` UTF-8 bytes between tags, with '…' and the open elements closed.

    Returns `html` itself when it is not longer.
    """
    if len(html) * 4 <= max_bytes or len(html.encode()) <= max_bytes:
        return html
    head = html.encode()[:max_bytes].decode("utf-8", "ignore")
    start = head.rfind("<")
    if start > head.rfind(">"):
        head = head[:start]  # not in the middle of a tag
    entity = head.rfind("&")
    if entity > head.rfind(";"):
        head = head[:entity]  # nor of an entity: nh3 writes every & as one
    open_tags: list[str] = []
    for match in _SANITIZED_TAG.finditer(head):
        name = match[2]
        if match[1]:
            if open_tags and open_tags[-1] == name:  # well-formed: an end tag closes the last one open
                open_tags.pop()
        elif name not in _VOID and not match[0].endswith("/>"):
            open_tags.append(name)
    return head + "…" + "".join(f"</{name}>" for name in reversed(open_tags))


@functools.lru_cache(maxsize=64)
def _compiled(xpath: str) -> etree.XPath:
    return etree.XPath(xpath)


def select(html: str, xpath: str) -> list[tuple[dict[str, str], str]]:
    """Return the attributes and text of each element of (raw) HTML that `xpath` finds, in document order.

    The XPath comes from a CSS selector (`feedsvc.selectors`). Attribute names are lower
    case, as HTML parsers give them; the text is everything inside the element.
    """
    if not html.strip():
        return []
    parser = etree.HTMLParser(huge_tree=True, no_network=True, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(f"<html><body>{html}</body></html>", parser)
    except (etree.XMLSyntaxError, ValueError):  # nothing an HTML parser can make a tree of
        return []
    if root is None:
        return []
    found: list[tuple[dict[str, str], str]] = []
    for element in _compiled(xpath)(root):
        if isinstance(element, etree._Element) and isinstance(element.tag, str):
            found.append(({str(k): str(v) for k, v in element.attrib.items()}, "".join(element.itertext())))
    return found
