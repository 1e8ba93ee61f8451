"""The archive pages of a build directory: stored as `build.archive_pages` says, read back (checked) when asked for.

A page of `feeds/{slug}/archive/{n}.{fmt}` is, by default, only the file
`…/{n}.{fmt}.gz`: the gzip form `serve` sends, byte for byte (`gzip_bytes`), as
nginx's `gzip_static` serves it; `plain` stores the plain file only, `both` the
two side by side. The manifest lists each page by its URL path with the ETag of
its plain bytes, their size, and what is stored (`stored`, `stored_size`). A page
stored otherwise by an earlier build (or an older feedsvc, which stored them
plain) is still read, and a new build converts it without making it again.
"""

from __future__ import annotations

import logging
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedsvc.builddir.files import headers_of
from feedsvc.builddir.storage import Directory, Storage
from feedsvc.errors import BuildError, PageNotReady
from feedsvc.feeds.archives import ArchivePage, Archives, PageCache, is_archive_path
from feedsvc.model import Document, make_document

log = logging.getLogger("feedsvc.follow")

GZIP = "gzip"
PLAIN = "plain"
GZIP_SUFFIX = ".gz"
# build.archive_pages: the files of each page.
STORED = {GZIP: (GZIP,), PLAIN: (PLAIN,), "both": (PLAIN, GZIP)}
# A stored page is decompressed to at most this many bytes (or the size its manifest gives, if more):
# a file that would grow past it is no page a build wrote.
MAX_PAGE_BYTES = 64 * 1024 * 1024
# Pages made and waiting to be compressed and written, at most (each is held in memory until written).
STORE_QUEUE = 4
# A page a bucket could not give (the store not answering): asked again after this many seconds.
RETRY_AFTER_SECONDS = 5
# What storing a page did: the files stored, whether one changed, the gzip file's size.
_Written = tuple[tuple[str, ...], bool, int | None]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """An archive page written to a build: what the manifest says of it, and the key it was made from.

    `size` and `etag` are those of the plain bytes; `stored` names the files that hold
    them (`plain`, `gzip` or both) and `stored_size` is the size of the gzip file, if any.
    """

    media_type: str
    etag: str
    last_modified: datetime | None
    size: int
    immutable: bool
    inputs: str  # the page's key: the same key, the same bytes
    stored: tuple[str, ...]
    stored_size: int | None

    def file(self, path: str) -> str:
        """Return the file a server reads the page at URL path `path` from (the gzip one if stored), in the build."""
        return path + GZIP_SUFFIX if GZIP in self.stored else path

    def files(self, path: str) -> tuple[str, ...]:
        """Return every file that holds the page at URL path `path`, relative to the build directory."""
        return tuple(path + GZIP_SUFFIX if one == GZIP else path for one in self.stored)

    def entry(self) -> dict[str, Any]:
        """Return the page's entry in the manifest."""
        entry: dict[str, Any] = {
            "type": self.media_type,
            "etag": self.etag,
            "last_modified": _time(self.last_modified),
            "size": self.size,
            "immutable": self.immutable,
            "inputs": self.inputs,
            "stored": list(self.stored),
        }
        if GZIP in self.stored:
            entry |= {"gzip_etag": self.etag[:-1] + '-gz"', "stored_size": self.stored_size}
        return entry


def stored_files(path: str, entry: object) -> tuple[str, ...]:
    """Return the files a manifest's entry for the archive page at `path` names.

    Raises:
        BuildError: the entry names files other than plain and gzip.
    """
    stored = _stored_of(path, entry if isinstance(entry, dict) else {})
    return tuple(path + GZIP_SUFFIX if one == GZIP else path for one in stored)


def _stored_of(path: str, entry: Mapping[str, Any]) -> tuple[str, ...]:
    """Return what a manifest's entry says is stored of a page: `plain` when it does not say (older builds)."""
    stored = entry.get("stored", [PLAIN])
    if not isinstance(stored, list) or tuple(stored) not in STORED.values():
        raise BuildError(f"archive page {path!r}: stored {stored!r} (expected a list of plain, gzip or both)")
    return tuple(stored)


