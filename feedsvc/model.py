"""The values that flow through feedsvc: articles, problems, feeds, documents, snapshots.

Frozen dataclasses (and `Article`, immutable as they are, kept compact) and the standard
library only; no behaviour beyond small derivations.
"""

from __future__ import annotations

import enum
import gzip
import hashlib
import struct
import sys
from collections.abc import Iterable, Mapping
from dataclasses import FrozenInstanceError, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from feedsvc.errors import PageNotReady as PageNotReady  # noqa: PLC0414 - re-exported: ArchiveShelf raises it


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


# Category and tag names, their tuples and authors repeat across thousands of articles:
# one shared object each keeps a large index small. Bounded by the distinct values in content.
_POOL: dict[object, object] = {}


def shared_names(names: Iterable[str]) -> tuple[str, ...]:
    """Return a tuple of category or tag names as the one shared object for those names."""
    if type(names) is tuple:  # as an article from a worker brings them: most often a tuple met before
        found = _POOL.get(names)
        if found is not None:
            return found  # type: ignore[return-value]
    value = tuple(sys.intern(n) for n in names)
    return _POOL.setdefault(value, value)  # type: ignore[return-value]


def shared_author(author: Author | None) -> Author | None:
    """Return the one shared object for an author."""
    return None if author is None else _POOL.setdefault(author, author)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Entity:
    """Something a body names that has feeds of its own: a stock, by its kind, key and the text naming it."""

    kind: str  # the entity kind's name in the config file (`stocks`), the folder of its feeds
    key: str  # what identifies it (`SZ000931`): the feed's slug
    title: str  # how the body names it (`中关村`)


def shared_entities(entities: Iterable[Entity]) -> tuple[Entity, ...]:
    """Return a tuple of entities, each the one shared object for it (the tuples differ per article: not shared)."""
    return tuple(_POOL.setdefault(e, e) for e in entities)  # type: ignore[misc]


# The fields of an article, in the order its constructor takes them.
ARTICLE_FIELDS = (
    "source",
    "title",
    "link",
    "id",
    "published",
    "updated",
    "categories",
    "tags",
    "author",
    "summary",
    "image",
    "draft",
    "fingerprint",
    "warnings",
    "language",
    "entities",
)
# The text fields kept packed in one UTF-8 string of bytes, and the byte lengths that lead it (-1: None).
_PACKED = ("title", "summary", "image", "fingerprint", "language")
_LENGTHS = struct.Struct("<5i")
# The fields held as they are, and compared (with the packed text) for equality.
_HELD = (
    "source",
    "link",
    "id",
    "published",
    "updated",
    "categories",
    "tags",
    "author",
    "draft",
    "warnings",
    "entities",
)


def _pack(texts: tuple[str | None, ...]) -> bytes:
    encoded = [None if text is None else text.encode("utf-8", "surrogatepass") for text in texts]
    lengths = _LENGTHS.pack(*(-1 if part is None else len(part) for part in encoded))
    return lengths + b"".join(part for part in encoded if part is not None)


class Article:
    """One parsed content file: its metadata, not its body (bodies are not held in memory).

    `id` is the identity before de-duplication (the catalog may extend it);
    `fingerprint` changes whenever anything a feed shows of the article changes:
    it is 16 hex digits of the SHA-1 of the file's bytes (plus the modification
    time when the date comes from it).

    Immutable, and compared by value, as a frozen dataclass. A serving process holds
    a million of them: the title, summary, image, fingerprint and language, which only
    a rendered document reads, are kept as one UTF-8 string of bytes (a CJK title in
    two thirds of its size as text, and one object's overhead instead of four).
    """

    __slots__ = (*_HELD, "_text")

    source: str
    link: str
    id: str
    published: datetime
    updated: datetime
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    author: Author | None
    draft: bool
    warnings: tuple[str, ...]
    entities: tuple[Entity, ...]  # what its body names that has feeds of its own (`entities:` config)
    _text: bytes

    def __init__(
        self,
        *,
        source: str,
        title: str,
        link: str,
        id: str,
        published: datetime,
        updated: datetime,
        categories: tuple[str, ...],
        tags: tuple[str, ...],
        author: Author | None,
        summary: str | None,
        image: str | None,
        draft: bool,
        fingerprint: str,
        warnings: tuple[str, ...] = (),
        language: str | None = None,  # the article's own language tag (`lang:`), or None for the site's
        entities: tuple[Entity, ...] = (),
    ) -> None:
        held = (source, link, id, published, updated, categories, tags, author, draft, warnings, entities)
        for name, value in zip(_HELD, held, strict=True):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_text", _pack((title, summary, image, fingerprint, language)))

    def _texts(self) -> tuple[str | None, ...]:
        return tuple(self._packed(number) for number in range(len(_PACKED)))

    def _packed(self, number: int) -> str | None:
        text = self._text
        lengths = _LENGTHS.unpack_from(text)
        length = lengths[number]
        if length < 0:
            return None
        start = _LENGTHS.size
        for before in lengths[:number]:  # a loop, not sum() of a generator: read millions of times by a build
            if before > 0:
                start += before
        return text[start : start + length].decode("utf-8", "surrogatepass")

    @property
    def title(self) -> str:
        """Return the title."""
        return self._packed(0) or ""

    @property
    def summary(self) -> str | None:
        """Return the summary the front matter gives, if any."""
        return self._packed(1)

    @property
    def image(self) -> str | None:
        """Return the image (thumbnail) URL, if any."""
        return self._packed(2)

    @property
    def fingerprint(self) -> str:
        """Return what changes whenever anything a feed shows of the article changes."""
        return self._packed(3) or ""

    @property
    def language(self) -> str | None:
        """Return the article's own language tag (`lang:`), or None for the site's."""
        return self._packed(4)

    def fields(self) -> dict[str, Any]:
        """Return every field by name, as the constructor takes them."""
        values = dict(zip(_HELD, (getattr(self, name) for name in _HELD), strict=True))
        values.update(zip(_PACKED, self._texts(), strict=True))
        return {name: values[name] for name in ARTICLE_FIELDS}

    def replace(self, **changes: Any) -> Article:
        """Return a copy with some fields changed (as `dataclasses.replace` does for a dataclass)."""
        return Article(**{**self.fields(), **changes})

    def _key(self) -> tuple[Any, ...]:
        return (*(getattr(self, name) for name in _HELD), self._text)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Article:
            return NotImplemented
        return self is other or self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self.fields().items())
        return f"Article({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Articles parsed in worker processes arrive pickled: rebuilt with shared parts, the text as it is.
        return _article_with_shared_parts, self._key()


