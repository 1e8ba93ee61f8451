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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from feedsvc.config import Settings
from feedsvc.feeds.archives import Archives, PageCache, RenderQueue
from feedsvc.feeds.catalog import Catalog, CatalogState
from feedsvc.index.cache import Cache, settings_identity
from feedsvc.index.scan import EMPTY_INDEX, ContentIndex, Progress, ScanResult, StopFlag
from feedsvc.model import Article, ArticleContent, Document, Feed, Format, Paging, RefreshStats, Snapshot
from feedsvc.runtime.cachewriter import CacheWriter
from feedsvc.runtime.contents import ContentKey, FeedContents, content_key
from feedsvc.runtime.memory import release_memory
from feedsvc.runtime.problems import ProblemLog
from feedsvc.runtime.rendered import Rendering, RenderMemo, feed_document
from feedsvc.runtime.scanner import ChangeSource, Scanner
from feedsvc.store import Store

log = logging.getLogger("feedsvc.refresh")

# Article contents kept for archive pages. `serve` makes a page now and then: a few pages' worth.
# A build makes them all, an article's pages (in `all` and in each of its categories) near each
# other but not together: a few thousand cover that (about 40 MB of content at most).
ARCHIVE_CONTENTS = 200
BUILD_ARCHIVE_CONTENTS = 4096


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
    """Runs a refresh at a time: scan, log problems, update the catalog, render, swap the snapshot, note what to cache.

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
        self._index: ContentIndex = cache.load_index() if cache is not None else EMPTY_INDEX
        self._catalog = CatalogState(settings)
        self._catalog_ready = False
        self._scanner = Scanner(settings, changes=changes, progress=progress, stop=stop)
        self._problems = ProblemLog(settings.content_dir)
        self._contents = FeedContents(settings, cache)
        self._documents = RenderMemo(settings, cache)
        self._cache = CacheWriter(cache)
        self._lock = threading.Lock()
        self.failures = 0
        self.pages = PageCache()
        self.renders = RenderQueue(self.pages)  # archive pages `serve` is asked for, made off the request thread
        self._shelves: tuple[int, dict[str | None, tuple[Article, ...]], dict[str, str]] | None = None
        self._archive_contents: OrderedDict[ContentKey, ArticleContent] = OrderedDict()
        self._archive_contents_kept = ARCHIVE_CONTENTS
        self._trim_after_page = True  # give the memory a page took back (see _render_archive_page)
        self._identity = settings_identity(settings)  # part of every archive page's key

    @property
    def store(self) -> Store:
        """Return the store each refresh's snapshot is swapped into."""
        return self._store

    def publish_to(self, store: Store) -> None:
        """Swap later snapshots into `store` (a reloaded config's, after its first refresh into a store of its own)."""
        with self._lock:
            self._store = store

    @property
    def index(self) -> ContentIndex:
        """Return the content index of the last scan."""
        return self._index

    @property
    def contents(self) -> Mapping[ContentKey, ArticleContent]:
        """Return the article contents kept after the last refresh: those of the versions its feeds show."""
        return self._contents.kept

    def stop(self) -> None:
        """Make a refresh under way (and every later one) end at the next file, publishing nothing."""
        self._scanner.stop()

    @property
    def stopped(self) -> bool:
        """Tell whether the refresher was stopped."""
        return self._scanner.stopped

    def refresh(self) -> RefreshReport:
        """Run one refresh and swap in its snapshot; raises only on a bug, leaving the old snapshot.

        Raises:
            RefreshStopped: the refresher was stopped; what was parsed is in the cache, nothing is published.
        """
        with self._lock:
            self._cache.write()  # what the previous refresh changed, now that it has long been serving
            started = self._clock()
            clock_start = time.perf_counter()
            scan = self._scanner.scan(self._index, started.timestamp())
            if scan.stopped:
                self._cache.keep_parsed(scan)
                raise RefreshStopped(f"stopped after parsing {len(scan.reread)} files")
            self._problems.note(scan, self._index)
            catalog = self._update_catalog(scan, started)
            rendering, in_feeds = self._render(catalog, scan.bodies)
            stats = refresh_stats(scan, rendering, started, time.perf_counter() - clock_start)
            snapshot = self._snapshot(scan, catalog, rendering, stats)
            self._store.replace(snapshot)
            self._remember(scan, rendering, in_feeds)
            return RefreshReport(
                stats=stats,
                reread=scan.reread,
                rebuilt=rendering.rebuilt,
                snapshot=snapshot,
                full=scan.full,
                bodies_read=self._contents.bodies_read,
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

    def flush(self) -> None:
        """Write what refreshes changed to the persistent cache now (the next refresh would otherwise)."""
        with self._lock:
            self._cache.write()

    def _update_catalog(self, scan: ScanResult, now: datetime) -> Catalog:
        """Take in the scan's index, tell the catalog which articles changed, publish what became due."""
        previous = self._index
        if scan.error is None:
            self._index = scan.index
        if not self._catalog_ready:
            self._catalog.update((), self._index.articles(), now)
            self._catalog_ready = True
        elif scan.error is not None:
            self._catalog.update((), (), now)
        else:
            self._catalog.update(*changed_articles(previous, scan), now)
        return self._catalog.catalog()

    def _render(self, catalog: Catalog, bodies: Mapping[str, str]) -> tuple[Rendering, set[ContentKey]]:
        """Render the documents whose inputs changed; keep the contents of the article versions the feeds show.

        `bodies` are those the scan kept; returned with the rendering are the versions the feeds show.
        """
        self._contents.start(self._index, bodies)
        rendering = self._documents.render(catalog, self._contents.content_of)
        in_feeds = {content_key(a) for f in catalog.feeds for a in f.articles}
        self._contents.keep_only(in_feeds)
        return rendering, in_feeds

    def _remember(self, scan: ScanResult, rendering: Rendering, in_feeds: set[ContentKey]) -> None:
        """Note what the persistent cache must learn of a refresh that serves (written before the next one)."""
        self._cache.remember(
            scan,
            in_feeds=in_feeds,
            contents=self._contents.kept,
            made=self._contents.take_fresh(),
            rendered=self._documents.rendered,
            rebuilt=rendering.rebuilt,
        )

    def _snapshot(self, scan: ScanResult, catalog: Catalog, rendering: Rendering, stats: RefreshStats) -> Snapshot:
        """Make the snapshot of a refresh: its documents, what `/healthz` tells of it, its archive pages."""
        documents = rendering.documents
        return Snapshot(
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
            archives=self._archives(catalog, self._catalog.version),
        )

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
        document = feed_document(feed, fmt, self.settings, self._archive_content, paging)
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
        refresher's state it reads the feeds' contents and the body reader (each replaced whole
        by a refresh), and changes only the few contents it keeps here.
        """
        key = content_key(article)
        content = self._contents.kept.get(key) or self._archive_contents.get(key)
        if content is not None:
            self._archive_contents[key] = content
            self._archive_contents.move_to_end(key)
            return content
        reader = self._contents.reader
        body = reader.read(article)
        if body is None:
            log.warning("%s: its body cannot be read again; archived without content", article.source)
            return ArticleContent(html="", summary=article.summary or "", image=article.image)
        content = reader.render(article, body)
        self._archive_contents[key] = content
        while len(self._archive_contents) > self._archive_contents_kept:
            self._archive_contents.popitem(last=False)
        return content


def refresh_stats(scan: ScanResult, rendering: Rendering, started: datetime, duration: float) -> RefreshStats:
    """Return what `/healthz` tells of a refresh: files seen, parsed and failed, feeds rebuilt, how long it took."""
    return RefreshStats(
        started=started,
        duration_s=round(duration, 6),
        files_seen=scan.files_seen,
        files_parsed=len(scan.reread),
        files_failed=scan.failed,
        feeds_rebuilt=sum(1 for path in rendering.rebuilt if path.startswith("feeds/")),
    )


def changed_articles(previous: ContentIndex, scan: ScanResult) -> tuple[list[str], list[Article]]:
    """Return the sources whose article went and the articles new or changed, given the index before a scan."""
    removed: list[str] = list(scan.removed)
    added: list[Article] = []
    for source in scan.reread:
        old = previous.entries.get(source)
        old_article = old.article if old is not None else None
        new_article = scan.index.entries[source].article
        if new_article is old_article:
            continue
        if new_article is None:
            removed.append(source)
        else:
            added.append(new_article)
    return removed, added
