"""Render a feed as RSS 2.0 and Atom 1.0 (feedgen) or JSON Feed 1.1 (json), byte for byte reproducible.

The only module that imports feedgen. feedgen stamps `now()` into lastBuildDate
and every `updated` unless told otherwise, prepends entries by default, drops
`rel`/`type` from Atom entry links and switches the process locale while it
formats RSS dates: each trap is handled where it is met below.
"""

from __future__ import annotations

import functools
import html
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import orjson
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedEntry, FeedGenerator
from lxml import etree

from feedsvc import __version__ as GENERATOR_VERSION
from feedsvc.config import Settings
from feedsvc.model import STYLESHEET_PATH, Article, ArticleContent, Feed, Format, Paging, archive_path

MEDIA_NS = "http://search.yahoo.com/mrss/"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005
ATOM_NS = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EMPTY_FEED_DATE = datetime(1970, 1, 1, tzinfo=UTC)
_IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".svg": "image/svg+xml",
    ".bmp": "image/bmp",
}
# An id kept as the Atom id must be a URI as RFC 3986 writes it (ASCII only), and one of
# the forms the W3C validator checks in full: http(s) or ftp with a host, tag: (RFC 4151),
# urn: (RFC 8141; urn:uuid: a real UUID), or another scheme such as mailto:.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_TAG_URI = re.compile(r"tag:[A-Za-z0-9.\-@]+,\d{4}(?:-\d{2}(?:-\d{2})?)?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]+", re.IGNORECASE)
_UUID_URN = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# feedgen sets LC_ALL to "C" and back around every RSS date: one render at a time.
_FEEDGEN_LOCK = threading.Lock()

ContentOf = Callable[[Article], ArticleContent]


def feed_url(settings: Settings, slug: str, fmt: Format) -> str:
    """Return the public URL of one feed."""
    return f"{settings.feed_url}feeds/{slug}.{fmt.value}"


def archive_url(settings: Settings, slug: str, number: int, fmt: Format) -> str:
    """Return the public URL of one archive page of a feed."""
    return f"{settings.feed_url}{archive_path(slug, number, fmt)}"


def history_links(settings: Settings, slug: str, fmt: Format, paging: Paging | None) -> list[tuple[str, str]]:
    """Return the RFC 5005 links of a feed document: (rel, href), in the order the document lists them.

    The current document links its newest archive page (prev-archive); an archive page
    links the current document, the page before it and the page after it, where they exist.
    """
    if paging is None or paging.pages == 0:
        return []
    if paging.number is None:
        return [("prev-archive", archive_url(settings, slug, paging.pages, fmt))]
    links = [("current", feed_url(settings, slug, fmt))]
    if paging.number > 1:
        links.append(("prev-archive", archive_url(settings, slug, paging.number - 1, fmt)))
    if paging.number < paging.pages:
        links.append(("next-archive", archive_url(settings, slug, paging.number + 1, fmt)))
    return links


@functools.lru_cache(maxsize=4096)  # the same few images repeat in every format of every feed an article is in
def image_type(url: str) -> str:
    """Guess an image's media type from its URL's extension (JPEG when it has none)."""
    path = urlsplit(url).path.lower()
    for extension, media_type in _IMAGE_TYPES.items():
        if path.endswith(extension):
            return media_type
    return "image/jpeg"


def atom_id(identity: str, settings: Settings) -> str:
    """Return an Atom id: the identity when it is a valid URI, else a tag: URI made from it."""
    if _is_uri(identity):
        return identity
    host = urlsplit(settings.site_link).hostname or "localhost"
    return f"tag:{host},2000:{quote(identity, safe='')}"


def _is_uri(identity: str) -> bool:
    if not _URI.fullmatch(identity):
        return False
    scheme = identity.split(":", 1)[0].lower()
    if scheme in ("http", "https", "ftp"):
        try:
            return identity[len(scheme) :].startswith("://") and bool(urlsplit(identity).hostname)
        except ValueError:  # a malformed host, such as http://[x
            return False
    if scheme == "tag":
        return bool(_TAG_URI.fullmatch(identity))
    if scheme == "urn":
        if identity[4:9].lower() == "uuid:":
            return bool(_UUID_URN.fullmatch(identity))
        return bool(_URN.fullmatch(identity))
    return True