def stored_article(held: tuple[Any, ...], texts: tuple[str | None, ...]) -> Article:
    """Return an article as a cache row holds it: the held fields in `_HELD`'s order, the packed ones in `_PACKED`'s.

    The fields are taken as they are, shared parts included: a million rows are read at a
    restart, and going through the constructor was a third of each row's time.
    """
    return _assembled(held, _pack(texts))


def _assembled(held: tuple[Any, ...] | list[Any], text: bytes) -> Article:
    """Return an article of its held fields (in `_HELD`'s order) and its packed text, taken as they are."""
    article = object.__new__(Article)
    for name, value in zip(_HELD, held, strict=True):
        object.__setattr__(article, name, value)
    object.__setattr__(article, "_text", text)
    return article


def _article_with_shared_parts(*values: Any) -> Article:
    article = _assembled(values[:-1], values[-1])
    object.__setattr__(article, "categories", shared_names(article.categories))
    object.__setattr__(article, "tags", shared_names(article.tags))
    object.__setattr__(article, "author", shared_author(article.author))
    object.__setattr__(article, "entities", shared_entities(article.entities))
    return article


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


# Each format by its URL suffix: a lookup (Format(value) takes twenty times as long).
FORMAT_OF: Mapping[str, Format] = {fmt.value: fmt for fmt in Format}

# What a complete archive page is sent with (by `serve`, and by a bucket): caches may keep it for good.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"


def cache_control(document: Document, max_age: int) -> str:
    """Return the Cache-Control a document is sent with: for good when it is immutable, else for `max_age` seconds."""
    return IMMUTABLE_CACHE_CONTROL if document.immutable else f"public, max-age={max_age}"


# Level 6 is zlib's default trade-off between size and time.
GZIP_LEVEL = 6
INDEX_PATH = "index.html"
OPML_PATH = "feeds.opml"
# The XSLT stylesheet RSS and Atom feeds name, so that a browser shows a page, not XML.
STYLESHEET_PATH = "feed.xsl"


def feed_path(slug: str, fmt: Format) -> str:
    """Return a feed's path under the service root, as in its URL and in a build directory."""
    return f"feeds/{slug}.{fmt.value}"


def archive_path(slug: str, number: int, fmt: Format) -> str:
    """Return the path of a feed's archive page `number` (1 holds its oldest articles)."""
    return f"feeds/{slug}/archive/{number}.{fmt.value}"


@dataclass(frozen=True, slots=True)
class Paging:
    """Where a feed document stands in its feed's history (RFC 5005 archived feeds).

    `number` is None for the current (subscription) document, else the archive page
    it is; `pages` is how many archive pages the feed has. Every page but the newest
    has a page after it and is complete: it never changes again.
    """

    number: int | None
    pages: int

    @property
    def complete(self) -> bool:
        """Tell an archive page that has a newer one after it, so will hold the same entries for good."""
        return self.number is not None and self.number < self.pages