def archive_files(listed: Mapping[str, Any]) -> dict[str, ArchiveFile]:
    """Return the archive pages a manifest's `archives` lists.

    Raises:
        BuildError: a path that is not an archive page's, or files stored other than plain and gzip.
        KeyError, TypeError, ValueError: a field missing or of the wrong type.
    """
    pages: dict[str, ArchiveFile] = {}
    for path, entry in listed.items():
        if not is_archive_path(path):
            raise BuildError(f"archive page {path!r} is not an archive page's path")
        stored_as = _stored_of(path, entry)
        modified = entry.get("last_modified")
        stored = entry.get("stored_size")
        pages[path] = ArchiveFile(
            media_type=str(entry["type"]),
            etag=str(entry["etag"]),
            last_modified=None if modified is None else datetime.fromisoformat(modified),
            size=int(entry["size"]),
            immutable=entry.get("immutable") is True,
            inputs=str(entry.get("inputs") or ""),
            stored=stored_as,
            stored_size=None if stored is None else int(stored),
        )
    return pages


def write_archives(
    archives: Archives,
    storage: Storage,
    known: Mapping[str, ArchiveFile],
    *,
    trusted: bool = True,
    stored: tuple[str, ...] = STORED[GZIP],
    max_age: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, ArchiveFile], int]:
    """Write every archive page whose key is not the one `known` lists for it; return all pages and how many changed.

    `known` is what was written last (by this builder, or the manifest an earlier one
    left: then not `trusted`, and a page is only skipped if its file is still there).
    A complete page is made once and, while its entries stay, never again. Each is stored
    as the files `stored` names; a page an earlier build stored otherwise, of the same key,
    is read from its file and stored anew, not made again (the files no longer named are
    removed with the manifest that listed them). Each file is stored with its page's media
    type and Cache-Control (`max_age`, or immutable for a complete page), a `.gz` one with
    `Content-Encoding: gzip`; a storage that is `trusted` (a bucket) is never looked at
    for the files its manifest lists. `progress(done, total)` is told of each page taken
    (to be written, or found unchanged), and of the end.

    Raises:
        OSError: a page could not be written (the pages before it may have been).
    """
    trusted = trusted or storage.trusted
    pages: dict[str, ArchiveFile] = {}
    written = 0
    # zlib and the disk (or the network) let go of the GIL: pages are compressed and written in
    # threads of their own while the next one is made in this one. A few pages wait at most.
    waiting = max(STORE_QUEUE, 2 * storage.writers)
    with ThreadPoolExecutor(max_workers=storage.writers, thread_name_prefix="feedsvc-archive-store") as storing:
        queued: deque[tuple[ArchivePage, Document, Future[_Written]]] = deque()
        every = archives.pages()
        for taken, page in enumerate(every):
            if progress is not None:
                progress(taken, len(every))
            before = known.get(page.path)
            if before is not None and before.inputs != page.key:
                before = None  # made of other entries now
            if before is not None and before.stored == stored and (trusted or _files_there(storage, page.path, before)):
                pages[page.path] = before
                continue
            document = None if before is None else _earlier_page(storage, page.path, before)
            if document is None:
                document = archives.render(page)
            queued.append((page, document, storing.submit(_store, storage, page.path, document, stored, max_age)))
            while len(queued) > waiting or (queued and queued[0][2].done()):
                written += _stored(queued.popleft(), pages)
        while queued:
            written += _stored(queued.popleft(), pages)
    if progress is not None:
        progress(len(every), len(every))
    return pages, written


def _files_there(storage: Storage, path: str, page: ArchiveFile) -> bool:
    """Return whether every file of a page an earlier build listed is in the build directory."""
    if not isinstance(storage, Directory):
        return True
    return all((storage.path / name).is_file() for name in page.files(path))


