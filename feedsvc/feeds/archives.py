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
`serve` renders in one thread of its own, never in a request's: a request waits
for its page a short while, else it answers 503 (the page is cached when made).
`feedsvc build` writes every page, and again only those whose key changed.

Pages are cut and keyed here, from a snapshot's read-only `ArchiveView`; rendering one
is the view's, which may read article files again: nothing in feeds/ reads the disk.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from feedsvc.model import FORMAT_OF, Article, Document, Feed, FeedSpec, Format, PageNotReady, Paging, archive_path

log = logging.getLogger("feedsvc.archives")

# Rendered pages kept in memory: about 60 pages of 50 articles with their full content; the
# rest are made again when asked for (a CDN in front keeps the complete ones for good).
PAGE_CACHE_BYTES = 8 * 1024 * 1024
# `feeds/{slug}/archive/{n}.{fmt}`, where the slug of a tag's, author's or entity's feed has its folder
# (`tags/python`, `stocks/SZ000931`).
_ARCHIVE_PATH = re.compile(
    r"feeds/((?:[a-z][a-z0-9_-]*/)?[A-Za-z0-9][A-Za-z0-9_.-]*)/archive/([1-9][0-9]{0,8})\.(rss|atom|json)"
)

# How long a request waits for its page to be made (most take well under 0.1 s; one with a
# pathological article may take many seconds), and how many requests may wait at once: the
# others answer 503 at once, so that requests for pages never hold every request thread
# (`serve` runs two: one may wait here, the other answers from memory).
RENDER_WAIT_SECONDS = 1.0
RENDER_WAITERS = 1
# Pages waiting to be made (not counting the one being made): a crawler asking for thousands
# of pages queues this many; the rest answer 503 until there is room.
RENDER_QUEUE = 16
# What a 503 for a page being made tells the client (seconds): about when to ask again.
RETRY_AFTER_SECONDS = 5
# The render thread ends after this long without work; the next page asked for starts another.
RENDER_IDLE_SECONDS = 30.0


class ArchiveView(Protocol):
    """What one snapshot's archive pages are made of, read-only: built at each refresh, never changed after.

    `feeds` are the snapshot's feeds by slug; `shelves` each feed's articles (newest first,
    by category; None: every article) as the catalog held them; `version` counts the
    catalog's changes to those lists (the same version, the same pages).
    """

    @property
    def feeds(self) -> Mapping[str, Feed]:
        """Return the snapshot's feeds by slug."""

    @property
    def shelves(self) -> Mapping[str | None, Sequence[Article]]:
        """Return each feed's articles, newest first, by category (None: every article)."""

    @property
    def version(self) -> int:
        """Return the version of the catalog's lists the snapshot was made of."""

    def render(self, feed: Feed, fmt: Format, paging: Paging) -> Document:
        """Render a page: `feed` holds the page's articles; one page at a time (under the page cache's lock)."""