class _MediaFeed(BaseExtension):  # type: ignore[misc]  # feedgen ships no type hints
    """Declares the Media RSS namespace on the feed."""

    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS}


class _History(BaseExtension):  # type: ignore[misc]  # feedgen ships no type hints
    """The channel links feedgen drops from RSS (WebSub hub, RFC 5005 archive links) and `fh:archive`.

    In RSS the links follow the self link as atom:link elements; Atom takes them from
    FeedGenerator.link(). An archive page gets `<fh:archive/>` before its first entry.
    """

    rss_links: tuple[tuple[str, str], ...] = ()  # (rel, href)
    archive = False

    def extend_ns(self) -> dict[str, str]:
        # feedgen declares the atom prefix in every RSS feed; fh only where an archive page uses it
        return {"fh": HISTORY_NS} if self.archive else {}

    def _mark(self, parent: etree._Element, entry_tag: str) -> None:
        if self.archive:
            mark = etree.Element(f"{{{HISTORY_NS}}}archive")
            first = parent.find(entry_tag)
            if first is None:
                parent.append(mark)
            else:
                first.addprevious(mark)

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed.find("channel")
        after = feed.find(f"channel/{{{ATOM_NS}}}link[@rel='self']")
        for rel, href in self.rss_links:
            if after is not None:
                link = etree.Element(f"{{{ATOM_NS}}}link", href=href, rel=rel)
                after.addnext(link)
                after = link
        if channel is not None:
            self._mark(channel, "item")
        return feed

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        self._mark(feed, "entry")  # feedgen writes Atom elements unqualified under a default xmlns
        return feed


class _MediaEntry(BaseEntryExtension):  # type: ignore[misc]  # feedgen ships no type hints
    """An entry's image as media:thumbnail and media:content (not in a media:group), plus an enclosure."""

    image: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS}

    @staticmethod
    def _media(entry: etree._Element, image: str) -> None:
        etree.SubElement(entry, f"{{{MEDIA_NS}}}thumbnail", url=image)
        etree.SubElement(entry, f"{{{MEDIA_NS}}}content", url=image, medium="image", type=image_type(image))

    def extend_rss(self, entry: etree._Element) -> etree._Element:
        if self.image:
            # Length is unknown for a remote image: 0 is the value validators accept for that.
            etree.SubElement(entry, "enclosure", url=self.image, length="0", type=image_type(self.image))
            self._media(entry, self.image)
        return entry

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if self.image:
            # Added here, not with FeedEntry.link(): feedgen would drop rel="enclosure".
            # No namespace: feedgen writes Atom elements unqualified under a default xmlns.
            etree.SubElement(entry, "link", rel="enclosure", href=self.image, type=image_type(self.image), length="0")
            self._media(entry, self.image)
        return entry


class _LanguageEntry(BaseEntryExtension):  # type: ignore[misc]  # feedgen ships no type hints
    """An entry's own language as `xml:lang` on the Atom entry (RSS 2.0 items have no language of their own)."""

    language: str | None = None

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if self.language:
            entry.set(XML_LANG, self.language)
        return entry


def _local(moment: datetime, settings: Settings) -> datetime:
    """Return a moment as the site's clocks show it: the same instant, written with site.timezone's offset.

    Readers compare instants, whatever the offset; a person reading the feed (or its
    browser view) sees the publisher's own times.
    """
    return moment.astimezone(settings.timezone)


