"""The values that flow through feedsvc: articles, problems, feeds, documents, snapshots.

Frozen dataclasses and the standard library only; no behaviour beyond small derivations.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a content file (or folder) is not published: `source: field: reason (expected …)`."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Author:
    """An article's or a feed's author."""

    name: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """One parsed content file: its metadata and its Markdown body.

    `id` is the identity before de-duplication (the catalog may extend it);
    `fingerprint` changes whenever anything a feed shows of the article changes.
    """

    source: str
    title: str
    link: str
    id: str
    published: datetime
    updated: datetime
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    author: Author | None
    summary: str | None
    image: str | None
    body: str
    draft: bool
    fingerprint: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArticleContent:
    """What a feed carries of an article body: sanitized absolute HTML, summary and image."""

    html: str
    summary: str
    image: str | None


class Format(enum.Enum):
    """A feed format, named as in the URL suffix."""

    RSS = "rss"
    ATOM = "atom"
    JSON = "json"

    @property
    def media_type(self) -> str:
        """Return the Content-Type a feed reader expects for this format."""
        return _MEDIA_TYPES[self]


INDEX_PATH = "index.html"
OPML_PATH = "feeds.opml"


def feed_path(slug: str, fmt: Format) -> str:
    """Return a feed's path under the service root, as in its URL and in a build directory."""
    return f"feeds/{slug}.{fmt.value}"


_MEDIA_TYPES = {
    Format.RSS: "application/rss+xml; charset=utf-8",
    Format.ATOM: "application/atom+xml; charset=utf-8",
    Format.JSON: "application/feed+json",
}


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """What one feed is: a category (or every article), its slug, title and size."""

    slug: str
    title: str
    description: str
    limit: int
    category: str | None  # None for the feed of every article
    names: tuple[str, ...] = ()  # the category name and its aliases, for redirects


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed's spec with its newest articles (newest first) and its category's size."""

    spec: FeedSpec
    articles: tuple[Article, ...]
    total: int

    @property
    def updated(self) -> datetime | None:
        """Return the latest `updated` among the entries, or None for an empty feed."""
        return max((a.updated for a in self.articles), default=None)


@dataclass(frozen=True, slots=True)
class Document:
    """One servable file: bytes, their gzip form, validators and media type."""

    body: bytes
    gzip_body: bytes
    etag: str  # the quoted strong ETag of the uncompressed bytes
    media_type: str
    last_modified: datetime | None = None

    @property
    def gzip_etag(self) -> str:
        """Return the ETag of the gzip form: the same value with `-gz` inside the quotes."""
        return self.etag[:-1] + '-gz"'


@dataclass(frozen=True, slots=True)
class ScanStats:
    """What the last refresh did, as `/healthz` reports it."""

    started: datetime
    duration_s: float
    files_seen: int
    files_parsed: int
    files_failed: int
    feeds_rebuilt: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every built document at one moment, with what `/healthz` reports about it.

    `documents` maps URL paths (`feeds/finance.rss`, `feeds.opml`, `index.html`)
    to documents; `redirects` maps category names and aliases to slugs.
    """

    documents: Mapping[str, Document]
    redirects: Mapping[str, str]
    max_age: int
    articles: int = 0
    held: int = 0
    feeds: int = 0
    problems: tuple[Problem, ...] = ()
    last_scan: ScanStats | None = None
    degraded: str | None = None  # why the last refresh could not do its work
    refreshes_failed: int = 0