def page_count(total: int, size: int) -> int:
    """Return how many archive pages `total` articles fill (0 when archives are off)."""
    return 0 if size <= 0 else -(-total // size)


def page_articles(shelf: Sequence[Article], number: int, size: int) -> tuple[Article, ...]:
    """Return page `number` of a feed's articles (`shelf`, newest first), newest first; page 1 holds the oldest."""
    end = len(shelf) - (number - 1) * size
    if number < 1 or end <= 0:
        return ()
    return tuple(shelf[max(0, end - size) : end])


def parse_archive_path(path: str) -> tuple[str, int, Format] | None:
    """Split `feeds/{slug}/archive/{n}.{fmt}` into its parts; None for any other path (`01` included)."""
    match = _ARCHIVE_PATH.fullmatch(path)
    if match is None:
        return None
    return match.group(1), int(match.group(2)), FORMAT_OF[match.group(3)]


def is_archive_path(path: str) -> bool:
    """Tell an archive page's path (`feeds/{slug}/archive/{n}.{fmt}`) from any other."""
    return _ARCHIVE_PATH.fullmatch(path) is not None


# What one entry contributes to a document's bytes: its id, version (fingerprint), categories and path.
EntryKey = tuple[str, str, tuple[str, ...], str]


def entries_key(articles: tuple[Article, ...]) -> tuple[EntryKey, ...]:
    """What a document's entries contribute to its bytes: each entry's identity and version."""
    return tuple((a.id, a.fingerprint, a.categories, a.source) for a in articles)


class PageCache:
    """Rendered pages by the digest of what they are made of, least recently used out first.

    Shared by the snapshots of one refresher (a page made for one serves the next, if
    its entries did not change). `rendering` lets one page be made at a time (the render
    thread's or a build's): what a render keeps of article contents is not shared safely.
    """

    def __init__(self, max_bytes: int = PAGE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.rendering = threading.Lock()
        self._lock = threading.Lock()
        self._pages: OrderedDict[str, Document] = OrderedDict()
        self._weights: dict[str, int] = {}  # what each page held when kept (a gzip form made later is not counted)
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
        """Keep a page; the least recently used go when the cache is over its size (bodies and gzip forms held)."""
        with self._lock:
            if self._pages.pop(key, None) is not None:
                self._bytes -= self._weights.pop(key)
            self._pages[key] = document
            self._weights[key] = document.held_bytes
            self._bytes += self._weights[key]
            while self._bytes > self.max_bytes and len(self._pages) > 1:
                dropped, _ = self._pages.popitem(last=False)
                self._bytes -= self._weights.pop(dropped)


@dataclass(eq=False)
class _Render:
    """A page to make: requests for it wait on `done`, then read `document` (or `error`)."""

    key: str
    make: Callable[[], Document]
    done: threading.Event = field(default_factory=threading.Event)
    document: Document | None = None
    error: Exception | None = None


class RenderQueue:
    """Pages waiting to be made, and the one thread that makes them, in turn, into the page cache.

    A request asks for its page, waits `wait` seconds at most (only `waiters` requests at
    once), and gets it or `PageNotReady`; the render goes on, and the request's retry finds
    the page in the cache. Requests for a page already queued or being made wait on that
    one render; at most `queue` pages wait to be made.
    """

    def __init__(
        self,
        cache: PageCache,
        *,
        wait: float = RENDER_WAIT_SECONDS,
        waiters: int = RENDER_WAITERS,
        queue: int = RENDER_QUEUE,
        retry_after: int = RETRY_AFTER_SECONDS,
        idle: float = RENDER_IDLE_SECONDS,
    ) -> None:
        self.cache = cache
        self.wait = wait
        self.retry_after = retry_after
        self.queue = queue
        self._idle = idle
        self._waiting = threading.BoundedSemaphore(max(1, waiters))
        self._may_wait = waiters > 0
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._renders: dict[str, _Render] = {}  # queued or being made, by key
        self._todo: deque[_Render] = deque()  # queued, oldest first
        self._thread: threading.Thread | None = None

    def document(self, key: str, make: Callable[[], Document]) -> Document:
        """Return the page made of `key`: from the cache, or made by the render thread within the wait.

        Raises:
            PageNotReady: the page is not made yet (it will be), or the queue is full.
        """
        document = self.cache.get(key)
        if document is not None:
            return document
        render = self._submit(key, make)
        if not render.done.is_set() and self._may_wait and self._waiting.acquire(blocking=False):
            try:
                render.done.wait(self.wait)
            finally:
                self._waiting.release()
        if not render.done.is_set():
            raise PageNotReady(self.retry_after)
        if render.document is None:  # set before `done` unless the render raised (logged there)
            # Never a 500: the next request makes the page again, as after any other 503.
            raise PageNotReady(self.retry_after) from render.error
        return render.document

    @property
    def pending(self) -> int:
        """Return how many pages are queued or being made."""
        with self._lock:
            return len(self._renders)

    def _submit(self, key: str, make: Callable[[], Document]) -> _Render:
        with self._lock:
            render = self._renders.get(key)
            if render is not None:
                return render
            render = _Render(key, make)
            document = self.cache.get(key)  # made since the request looked
            if document is not None:
                render.document = document
                render.done.set()
                return render
            if len(self._todo) >= self.queue:
                raise PageNotReady(self.retry_after)
            self._renders[key] = render
            self._todo.append(render)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="feedsvc-archive-pages", daemon=True)
                self._thread.start()
            self._work.notify()
            return render

    def _run(self) -> None:
        """Make queued pages one after the other; end after `idle` seconds without any."""
        while True:
            with self._lock:
                if not self._todo:
                    self._work.wait(self._idle)
                if not self._todo:
                    self._thread = None
                    return
                render = self._todo.popleft()
            try:
                with self.cache.rendering:
                    document = render.make()
                self.cache.rendered += 1
                self.cache.put(render.key, document)
                render.document = document
            except Exception as error:  # a bug: logged; the requests waiting get a 500, a retry renders again
                log.exception("archive page %s: its render failed", render.key)
                render.error = error
            finally:
                with self._lock:  # after the cache has it: a request finds the page in one or the other
                    del self._renders[render.key]
                render.done.set()


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

    Pages are cut from the snapshot's `view`, read without a lock. `renders` makes pages
    off the request thread, into its page cache; `render` makes one now (a build).
    `identity` is a digest of the settings, part of every page's key. A snapshot of the
    same catalog version as the one before has the same pages, and may share its `keys`.
    """

    def __init__(
        self,
        view: ArchiveView,
        *,
        size: int,
        renders: RenderQueue,
        identity: str,
        keys: dict[str, str] | None = None,
    ) -> None:
        self._view = view
        self._feeds = view.feeds
        self._size = size
        self._shelves = view.shelves
        self._render = view.render
        self._renders = renders
        self._cache = renders.cache
        self._identity = identity
        # path -> the key of the page it had when first asked for: a page asked for again is one
        # dict look-up away from the cache, not a slice of its shelf and a digest.
        self.keys: dict[str, str] = {} if keys is None else keys

    @property
    def version(self) -> int:
        """Return the version of the catalog's lists the pages are cut from (the same version, the same pages)."""
        return self._view.version

    def page(self, slug: str, number: int, fmt: Format) -> ArchivePage | None:
        """Return archive page `number` of the feed `slug` as the snapshot holds it; None if there is none."""
        feed = self._feeds.get(slug)
        if feed is None or number < 1:
            return None
        pages = self._formats(feed.spec, number)
        return None if pages is None else pages[fmt]

    def _formats(self, spec: FeedSpec, number: int) -> dict[Format, ArchivePage] | None:
        shelf = self._shelves.get(spec.category, ())
        articles = page_articles(shelf, number, self._size)
        if not articles:
            return None
        paging = Paging(number, page_count(len(shelf), self._size))
        page_feed = Feed(spec, articles, len(shelf))
        # The page's inputs hashed once (100 entries, some 15 KB of text), then once more with each format.
        inputs = _digest(repr((self._identity, spec, number, paging.complete, entries_key(articles))))
        return {
            fmt: ArchivePage(
                archive_path(spec.slug, number, fmt), page_feed, fmt, paging, _digest(f"{fmt.value}|{inputs}")
            )
            for fmt in Format
        }

    def render(self, page: ArchivePage) -> Document:
        """Return a page's document: from the cache, or made now in this thread (a build; one page at a time)."""
        document = self._cache.get(page.key)
        if document is not None:
            return document
        with self._cache.rendering:
            document = self._cache.get(page.key)  # made meanwhile, by the render thread
            if document is None:
                document = self._render(page.feed, page.fmt, page.paging)
                self._cache.rendered += 1
                self._cache.put(page.key, document)
        return document

    def document(self, path: str) -> Document | None:
        """Return the archive page at a URL path, made when first asked for; None if there is no such page.

        Raises:
            PageNotReady: the page is being made and was not ready in time (or too many are queued).
        """
        key = self.keys.get(path)
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
        self.keys[path] = page.key
        return self._renders.document(page.key, partial(self._render, page.feed, page.fmt, page.paging))

    def pages(self) -> list[ArchivePage]:
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
        return [page for item in found for page in item[3].values()]


def _digest(inputs: str) -> str:
    return hashlib.sha256(inputs.encode("utf-8", "backslashreplace")).hexdigest()[:32]
