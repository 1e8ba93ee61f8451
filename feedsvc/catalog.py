"""Decide which feeds exist and which articles each holds, newest first.

Pure: articles, settings and `now` in; a Catalog out. The only module that imports python-slugify.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

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


def _unique_ids(articles: list[Article]) -> list[Article]:
    """Give articles that would share an id the URL plus `#` and 8 hex digits of their path's SHA-1."""
    counts = Counter(a.id for a in articles)
    result = []
    for article in articles:
        if counts[article.id] > 1:
            digest = hashlib.sha1(article.source.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]
            result.append(dataclasses.replace(article, id=f"{article.link}#{digest}"))
        else:
            result.append(article)
    return result


def _newest(articles: Iterable[Article], limit: int) -> tuple[Article, ...]:
    """Return the `limit` newest articles: latest date first, ties broken by path."""
    return tuple(heapq.nsmallest(limit, articles, key=lambda a: (-a.published.timestamp(), a.source)))


def build_catalog(articles: Iterable[Article], settings: Settings, now: datetime) -> Catalog:
    """Choose the feeds and their newest articles among those published at `now`."""
    articles = list(articles)
    candidates = [a for a in articles if not a.draft]
    held = len(articles) - len(candidates)
    published: list[Article] = []
    configured: dict[str, CategorySettings] = {c.name: c for c in settings.categories}
    meaning = {name: name for name in configured}
    for category in settings.categories:
        for alias in category.aliases:
            meaning.setdefault(alias, category.name)
    for article in _unique_ids(candidates):
        if article.published > now:
            held += 1
            continue
        names = tuple(dict.fromkeys(meaning.get(n, n) for n in article.categories))
        published.append(article if names == article.categories else dataclasses.replace(article, categories=names))

    by_category: dict[str, list[Article]] = defaultdict(list)
    for article in published:
        for name in article.categories:
            by_category[name].append(article)
    found = sorted(n for n in by_category if n not in configured) if settings.auto_categories else []
    slugs = assign_slugs({c.name: c.slug for c in settings.categories}, found)

    feeds: list[Feed] = []
    if settings.all_feed:
        spec = FeedSpec(
            slug=ALL, title=settings.site_title, description=settings.site_title, limit=settings.limit, category=None
        )
        feeds.append(Feed(spec, _newest(published, settings.limit), len(published)))
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
        members = by_category.get(name, [])
        feeds.append(Feed(spec, _newest(members, spec.limit), len(members)))
        for alias in spec.names:
            if alias != spec.slug:
                redirects.setdefault(alias, spec.slug)
    return Catalog(feeds=tuple(feeds), redirects=redirects, published=len(published), held=held)
