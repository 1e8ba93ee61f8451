"""One refresh: scan the content directory, update the catalog, render what changed, swap the snapshot.

The scheduler, `serve` and `build` all call `Refresher.refresh`. A rescan reads
only what changed (the paths filesystem events named, or what a full walk
finds changed); the catalog is updated article by article; a feed whose
entries did not change keeps its bytes and ETag. A refresh that fails leaves
the previous snapshot serving. Article bodies are never held for the whole
directory: content is made only for the articles feeds show.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from feedsvc.config import Settings
from feedsvc.feeds.archives import Archives, PageCache, RenderQueue, page_count
from feedsvc.feeds.catalog import Catalog, CatalogState
from feedsvc.feeds.listing import FEED_STYLESHEET, render_index, render_opml
from feedsvc.feeds.render import render_feed
from feedsvc.index.cache import Cache, inputs_digest, settings_identity
from feedsvc.index.scan import EMPTY_INDEX, ContentIndex, Progress, ScanResult, StopFlag, read_source
from feedsvc.model import (
    INDEX_PATH,
    OPML_PATH,
    STYLESHEET_PATH,
    Article,
    ArticleContent,
    Document,
    Feed,
    Format,
    Paging,
    RefreshStats,
    Snapshot,
    feed_path,
    make_document,
)
from feedsvc.parse.articles import digest, read_body
from feedsvc.parse.body import post_finder, render_content
from feedsvc.runtime.memory import release_memory
from feedsvc.runtime.problems import ProblemLog
from feedsvc.runtime.scanner import ChangeSource, Scanner
from feedsvc.store import Store

log = logging.getLogger("feedsvc.refresh")

OPML_TYPE = "text/x-opml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
# Article contents kept for archive pages. `serve` makes a page now and then: a few pages' worth.
# A build makes them all, an article's pages (in `all` and in each of its categories) near each
# other but not together: a few thousand cover that (about 40 MB of content at most).
ARCHIVE_CONTENTS = 200
BUILD_ARCHIVE_CONTENTS = 4096
# The type the feeds' <?xml-stylesheet?> names: an XML type, as browsers want of an XSLT stylesheet.
XSL_TYPE = "text/xsl; charset=utf-8"


def utc_now() -> datetime:
    """Return the current time; the one clock of a running service."""
    return datetime.now(UTC)


class RefreshStopped(Exception):
    """A refresh ended early because the service is stopping; the feeds served did not change."""


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What one refresh did: the files it re-read and the documents it re-rendered."""

    stats: RefreshStats
    reread: tuple[str, ...]
    rebuilt: tuple[str, ...]
    snapshot: Snapshot
    full: bool = True
    bodies_read: int = 0