def _store(storage: Storage, path: str, document: Document, stored: tuple[str, ...], max_age: int) -> _Written:
    """Write a page's files (plain, gzip or both); return what is stored, whether a file changed, the gzip size."""
    changed, gzip_size = False, None
    for one in stored:
        if one == GZIP:
            body = document.gzip_body
            gzip_size = len(body)
            headers = headers_of(document, max_age, encoding=GZIP)
            changed |= storage.write(path + GZIP_SUFFIX, body, headers)
        else:
            changed |= storage.write(path, document.body, headers_of(document, max_age))
    return stored, changed, gzip_size


def _stored(
    queued: tuple[ArchivePage, Document, Future[_Written]],
    pages: dict[str, ArchiveFile],
) -> int:
    """Wait for a page to be written (raising what writing it raised); list it in `pages`; return 1 if it changed."""
    page, document, future = queued
    stored, changed, stored_size = future.result()
    pages[page.path] = ArchiveFile(
        document.media_type,
        document.etag,
        document.last_modified,
        len(document.body),
        document.immutable,
        page.key,
        stored,
        stored_size,
    )
    return int(changed)


def _earlier_page(storage: Storage, path: str, before: ArchiveFile) -> Document | None:
    """Return a page an earlier build stored, if its file still holds the bytes its manifest names."""
    body = _read_page(storage, path, before)
    if body is None:
        return None
    document = make_document(body, before.media_type, before.last_modified, immutable=before.immutable)
    return document if document.etag == before.etag else None


def _read_page(storage: Storage, path: str, page: ArchiveFile) -> bytes | None:
    """Return the plain bytes of a page from the file a server reads (gunzipped, bounded), or None if unreadable."""
    try:
        stored = storage.read(page.file(path))
    except (OSError, BuildError):
        return None
    return gunzip(stored, max(page.size, MAX_PAGE_BYTES)) if GZIP in page.stored else stored


def gunzip(data: bytes, limit: int) -> bytes | None:
    """Return the bytes a gzip file holds, or None if it is not one (or not whole) or holds more than `limit`."""
    inflater = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer (CRC-32 and size), checked
    try:
        body = inflater.decompress(data, limit + 1)
    except zlib.error:
        return None
    if len(body) > limit or not inflater.eof or inflater.unused_data:
        return None
    return body


class BuildArchives:
    """The archive pages of a build, read when first asked for (they are too many to hold).

    Only the pages the manifest lists are read, each from the file its entry names; a
    stored gzip page is decompressed (bounded) and checked against its ETag, then kept,
    with its gzip form as stored (sent as it is), in a cache bounded in bytes.
    """

    def __init__(self, storage: Storage, pages: Mapping[str, ArchiveFile], cache: PageCache) -> None:
        self.storage = storage
        self.pages = pages
        self.cache = cache

    def document(self, path: str) -> Document | None:
        """Return the archive page at `path`, or None if the manifest lists none there (or its file is gone)."""
        page = self.pages.get(path)
        if page is None:
            return None
        # By ETag and completeness: a JSON page's bytes do not show whether a page follows it.
        key = f"{page.etag}|{page.immutable}"
        document = self.cache.get(key)
        if document is not None:
            return document
        try:
            stored = self.storage.read(page.file(path))
        except (FileNotFoundError, BuildError):
            return None
        except OSError as error:
            if isinstance(self.storage, Directory):
                return None
            # The store did not answer (an outage): the page is there, so 503 and a retry, not 404.
            log.warning("archive page %s cannot be read: %s", self.storage.locate(page.file(path)), error)
            raise PageNotReady(RETRY_AFTER_SECONDS) from None
        if GZIP in page.stored:
            body = gunzip(stored, max(page.size, MAX_PAGE_BYTES))
            if body is None:
                return None
            compressed: bytes | None = stored
        else:
            body, compressed = stored, None
        document = make_document(
            body, page.media_type, page.last_modified, immutable=page.immutable, gzip_body=compressed
        )
        if document.etag != page.etag:
            # Replaced after the manifest was read, by a build under way: whole (renamed into place), and
            # newer; served as it is, but not as immutable until the next manifest says what it is.
            return make_document(body, page.media_type, page.last_modified, gzip_body=compressed)
        self.cache.put(key, document)
        return document
