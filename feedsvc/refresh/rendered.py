"""A snapshot's documents (each feed in each format, the index page, the OPML, the stylesheet), rendered when changed.

Each document is kept with what its bytes are made of: while that stays the same,
the document is reused, from memory or from the persistent cache, and not rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import partial

from feedsvc.config import Settings
from feedsvc.feeds.archives import EntryKey, entries_key, page_count
from feedsvc.feeds.catalog import Catalog
from feedsvc.feeds.listing import FEED_STYLESHEET, IndexItems, render_index, render_opml, shows_subscribers
from feedsvc.feeds.render import render_feed
from feedsvc.index.cache import Cache, inputs_digest
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
    feed_path,
    make_document,
)
from feedsvc.refresh.contents import ContentKey

OPML_TYPE = "text/x-opml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
# The type the feeds' <?xml-stylesheet?> names: an XML type, as browsers want of an XSLT stylesheet.
XSL_TYPE = "text/xsl; charset=utf-8"

ContentOf = Callable[[Article], ArticleContent]


def feed_document(feed: Feed, fmt: Format, settings: Settings, content_of: ContentOf, paging: Paging) -> Document:
    """Render a feed (current, or an archive page) in one format as a document."""
    body = render_feed(feed, fmt, settings, content_of, paging)
    return make_document(body, fmt.media_type, feed.updated, immutable=paging.complete)


class EntryKeys:
    """Each feed's entry keys, worked out again only for a feed whose articles changed since the last render.

    A refresh that changed one article gives most feeds the very same articles again:
    comparing the two tuples is then an identity check per entry, where working the keys
    out reads every entry's packed text (a few milliseconds a refresh, for nothing).
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[tuple[Article, ...], tuple[EntryKey, ...]]] = {}

    def of(self, feeds: tuple[Feed, ...]) -> dict[str, tuple[EntryKey, ...]]:
        """Return the entry keys of every feed, by slug; those of any other feed are forgotten."""
        last = self._last
        now: dict[str, tuple[tuple[Article, ...], tuple[EntryKey, ...]]] = {}
        for feed in feeds:
            known = last.get(feed.spec.slug)
            if known is not None and known[0] == feed.articles:
                now[feed.spec.slug] = known
            else:
                now[feed.spec.slug] = (feed.articles, entries_key(feed.articles))
        self._last = now
        return {slug: keys for slug, (_, keys) in now.items()}


@dataclass(frozen=True, slots=True)
class Rendering:
    """The documents of one snapshot by path, the paths among them rendered anew (not reused),
    and the article versions its feeds show, as (source, fingerprint).
    """

    documents: dict[str, Document]
    rebuilt: tuple[str, ...]
    shown: frozenset[ContentKey] = frozenset()


class RenderMemo:
    """Renders a snapshot's documents, reusing each whose inputs did not change: from memory, else from the cache."""

    def __init__(self, settings: Settings, cache: Cache | None = None) -> None:
        self.settings = settings
        self._cache = cache
        self._rendered: Mapping[str, tuple[Hashable, Document]] = {}  # the last render's: never changed, replaced
        self._entry_keys = EntryKeys()
        self._index_items = IndexItems(settings)

    @property
    def rendered(self) -> Mapping[str, tuple[Hashable, Document]]:
        """Return each document of the last render with its inputs, by path."""
        return self._rendered

    def render(self, catalog: Catalog, content_of: ContentOf) -> Rendering:
        """Return every document of a catalog, rendering only those whose inputs changed."""
        settings = self.settings
        documents: dict[str, Document] = {}
        rebuilt: list[str] = []
        rendered: dict[str, tuple[Hashable, Document]] = {}

        def keep(path: str, key: Hashable, build: Callable[[], Document]) -> None:
            previous = self._rendered.get(path)
            if previous is not None and previous[0] == key:
                document = previous[1]
            else:
                # The cache holds what a last run rendered: looked in when this run has not rendered
                # the path yet (a restart); afterwards a changed input means a new document.
                cached = None
                if previous is None and self._cache is not None:
                    cached = self._cache.document(path, inputs_digest(key))
                if cached is not None:
                    document = cached
                else:
                    document = build()
                    rebuilt.append(path)
            documents[path] = document
            rendered[path] = (key, document)

        entries = self._entry_keys.of(catalog.feeds)
        for feed in catalog.feeds:
            paging = Paging(None, page_count(feed.total, settings.archive_size))
            # What a feed's bytes depend on: its spec, each entry's identity and version, and the
            # newest archive page, which the current document links.
            key = ((feed.spec, entries[feed.spec.slug]), paging.pages)
            for fmt in Format:
                build = partial(feed_document, feed, fmt, settings, content_of, paging)
                keep(feed_path(feed.spec.slug, fmt), key, build)
        # The index shows each feed's size and newest entry; the OPML each feed's spec and the
        # latest `updated` of all, which may come from any entry, not only the newest.
        index_key = (
            tuple((f.spec, f.total, entries[f.spec.slug][:1]) for f in catalog.feeds),
            shows_subscribers(settings),
        )
        items = self._index_items
        keep(INDEX_PATH, index_key, lambda: make_document(render_index(catalog.feeds, settings, items), HTML_TYPE))
        latest = max((f.updated for f in catalog.feeds if f.updated is not None), default=None)
        opml_key = (tuple(f.spec for f in catalog.feeds), latest)
        keep(OPML_PATH, opml_key, lambda: make_document(render_opml(catalog.feeds, settings, latest), OPML_TYPE))
        # The same for every content: kept from the first refresh on (its bytes are its key).
        keep(STYLESHEET_PATH, FEED_STYLESHEET, lambda: make_document(FEED_STYLESHEET, XSL_TYPE))
        self._rendered = rendered
        shown = frozenset((source, fingerprint) for keys in entries.values() for _, fingerprint, _, source in keys)
        return Rendering(documents, tuple(rebuilt), shown)
