"""A feed document's HTML view: what a browser is shown at the feed's URL, made from the feed's own bytes.

The view shows what the feeds' XSLT stylesheet shows (title, how to subscribe, the
entries), so it is a function of the served bytes alone: the same feed gives the same
page, and the same ETag, in `serve`, `serve --from` and a build, on every replica.
Views are made when first asked for and kept while their feed stays the same.
"""

from __future__ import annotations

import json
import re
import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from feedsvc.feeds.listing import FORMAT_NAMES, render_view
from feedsvc.model import FORMAT_OF, Document, Format, make_document

VIEW_TYPE = "text/html; charset=utf-8"
# What a build writes beside a feed: `feeds/finance.rss` -> `feeds/finance.rss.html`.
VIEW_SUFFIX = ".html"
# Views kept in memory (a view holds titles and summaries, not content: 5 to 30 KB each);
# one evicted is made again, from its feed, when next asked for.
VIEW_CACHE_BYTES = 4 * 1024 * 1024

_ATOM = "{http://www.w3.org/2005/Atom}"
_MEDIA = "{http://search.yahoo.com/mrss/}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_HISTORY = "{http://purl.org/syndication/history/1.0}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_KINDS = {Format.RSS: "RSS 2.0 feed", Format.ATOM: "Atom 1.0 feed", Format.JSON: "JSON Feed 1.1"}
# XPath's normalize-space(), as the stylesheet applies it: XML whitespace only (not U+3000).
_SPACE = re.compile(r"[ \t\r\n]+")


@dataclass(frozen=True, slots=True)
class ViewEntry:
    """One entry as the view shows it; `link` and `image` are http(s) URLs or None."""

    title: str
    link: str | None
    shown_date: str
    date: str | None  # machine-readable (ISO 8601), when the feed's date could be read
    author: str
    summary: str
    image: str | None


@dataclass(frozen=True, slots=True)
class FeedView:
    """What the HTML view of one feed document shows."""

    fmt: Format
    kind: str
    title: str
    description: str
    language: str
    subscribe: str  # the feed URL to copy into a reader ("" when the document names none)
    site: str | None
    stem: str  # the feed's file name without its extension, beside which the other formats are ("": none named)
    home: str  # the service's root, relative to the document (`../` from feeds/all.rss, `../../` from feeds/tags/x.rss)
    archived: bool
    newer: str | None
    older: str | None
    current: str | None
    entries: tuple[ViewEntry, ...]

    @property
    def formats(self) -> list[tuple[str, str, bool]]:
        """Return each format as (file name beside this one, name, whether it is this document's)."""
        return [(f"{self.stem}.{fmt.value}", FORMAT_NAMES[fmt], fmt is self.fmt) for fmt in Format]


def view_path(path: str) -> str:
    """Return where a build writes the view of the feed document at `path`."""
    return path + VIEW_SUFFIX


def read_view(path: str, body: bytes) -> FeedView | None:
    """Read a feed document (its path tells the format and whether it is an archive page); None if it is not one.

    Only what is shown is read; URLs other than http(s) are dropped, as the stylesheet drops them.
    """
    fmt = FORMAT_OF.get(path.rsplit(".", 1)[-1])
    if fmt is None:
        return None
    archived = "/archive/" in path
    stem = path.rsplit("/", 1)[-1][: -len(fmt.value) - 1]  # `all` of feeds/all.rss, `2` of …/archive/2.rss
    home = "../" * path.count("/")
    try:
        if fmt is Format.JSON:
            data = json.loads(body)
            return _json_view(data, archived, stem, home) if isinstance(data, dict) else None
        root = ET.fromstring(body)  # noqa: S314 - our own output (a build's is checked against its ETag)
    except (ValueError, ET.ParseError):
        return None
    if fmt is Format.RSS and root.tag == "rss":
        return _rss_view(root, archived, stem, home)
    if fmt is Format.ATOM and root.tag == f"{_ATOM}feed":
        return _atom_view(root, archived, stem, home)
    return None


def view_document(path: str, feed: Document) -> Document | None:
    """Render the HTML view of a feed document as a document of its own (its own ETag); None if it has none."""
    view = read_view(path, feed.body)
    if view is None:
        return None
    return make_document(render_view(view), VIEW_TYPE, feed.last_modified, immutable=feed.immutable)


class FeedViews:
    """The views of the feed documents browsers asked for, by path, each kept while its feed's ETag stays.

    Shared by every snapshot a process serves: a view is made once per change of its feed
    (and again only if evicted: the cache is bounded in bytes, least recently used out first).
    Made on the request thread: reading a feed back and filling the template take a few ms.
    """

    def __init__(self, max_bytes: int = VIEW_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # path -> (the feed's ETag and completeness, its view): a JSON archive page's bytes do not
        # show whether a page follows it, so the same bytes may be complete (immutable) or not.
        self._views: OrderedDict[str, tuple[tuple[str, bool], Document]] = OrderedDict()
        self._bytes = 0
        self.made = 0  # views rendered so far

    def document(self, path: str, feed: Document) -> Document | None:
        """Return the view of the feed document at `path`, made now unless kept for this very feed."""
        made_of = (feed.etag, feed.immutable)
        with self._lock:
            kept = self._views.get(path)
            if kept is not None and kept[0] == made_of:
                self._views.move_to_end(path)
                return kept[1]
        view = view_document(path, feed)  # outside the lock: two first requests may both make it, alike
        if view is None:
            return None
        with self._lock:
            self.made += 1
            old = self._views.pop(path, None)
            if old is not None:
                self._bytes -= len(old[1].body)
            self._views[path] = (made_of, view)
            self._bytes += len(view.body)
            while self._bytes > self.max_bytes and len(self._views) > 1:
                _, (_, evicted) = self._views.popitem(last=False)
                self._bytes -= len(evicted.body)
        return view

    @property
    def held_bytes(self) -> int:
        """Return the bytes of the views kept (their bodies: a gzip form, once made, adds about a fifth)."""
        return self._bytes


def _text(value: str | None) -> str:
    return _SPACE.sub(" ", value or "").strip(" ")


def _web(url: str | None) -> str | None:
    """Return a URL that may become a link or an image: http(s) only."""
    url = (url or "").strip()
    return url if url.startswith(("https://", "http://")) else None


def _zone(offset: timedelta | None) -> str:
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _shown(value: str, *, rfc822: bool) -> tuple[str, str | None]:
    """Show a feed's date as the stylesheet does, in its own zone (`2026-11-20 16:00 +08:00`); else as given."""
    value = value.strip()
    if not value:
        return "", None
    try:
        moment = parsedate_to_datetime(value) if rfc822 else datetime.fromisoformat(value)
    except (TypeError, ValueError, IndexError):
        return value, None
    if moment.tzinfo is None:
        return value, None
    return f"{moment:%Y-%m-%d %H:%M} {_zone(moment.utcoffset())}", moment.isoformat()


def _history(links: Mapping[str, str], archived: bool) -> dict[str, str | None]:
    return {
        "newer": _web(links.get("next-archive")),
        "older": _web(links.get("prev-archive")),
        "current": _web(links.get("current")) if archived else None,
    }


def _links(parent: ET.Element) -> dict[str, str]:
    """Return the first href of each rel among a channel's or feed's Atom links (`alternate` when none is given)."""
    found: dict[str, str] = {}
    for link in parent.findall(f"{_ATOM}link"):
        found.setdefault(link.get("rel") or "alternate", link.get("href") or "")
    return found


def _rss_view(root: ET.Element, archived: bool, stem: str, home: str) -> FeedView | None:
    channel = root.find("channel")
    if channel is None:
        return None
    links = _links(channel)
    archived = archived or channel.find(f"{_HISTORY}archive") is not None
    self_url = links.get("self", "")
    entries = []
    for item in channel.findall("item"):
        image = next(
            (
                url
                for url in (
                    *(e.get("url") for e in item.findall(f"{_MEDIA}thumbnail")),
                    *(e.get("url") for e in item.findall(f"{_MEDIA}content") if e.get("medium") == "image"),
                    *(e.get("url") for e in item.findall("enclosure") if (e.get("type") or "").startswith("image/")),
                )
                if url
            ),
            None,
        )
        shown, date = _shown(item.findtext("pubDate") or "", rfc822=True)
        entries.append(
            ViewEntry(
                title=_text(item.findtext("title")),
                link=_web(item.findtext("link")),
                shown_date=shown,
                date=date,
                author=_text(item.findtext(f"{_DC}creator") or item.findtext("author")),
                summary=_text(item.findtext("description")),
                image=_web(image),
            )
        )
    subscribe = (links.get("current", "") if archived else "") or self_url
    return FeedView(
        fmt=Format.RSS,
        kind=_KINDS[Format.RSS],
        title=_text(channel.findtext("title")),
        description=_text(channel.findtext("description")),
        language=(channel.findtext("language") or "").strip(),
        subscribe=subscribe,
        site=_web(channel.findtext("link")),
        stem=stem if subscribe else "",
        home=home,
        archived=archived,
        entries=tuple(entries),
        **_history(links, archived),
    )


def _atom_view(root: ET.Element, archived: bool, stem: str, home: str) -> FeedView:
    links = _links(root)
    archived = archived or root.find(f"{_HISTORY}archive") is not None
    self_url = links.get("self", "")
    feed_author = _text(root.findtext(f"{_ATOM}author/{_ATOM}name"))
    entries = []
    for entry in root.findall(f"{_ATOM}entry"):
        image = next(
            (
                url
                for url in (
                    *(e.get("url") for e in entry.findall(f"{_MEDIA}thumbnail")),
                    *(e.get("url") for e in entry.findall(f"{_MEDIA}content") if e.get("medium") == "image"),
                )
                if url
            ),
            None,
        )
        date = entry.findtext(f"{_ATOM}published") or entry.findtext(f"{_ATOM}updated") or ""
        shown, moment = _shown(date, rfc822=False)
        author = entry.find(f"{_ATOM}author")
        entries.append(
            ViewEntry(
                title=_text(entry.findtext(f"{_ATOM}title")),
                link=_web(_links(entry).get("alternate")),
                shown_date=shown,
                date=moment,
                author=_text(author.findtext(f"{_ATOM}name")) if author is not None else feed_author,
                summary=_text(entry.findtext(f"{_ATOM}summary")),
                image=_web(image),
            )
        )
    subscribe = (links.get("current", "") if archived else "") or self_url
    return FeedView(
        fmt=Format.ATOM,
        kind=_KINDS[Format.ATOM],
        title=_text(root.findtext(f"{_ATOM}title")),
        description=_text(root.findtext(f"{_ATOM}subtitle")),
        language=root.get(_XML_LANG, ""),
        subscribe=subscribe,
        site=_web(links.get("alternate")),
        stem=stem if subscribe else "",
        home=home,
        archived=archived,
        entries=tuple(entries),
        **_history(links, archived),
    )


def _string(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _json_view(data: Mapping[str, Any], archived: bool, stem: str, home: str) -> FeedView:
    """JSON Feed names only the page before (`next_url`); an archive page keeps the feed's `feed_url`."""
    feed_url = _string(data, "feed_url")
    feed_author = next((_string(a, "name") for a in data.get("authors") or () if isinstance(a, dict)), "")
    entries = []
    for item in data.get("items") or ():
        if not isinstance(item, dict):
            continue
        shown, moment = _shown(_string(item, "date_published") or _string(item, "date_modified"), rfc822=False)
        authors = [a for a in item.get("authors") or () if isinstance(a, dict)]
        entries.append(
            ViewEntry(
                title=_text(_string(item, "title")),
                link=_web(_string(item, "url")),
                shown_date=shown,
                date=moment,
                author=_text(_string(authors[0], "name") if authors else feed_author),
                summary=_text(_string(item, "summary") or _string(item, "content_text")),
                image=_web(_string(item, "image")),
            )
        )
    subscribe = feed_url
    return FeedView(
        fmt=Format.JSON,
        kind=_KINDS[Format.JSON],
        title=_text(_string(data, "title")),
        description=_text(_string(data, "description")),
        language=_string(data, "language"),
        subscribe=subscribe,
        site=_web(_string(data, "home_page_url")),
        stem=stem if subscribe else "",
        home=home,
        archived=archived,
        newer=None,
        older=_web(_string(data, "next_url")),
        current=_web(feed_url) if archived else None,
        entries=tuple(entries),
    )
