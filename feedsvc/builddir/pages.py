"""The archive pages of a build directory: written gzip-compressed only, read back (and checked) when asked for.

A page of `feeds/{slug}/archive/{n}.{fmt}` is the file `…/{n}.{fmt}.gz`: the gzip
form `serve` sends, byte for byte (`gzip_bytes`), as nginx's `gzip_static` serves
it. The manifest lists each page by its URL path with the ETag of its plain bytes,
their size, and what is stored (`encoding`, `stored_size`). A build of an older
feedsvc stored pages plain; those are still read, and a new build replaces them.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from feedsvc.builddir.files import file_in_build, write_atomically
from feedsvc.errors import BuildError
from feedsvc.feeds.archives import ArchivePage, Archives, PageCache, parse_archive_path
from feedsvc.model import Document, make_document

GZIP = "gzip"
GZIP_SUFFIX = ".gz"
# A stored page is decompressed to at most this many bytes (or the size its manifest gives, if more):
# a file that would grow past it is no page a build wrote.
MAX_PAGE_BYTES = 64 * 1024 * 1024
# Pages made and waiting to be compressed and written, at most (each is held in memory until written).
STORE_QUEUE = 4


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """An archive page written to a build: what the manifest says of it, and the key it was made from.

    `size` and `etag` are those of the plain bytes; `encoding` says how the file holds
    them (`gzip`, or None: plain, as older builds stored them) and `stored_size` its size.
    """

    media_type: str
    etag: str
    last_modified: datetime | None
    size: int
    immutable: bool
    inputs: str  # the page's key: the same key, the same bytes
    encoding: str | None
    stored_size: int | None

    def file(self, path: str) -> str:
        """Return the file that holds the page at URL path `path`, relative to the build directory."""
        return stored_file(path, {"encoding": self.encoding})

    def entry(self) -> dict[str, Any]:
        """Return the page's entry in the manifest."""
        entry = {
            "type": self.media_type,
            "etag": self.etag,
            "last_modified": _time(self.last_modified),
            "size": self.size,
            "immutable": self.immutable,
            "inputs": self.inputs,
        }
        if self.encoding is not None:
            entry |= {"gzip_etag": self.etag[:-1] + '-gz"', "encoding": self.encoding, "stored_size": self.stored_size}
        return entry


def stored_file(path: str, entry: object) -> str:
    """Return the file a manifest's entry for the archive page at `path` names: `path`, with `.gz` when gzip."""
    return path + GZIP_SUFFIX if isinstance(entry, dict) and entry.get("encoding") == GZIP else path


def archive_files(listed: Mapping[str, Any]) -> dict[str, ArchiveFile]:
    """Return the archive pages a manifest's `archives` lists.

    Raises:
        BuildError: a path that is not an archive page's, or an encoding other than gzip.
        KeyError, TypeError, ValueError: a field missing or of the wrong type.
    """
    pages: dict[str, ArchiveFile] = {}
    for path, entry in listed.items():
        if parse_archive_path(path) is None:
            raise BuildError(f"archive page {path!r} is not an archive page's path")
        encoding = entry.get("encoding")
        if encoding not in (None, GZIP):
            raise BuildError(f"archive page {path!r}: encoding {encoding!r} (expected gzip, or none: plain)")
        modified = entry.get("last_modified")
        stored = entry.get("stored_size")
        pages[path] = ArchiveFile(
            media_type=str(entry["type"]),
            etag=str(entry["etag"]),
            last_modified=None if modified is None else datetime.fromisoformat(modified),
            size=int(entry["size"]),
            immutable=entry.get("immutable") is True,
            inputs=str(entry.get("inputs") or ""),
            encoding=encoding,
            stored_size=None if stored is None else int(stored),
        )
    return pages


def write_archives(
    archives: Archives, out: Path, known: Mapping[str, ArchiveFile], *, trusted: bool = True
) -> tuple[dict[str, ArchiveFile], int]:
    """Write every archive page whose key is not the one `known` lists for it; return all pages and how many changed.

    `known` is what was written last (by this builder, or the manifest an earlier one
    left: then not `trusted`, and a page is only skipped if its file is still there).
    A complete page is made once and, while its entries stay, never again. A page an
    older build stored plain, of the same key, is compressed from its file, not made again.

    Raises:
        OSError: a page could not be written (the pages before it may have been).
    """
    pages: dict[str, ArchiveFile] = {}
    written = 0
    # zlib and the disk let go of the GIL: a page is compressed and written in a thread of
    # its own while the next one is made in this one. A few pages wait at most.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedsvc-archive-store") as storing:
        queued: deque[tuple[ArchivePage, Document, Future[tuple[bool, int]]]] = deque()
        for page in archives.pages():
            before = known.get(page.path)
            if before is not None and before.inputs != page.key:
                before = None  # made of other entries now
            if before is not None and before.encoding == GZIP and (trusted or (out / before.file(page.path)).is_file()):
                pages[page.path] = before
                continue
            document = None if before is None else _plain_page(out, page.path, before)
            if document is None:
                document = archives.render(page)
            queued.append((page, document, storing.submit(_store, out / (page.path + GZIP_SUFFIX), document)))
            while len(queued) > STORE_QUEUE or (queued and queued[0][2].done()):
                written += _stored(queued.popleft(), pages)
        while queued:
            written += _stored(queued.popleft(), pages)
    return pages, written


def _store(path: Path, document: Document) -> tuple[bool, int]:
    """Write a page's gzip form to `path`; return whether the file changed, and its size."""
    stored = document.gzip_body
    return write_atomically(path, stored), len(stored)


def _stored(queued: tuple[ArchivePage, Document, Future[tuple[bool, int]]], pages: dict[str, ArchiveFile]) -> int:
    """Wait for a page to be written (raising what writing it raised); list it in `pages`; return 1 if it changed."""
    page, document, future = queued
    changed, stored_size = future.result()
    pages[page.path] = ArchiveFile(
        document.media_type,
        document.etag,
        document.last_modified,
        len(document.body),
        document.immutable,
        page.key,
        GZIP,
        stored_size,
    )
    return int(changed)


def _plain_page(out: Path, path: str, before: ArchiveFile) -> Document | None:
    """Return a page an older build stored plain, if its file still holds the bytes its manifest names."""
    if before.encoding is not None:
        return None
    try:
        body = file_in_build(out, path).read_bytes()
    except (OSError, BuildError):
        return None
    document = make_document(body, before.media_type, before.last_modified, immutable=before.immutable)
    return document if document.etag == before.etag else None


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
    """The archive pages of a build directory, read when first asked for (they are too many to hold).

    Only the pages the manifest lists are read, each from the file its entry names; a
    stored gzip page is decompressed (bounded) and checked against its ETag, then kept,
    with its gzip form as stored (sent as it is), in a cache bounded in bytes.
    """

    def __init__(self, directory: Path, pages: Mapping[str, ArchiveFile], cache: PageCache) -> None:
        self.directory = directory
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
            stored = file_in_build(self.directory, page.file(path)).read_bytes()
        except (OSError, BuildError):
            return None
        if page.encoding == GZIP:
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
