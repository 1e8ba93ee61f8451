"""One refresh: scan the content directory, update the catalog, render what changed, swap the snapshot.

The scheduler, `serve` and `build` all call `Refresher.refresh`. A rescan reads
only what changed (the paths filesystem events named, or what a full walk
finds changed); the catalog is updated article by article; a feed whose
entries did not change keeps its bytes and ETag. A refresh that fails leaves
the previous snapshot serving. Article bodies are never held for the whole
directory: content is made only for the articles feeds show.

The refresher's parts are used under its lock, by one refresh (or flush) at a time.
What other threads read of a refresh (its documents, and its archive pages' view: the
feeds' article lists, their contents, the index to read files by) is in its snapshot,
built whole and swapped in one assignment (`Store.replace`); nothing it holds changes
afterwards. The page cache and the render queue, shared by snapshots, lock themselves.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from feedsvc.config import Settings
from feedsvc.errors import RefreshStopped
from feedsvc.feeds.archives import PageCache, RenderQueue
from feedsvc.feeds.catalog import Catalog, CatalogState
from feedsvc.index.cache import Cache
from feedsvc.index.scan import EMPTY_INDEX, ContentIndex, Progress, ScanResult, StopFlag
from feedsvc.model import Article, ArticleContent, RefreshStats, Snapshot
from feedsvc.refresh.archiveview import ArchivePages
from feedsvc.refresh.cachewriter import BACKLOG_SLICE, SMALL_FILES, CacheWriter
from feedsvc.refresh.contents import ContentKey, FeedContents
from feedsvc.refresh.memory import settled_objects
from feedsvc.refresh.problems import ProblemLog
from feedsvc.refresh.rendered import Rendering, RenderMemo
from feedsvc.refresh.restore import served_facts
from feedsvc.refresh.scanner import ChangeSource, Scanner
from feedsvc.store import Store

log = logging.getLogger("feedsvc.refresh")


def utc_now() -> datetime:
    """Return the current time; the one clock of a running service."""
    return datetime.now(UTC)


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

    `progress` reports the first refresh's scan only. `for_build` sets the archive pages
    up for a build, which makes every one in a row (more article contents kept meanwhile,
    memory not given back after each page).
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
        for_build: bool = False,
    ) -> None:
        self.settings = settings
        self._store = store
        self._clock = clock
        # Read from the cache by the first refresh (seconds at a million articles), not here:
        # a restart serves what its last run served meanwhile (restore.py).
        self._index: ContentIndex = EMPTY_INDEX
        self._unloaded = cache
        self._catalog = CatalogState(settings)
        self._catalog_ready = False
        self._scanner = Scanner(settings, changes=changes, progress=progress, stop=stop)
        self._problems = ProblemLog(settings.content_dir)
        self._contents = FeedContents(settings, cache)
        self._documents = RenderMemo(settings, cache)
        self._archives = ArchivePages(settings, for_build=for_build)
        self._cache = CacheWriter(cache)
        self._lock = threading.Lock()
        self._turns = threading.Condition()  # tells a flush when no refresh waits for the lock
        self._waiting = 0  # refreshes waiting for the lock (or holding it), under _turns
        self.failures = 0

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
    def next_publication(self) -> datetime | None:
        """Return when the next held article falls due (or a future `updated` comes), if any."""
        return self._catalog.next_publication

    @property
    def contents(self) -> Mapping[ContentKey, ArticleContent]:
        """Return the article contents kept after the last refresh: those of the versions its feeds show."""
        return self._contents.kept

    @property
    def pages(self) -> PageCache:
        """Return the archive pages made so far, shared by the snapshots of this refresher."""
        return self._archives.pages

    @property
    def renders(self) -> RenderQueue:
        """Return the queue that makes the archive pages `serve` is asked for, off the request thread."""
        return self._archives.renders

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
        with self._turns:
            self._waiting += 1
        try:
            with self._lock, settled_objects():
                return self._refresh()
        finally:
            with self._turns:
                self._waiting -= 1
                self._turns.notify_all()

    def _refresh(self) -> RefreshReport:
        """One refresh, under the lock: the cache's pending writes, scan, catalog, render, swap, remember."""
        # What the previous refresh changed, now that it has long been serving; of a first scan's
        # rows as many as an edit's at most: it does not wait seconds for the rest (`flush` writes them).
        self._cache.write(backlog=SMALL_FILES)
        if self._unloaded is not None:
            self._index, self._unloaded = self._unloaded.load_index(), None
        started = self._clock()
        clock_start = time.perf_counter()
        scan = self._scanner.scan(self._index, started.timestamp())
        if scan.stopped:
            self._cache.keep_parsed(scan)
            raise RefreshStopped(f"stopped after parsing {len(scan.reread)} files")
        self._problems.note(scan, self._index)
        catalog = self._update_catalog(scan, started)
        rendering = self._render(catalog, scan.bodies)
        stats = refresh_stats(scan, rendering, started, time.perf_counter() - clock_start)
        snapshot = self._snapshot(scan, catalog, rendering, stats)
        self._store.replace(snapshot)
        self._remember(scan, rendering, snapshot)
        if self._cache.small:  # an edit's few rows: written now it serves, not when the next change comes
            self._cache.write()
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
        """Write what refreshes changed to the persistent cache now (the next refresh would otherwise).

        A first scan's rows are written a slice at a time, letting a refresh waiting for its
        turn run between two slices: an edit soon after a cold start shows in a second, not
        once the whole first scan is written.
        """
        while True:
            with self._lock:
                self._cache.write(backlog=BACKLOG_SLICE)
                if self._cache.done:
                    return
            with self._turns:  # a refresh waiting for the lock takes it now
                self._turns.wait_for(lambda: self._waiting == 0)

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

    def _render(self, catalog: Catalog, bodies: Mapping[str, str]) -> Rendering:
        """Render the documents whose inputs changed; keep the contents of the article versions the feeds show.

        `bodies` are those the scan kept; the rendering names the versions the feeds show (`shown`).
        """
        self._contents.start(self._index, bodies)
        rendering = self._documents.render(catalog, self._contents.content_of)
        self._contents.keep_only(rendering.shown)
        return rendering

    def _remember(self, scan: ScanResult, rendering: Rendering, snapshot: Snapshot) -> None:
        """Note what the persistent cache must learn of a refresh that serves (written before the next one)."""
        self._cache.remember(
            scan,
            in_feeds=rendering.shown,
            contents=self._contents.kept,
            made=self._contents.take_fresh(),
            rendered=self._documents.rendered,
            rebuilt=rendering.rebuilt,
            served=served_facts(snapshot),
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
            archives=self._archives.archives(catalog, self._catalog, self._contents.kept, self._contents.reader),
        )


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