def _generator(
    feed: Feed, fmt: Format, settings: Settings, content_of: ContentOf, paging: Paging | None
) -> FeedGenerator:
    spec = feed.spec
    updated = feed.updated or EMPTY_FEED_DATE
    current_url = feed_url(settings, spec.slug, fmt)
    archive = paging is not None and paging.number is not None
    self_url = archive_url(settings, spec.slug, paging.number, fmt) if paging and paging.number else current_url
    gen = FeedGenerator()
    gen.register_extension("media", _MediaFeed, _MediaEntry)
    if fmt is Format.ATOM and any(article.language for article in feed.articles):
        gen.register_extension("entry_language", BaseExtension, _LanguageEntry, atom=True, rss=False)
    gen.load_extension("dc", atom=False, rss=True)
    gen.id(current_url)  # an archive page is a part of the same feed: the same id
    gen.title(spec.title)
    gen.subtitle(spec.description)  # also the RSS <description>
    gen.language(settings.language)
    gen.generator("feedsvc", version=GENERATOR_VERSION)
    gen.author({"name": settings.site_author or settings.site_title})
    gen.ttl(max(1, settings.interval_seconds // 60))
    # RSS takes the last link added as the channel <link>: the site goes last.
    gen.link(href=self_url, rel="self", type=fmt.media_type.split(";")[0])
    # WebSub discovery (the hub beside the self link: not on archive pages, which subscribers
    # do not poll), then the RFC 5005 links. Atom takes them from here; RSS from the extension.
    links = [] if archive or not settings.websub_hub else [("hub", settings.websub_hub)]
    links += history_links(settings, spec.slug, fmt, paging)
    for rel, href in links:
        gen.link(href=href, rel=rel)
    if links or archive:
        gen.register_extension("history", _History, atom=True, rss=True)
        gen.history.rss_links = tuple(links)
        gen.history.archive = archive
    gen.link(href=settings.site_link, rel="alternate", type="text/html")
    gen.updated(_local(updated, settings))  # also lastBuildDate; otherwise feedgen stamps now()
    budget = _Budget(settings.max_feed_content_bytes)
    for article in feed.articles:
        entry = gen.add_entry(order="append")  # feedgen prepends by default
        _entry(entry, article, fmt, settings, content_of, budget=budget)
    return gen


@functools.lru_cache(maxsize=512)  # an article's content is one string, met in each format of each of its feeds
def _utf8_size(html: str) -> int:
    return len(html.encode())


class _Budget:
    """The content bytes one feed document may still carry: past them, older entries carry their summary only."""

    def __init__(self, total: int) -> None:
        self.left = total

    def takes(self, html: str) -> bool:
        """Tell whether an entry (the newest not yet rendered) may carry this content; once one may not, none may."""
        if self.left >= 0:
            size = _utf8_size(html)
            self.left = self.left - size if size <= self.left else -1
        return self.left >= 0


def _entry(
    entry: FeedEntry, article: Article, fmt: Format, settings: Settings, content_of: ContentOf, *, budget: _Budget
) -> None:
    content = content_of(article)
    # feedgen's guid() also sets the Atom id, and id() resets isPermaLink: set only what this format shows.
    if fmt is Format.ATOM:
        entry.id(atom_id(article.id, settings))
    else:
        entry.guid(article.id, permalink=article.id == article.link)
    entry.title(article.title)
    entry.link(href=article.link, rel="alternate")
    entry.published(_local(article.published, settings))
    entry.updated(_local(article.updated, settings))  # otherwise feedgen stamps now()
    author = article.author
    if author is not None and author.email:
        entry.author({"name": author.name, "email": author.email})
    elif author is not None:
        entry.author({"name": author.name}) if fmt is Format.ATOM else entry.dc.dc_creator(author.name)
    elif settings.site_author and fmt is Format.RSS:
        entry.dc.dc_creator(settings.site_author)
    terms = list(dict.fromkeys([*article.categories, *article.tags]))
    if terms:
        entry.category([{"term": term} for term in terms])
    if settings.content != "none" and content.summary:
        # The summary is text; readers take an RSS <description> as HTML: escaped, it reads as written.
        entry.summary(html.escape(content.summary, quote=False) if fmt is Format.RSS else content.summary)
    if settings.content == "full" and budget.takes(content.html):
        entry.content(content.html, type="html")
    entry.media.image = content.image
    if article.language and fmt is Format.ATOM:
        entry.entry_language.language = article.language


# A browser that opens an RSS or Atom feed applies this stylesheet and shows a page, not XML;
# feed readers ignore it. Relative (a feed is one folder down, `feeds/tags/python.rss` two, an
# archive page two more: `feeds/{slug}/archive/{n}.rss`), so it works under any host and from a
# build directory served as static files.


def stylesheet_pi(slug: str, archived: bool) -> bytes:
    """Return the processing instruction naming the stylesheet, relative to a feed's (or archive page's) folder."""
    depth = 1 + slug.count("/") + (2 if archived else 0)
    return f'<?xml-stylesheet href="{"../" * depth}{STYLESHEET_PATH}" type="text/xsl"?>\n'.encode()


def _with_stylesheet(xml: bytes, instruction: bytes) -> bytes:
    """Put the stylesheet processing instruction after the XML declaration, before the root element."""
    end = xml.index(b"?>\n") + 3 if xml.startswith(b"<?xml ") else 0
    return xml[:end] + instruction + xml[end:]


def render_xml(
    feed: Feed, fmt: Format, settings: Settings, content_of: ContentOf, paging: Paging | None = None
) -> bytes:
    """Render a feed (or one of its archive pages) as RSS 2.0 or Atom 1.0, naming the browsers' stylesheet."""
    gen = _generator(feed, fmt, settings, content_of, paging)
    instruction = stylesheet_pi(feed.spec.slug, paging is not None and paging.number is not None)
    with _FEEDGEN_LOCK:
        if fmt is Format.RSS:
            return _with_stylesheet(bytes(gen.rss_str(pretty=True, encoding="UTF-8")), instruction)
        return _with_stylesheet(bytes(gen.atom_str(pretty=True, encoding="UTF-8")), instruction)


def render_json(feed: Feed, settings: Settings, content_of: ContentOf, paging: Paging | None = None) -> bytes:
    """Render a feed (or one of its archive pages) as JSON Feed 1.1.

    JSON Feed pages with `next_url`: the current document names the newest archive page,
    each page the one before it. An archive page keeps the feed's own `feed_url`, its identity.
    """
    spec = feed.spec
    archive = paging is not None and paging.number is not None
    document: dict[str, object] = {
        "version": JSON_FEED_VERSION,
        "title": spec.title,
        "home_page_url": settings.site_link,
        "feed_url": feed_url(settings, spec.slug, Format.JSON),
        "description": spec.description,
        "language": settings.language,
    }
    older = dict(history_links(settings, spec.slug, Format.JSON, paging)).get("prev-archive")
    if older is not None:
        document["next_url"] = older
    if settings.site_author:
        document["authors"] = [{"name": settings.site_author}]
    if settings.websub_hub and not archive:
        document["hubs"] = [{"type": "WebSub", "url": settings.websub_hub}]
    items = []
    budget = _Budget(settings.max_feed_content_bytes)
    for article in feed.articles:
        content = content_of(article)
        item: dict[str, object] = {"id": article.id, "url": article.link, "title": article.title}
        if settings.content == "full" and budget.takes(content.html):
            item["content_html"] = content.html
        elif settings.content != "none":
            item["content_text"] = content.summary
        else:
            item["content_text"] = ""
        if settings.content != "none" and content.summary:
            item["summary"] = content.summary
        if content.image:
            item["image"] = content.image
        if article.language:
            item["language"] = article.language
        item["date_published"] = _local(article.published, settings).isoformat()
        item["date_modified"] = _local(article.updated, settings).isoformat()
        if article.author is not None:
            author: dict[str, str] = {"name": article.author.name}
            if article.author.email:
                author["url"] = f"mailto:{article.author.email}"
            item["authors"] = [author]
        terms = list(dict.fromkeys([*article.categories, *article.tags]))
        if terms:
            item["tags"] = terms
        items.append(item)
    document["items"] = items
    return json_document(document)


def json_document(document: dict[str, object]) -> bytes:
    """Return a JSON Feed document's bytes: UTF-8, indented by two spaces, a newline at the end.

    The bytes `json.dumps(document, ensure_ascii=False, indent=2) + "\\n"` gives (a test
    holds them equal), made by orjson: the standard library's encoder goes through
    pure Python once asked to indent, a millisecond a feed document of 20 entries.
    """
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def render_feed(
    feed: Feed, fmt: Format, settings: Settings, content_of: ContentOf, paging: Paging | None = None
) -> bytes:
    """Render a feed in one format: its current document, or with `paging` one of its archive pages."""
    if fmt is Format.JSON:
        return render_json(feed, settings, content_of, paging)
    return render_xml(feed, fmt, settings, content_of, paging)
