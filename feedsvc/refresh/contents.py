"""The content of each article version the feeds show, made once and kept while some feed shows it.

Only the refresh thread uses it. What it keeps after a refresh is a read-only mapping
that nothing changes afterwards (the next refresh makes another), so it may be handed
to readers in other threads, as the archive pages' view is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from itertools import chain
from types import MappingProxyType

from feedsvc.config import Settings
from feedsvc.index.cache import Cache
from feedsvc.index.scan import EMPTY_INDEX, ContentIndex
from feedsvc.model import Article, ArticleContent
from feedsvc.refresh.bodies import BodyReader

log = logging.getLogger("feedsvc.refresh")

ContentKey = tuple[str, str]  # (source, fingerprint): one version of an article


def content_key(article: Article) -> ContentKey:
    """Return the key of an article's version: the same key, the same content."""
    return article.source, article.fingerprint


class FeedContents:
    """Gives feeds each article's content: kept from the last refresh, else from the cache, else made from its body."""

    def __init__(self, settings: Settings, cache: Cache | None = None) -> None:
        self.settings = settings
        self._cache = cache
        self._kept: Mapping[ContentKey, ArticleContent] = MappingProxyType({})  # after the last refresh
        self._found: dict[ContentKey, ArticleContent] = {}  # found or made since
        self._fresh: set[ContentKey] = set()  # made from a body, not yet taken for the cache
        self._reader = BodyReader(settings, EMPTY_INDEX)
        self._bodies: Mapping[str, str] = {}
        self.bodies_read = 0  # by this refresh: bodies read again from their files

    @property
    def kept(self) -> Mapping[ContentKey, ArticleContent]:
        """Return the contents kept after the last refresh: those of the articles its feeds show (read-only)."""
        return self._kept

    @property
    def reader(self) -> BodyReader:
        """Return what reads bodies again, as the index of this refresh knows the files."""
        return self._reader

    def start(self, index: ContentIndex, bodies: Mapping[str, str]) -> None:
        """Begin a refresh: read files as `index` knows them; `bodies` are those its scan kept."""
        if self._reader.index is not index:
            self._reader = BodyReader(self.settings, index)
        self._bodies = bodies
        self.bodies_read = 0

    def content_of(self, article: Article) -> ArticleContent:
        """Return the feed content of an article: made once per version, from the freshest source of its body."""
        key = content_key(article)
        content = self._kept.get(key) or self._found.get(key)
        if content is None and self._cache is not None:
            content = self._cache.content(*key)
        if content is None:
            body = self._bodies.get(article.source)
            if body is None or not self._reader.holds(article):
                body = self._reader.read(article)
                self.bodies_read += 1
            if body is None:
                log.warning("%s: its body cannot be read again; published without content", article.source)
                content = ArticleContent(html="", summary=article.summary or "", image=article.image)
            else:
                content = self._reader.render(article, body)
            self._fresh.add(key)
        self._found[key] = content
        return content

    def keep_only(self, shown: AbstractSet[ContentKey]) -> Mapping[ContentKey, ArticleContent]:
        """End a refresh: keep the contents of the articles the feeds show (`shown`) and return them, read-only."""
        kept = {key: content for key, content in chain(self._kept.items(), self._found.items()) if key in shown}
        self._kept = MappingProxyType(kept)
        self._found = {}
        self._bodies = {}
        return self._kept

    def take_fresh(self) -> set[ContentKey]:
        """Return the keys of the contents made from a body since last asked: what the cache does not have yet."""
        fresh, self._fresh = self._fresh, set()
        return fresh
