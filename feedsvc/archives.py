"""A feed's complete history as RFC 5005 archive pages: which articles each page holds, made when asked for.

Every feed's published articles, oldest first, are cut into pages of
`feeds.archive_size`: page 1 holds the oldest. The current feed links the newest
page (`prev-archive`), each page the one before and the one after it. A new
article joins only the newest page, so every page that has one after it is
complete: its entries stay as they are (an edit shows, a deletion or a back-dated
article shifts the pages after it), and caches may keep it (`immutable`).

At 100,000 articles the pages hold every article four times over (`all` and its
categories) in three formats: far too much to render at every refresh or to hold.
A page is rendered when first asked for and kept in a cache bounded in bytes,
keyed by what it is made of, so a rendered page serves until its entries change.
`feedsvc build` writes every page, and again only those whose key changed.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass

from feedsvc.model import Article, Document, Feed, FeedSpec, Format, Paging, archive_path

# Rendered pages kept in memory: about 60 pages of 50 articles with their full content; the
# rest are made again when asked for (a CDN in front keeps the complete ones for good).
PAGE_CACHE_BYTES = 8 * 1024 * 1024
# A slug as config.py and catalog.py make them (a configured one may hold `_`).
_ARCHIVE_PATH = re.compile(r"feeds/([a-z0-9][a-z0-9_-]*)/archive/([1-9][0-9]{0,8})\.(rss|atom|json)")

# (category name or None, page number) -> (its articles newest first, how many the category has now)
PageReader = Callable[[str | None, int], tuple[tuple[Article, ...], int]]
# (the feed with the page's articles, format, paging) -> the page
PageRenderer = Callable[[Feed, Format, Paging], Document]


def page_count(total: int, size: int) -> int:
    """Return how many archive pages `total` articles fill (0 when archives are off)."""
    return 0 if size <= 0 else -(-total // size)


def parse_archive_path(path: str) -> tuple[str, int, Format] | None:
    """Split `feeds/{slug}/archive/{n}.{fmt}` into its parts; None for any other path (`01` included)."""
    match = _ARCHIVE_PATH.fullmatch(path)
    if match is None:
        return None
    return match.group(1), int(match.group(2)), Format(match.group(3))


def entries_key(articles: tuple[Article, ...]) -> tuple[Hashable, ...]:
    """What a document's entries contribute to its bytes: each entry's identity and version."""
    return tuple((a.id, a.fingerprint, a.categories, a.source) for a in articles)


class PageCache:
    """Rendered pages by the digest of what they are made of, least recently used out first.

    Shared by the snapshots of one refresher (a page made for one serves the next, if
    its entries did not change). `rendering` lets one page be made at a time: a burst of
    requests for a page not yet made renders it once.
    """

    def __init__(self, max_bytes: int = PAGE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.rendering = threading.Lock()
        self._lock = threading.Lock()
        self._pages: OrderedDict[str, Document] = OrderedDict()
        self._bytes = 0
        self.rendered = 0  # pages made so far (tests and the build's log read it)

    def get(self, key: str) -> Document | None:
        """Return the page made of `key`, if it is kept."""
        with self._lock:
            document = self._pages.get(key)
            if document is not None:
                self._pages.move_to_end(key)
            return document

    def put(self, key: str, document: Document) -> None:
        """Keep a page; the least recently used go when the cache is over its size."""
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._pages[key] = document
            self._bytes += len(document.body)
            while self._bytes > self.max_bytes and len(self._pages) > 1:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body)


@dataclass(frozen=True, slots=True)
class ArchivePage:
    """One archive page of a feed in one format, with the digest of everything its bytes come from."""

    path: str
    feed: Feed  # the feed's spec with the page's articles, newest first
    fmt: Format
    paging: Paging
    key: str


class Archives:
    """The archive pages of one snapshot's feeds: what `Snapshot.archives` is for `serve` and `build`.

    `read_page` gives a page's articles from the catalog as it stands (under the
    refresher's catalog lock); `render` makes a page's document; `identity` is a digest
    of the settings, part of every page's key; `version` that of the catalog's lists
    when the snapshot was made (the same version, the same pages: a build need not
    look at them again).
    """

    def __init__(
        self,
        feeds: Mapping[str, Feed],
        *,
        size: int,
        read_page: PageReader,
        render: PageRenderer,
        cache: PageCache,
        identity: str,
        version: int = 0,
    ) -> None:
        self._feeds = feeds
        self._size = size
        self._read_page = read_page
        self._render = render
        self._cache = cache
        self._identity = identity
        self.version = version
        # path -> the key of the page it had when first asked for in this snapshot: a page asked
        # for again is one dict look-up away from the cache, not a catalog read and a digest.
        self._keys: dict[str, str] = {}

    def page(self, slug: str, number: int, fmt: Format) -> ArchivePage | None:
        """Return archive page `number` of the feed `slug` as the catalog holds it now; None if there is none."""
        feed = self._feeds.get(slug)
        if feed is None or number < 1:
            return None
        pages = self._formats(feed.spec, number)
        return None if pages is None else pages[fmt]

    def _formats(self, spec: FeedSpec, number: int) -> dict[Format, ArchivePage] | None:
        articles, total = self._read_page(spec.category, number)
        if not articles:
            return None
        paging = Paging(number, page_count(total, self._size))
        page_feed = Feed(spec, articles, total)
        entries = repr((self._identity, spec, number, paging.complete, entries_key(articles)))
        return {
            fmt: ArchivePage(
                archive_path(spec.slug, number, fmt),
                page_feed,
                fmt,
                paging,
                _digest(f"{fmt.value}|{entries}"),
            )
            for fmt in Format
        }

    def render(self, page: ArchivePage) -> Document:
        """Return a page's document: from the cache, or made now (one page at a time)."""
        document = self._cache.get(page.key)
        if document is not None:
            return document
        with self._cache.rendering:
            document = self._cache.get(page.key)  # made meanwhile, by the request that held the lock
            if document is None:
                document = self._render(page.feed, page.fmt, page.paging)
                self._cache.rendered += 1
                self._cache.put(page.key, document)
        return document

    def document(self, path: str) -> Document | None:
        """Return the archive page at a URL path, made when first asked for; None if there is no such page."""
        key = self._keys.get(path)
        if key is not None:
            document = self._cache.get(key)
            if document is not None:
                return document
        parsed = parse_archive_path(path)
        if parsed is None:
            return None
        page = self.page(*parsed)
        if page is None:
            return None
        self._keys[path] = page.key
        return self.render(page)

    def pages(self) -> Iterator[ArchivePage]:
        """Every archive page of every feed and format, pages of the same time together.

        Ordered by each page's newest article, so that the pages an article is on (in
        `all` and in each of its categories) are made one after the other, while its
        content is still at hand.
        """
        found: list[tuple[float, str, int, dict[Format, ArchivePage]]] = []
        for slug, feed in self._feeds.items():
            for number in range(1, page_count(feed.total, self._size) + 1):
                pages = self._formats(feed.spec, number)
                if pages is not None:
                    newest = pages[Format.RSS].feed.articles[0].published.timestamp()
                    found.append((newest, slug, number, pages))
        found.sort(key=lambda item: item[:3])
        return (page for item in found for page in item[3].values())


def _digest(inputs: str) -> str:
    return hashlib.sha256(inputs.encode("utf-8", "backslashreplace")).hexdigest()[:32]