_MEDIA_TYPES = {
    Format.RSS: "application/rss+xml; charset=utf-8",
    Format.ATOM: "application/atom+xml; charset=utf-8",
    Format.JSON: "application/feed+json",
}


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """What one feed is: a category, tag, author or entity (or every article), its slug, title and size.

    The slug is the feed's path under `feeds/`: `finance` for a category, `tags/python`,
    `authors/feed-desk` or `stocks/SZ000931` for the other kinds.
    """

    slug: str
    title: str
    description: str
    limit: int
    category: str | None  # the catalog's key of its list of articles; None for the feed of every article
    names: tuple[str, ...] = ()  # the category name and its aliases (as paths under `feeds/`), for redirects
    configured: bool = False  # a category of the config file (its names redirect for good)
    kind: str = ""  # "" for categories and `all`; `tags`, `authors`, or an entity kind such as `stocks`


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed's spec with its newest articles (newest first) and its category's size."""

    spec: FeedSpec
    articles: tuple[Article, ...]
    total: int
    # Entries updated after this moment (published ahead of their date, as Hexo's `future: true`
    # does) do not count towards `updated`: Last-Modified is never in the future.
    until: datetime | None = None

    @property
    def updated(self) -> datetime | None:
        """Return the latest `updated` among the entries (up to `until`), or None when there is none."""
        until = self.until
        return max((a.updated for a in self.articles if until is None or a.updated <= until), default=None)


@dataclass(frozen=True, slots=True)
class Document:
    """One servable file: bytes, validators, media type, and the gzip form made on first use."""

    body: bytes
    etag: str  # the quoted strong ETag of the uncompressed bytes
    media_type: str
    last_modified: datetime | None = None
    immutable: bool = False  # a complete archive page: caches may keep it for good
    _gzip: list[bytes] = field(default_factory=list, compare=False, repr=False)
    # What a server worked out once to answer with it (http/app.py's headers), by what they depend on.
    answers: dict[object, object] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def gzip_etag(self) -> str:
        """Return the ETag of the gzip form: the same value with `-gz` inside the quotes."""
        return self.etag[:-1] + '-gz"'

    @property
    def gzip_body(self) -> bytes:
        """Return the gzip form, compressed once when first asked for (mtime 0: reproducible bytes).

        Compressing lazily keeps it off the refresh: a changed feed is swapped in
        without waiting for zlib, and a document nobody asks gzip of costs nothing.
        """
        if not self._gzip:
            self._gzip.append(gzip_bytes(self.body))
        return self._gzip[0]

    @property
    def held_bytes(self) -> int:
        """Return the bytes the document holds in memory: its body, and its gzip form once made."""
        return len(self.body) + sum(len(form) for form in self._gzip)


def gzip_bytes(body: bytes) -> bytes:
    """Return the gzip form of `body`: always the same bytes for the same body (no time, no name, one level).

    A build stores archive pages in this form, so that they are the very bytes `serve` sends.
    """
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


@dataclass(frozen=True, slots=True)
class RefreshStats:
    """What the last refresh did, as `/healthz` reports it."""

    started: datetime
    duration_s: float
    files_seen: int
    files_parsed: int
    files_failed: int
    feeds_rebuilt: int

    def report(self) -> dict[str, object]:
        """Return the figures as `/healthz` and a build's status show them (JSON-ready)."""
        return {
            "started": self.started.isoformat(),
            "duration_s": self.duration_s,
            "files_seen": self.files_seen,
            "files_parsed": self.files_parsed,
            "files_failed": self.files_failed,
            "feeds_rebuilt": self.feeds_rebuilt,
        }


class ArchiveShelf(Protocol):
    """The archive pages of a snapshot's feeds, made or read when first asked for."""

    def document(self, path: str) -> Document | None:
        """Return the archive page at `path` (as `archive_path` writes it), or None if there is none.

        Raises:
            PageNotReady: the page is being made, off the request thread, and was not ready in time.
        """


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every built document at one moment, with what `/healthz` reports about it.

    `documents` maps URL paths (`feeds/finance.rss`, `feeds.opml`, `index.html`)
    to documents; `redirects` maps category names and aliases to slugs, and
    `permanent_redirects` names those the config file holds to their slug.
    """

    documents: Mapping[str, Document]
    redirects: Mapping[str, str]
    max_age: int
    permanent_redirects: frozenset[str] = frozenset()
    articles: int = 0
    held: int = 0
    feed_documents: int = 0  # feeds times formats
    problems: tuple[Problem, ...] = ()
    last_refresh: RefreshStats | None = None
    degraded: str | None = None  # why the last refresh could not do its work
    refreshes_failed: int = 0
    hub: str | None = None  # the WebSub hub feed answers name in a Link header (with their own URL)
    feed_url: str = ""  # the public base of the feeds' URLs, for that header
    archives: ArchiveShelf | None = None  # the feeds' archive pages (not in `documents`: too many to hold)
    restored: bool = False  # the documents the last run served, from the cache, until the first refresh ends


def make_document(
    body: bytes,
    media_type: str,
    last_modified: datetime | None = None,
    *,
    immutable: bool = False,
    gzip_body: bytes | None = None,
) -> Document:
    """Wrap `body` with its ETag, a hash of the uncompressed bytes (the gzip form follows on first use).

    `gzip_body` is the gzip form when it is at hand already (read from a build): it is
    served as it is, and must be `body` compressed.
    """
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    forms = [] if gzip_body is None else [gzip_body]
    return Document(
        body=body, etag=etag, media_type=media_type, last_modified=last_modified, immutable=immutable, _gzip=forms
    )
