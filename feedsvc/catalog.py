"""Decide which feeds exist and which articles each holds, newest first.

`build_catalog` is pure: articles, settings and `now` in, a Catalog out. A
`CatalogState` gives the same answer incrementally, article by article, so a
refresh that changed one file of 100,000 does not sort them all again.
The only module that imports python-slugify.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import hashlib
import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from slugify import slugify

from feedsvc.config import RESERVED_SLUGS, CategorySettings, Settings
from feedsvc.model import Article, Feed, FeedSpec

ALL = "all"
MAX_SLUG_CHARS = 80


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every feed to publish, the names that redirect to them, and article counts."""

    feeds: tuple[Feed, ...]
    redirects: Mapping[str, str]
    published: int
    held: int


def _hash6(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:6]


@functools.lru_cache(maxsize=4096)
def _base_slug(name: str) -> str:
    slug = slugify(name, max_length=MAX_SLUG_CHARS)
    return slug or f"c-{_hash6(name)}"


def assign_slugs(configured: Mapping[str, str | None], found: Iterable[str]) -> dict[str, str]:
    """Give every category a unique, stable URL slug.

    A configured slug is kept. Others are transliterated from the name; one that
    is empty becomes `c-` and 6 hex digits of the name's SHA-1; one that is `all`,
    or is shared, gets `-` and those 6 digits appended.
    """
    names = list(dict.fromkeys([*configured, *found]))
    fixed = {name: slug for name, slug in configured.items() if slug}
    base = {name: _base_slug(name) for name in names if name not in fixed}
    counts = Counter(base.values())
    taken = set(fixed.values()) | RESERVED_SLUGS
    slugs = dict(fixed)
    for name, natural in base.items():
        shared = counts[natural] > 1 or natural in taken
        slugs[name] = f"{natural}-{_hash6(name)}" if shared else natural
    # A suffixed slug could, in theory, equal another category's natural or configured one.
    # Configured slugs are claimed first, so they always keep their own; the rest in name
    # order, so the outcome does not depend on the order the names came in.
    seen: dict[str, str] = {}
    for name in sorted(names, key=lambda n: (n not in fixed, n)):
        if slugs[name] in seen or slugs[name] in RESERVED_SLUGS:
            digest = hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
            slugs[name] = f"{_base_slug(name)}-{digest}"
        seen[slugs[name]] = name
    return slugs


def _path_digest(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]


SortKey = tuple[float, str]


def _sort_key(article: Article) -> SortKey:
    """Newest first (latest date), ties broken by file path."""
    return (-article.published.timestamp(), article.source)


