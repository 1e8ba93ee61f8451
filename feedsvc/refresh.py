"""One refresh: scan the content directory, choose the feeds, render what changed, swap the snapshot.

The scheduler, `serve` and `build` all call `Refresher.refresh`. A feed whose
entries did not change keeps its bytes and ETag; a refresh that fails leaves
the previous snapshot serving.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from feedsvc.articles import parse_article
from feedsvc.catalog import Catalog, build_catalog
from feedsvc.config import Settings
from feedsvc.content import render_content
from feedsvc.documents import make_document
from feedsvc.model import (
    INDEX_PATH,
    OPML_PATH,
    Article,
    ArticleContent,
    Document,
    Feed,
    Format,
    Problem,
    ScanStats,
    Snapshot,
    feed_path,
)
from feedsvc.pages import render_index, render_opml
from feedsvc.render import render_feed
from feedsvc.scan import EMPTY_INDEX, ContentIndex, ScanResult, scan_content
from feedsvc.store import Store

log = logging.getLogger("feedsvc.refresh")

OPML_TYPE = "text/x-opml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


def utc_now() -> datetime:
    """Return the current time; the one clock of a running service."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What one refresh did: the files it re-read and the documents it re-rendered."""

    stats: ScanStats
    reread: tuple[str, ...]
    rebuilt: tuple[str, ...]
    snapshot: Snapshot


class Refresher:
    """Keeps the state between refreshes: the content index and the rendered documents."""

    def __init__(self, settings: Settings, store: Store, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self.store = store
        self._clock = clock
        self._index: ContentIndex = EMPTY_INDEX
        self._rendered: dict[str, tuple[Hashable, Document]] = {}
        self._contents: dict[tuple[str, str], ArticleContent] = {}
        self._folder_problems: frozenset[Problem] = frozenset()
        self._content_error: str | None = None
        self._lock = threading.Lock()
        self.failures = 0

    @property
    def index(self) -> ContentIndex:
        """Return the content index of the last scan."""
        return self._index

    def refresh(self) -> RefreshReport:
        """Run one refresh and swap in its snapshot; raises only on a bug, leaving the old snapshot."""
        with self._lock:
            started = self._clock()
            clock_start = time.perf_counter()
            parse = partial(_parse, settings=self.settings)
            scan = scan_content(self.settings.content_dir, self._index, parse, max_bytes=self.settings.max_file_bytes)
            self._log_changes(scan)
            if scan.error is None:
                self._index = scan.index
            catalog = build_catalog(self._index.articles(), self.settings, started)
            documents, rebuilt = self._render(catalog)
            stats = ScanStats(
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
                max_age=self.settings.interval_seconds,
                articles=catalog.published,
                held=catalog.held,
                feeds=sum(1 for path in documents if path.startswith("feeds/")),
                problems=self._index.problems(),
                last_scan=stats,
                degraded=scan.error,
                refreshes_failed=self.failures,
            )
            self.store.replace(snapshot)
            return RefreshReport(stats=stats, reread=scan.reread, rebuilt=tuple(rebuilt), snapshot=snapshot)

    def refresh_safely(self) -> None:
        """Run a refresh for the scheduler: log and count any failure, keep the old snapshot."""
        try:
            report = self.refresh()
        except Exception as error:
            self.failures += 1
            log.exception("refresh failed; the previous feeds keep serving")
            previous = self.store.snapshot
            self.store.replace(
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
                "refresh: %d files, %d re-read, %d failed, %d feeds rebuilt in %.3f s",
                stats.files_seen,
                stats.files_parsed,
                stats.files_failed,
                stats.feeds_rebuilt,
                stats.duration_s,
            )

    def _log_changes(self, scan: ScanResult) -> None:
        """Log each problem and warning once, when it appears; and the content directory's state."""
        if scan.error != self._content_error:
            if scan.error is not None:
                log.error("%s; the last good feeds keep serving", scan.error)
            else:
                log.info("content directory %s is readable again", self.settings.content_dir)
            self._content_error = scan.error
        if scan.error is not None:
            return
        for source in scan.reread:
            entry = scan.index.entries[source]
            old = self._index.entries.get(source)
            if entry.problem is not None:
                if old is None or old.result != entry.result:
                    kept = " (its last good version keeps publishing)" if entry.last_good is not None else ""
                    log.warning("%s%s", entry.problem, kept)
            elif isinstance(entry.result, Article):
                old_warnings = old.result.warnings if old is not None and isinstance(old.result, Article) else ()
                for warning in entry.result.warnings:
                    if warning not in old_warnings:
                        log.warning("%s: %s", source, warning)
        folder_problems = frozenset(scan.index.folder_problems)
        for problem in sorted(folder_problems - self._folder_problems, key=str):
            log.warning("%s", problem)
        self._folder_problems = folder_problems

    def _content_of(self, article: Article) -> ArticleContent:
        key = (article.source, article.fingerprint)
        content = self._contents.get(key)
        if content is None:
            content = render_content(article, summary_chars=self.settings.summary_chars)
            self._contents[key] = content
        return content

    def _render(self, catalog: Catalog) -> tuple[dict[str, Document], list[str]]:
        """Render every document whose inputs changed; reuse the rest as they were."""
        documents: dict[str, Document] = {}
        rebuilt: list[str] = []
        rendered: dict[str, tuple[Hashable, Document]] = {}

        def keep(path: str, key: Hashable, build: Callable[[], Document]) -> None:
            previous = self._rendered.get(path)
            if previous is not None and previous[0] == key:
                document = previous[1]
            else:
                document = build()
                rebuilt.append(path)
            documents[path] = document
            rendered[path] = (key, document)

        for feed in catalog.feeds:
            key = _feed_key(feed)
            for fmt in Format:
                keep(feed_path(feed.spec.slug, fmt), key, partial(self._render_feed, feed, fmt))
        # The index shows each feed's size and newest entry; the OPML each feed's spec and the
        # latest `updated` of all, which may come from any entry, not only the newest.
        index_key = tuple((f.spec, f.total, _feed_key(f)[1][:1]) for f in catalog.feeds)
        keep(INDEX_PATH, index_key, lambda: make_document(render_index(catalog.feeds, self.settings), HTML_TYPE))
        latest = max((f.updated for f in catalog.feeds if f.updated is not None), default=None)
        opml_key = (tuple(f.spec for f in catalog.feeds), latest)
        keep(OPML_PATH, opml_key, lambda: make_document(render_opml(catalog.feeds, self.settings, latest), OPML_TYPE))
        self._rendered = rendered
        in_feeds = {(a.source, a.fingerprint) for f in catalog.feeds for a in f.articles}
        self._contents = {k: v for k, v in self._contents.items() if k in in_feeds}
        return documents, rebuilt

    def _render_feed(self, feed: Feed, fmt: Format) -> Document:
        body = render_feed(feed, fmt, self.settings, self._content_of)
        return make_document(body, fmt.media_type, feed.updated)


def _feed_key(feed: Feed) -> tuple[Hashable, tuple[Hashable, ...]]:
    """What a feed's bytes depend on: its spec and each entry's identity and version."""
    return feed.spec, tuple((a.id, a.fingerprint, a.categories, a.source) for a in feed.articles)


def _parse(raw: bytes, source: str, mtime: float, *, settings: Settings) -> Article | Problem:
    return parse_article(raw, source=source, mtime=mtime, settings=settings)