class Refresher:
    """Keeps the state between refreshes: the content index, the catalog and the rendered documents.

    `progress` reports the first refresh's scan only.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], datetime] = utc_now,
        changes: ChangeSource | None = None,
        cache: Cache | None = None,
        progress: Progress | None = None,
        stop: StopFlag | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._clock = clock
        self._cache = cache
        self._scanner = Scanner(settings, changes=changes, progress=progress, stop=stop)
        self._problems = ProblemLog(settings.content_dir)
        self._index: ContentIndex = cache.load_index() if cache is not None else EMPTY_INDEX
        self._catalog = CatalogState(settings)
        self._catalog_ready = False
        self._rendered: dict[str, tuple[Hashable, Document]] = {}
        self._contents: dict[tuple[str, str], ArticleContent] = {}
        self._unsaved: set[tuple[str, str]] = set()  # contents made since the cache was last written
        self._saved_in_feeds: set[tuple[str, str]] = set()  # the articles in feeds when it was
        self._pending_files: set[str] = set()  # what the cache has yet to learn
        self._pending_everything = False  # or all of it: every entry of the index
        self._pending_removed: set[str] = set()
        self._pending_documents: set[str] = set()
        self._pending_in_feeds: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.pages = PageCache()
        self.renders = RenderQueue(self.pages)  # archive pages `serve` is asked for, made off the request thread
        self._shelves: tuple[int, dict[str | None, tuple[Article, ...]], dict[str, str]] | None = None
        self._archive_contents: OrderedDict[tuple[str, str], ArticleContent] = OrderedDict()
        self._archive_contents_kept = ARCHIVE_CONTENTS
        self._trim_after_page = True  # give the memory a page took back (see _render_archive_page)
        self._identity = settings_identity(settings)  # part of every archive page's key
        self.failures = 0
        self._posts: tuple[ContentIndex, Callable[[str], tuple[str, str] | None]] | None = None

    @property
    def store(self) -> Store:
        """Return the store each refresh's snapshot is swapped into."""
        return self._store

    def publish_to(self, store: Store) -> None:
        """Swap later snapshots into `store` (a reloaded config's, after its first refresh into a store of its own)."""
        with self._lock:
            self._store = store

    def stop(self) -> None:
        """Make a refresh under way (and every later one) end at the next file, publishing nothing."""
        self._scanner.stop()

    @property
    def stopped(self) -> bool:
        """Tell whether the refresher was stopped."""
        return self._scanner.stopped

    @property
    def index(self) -> ContentIndex:
        """Return the content index of the last scan."""
        return self._index

    def refresh(self) -> RefreshReport:
        """Run one refresh and swap in its snapshot; raises only on a bug, leaving the old snapshot.

        Raises:
            RefreshStopped: the refresher was stopped; what was parsed is in the cache, nothing is published.
        """
        with self._lock:
            self._write_cache()  # what the previous refresh changed, now that it has long been serving
            started = self._clock()
            clock_start = time.perf_counter()
            scan = self._scanner.scan(self._index, started.timestamp())
            if scan.stopped:
                self._keep_parsed(scan)
                raise RefreshStopped(f"stopped after parsing {len(scan.reread)} files")
            self._problems.note(scan, self._index)
            self._update_catalog(scan, started)
            catalog = self._catalog.catalog()
            version = self._catalog.version
            bodies_read = [0]
            documents, rebuilt = self._render(catalog, scan.bodies, bodies_read)
            stats = RefreshStats(
                started=started,
                duration_s=round(time.perf_counter() - clock_start, 6),
                files_seen=scan.files_seen,
                files_parsed=len(scan.reread),
                files_failed=scan.failed,
                feeds_rebuilt=sum(1 for path in rebuilt if path.startswith("feeds/")),
            )
            snapshot = Snapshot(
                documents=documents,
                redirects=dict(catalog.redirects),
                permanent_redirects=catalog.permanent_redirects,
                max_age=self.settings.interval_seconds,
                articles=catalog.published,
                held=catalog.held,
                feed_documents=sum(1 for path in documents if path.startswith("feeds/")),
                problems=self._index.problems(),
                last_refresh=stats,
                degraded=scan.error,
                refreshes_failed=self.failures,
                hub=self.settings.websub_hub or None,
                feed_url=self.settings.feed_url,
                archives=self._archives(catalog, version),
            )
            self._store.replace(snapshot)
            self._remember(scan, catalog, rebuilt)
            return RefreshReport(
                stats=stats,
                reread=scan.reread,
                rebuilt=tuple(rebuilt),
                snapshot=snapshot,
                full=scan.full,
                bodies_read=bodies_read[0],
            )

    def refresh_safely(self) -> None:
        """Run a refresh for the scheduler: log and count any failure, keep the old snapshot."""
        try:
            report = self.refresh()
        except RefreshStopped as stopped:
            log.info("refresh %s: the service is stopping", stopped)
            return
        except Exception as error:
            self.failures += 1
            log.exception("refresh failed; the previous feeds keep serving")
            previous = self._store.snapshot
            self._store.replace(
                dataclasses.replace(
                    previous,
                    degraded=f"the last refresh failed: {type(error).__name__}: {error}",
                    refreshes_failed=self.failures,
                )
            )
            return
        stats = report.stats
        if stats.files_parsed or stats.feeds_rebuilt:
            log.info(
                "refresh (%s): %d files, %d re-read, %d failed, %d feeds rebuilt in %.3f s",
                "full" if report.full else "events",
                stats.files_seen,
                stats.files_parsed,
                stats.files_failed,
                stats.feeds_rebuilt,
                stats.duration_s,
            )

    def _update_catalog(self, scan: ScanResult, now: datetime) -> None:
        """Tell the catalog which articles changed, and publish what became due."""
        previous = self._index
        if scan.error is None:
            self._index = scan.index
        if not self._catalog_ready:
            self._catalog.update((), self._index.articles(), now)
            self._catalog_ready = True
            return
        if scan.error is not None:
            self._catalog.update((), (), now)
            return
        removed: list[str] = list(scan.removed)
        added: list[Article] = []
        for source in scan.reread:
            old = previous.entries.get(source)
            old_article = old.article if old is not None else None
            new_article = self._index.entries[source].article
            if new_article is old_article:
                continue
            if new_article is None:
                removed.append(source)
            else:
                added.append(new_article)
        self._catalog.update(removed, added, now)

    def _content_of(self, article: Article, bodies: Mapping[str, str], counter: list[int]) -> ArticleContent:
        """The feed content of an article: made once per version, from the freshest source of its body."""
        key = (article.source, article.fingerprint)
        content = self._contents.get(key)
        if content is None and self._cache is not None:
            content = self._cache.content(*key)
        if content is None:
            body = bodies.get(article.source)
            entry = self._index.entries.get(article.source)
            current = entry.article if entry is not None else None
            if body is None or current is None or current.fingerprint != article.fingerprint:
                body = self._read_body(article)
                counter[0] += 1
            if body is None:
                log.warning("%s: its body cannot be read again; published without content", article.source)
                content = ArticleContent(html="", summary=article.summary or "", image=article.image)
            else:
                content = self._render_body(article, body)
            self._unsaved.add(key)
        self._contents[key] = content
        return content

    def _find_post(self, name: str) -> tuple[str, str] | None:
        """Find another post for Hexo's post_link and post_path, in the current index (read only when asked)."""
        index = self._index
        if self._posts is None or self._posts[0] is not index:
            articles = (entry.article for entry in index.entries.values() if entry.article is not None)
            self._posts = (index, post_finder(articles))
        return self._posts[1](name)

    def _render_body(self, article: Article, body: str) -> ArticleContent:
        """Render an article's body as the settings say, for its feeds and its archive pages alike."""
        settings = self.settings
        return render_content(
            article,
            body,
            summary_chars=settings.summary_chars,
            max_depth=settings.max_depth,
            max_html_bytes=settings.max_html_bytes,
            hexo_tags=settings.hexo_tags,
            root=settings.site_link,
            find_post=self._find_post,
        )

    def _read_body(self, article: Article) -> str | None:
        """Read an article's file again for its body, if it still holds the version the index has."""
        entry = self._index.entries.get(article.source)
        if entry is None:
            return None
        raw = read_source(self.settings.content_dir, article.source, entry, self.settings.max_file_bytes)
        if raw is None or digest(raw) != article.fingerprint.split(":", 1)[0]:
            return None
        return read_body(raw)

    def _render(
        self, catalog: Catalog, bodies: Mapping[str, str], counter: list[int]
    ) -> tuple[dict[str, Document], list[str]]:
        """Render every document whose inputs changed; reuse the rest, from memory or from the cache."""
        documents: dict[str, Document] = {}
        rebuilt: list[str] = []
        rendered: dict[str, tuple[Hashable, Document]] = {}
        content_of = partial(self._content_of, bodies=bodies, counter=counter)

        def keep(path: str, key: Hashable, build: Callable[[], Document]) -> None:
            previous = self._rendered.get(path)
            if previous is not None and previous[0] == key:
                document = previous[1]
            else:
                cached = self._cache.document(path, inputs_digest(key)) if self._cache is not None else None
                if cached is not None:
                    document = cached
                else:
                    document = build()
                    rebuilt.append(path)
            documents[path] = document
            rendered[path] = (key, document)

        for feed in catalog.feeds:
            paging = Paging(None, page_count(feed.total, self.settings.archive_size))
            key = (_feed_key(feed), paging.pages)  # the current document links the newest archive page
            for fmt in Format:
                keep(feed_path(feed.spec.slug, fmt), key, partial(self._render_feed, feed, fmt, content_of, paging))
        # The index shows each feed's size and newest entry; the OPML each feed's spec and the
        # latest `updated` of all, which may come from any entry, not only the newest.
        index_key = tuple((f.spec, f.total, _feed_key(f)[1][:1]) for f in catalog.feeds)
        keep(INDEX_PATH, index_key, lambda: make_document(render_index(catalog.feeds, self.settings), HTML_TYPE))
        latest = max((f.updated for f in catalog.feeds if f.updated is not None), default=None)
        opml_key = (tuple(f.spec for f in catalog.feeds), latest)
        keep(OPML_PATH, opml_key, lambda: make_document(render_opml(catalog.feeds, self.settings, latest), OPML_TYPE))
        # The same for every content: kept from the first refresh on (its bytes are its key).
        keep(STYLESHEET_PATH, FEED_STYLESHEET, lambda: make_document(FEED_STYLESHEET, XSL_TYPE))
        self._rendered = rendered
        in_feeds = {(a.source, a.fingerprint) for f in catalog.feeds for a in f.articles}
        self._contents = {k: v for k, v in self._contents.items() if k in in_feeds}
        return documents, rebuilt

    def _render_feed(
        self, feed: Feed, fmt: Format, content_of: Callable[[Article], ArticleContent], paging: Paging
    ) -> Document:
        body = render_feed(feed, fmt, self.settings, content_of, paging)
        return make_document(body, fmt.media_type, feed.updated, immutable=paging.complete)

    def _archives(self, catalog: Catalog, version: int) -> Archives | None:
        """The archive pages of a snapshot's feeds, made when first asked for (None when archives are off).

        They read the feeds' articles as the catalog holds them now (each feed's list, copied
        when it changed): the render thread and request threads never look at the catalog,
        which the next refresh changes.
        """
        if self.settings.archive_size <= 0:
            return None
        if self._shelves is None or self._shelves[0] != version:
            # Page 1 at the size of the whole list: every article of the feed, newest first.
            shelves = {
                f.spec.category: self._catalog.archive_page(f.spec.category, 1, f.total)[0] for f in catalog.feeds
            }
            self._shelves = (version, shelves, {})
        _, shelves, keys = self._shelves
        return Archives(
            {feed.spec.slug: feed for feed in catalog.feeds},
            size=self.settings.archive_size,
            shelves=shelves,
            render=self._render_archive_page,
            renders=self.renders,
            identity=self._identity,
            version=version,
            keys=keys,
        )

    def _render_archive_page(self, feed: Feed, fmt: Format, paging: Paging) -> Document:
        """Render an archive page (one at a time: the caller holds the page cache's render lock).

        Its 50 articles' bodies, HTML trees and feedgen's elements are garbage after it: given
        back to the system (as after a large scan), or pages asked for by a crawler would leave
        a serving process tens of MB larger than its page cache.
        """
        document = self._render_feed(feed, fmt, self._archive_content, paging)
        if self._trim_after_page:
            release_memory()
        return document

    def make_every_archive_page(self) -> None:
        """Set up for a build, which makes every archive page in a row, an article's pages near each other.

        More article contents are kept meanwhile, and memory is not trimmed after each page.
        """
        self._archive_contents_kept = BUILD_ARCHIVE_CONTENTS
        self._trim_after_page = False

    def _archive_content(self, article: Article) -> ArticleContent:
        """The content of an article on an archive page: from the feeds' contents, a few recent ones, or its file.

        Called from the render thread (or a build's), under the page cache's render lock: of the
        refresher's state it reads the index and the feeds' contents (each a dict a refresh
        replaces whole or only adds to), and changes only the few it keeps here.
        """
        key = (article.source, article.fingerprint)
        content = self._contents.get(key) or self._archive_contents.get(key)
        if content is not None:
            self._archive_contents[key] = content
            self._archive_contents.move_to_end(key)
            return content
        body = self._read_body(article)
        if body is None:
            log.warning("%s: its body cannot be read again; archived without content", article.source)
            return ArticleContent(html="", summary=article.summary or "", image=article.image)
        content = self._render_body(article, body)
        self._archive_contents[key] = content
        while len(self._archive_contents) > self._archive_contents_kept:
            self._archive_contents.popitem(last=False)
        return content

    def flush(self) -> None:
        """Write what refreshes changed to the persistent cache now (the next refresh would otherwise)."""
        with self._lock:
            self._write_cache()

    def _keep_parsed(self, scan: ScanResult) -> None:
        """Write the files a stopped scan parsed to the cache: a restart need not parse them again."""
        if self._cache is None or not scan.reread:
            return
        self._cache.save_entries(scan.index, sorted(scan.reread), ())

    def _remember(self, scan: ScanResult, catalog: Catalog, rebuilt: list[str]) -> None:
        """Note what the persistent cache must learn; it is written before the next refresh, or by flush()."""
        if self._cache is None:
            return
        if scan.error is None:
            if len(scan.reread) == len(scan.index.entries) and not self._pending_files:
                self._pending_everything = True  # a first scan: no set of 100,000 names to hold meanwhile
            else:
                self._pending_files.update(scan.reread)
            self._pending_removed.update(scan.removed)
        self._pending_documents.update(rebuilt)
        self._pending_in_feeds = {(a.source, a.fingerprint) for f in catalog.feeds for a in f.articles}

    def _write_cache(self) -> None:
        """Write the pending changes: file results, article contents, rendered documents.

        Done after the new snapshot already serves, and for a first refresh not before
        the service answers: writing 100,000 parse results takes seconds. Whatever happens
        here, the pending changes are let go: a write that failed is logged and dropped,
        never tried again at the start of every later refresh.
        """
        if self._cache is None:
            return
        try:
            self._write_pending(self._cache)
        except Exception:
            # The cache catches its own failures; this is one of ours (making what it is given).
            log.exception("writing the parse cache failed; the changes are not cached")
            self._unsaved.clear()
            self._saved_in_feeds = self._pending_in_feeds
        finally:
            self._pending_files.clear()
            self._pending_everything = False
            self._pending_removed.clear()
            self._pending_documents.clear()

    def _write_pending(self, cache: Cache) -> None:
        if self._pending_everything:
            cache.save_entries(self._index, sorted(self._index.entries), sorted(self._pending_removed))
        elif self._pending_files or self._pending_removed:
            cache.save_entries(self._index, sorted(self._pending_files), sorted(self._pending_removed))
        in_feeds = self._pending_in_feeds
        if self._unsaved or in_feeds != self._saved_in_feeds:
            # New contents to keep, or articles that left every feed: their contents go.
            fresh = {key: self._contents[key] for key in self._unsaved if key in self._contents}
            cache.save_contents(fresh, in_feeds)
            self._unsaved.clear()
            self._saved_in_feeds = in_feeds
        documents = {
            path: (inputs_digest(self._rendered[path][0]), self._rendered[path][1])
            for path in self._pending_documents
            if path in self._rendered
        }
        if self._pending_documents:
            cache.save_documents(documents, self._rendered)


def _feed_key(feed: Feed) -> tuple[Hashable, tuple[Hashable, ...]]:
    """What a feed's bytes depend on: its spec and each entry's identity and version."""
    return feed.spec, tuple((a.id, a.fingerprint, a.categories, a.source) for a in feed.articles)