class CatalogState:
    """The catalog kept up to date article by article; `catalog()` equals `build_catalog` of the same articles.

    Each category (and `all`) keeps its published articles in a list sorted newest
    first, so adding or removing an article costs a binary search, and a feed is the
    first `limit` articles of its list. The lists hold the articles themselves and
    compute sort keys as they search: 100,000 stored keys would cost 8 MB.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._configured: dict[str, CategorySettings] = {c.name: c for c in settings.categories}
        self._meaning = {name: name for name in self._configured}
        for category in settings.categories:
            for alias in category.aliases:
                self._meaning.setdefault(alias, category.name)
        self._aliases = frozenset(n for n, meant in self._meaning.items() if n != meant)
        # Every article is in exactly one of: `_live` (published, as feeds show it) or `_held`
        # (a draft, or dated in the future). `_originals` keeps the parsed article only where
        # feeds show it changed (a shared id, an alias): one dict of 100,000 entries, not two.
        self._live: dict[str, Article] = {}
        self._held: dict[str, Article] = {}
        self._originals: dict[str, Article] = {}
        # id -> the source of the one non-draft article that claims it, or the set of all that do
        # (a set per id would cost more than the article itself)
        self._ids: dict[str, str | set[str]] = {}
        self._future: list[SortKey] = []  # (publication timestamp, source) of held articles: a heap
        self._shelves: dict[str | None, list[Article]] = {None: []}  # None: every published article
        self._bulk = False
        self.version = 0  # counts changes to the lists: the same version, the same archive pages

    def update(self, removed: Iterable[str], added: Iterable[Article], now: datetime) -> None:
        """Forget the articles of `removed` sources, take in `added` ones (new or changed), publish what is due."""
        for source in removed:
            self._forget(source)
        if not self._live and not self._held:
            # A first load: append, then sort every list once (inserting one by one is quadratic).
            self._bulk = True
            for article in added:
                if article.source in self._live or article.source in self._held:
                    # Named twice: the later article wins, as it does below. Learnt twice, the
                    # article would be listed twice and share its id with itself.
                    self._forget(article.source)
                self._learn(article, now)
            self._bulk = False
            # Sorted once, then dealt out: each category's list comes out in order.
            everything = self._shelves[None]
            everything.sort(key=_sort_key)
            for live in everything:
                for name in live.categories:
                    self._shelves.setdefault(name, []).append(live)
        else:
            for article in added:
                self._forget(article.source)
                self._learn(article, now)
        stamp = now.timestamp()
        while self._future and self._future[0][0] <= stamp:
            _, source = heapq.heappop(self._future)
            due = self._held.get(source)
            if due is not None and not due.draft and due.published <= now:
                del self._held[source]
                self._place(due)

    def _original(self, source: str) -> Article | None:
        return self._originals.get(source) or self._live.get(source) or self._held.get(source)

    def _learn(self, article: Article, now: datetime) -> None:
        if article.draft:
            self._held[article.source] = article
            return
        claimed = self._ids.get(article.id)
        if claimed is None:
            self._ids[article.id] = article.source
        elif isinstance(claimed, str):
            self._ids[article.id] = {claimed, article.source}
            self._replace_live(claimed)  # the id is now shared: the other article's effective id changes
        else:
            claimed.add(article.source)
        if article.published <= now:
            self._place(article)
        else:
            self._held[article.source] = article
            heapq.heappush(self._future, (article.published.timestamp(), article.source))

    def _forget(self, source: str) -> None:
        article = self._original(source)
        if article is None:
            return
        self._held.pop(source, None)
        if article.draft:
            return
        self._unplace(source)
        self._originals.pop(source, None)
        claimed = self._ids[article.id]
        if isinstance(claimed, str):
            del self._ids[article.id]
            return
        claimed.discard(source)
        if len(claimed) == 1:  # the id is no longer shared: the remaining article gets it back
            (remaining,) = claimed
            self._ids[article.id] = remaining
            self._replace_live(remaining)

    def _replace_live(self, source: str) -> None:
        original = self._original(source)
        if source in self._live and original is not None:
            self._unplace(source)
            self._place(original)

    def _effective(self, article: Article) -> Article:
        """The article as feeds show it: a shared id made unique, category aliases resolved."""
        changes: dict[str, object] = {}
        if isinstance(self._ids.get(article.id), set):
            changes["id"] = f"{article.link}#{_path_digest(article.source)}"
        if self._aliases and not self._aliases.isdisjoint(article.categories):
            changes["categories"] = tuple(dict.fromkeys(self._meaning.get(n, n) for n in article.categories))
        return dataclasses.replace(article, **changes) if changes else article  # type: ignore[arg-type]

    def _place(self, article: Article) -> None:
        self.version += 1
        live = self._effective(article)
        self._live[article.source] = live
        if live is article:
            self._originals.pop(article.source, None)
        else:
            self._originals[article.source] = article
        if self._bulk:  # a first load: only the list of everything, sorted and dealt out at its end
            self._shelves[None].append(live)
            return
        for name in (None, *live.categories):
            bisect.insort(self._shelves.setdefault(name, []), live, key=_sort_key)

    def _unplace(self, source: str) -> None:
        live = self._live.pop(source, None)
        if live is None:
            return
        self.version += 1
        if self._bulk:  # not sorted yet: rare (a shared id found during a first load)
            self._shelves[None].remove(live)
            return
        key = _sort_key(live)
        for name in (None, *live.categories):
            shelf = self._shelves[name]
            del shelf[bisect.bisect_left(shelf, key, key=_sort_key)]
            if not shelf and name is not None:
                del self._shelves[name]

    def archive_page(self, name: str | None, number: int, size: int) -> tuple[tuple[Article, ...], int]:
        """Return archive page `number` of a category (None: every article), newest first, and its size now.

        Pages are counted from the oldest article: page 1 holds the `size` oldest, page 2
        the next ones. A new article (the newest) joins only the last page, so a page that
        has one after it keeps its articles.
        """
        shelf = self._shelves.get(name, [])
        end = len(shelf) - (number - 1) * size
        if number < 1 or end <= 0:
            return (), len(shelf)
        return tuple(shelf[max(0, end - size) : end]), len(shelf)

    def _newest(self, name: str | None, limit: int) -> tuple[Article, ...]:
        return tuple(self._shelves.get(name, [])[:limit])

    def catalog(self) -> Catalog:
        """Return the feeds as they stand: every category with its newest articles."""
        settings = self.settings
        configured = self._configured
        found = sorted(n for n in self._shelves if n is not None and n not in configured)
        if not settings.auto_categories:
            found = []
        slugs = assign_slugs({c.name: c.slug for c in settings.categories}, found)
        everything = self._shelves[None]
        feeds: list[Feed] = []
        if settings.all_feed:
            spec = FeedSpec(
                slug=ALL,
                title=settings.site_title,
                description=settings.site_title,
                limit=settings.limit,
                category=None,
            )
            feeds.append(Feed(spec, self._newest(None, settings.limit), len(everything)))
        redirects: dict[str, str] = {}
        for name in [*configured, *found]:
            options = configured.get(name, CategorySettings(name=name))
            title = options.title or name
            spec = FeedSpec(
                slug=slugs[name],
                title=f"{settings.site_title} - {title}",
                description=options.description or title,
                limit=options.limit or settings.limit,
                category=name,
                names=(name, *options.aliases),
            )
            feeds.append(Feed(spec, self._newest(name, spec.limit), len(self._shelves.get(name, ()))))
            for alias in spec.names:
                if alias != spec.slug:
                    redirects.setdefault(alias, spec.slug)
        held = len(self._held)
        return Catalog(feeds=tuple(feeds), redirects=redirects, published=len(self._live), held=held)

    @property
    def next_publication(self) -> datetime | None:
        """Return when the next held article is due, if any (it may be stale after a removal)."""
        if not self._future:
            return None
        return datetime.fromtimestamp(self._future[0][0], UTC)


def build_catalog(articles: Iterable[Article], settings: Settings, now: datetime) -> Catalog:
    """Choose the feeds and their newest articles among those published at `now`."""
    state = CatalogState(settings)
    state.update((), articles, now)
    return state.catalog()
