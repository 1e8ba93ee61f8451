"""Decide which feeds exist and which articles each holds, newest first.

`build_catalog` is pure: articles, settings and `now` in, a Catalog out. A
`CatalogState` gives the same answer incrementally, article by article, so a
refresh that changed one file of 100,000 does not sort them all again.
The only module that imports python-slugify.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slugify import slugify

from feedsvc.config import RESERVED_SLUGS, CategorySettings, EntitySettings, Settings, fold_name
from feedsvc.feeds.shelf import Shelf, ShelfView, SortKey, sort_newest_first
from feedsvc.model import Article, Feed, FeedSpec, shared_names

log = logging.getLogger("feedsvc.catalog")

ALL = "all"
MAX_SLUG_CHARS = 80
# Between a kind and a term in the key of a tag's, author's or entity's list: never in a name (XML forbids it).
_TERM = "\x00"
# An entity key that is its feed's slug as it is (`SZ000931`); others are made into one.
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
# An `updated` up to this far ahead of now is taken as it is (clocks differ a little).
FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every feed to publish, the names that redirect to them, and article counts."""

    feeds: tuple[Feed, ...]
    redirects: Mapping[str, str]
    published: int
    held: int
    # The names and aliases of configured categories: the config holds them to their slug.
    permanent_redirects: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _Kind:
    """Feeds of one kind besides categories: tags, authors, or a kind of entity (`stocks`)."""

    name: str  # the folder of its feeds under `feeds/`
    configured: Mapping[str, CategorySettings]  # tags and authors of the config file, by name
    meaning: Mapping[str, str]  # a folded name or alias -> the configured name it means
    auto: bool  # also the terms found in content (with at least `min_articles` articles)
    min_articles: int
    entity: EntitySettings | None = None


def _meanings(configured: Iterable[CategorySettings]) -> dict[str, str]:
    """Return the configured name each folded name or alias means (a name before any alias)."""
    configured = tuple(configured)
    meaning = {fold_name(c.name): c.name for c in configured}
    for options in configured:
        for alias in options.aliases:
            meaning.setdefault(fold_name(alias), options.name)
    return meaning


def _kinds(settings: Settings) -> tuple[_Kind, ...]:
    """Return the kinds of feeds besides categories that the settings publish."""
    kinds = []
    for name, configured, auto, least in (
        ("tags", settings.tags, settings.auto_tags, settings.tag_min_articles),
        ("authors", settings.authors, settings.auto_authors, settings.author_min_articles),
    ):
        if configured or auto:
            kinds.append(_Kind(name, {c.name: c for c in configured}, _meanings(configured), auto, least))
    kinds += [_Kind(e.name, {}, {}, True, e.min_articles, e) for e in settings.entities]
    return tuple(kinds)


def _hash6(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:6]


@functools.lru_cache(maxsize=4096)
def _base_slug(name: str) -> str:
    slug = slugify(name, max_length=MAX_SLUG_CHARS)
    return slug or f"c-{_hash6(name)}"


def assign_slugs(configured: Mapping[str, str | None], found: Iterable[str]) -> dict[str, str]:
    """Give every category a unique URL slug that a newcomer never takes over.

    A configured slug is kept. Others are transliterated from the name; one that is
    empty becomes `c-` and 6 hex digits of the name's SHA-1. They are claimed in
    order: configured categories first (in any order: their names are sorted), then
    `found` as given, which is the order of seniority (the catalog gives it oldest
    first). A category whose natural slug is `all` or already claimed gets `-` and
    those 6 digits appended, so the category that held the slug first keeps it.
    """
    fixed = {name: slug for name, slug in configured.items() if slug}
    taken = set(fixed.values()) | RESERVED_SLUGS
    slugs = dict(fixed)
    claimants = [*sorted(n for n in configured if n not in fixed), *(n for n in found if n not in configured)]
    for name in dict.fromkeys(claimants):
        natural = _base_slug(name)
        slug = natural if natural not in taken else f"{natural}-{_hash6(name)}"
        if slug in taken:  # a suffixed slug equal to another's: rare, and longer digits settle it
            digest = hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()
            slug = next(s for n in (12, 40) if (s := f"{natural}-{digest[:n]}") not in taken or n == 40)
        taken.add(slug)
        slugs[name] = slug
    return slugs


