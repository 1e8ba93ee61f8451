"""What the persistent cache has yet to learn from refreshes, written after their snapshots serve.

Writing 100,000 parse results takes seconds: a refresh only notes what changed, and
the writes happen before the next refresh (or at `flush`), once the service answers.
What an edit changed (a few files and documents) is written as soon as its snapshot
serves instead, so that the next change's refresh does not wait for it. A first scan's
rows (a million files take about 17 s) are written a slice of BACKLOG_SLICE files at a
time: between two slices an edit's refresh gets its turn.
Nothing here raises: a write that fails is logged and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from feedsvc.index.cache import Cache, inputs_digest
from feedsvc.index.scan import EMPTY_INDEX, ScanResult
from feedsvc.model import ArticleContent, Document
from feedsvc.refresh.contents import ContentKey

log = logging.getLogger("feedsvc.refresh")

# Pending changes this small are written right after the refresh that made them (see `small`).
SMALL_FILES = 1_000
SMALL_DOCUMENTS = 100
# A first scan's file rows are written this many at a time (about 0.2 s of writing).
BACKLOG_SLICE = 10_000


class CacheWriter:
    """Holds what refreshes changed (files, article contents, documents) until it is written to the cache."""

    def __init__(self, cache: Cache | None) -> None:
        self._cache = cache
        self._index = EMPTY_INDEX  # the last remembered refresh's
        self._files: set[str] = set()  # the files whose entries the cache has yet to learn
        self._everything = False  # or all of them: every entry of the index (a first scan's)
        self._backlog: list[str] = []  # those of them not written yet, in order, once the writing began
        self._removed: set[str] = set()
        self._documents: set[str] = set()
        self._rendered: Mapping[str, tuple[Hashable, Document]] = {}  # every document, with its inputs
        self._in_feeds: AbstractSet[ContentKey] = frozenset()  # the article versions the feeds show
        self._contents: Mapping[ContentKey, ArticleContent] = {}  # those kept of them
        self._unsaved: set[ContentKey] = set()  # contents made since the cache was last written
        self._saved_in_feeds: AbstractSet[ContentKey] = frozenset()  # the articles in feeds when it was
        self._served: Mapping[str, Any] = {}  # what a restart serves with the documents (Cache.served)
        self._saved_served: Mapping[str, Any] | None = None

    def keep_parsed(self, scan: ScanResult) -> None:
        """Write the files a stopped scan parsed to the cache now: a restart need not parse them again."""
        if self._cache is None or not scan.reread:
            return
        self._cache.save_entries(scan.index, sorted(scan.reread), ())

    def remember(
        self,
        scan: ScanResult,
        *,
        in_feeds: AbstractSet[ContentKey],
        contents: Mapping[ContentKey, ArticleContent],
        made: Iterable[ContentKey],
        rendered: Mapping[str, tuple[Hashable, Document]],
        rebuilt: Iterable[str],
        served: Mapping[str, Any],
    ) -> None:
        """Note what a refresh that served changed: written before the next refresh, or by `write`.

        `in_feeds` are the article versions its feeds show, `contents` those it kept of them,
        `made` the keys of contents made since; `rendered` is every document with its inputs,
        `served` the facts of its snapshot that a restart serves with them.
        """
        if self._cache is None:
            return
        if scan.error is None:
            self._index = scan.index
            if len(scan.reread) == len(scan.index.entries) and not self._files:
                self._everything = True  # a first scan: no set of 100,000 names to hold meanwhile
            else:
                self._files.update(scan.reread)
            self._removed.update(scan.removed)
        self._documents.update(rebuilt)
        self._rendered = rendered
        self._contents = contents
        self._in_feeds = in_feeds
        self._unsaved.update(made)
        self._served = served

    @property
    def small(self) -> bool:
        """Tell pending changes that take milliseconds to write (an edit's), not seconds (a first scan's)."""
        return (
            not self._everything
            and not self._backlog
            and len(self._files) + len(self._removed) <= SMALL_FILES
            and len(self._documents) <= SMALL_DOCUMENTS
        )

    @property
    def done(self) -> bool:
        """Tell whether a first scan's file rows are all written (or there were none)."""
        return not self._everything and not self._backlog

    def write(self, *, backlog: int | None = None) -> None:
        """Write the pending changes: file results, article contents, rendered documents.

        `backlog` caps the rows written of a first scan's files (the rest wait for the next
        write); every other pending change is written whole. Whatever happens here, the
        changes tried are let go: a write that failed is logged and dropped, never tried
        again at the start of every later refresh.
        """
        if self._cache is None:
            return
        try:
            self._write(self._cache, backlog)
        except Exception:
            # The cache catches its own failures; this is one of ours (making what it is given).
            log.exception("writing the parse cache failed; the changes are not cached")
            self._unsaved.clear()
            self._saved_in_feeds = self._in_feeds
            self._backlog = []
        finally:
            self._saved_served = self._served
            self._files.clear()
            self._everything = False
            self._removed.clear()
            self._documents.clear()

    def _write(self, cache: Cache, backlog: int | None) -> None:
        if self._everything:
            self._backlog = sorted(self._index.entries)
            self._backlog.reverse()  # taken from the end, a slice at a time
            self._everything = False
        if self._files or self._removed:
            cache.save_entries(self._index, sorted(self._files), sorted(self._removed))
        if self._backlog:
            # Written from the latest index: a file edited since the first scan gets its latest entry,
            # one deleted since is left out (and its removal was written above).
            count = len(self._backlog) if backlog is None else min(backlog, len(self._backlog))
            cache.save_entries(self._index, [self._backlog.pop() for _ in range(count)], ())
        in_feeds = self._in_feeds
        if self._unsaved or in_feeds != self._saved_in_feeds:
            # New contents to keep, or articles that left every feed: their contents go.
            fresh = {key: self._contents[key] for key in self._unsaved if key in self._contents}
            cache.save_contents(fresh, in_feeds)
            self._unsaved.clear()
            self._saved_in_feeds = in_feeds
        # Nothing remembered yet (a first write, before any refresh served): the documents stored stay.
        if self._documents or (self._rendered and self._served != self._saved_served):
            documents = {
                path: (inputs_digest(self._rendered[path][0]), self._rendered[path][1])
                for path in self._documents
                if path in self._rendered
            }
            cache.save_documents(documents, self._rendered, self._served)