def entity_slugs(keys: Iterable[str]) -> dict[str, str]:
    """Give each entity key its slug: the key itself when it fits a URL (`SZ000931`), else one made from it.

    Keys that fit claim theirs first; the others, in the order given (of seniority), get
    a transliterated slug, with 6 hex digits of the key's SHA-1 when that is taken.
    """
    keys = list(keys)
    slugs = {key: key for key in keys if _SAFE_KEY.fullmatch(key)}
    taken = set(slugs.values())
    for key in keys:
        if key not in slugs:
            natural = _base_slug(key)
            slug = natural if natural not in taken else f"{natural}-{_hash6(key)}"
            taken.add(slug)
            slugs[key] = slug
    return slugs


def _path_digest(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]


class CatalogState:
    """The catalog kept up to date article by article; `catalog()` equals `build_catalog` of the same articles.

    Each category (and `all`) keeps its published articles on a shelf sorted newest
    first (`Shelf`), so adding or removing an article costs a binary search and one new
    chunk, a feed is the first `limit` articles of its shelf, and a snapshot's archive
    pages take a view of it. The shelves hold the articles themselves and compute sort
    keys as they search: 100,000 stored keys would cost 8 MB.

    A category's list is keyed by its configured name, or else by its folded name
    (`fold_name`): names that differ only by case, width or spacing are one category.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._configured: dict[str, CategorySettings] = {c.name: c for c in settings.categories}
        # A folded name or alias -> the configured name it means.
        self._meaning: dict[str, str] = _meanings(settings.categories)
        self._keys_of: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
        # Tags, authors and kinds of entities, and the lists their terms put an article on.
        self._kinds = _kinds(settings)
        self._kind_names = frozenset(kind.name for kind in self._kinds)
        by_name = {kind.name: kind for kind in self._kinds}
        self._tags, self._authors = by_name.get("tags"), by_name.get("authors")  # no entity kind takes those names
        # (kind, names) -> the lists those names put an article on: tag lists and authors repeat across articles.
        self._named_keys: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, str], ...]] = {}
        # The keys of configured lists: their titles are the config's, not the most used spelling.
        self._configured_keys = set(self._configured) | {
            _TERM.join((kind.name, name)) for kind in self._kinds for name in kind.configured
        }
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
        # (timestamp, source) of published articles whose `updated` is still ahead: a heap
        self._edits: list[SortKey] = []
        self._warned: set[tuple[str, str]] = set()  # (source, fingerprint) told of a future `updated`
        self._shelves: dict[str | None, Shelf] = {None: Shelf()}  # None: every published article
        self._loading: list[Article] = []  # a first load's published articles, sorted and dealt out at its end
        # The spellings each found category has in published articles, to choose its title
        self._spellings: dict[str, dict[str, int]] = {}
        self._bulk = False
        self._horizon = datetime.min.replace(tzinfo=UTC)  # now + FUTURE_SKEW: later `updated` dates wait
        self.version = 0  # counts changes to the lists: the same version, the same archive pages
        self._shelf_versions: dict[str | None, int] = {}  # the version at which each list last changed

    def update(self, removed: Iterable[str], added: Iterable[Article], now: datetime) -> None:
        """Forget the articles of `removed` sources, take in `added` ones (new or changed), publish what is due."""
        self._horizon = now + FUTURE_SKEW
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
            everything, self._loading = self._loading, []
            sort_newest_first(everything)
            lists: dict[str | None, list[Article]] = {None: everything}
            for live in everything:
                for name, _ in self._all_keys(live):
                    lists.setdefault(name, []).append(live)
            del everything
            # Each list let go as soon as its shelf is made: a million references are not held twice over.
            self._shelves = {name: Shelf(lists.pop(name)) for name in list(lists)}
            self._shelf_versions = dict.fromkeys(self._shelves, self.version)
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
        # An `updated` that was ahead of its time has come: feeds show it from now on.
        while self._edits and self._edits[0][0] <= self._horizon.timestamp():
            _, source = heapq.heappop(self._edits)
            self._replace_live(source)

    def _keys(self, categories: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """Return the lists an article's categories put it on, each with the first name that led there.

        A list is keyed by the configured name a category name or alias means, else by the folded name.
        """
        keys = self._keys_of.get(categories)
        if keys is None:
            if len(self._keys_of) >= 65_536:  # tuples are shared between articles: rarely more
                self._keys_of.clear()
            pairs: dict[str, str] = {}
            meaning = self._meaning
            for name in categories:
                folded = fold_name(name)
                pairs.setdefault(meaning.get(folded, folded), name)
            keys = self._keys_of[categories] = tuple(pairs.items())
        return keys

    def _term_keys(self, article: Article) -> tuple[tuple[str, str], ...]:
        """Return the lists of tags, authors and entities an article goes on, each with the spelling that led there."""
        keys: tuple[tuple[str, str], ...] = ()
        if self._tags is not None and article.tags:
            keys += self._named(self._tags, article.tags)
        if self._authors is not None and article.author is not None:
            keys += self._named(self._authors, (article.author.name,))
        if article.entities:
            kinds = self._kind_names
            keys += tuple((_TERM.join((e.kind, e.key)), e.title) for e in article.entities if e.kind in kinds)
        return keys

    def _named(self, kind: _Kind, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """Return the lists of a kind that names put an article on: the configured name, else the folded one."""
        found = self._named_keys.get((kind.name, names))
        if found is None:
            if len(self._named_keys) >= 65_536:  # the same few lists of names, shared between articles: rarely more
                self._named_keys.clear()
            found = self._named_keys[kind.name, names] = self._name_keys(kind, names)
        return found

    @staticmethod
    def _name_keys(kind: _Kind, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        pairs: dict[str, str] = {}
        for name in names:
            folded = fold_name(name)
            term = kind.meaning.get(folded)
            if term is None:
                if not kind.auto or not folded:
                    continue
                term = folded
            pairs.setdefault(_TERM.join((kind.name, term)), name)
        return tuple(pairs.items())

    def _all_keys(self, live: Article) -> tuple[tuple[str, str], ...]:
        """Return every list an article (as feeds show it) goes on, besides the list of every article."""
        keys = self._keys(live.categories)
        if self._kinds:
            terms = self._term_keys(live)
            if terms:
                keys += terms
        return keys

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
        if article.published <= now or self.settings.publish_future:  # Hexo's `future: true`
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
        self._warned.discard((source, article.fingerprint))
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
        """The article as feeds show it: a shared id made unique, category aliases resolved, no future `updated`."""
        changes: dict[str, object] = {}
        if isinstance(self._ids.get(article.id), set):
            changes["id"] = f"{article.link}#{_path_digest(article.source)}"
        if self._meaning:
            spelled = self._spelled(article.categories)
            if spelled != article.categories:
                changes["categories"] = shared_names(spelled)
        if article.updated > self._horizon:
            # Dated ahead of now (a typo, 9999-12-31): it would hold the feed's Last-Modified there,
            # and If-Modified-Since would miss every later change. Until that moment comes, feeds
            # show the publication date: the same on every rescan, unlike now.
            changes["updated"] = article.published
            changes["fingerprint"] = article.fingerprint + ":updated-ahead"
            heapq.heappush(self._edits, (article.updated.timestamp(), article.source))
            if (article.source, article.fingerprint) not in self._warned:
                self._warned.add((article.source, article.fingerprint))
                log.warning(
                    "%s: updated: %s is in the future, the date is used until then (expected a time before now)",
                    article.source,
                    article.updated.isoformat(),
                )
        return article.replace(**changes) if changes else article

    def _spelled(self, categories: tuple[str, ...]) -> tuple[str, ...]:
        """Return an article's category names with configured ones as configured (aliases resolved, once each)."""
        return tuple(key if key in self._configured else name for key, name in self._keys(categories))

    def _place(self, article: Article) -> None:
        self.version += 1
        live = self._effective(article)
        self._live[article.source] = live
        if live is article:
            self._originals.pop(article.source, None)
        else:
            self._originals[article.source] = article
        keys = self._all_keys(live)
        self._count_spellings(keys, 1)
        if self._bulk:  # a first load: only the list of everything, sorted and dealt out at its end
            self._loading.append(live)
            return
        for name in (None, *(key for key, _ in keys)):
            shelf = self._shelves.get(name)
            if shelf is None:
                shelf = self._shelves[name] = Shelf()
            shelf.insert(live)
            self._shelf_versions[name] = self.version

    def _count_spellings(self, keys: tuple[tuple[str, str], ...], step: int) -> None:
        configured = self._configured_keys
        for key, name in keys:
            if key in configured:
                continue
            counts = self._spellings.get(key)
            if counts is None:
                counts = self._spellings[key] = {}
            count = counts.get(name, 0) + step
            if count > 0:
                counts[name] = count
            else:
                del counts[name]
                if not counts:
                    del self._spellings[key]

    def _unplace(self, source: str) -> None:
        live = self._live.pop(source, None)
        if live is None:
            return
        self.version += 1
        keys = self._all_keys(live)
        self._count_spellings(keys, -1)
        if self._bulk:  # not sorted yet: rare (a shared id found during a first load)
            self._loading.remove(live)
            return
        for name in (None, *(key for key, _ in keys)):
            shelf = self._shelves[name]
            shelf.remove(live)
            self._shelf_versions[name] = self.version
            if not shelf and name is not None:
                del self._shelves[name]

    def shelf(self, name: str | None) -> ShelfView:
        """Return the list of a category (None: every article), newest first, as it stands now, read-only."""
        shelf = self._shelves.get(name)
        return shelf.view() if shelf is not None else ShelfView((), 0)

    def shelf_version(self, name: str | None) -> int:
        """Return the version at which the list of a category (None: every article) last changed."""
        return self._shelf_versions.get(name, 0)

    def _newest(self, name: str | None, limit: int) -> tuple[Article, ...]:
        shelf = self._shelves.get(name)
        return shelf[:limit] if shelf is not None else ()

    def _seniority(self, key: str) -> tuple[float, str, str]:
        """Order found categories by their oldest published article: the older holds a shared slug."""
        oldest = self._shelves[key][-1]
        return (oldest.published.timestamp(), oldest.source, key)

    def _title(self, key: str) -> str:
        """Return the name a found category shows: its most used spelling (the first in code order on a tie)."""
        counts = self._spellings.get(key)
        if not counts:
            return key
        return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]

    def catalog(self) -> Catalog:
        """Return the feeds as they stand: every category with its newest articles."""
        settings = self.settings
        configured = self._configured
        found: list[str] = []
        terms: dict[str, list[str]] = {}  # each kind's terms that have a list (tags, authors, entities)
        for name in self._shelves:
            if name is None:
                continue
            kind_name, sep, term = name.partition(_TERM)
            if sep:
                terms.setdefault(kind_name, []).append(term)
            elif name not in configured:
                found.append(name)
        found.sort()
        if not settings.auto_categories:
            found = []
        slugs = assign_slugs({c.name: c.slug for c in settings.categories}, sorted(found, key=self._seniority))
        everything = self._shelves[None]
        # Articles published ahead of their date (Hexo's `future: true`) must not pull a feed's
        # Last-Modified into the future; without them every entry is at most this late anyway.
        until = self._horizon if settings.publish_future else None
        feeds: list[Feed] = []
        if settings.all_feed:
            spec = FeedSpec(
                slug=ALL,
                title=settings.site_title,
                description=settings.site_title,
                limit=settings.limit,
                category=None,
            )
            feeds.append(Feed(spec, self._newest(None, settings.limit), len(everything), until))
        for name in [*configured, *found]:
            options = configured.get(name)
            if options is None:
                shown = self._title(name)
                options = CategorySettings(name=shown, aliases=tuple(sorted(set(self._spellings[name]) - {shown})))
            title = options.title or options.name
            # A category named like the site is titled once, not "X - X".
            same = fold_name(title) == fold_name(settings.site_title)
            spec = FeedSpec(
                slug=slugs[name],
                title=title if same else f"{settings.site_title} - {title}",
                description=options.description or title,
                limit=options.limit or settings.limit,
                category=name,
                names=(options.name, *options.aliases),
                configured=name in configured,
            )
            feeds.append(Feed(spec, self._newest(name, spec.limit), len(self._shelves.get(name, ())), until))
        for kind in self._kinds:
            feeds += self._kind_feeds(kind, terms.get(kind.name, ()), until)
        redirects = _redirects(feeds)
        configured_slugs = {feed.spec.slug for feed in feeds if feed.spec.configured}
        return Catalog(
            feeds=tuple(feeds),
            redirects=redirects,
            published=len(self._live),
            held=len(self._held),
            permanent_redirects=frozenset(name for name, slug in redirects.items() if slug in configured_slugs),
        )

    def _kind_feeds(self, kind: _Kind, listed: Iterable[str], until: datetime | None) -> list[Feed]:
        """Return the feeds of one kind: its configured terms, then those found (`listed`) with enough articles."""
        settings = self.settings
        prefix = kind.name + _TERM
        terms: list[str] = []  # listed by name; slugs are claimed oldest first
        if kind.auto:
            shelves = self._shelves
            least = kind.min_articles
            terms = sorted(t for t in listed if t not in kind.configured and len(shelves[prefix + t]) >= least)
        senior = sorted(terms, key=lambda term: self._seniority(prefix + term))
        entity = kind.entity
        if entity is None:
            slugs = assign_slugs({c.name: c.slug for c in kind.configured.values()}, senior)
        else:
            slugs = entity_slugs(senior)
        feeds: list[Feed] = []
        for term in [*kind.configured, *terms]:
            key = prefix + term
            if entity is not None:
                shown = self._title(key) if key in self._spellings else term
                title = entity.feed_title.format(title=shown, key=term)
                options = CategorySettings(
                    name=term,
                    aliases=(shown,) if shown != term else (),
                    description=entity.description,
                    limit=entity.limit,
                )
            else:
                found_options = kind.configured.get(term)
                if found_options is None:
                    shown = self._title(key)
                    found_options = CategorySettings(
                        name=shown, aliases=tuple(sorted(set(self._spellings[key]) - {shown}))
                    )
                options = found_options
                title = options.title or options.name
            spec = FeedSpec(
                slug=f"{kind.name}/{slugs[term]}",
                title=f"{settings.site_title} - {title}",
                description=options.description or title,
                limit=options.limit or settings.limit,
                category=key,
                names=tuple(f"{kind.name}/{name}" for name in (options.name, *options.aliases)),
                configured=term in kind.configured,
                kind=kind.name,
            )
            feeds.append(Feed(spec, self._newest(key, spec.limit), len(self._shelves.get(key, ())), until))
        return feeds

    @property
    def next_publication(self) -> datetime | None:
        """Return when the next held article is due or a future `updated` comes, if any (it may be stale)."""
        due = min((heap[0][0] for heap in (self._future, self._edits) if heap), default=None)
        return None if due is None else datetime.fromtimestamp(due, UTC)


def _redirects(feeds: Iterable[Feed]) -> dict[str, str]:
    """Map each category's names and aliases, as written and folded, to its slug.

    A name that is some feed's slug (or `all`) is left out: that URL is the feed's own,
    and its archive pages must never be sent to another feed's.
    """
    feeds = list(feeds)
    slugs = {feed.spec.slug for feed in feeds} | RESERVED_SLUGS
    redirects: dict[str, str] = {}
    for feed in feeds:
        for name in feed.spec.names:
            for key in (name, fold_name(name)):
                if key not in slugs:
                    redirects.setdefault(key, feed.spec.slug)
    return redirects


def build_catalog(articles: Iterable[Article], settings: Settings, now: datetime) -> Catalog:
    """Choose the feeds and their newest articles among those published at `now`."""
    state = CatalogState(settings)
    state.update((), articles, now)
    return state.catalog()
