"""A build directory: the built documents as files, and a manifest that says what they are.

`feedsvc build --out DIR` writes one (and `--watch` keeps it up to date);
`feedsvc serve --from DIR` serves one without reading any content. The
manifest (`manifest.json`) lists every document with its media type, ETag and
Last-Modified, the archive pages (stored gzip-compressed: `pages.py`), the
feeds' HTML views (`feeds/{slug}.{fmt}.html`, for static servers), the redirects,
and what content holds (articles, problems); the same content gives the same
manifest. The status (`status.json`) says when the last refresh ran and what it
did: a heartbeat, rewritten by every refresh.
Each file is replaced by an atomic rename, documents first, the manifest after
them, so a reader always finds the files a manifest names, or newer ones, which
it recognises because their ETag differs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from feedsvc.builddir.files import views_of, write_atomically, write_documents, write_views
from feedsvc.builddir.pages import ArchiveFile, BuildArchives, archive_files, stored_files
from feedsvc.builddir.storage import Directory, ObjectHeaders, Storage, name_in_build
from feedsvc.errors import BuildError
from feedsvc.feeds.archives import PageCache
from feedsvc.feeds.views import VIEW_TYPE
from feedsvc.model import Document, Problem, RefreshStats, Snapshot, make_document

MANIFEST = "manifest.json"
STATUS = "status.json"
# 2: archive pages are stored gzip-compressed (each entry says so). Builds of format 1 are still read.
MANIFEST_FORMAT = 2
READ_FORMATS = frozenset({1, 2})
# A manifest lists every archive page: about 400 bytes each, some 100 bytes an article (a million
# articles: 95 MB). A gibibyte holds ten million, more than one process serves; a larger file is no manifest.
MAX_MANIFEST_BYTES = 1024 * 1024 * 1024
# What a new filesystem already holds: a directory with only these in it counts as empty.
EMPTY_ENTRIES = frozenset({"lost+found"})
# Written into a directory given to a first build, removed once its manifest is there: a first build
# stopped before its manifest (killed, out of memory) leaves a directory a build may go on with.
CLAIM = ".feedsvc-build"
# The manifest and the status are read again by every follower: never kept by a cache in front of a bucket.
CONTROL_HEADERS = ObjectHeaders("application/json", "no-cache")


def as_storage(where: Path | Storage) -> Storage:
    """Return the storage of a build given as a local directory's path or as a storage."""
    return Directory(where) if isinstance(where, Path) else where


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def manifest_of(snapshot: Snapshot, archives: Mapping[str, ArchiveFile] | None = None) -> bytes:
    """Return the manifest of a snapshot: its documents (without bodies), archive pages, redirects, content counts.

    The same content gives the same bytes: when a refresh ran is in the status file.
    """
    data = {
        "format": MANIFEST_FORMAT,
        "max_age": snapshot.max_age,
        "documents": {
            path: {
                "type": document.media_type,
                "etag": document.etag,
                "last_modified": _time(document.last_modified),
                "size": len(document.body),
            }
            for path, document in sorted(snapshot.documents.items())
        },
        "archives": {path: page.entry() for path, page in sorted((archives or {}).items())},
        # The feeds' HTML views, for a static server to send browsers: a view is made of its feed alone.
        "views": {path: {"type": VIEW_TYPE, "of": feed} for path, feed in views_of(snapshot).items()},
        "redirects": dict(sorted(snapshot.redirects.items())),
        "permanent_redirects": sorted(snapshot.permanent_redirects),
        "links": {"hub": snapshot.hub, "feed_url": snapshot.feed_url},
        "content": {
            "articles": snapshot.articles,
            "held": snapshot.held,
            "feeds": snapshot.feed_documents,
            "problems": [[p.source, p.reason] for p in snapshot.problems],
            "degraded": snapshot.degraded,
        },
    }
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def status_of(snapshot: Snapshot, inputs: Mapping[str, Any] | None = None) -> bytes:
    """Return the status of a build: the last refresh (when, how long, what it did) and failed refreshes.

    `inputs`: what a one-off build was made of, for the next one to tell whether it may keep it.
    """
    scan = snapshot.last_refresh
    data = {
        "format": MANIFEST_FORMAT,
        "refreshes_failed": snapshot.refreshes_failed,
        "last_scan": None if scan is None else scan.report(),
        "inputs": inputs,
    }
    return json.dumps(data, indent=1).encode("utf-8") + b"\n"


def recorded_inputs(where: Path | Storage) -> Any:
    """Return the inputs the status of a build records (None when it records none, is not of this format, or unread)."""
    try:
        status = _read_json(as_storage(where), STATUS)
    except BuildError:
        return None
    return status.get("inputs") if status.get("format") == MANIFEST_FORMAT else None


def write_build(
    snapshot: Snapshot,
    out: Path | Storage,
    previous: Snapshot | None = None,
    archives: Mapping[str, ArchiveFile] | None = None,
    listed: Collection[str] | None = None,
    *,
    known: Mapping[str, str] | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> tuple[int, int]:
    """Write a snapshot's documents, then its manifest, then remove what the previous manifest listed and it has not.

    The archive pages (`write_archives`) are written before: in that order, a server that
    reads the old manifest meanwhile still finds its files. Documents with the ETag they
    had in `previous` (the snapshot written last), else in `known` (the ETags an earlier
    manifest gives), are not written again. `listed` is what the previous manifest listed
    (default: read from the one in `out`); no other file is ever removed. The status is
    rewritten by each call in a directory, and in a bucket only with a manifest that changed;
    it records `inputs`, when given (`runtime/inputs.py`).
    Returns how many files were written and removed.
    """
    storage = as_storage(out)
    before = listed_files(storage) if listed is None else listed
    unchanged = {path: d.etag for path, d in previous.documents.items()} if previous is not None else known
    written = write_documents(snapshot, storage, unchanged=unchanged)
    written += write_views(snapshot, storage, unchanged=unchanged)
    changed = storage.write(MANIFEST, manifest_of(snapshot, archives), CONTROL_HEADERS)
    written += changed
    removed = storage.remove(sorted(set(before or ()) - files_of(snapshot, archives)))
    if changed or isinstance(storage, Directory):  # each refresh's heartbeat: not counted as a change
        storage.write(STATUS, status_of(snapshot, inputs), CONTROL_HEADERS)
    return written, removed


def files_of(snapshot: Snapshot, archives: Mapping[str, ArchiveFile] | None = None) -> frozenset[str]:
    """Return the files a build of the snapshot holds, as its manifest lists them (documents and archive pages)."""
    return (
        frozenset(snapshot.documents)
        | frozenset(views_of(snapshot))
        | frozenset(name for path, page in (archives or {}).items() for name in page.files(path))
    )


def read_manifest(where: Path | Storage) -> dict[str, Any] | None:
    """Return the manifest of a build, for the readers below to share; None when there is no readable one."""
    try:
        return _read_json(as_storage(where))
    except BuildError:
        return None


def listed_files(where: Path | Storage, data: dict[str, Any] | None = None) -> frozenset[str] | None:
    """Return the files the manifest of a build lists; None when there is no manifest, or not one of feedsvc's.

    `data` is the manifest when it was read already (`read_manifest`).
    """
    try:
        return _listed(as_storage(where), data)
    except BuildError:
        return None


def _listed(storage: Storage, data: dict[str, Any] | None = None) -> frozenset[str]:
    data = _read_json(storage) if data is None else data
    documents, archives, views = data.get("documents"), data.get("archives") or {}, data.get("views") or {}
    if not isinstance(documents, dict) or not isinstance(archives, dict) or not isinstance(views, dict):
        raise BuildError(f"{storage.locate(MANIFEST)}: documents: not a mapping (expected a manifest of feedsvc build)")
    paths = (
        frozenset(str(path) for path in documents)
        | frozenset(str(path) for path in views)
        | frozenset(name for path, entry in archives.items() for name in stored_files(str(path), entry))
    )
    for path in paths:
        try:
            name_in_build(path)
        except BuildError:  # a name that would leave the build: not a manifest of ours
            raise BuildError(f"{storage.locate(MANIFEST)}: document {path!r} is not a path inside the build") from None
    return paths


def _overlaps(out: Path, other: Path) -> bool:
    return out == other or out.is_relative_to(other) or other.is_relative_to(out)


def claim_build_directory(
    out: Path,
    *,
    force: bool = False,
    keep_out: Iterable[Path] = (),
    never_inside: Iterable[Path] = (),
    seen: Callable[[dict[str, Any]], None] | None = None,
) -> frozenset[str] | None:
    """Check that a build may write to `out`; return the files its previous manifest lists (all it may ever remove).

    None: a directory that holds files of no build's, written into with `force`.

    Refused, even with `force`: the filesystem root, the home directory or a folder
    above it, a directory that overlaps one of `keep_out` (the content, the cache: a
    build directory is published whole), or one that holds one of `never_inside` (the
    config file). Without `force`, a directory that is not empty must hold a manifest
    of feedsvc's (or the CLAIM of a first build that did not finish); with it, its files
    stay (those of the same name as a built file are replaced) and none is removed.
    A directory without a manifest gets the CLAIM. `seen` is given the manifest read, if
    any (a large build's is tens of MB of JSON: read once).

    Raises:
        BuildError: the message names the directory and says why.
    """
    where = out.expanduser().resolve()
    if where.parent == where:
        raise BuildError(f"{out}: the root of the filesystem (expected a directory of the build's own)")
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError):  # no home directory known
        home = None
    if home is not None and home.is_relative_to(where):
        raise BuildError(f"{out}: the home directory or a folder above it (expected a directory of the build's own)")
    for other in keep_out:
        if _overlaps(where, other.expanduser().resolve()):
            raise BuildError(
                f"{out}: overlaps {other} (expected a directory apart from the content and the cache: "
                "a build directory is published whole)"
            )
    for other in never_inside:
        if other.expanduser().resolve().is_relative_to(where):
            raise BuildError(f"{out}: holds {other} (expected a directory apart from it: a build is published whole)")
    if where.exists() and not where.is_dir():
        raise BuildError(f"{out}: not a directory (expected a directory, or a name that is not taken yet)")
    why = "no manifest.json"
    if (where / MANIFEST).exists():
        try:
            data = _read_json(Directory(where))
            listed = _listed(Directory(where), data)
        except BuildError as error:
            why = str(error)
        else:
            if seen is not None:
                seen(data)
            return listed
    if not where.exists() or (where / CLAIM).is_file():
        _claim(out)
        return frozenset()
    try:
        entries = sorted(set(os.listdir(where)) - EMPTY_ENTRIES)
    except OSError as error:
        raise BuildError(f"{out}: cannot be read: {error.strerror or error} (expected a build directory)") from None
    if entries and not force:
        shown = ", ".join(entries[:3]) + (", …" if len(entries) > 3 else "")
        raise BuildError(
            f"{out}: not empty ({shown}) and not a build of feedsvc's ({why}) (expected an empty directory or an "
            "earlier build's; --force writes into it, replacing files of the same name and removing none)"
        )
    _claim(out)
    return None if entries else frozenset()


def _claim(out: Path) -> None:
    """Mark a directory as given to a first build (see CLAIM), creating it if need be."""
    try:
        write_atomically(out / CLAIM, b"Given to feedsvc build; its manifest.json will list the files it wrote.\n")
    except OSError as error:
        reason = error.strerror or error
        raise BuildError(f"{out}: cannot be written: {reason} (expected a directory to write to)") from None


def _read_json(storage: Storage, name: str = MANIFEST, raw: bytes | None = None) -> dict[str, Any]:
    """Read a manifest (or status) of a build: `raw` when it was fetched already.

    Raises:
        BuildError: it cannot be read, or is not one that this feedsvc wrote.
    """
    where = storage.locate(name)
    if raw is None:
        try:
            if isinstance(storage, Directory):  # never read a huge file whole
                with storage.file(name).open("rb") as handle:
                    raw = handle.read(MAX_MANIFEST_BYTES + 1)
            else:
                raw = storage.read(name)
        except OSError as error:
            raise BuildError(f"{where}: cannot be read: {error.strerror or error} (expected a build)") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise BuildError(f"{where}: larger than {MAX_MANIFEST_BYTES:,} bytes (expected a manifest)")
    try:
        data = orjson.loads(raw)  # a million articles' manifest (92 MB) in 0.7 s, json's 1.2 s
    except ValueError as error:
        raise BuildError(f"{where}: not JSON: {error} (expected a manifest written by feedsvc build)") from None
    if not isinstance(data, dict) or data.get("format") not in READ_FORMATS:
        raise BuildError(f"{where}: format is not 1 or 2 (expected a manifest written by this feedsvc)")
    return data


def manifest_archives(where: Path | Storage) -> dict[str, ArchiveFile]:
    """Return the archive pages the manifest of a build lists (none when there is no readable one)."""
    try:
        return archive_files(_read_json(as_storage(where)).get("archives") or {})
    except (BuildError, KeyError, TypeError, ValueError, AttributeError):
        return {}


def manifest_etags(where: Path | Storage, data: dict[str, Any] | None = None) -> dict[str, str] | None:
    """Return the ETag of each document the manifest of a build lists; None when there is no readable one.

    `data` is the manifest when it was read already (`read_manifest`).
    """
    try:
        listed = (_read_json(as_storage(where)) if data is None else data)["documents"]
        return {str(path): str(entry["etag"]) for path, entry in listed.items()}
    except (BuildError, KeyError, TypeError, AttributeError):
        return None


def _stats(scan: Mapping[str, Any] | None) -> RefreshStats | None:
    if scan is None:
        return None
    return RefreshStats(
        started=datetime.fromisoformat(scan["started"]),
        duration_s=float(scan["duration_s"]),
        files_seen=int(scan["files_seen"]),
        files_parsed=int(scan["files_parsed"]),
        files_failed=int(scan["files_failed"]),
        feeds_rebuilt=int(scan["feeds_rebuilt"]),
    )


def read_status(where: Path | Storage, raw: bytes | None = None) -> tuple[RefreshStats | None, int]:
    """Return what the status of a build says of the last refresh, and how many refreshes failed.

    `raw` is the status's bytes when they were fetched already. A status not written yet (it
    follows the manifest) or of an older build says nothing.

    Raises:
        BuildError: a field is missing or wrong; the message names the status.
    """
    storage = as_storage(where)
    try:
        status = _read_json(storage, STATUS, raw)
    except BuildError:  # written after the manifest: a build not yet through, or an older one
        return None, 0
    try:
        return _stats(status.get("last_scan")), int(status.get("refreshes_failed", 0))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BuildError(
            f"{storage.locate(STATUS)}: a field is missing or wrong ({type(error).__name__}: {error}) "
            "(expected a status written by feedsvc build)"
        ) from None


def read_build(
    where: Path | Storage,
    previous: Snapshot | None = None,
    manifest: bytes | None = None,
    *,
    data: dict[str, Any] | None = None,
) -> Snapshot:
    """Read a build into a snapshot, reusing the previous snapshot's unchanged documents.

    `manifest` is the manifest's bytes when they were fetched already, `data` the manifest
    when it was read already. Only documents
    whose ETag changed are read; each is checked against its ETag, so a file replaced
    after the manifest was read (a build under way) is noticed.

    Raises:
        BuildError: no readable manifest, a document missing, or a file that does not
            match the manifest yet; the message names the file.
    """
    storage = as_storage(where)
    data = _read_json(storage, MANIFEST, manifest) if data is None else data
    old: Mapping[str, Document] = previous.documents if previous is not None else {}
    documents: dict[str, Document] = {}
    try:
        listed = data["documents"]
        wanted: list[tuple[str, str, str, str | None]] = []
        for relative, entry in listed.items():
            etag, media_type = str(entry["etag"]), str(entry["type"])
            kept = old.get(relative)
            if kept is not None and kept.etag == etag and kept.media_type == media_type:
                documents[relative] = kept
                continue
            modified = entry.get("last_modified")
            wanted.append((str(relative), etag, media_type, None if modified is None else str(modified)))
        documents |= _read_documents(storage, wanted)
        archived = archive_files(data.get("archives") or {})
        shelf = previous.archives if previous is not None else None
        cache = shelf.cache if isinstance(shelf, BuildArchives) else PageCache()
        links = data.get("links") or {}
        if not isinstance(links, dict):
            raise TypeError("'links' is not a mapping")
        health = data["content"]
        if not isinstance(health, dict):
            raise TypeError("'content' is not a mapping")
        last_refresh, refreshes_failed = read_status(storage)
        return Snapshot(
            documents=documents,
            redirects={str(k): str(v) for k, v in data["redirects"].items()},
            permanent_redirects=frozenset(str(name) for name in data.get("permanent_redirects", ())),
            max_age=int(data["max_age"]),
            articles=int(health["articles"]),
            held=int(health["held"]),
            feed_documents=int(health["feeds"]),
            problems=tuple(Problem(str(s), str(r)) for s, r in health["problems"]),
            last_refresh=last_refresh,
            degraded=None if health["degraded"] is None else str(health["degraded"]),
            refreshes_failed=refreshes_failed,
            hub=None if links.get("hub") is None else str(links["hub"]),
            feed_url=str(links.get("feed_url") or ""),
            archives=BuildArchives(storage, archived, cache) if archived else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        if isinstance(error, BuildError):
            raise
        raise BuildError(
            f"{storage.locate(MANIFEST)}: a field is missing or wrong ({type(error).__name__}: {error}) "
            "(expected a manifest written by feedsvc build)"
        ) from None


def _read_documents(storage: Storage, wanted: list[tuple[str, str, str, str | None]]) -> dict[str, Document]:
    """Read the documents (path, ETag, media type, Last-Modified) a manifest lists, several at once from a bucket.

    Raises:
        BuildError: one cannot be read, or does not match its ETag.
    """

    def read(item: tuple[str, str, str, str | None]) -> tuple[str, Document]:
        relative, etag, media_type, modified = item
        where = storage.locate(relative)
        try:
            body = storage.read(relative)
        except OSError as error:
            raise BuildError(f"{where}: cannot be read: {error.strerror or error} (expected a built file)") from None
        document = make_document(body, media_type, None if modified is None else datetime.fromisoformat(modified))
        if document.etag != etag:
            raise BuildError(f"{where}: does not match the manifest's ETag (a build is being written)")
        return relative, document

    if storage.writers <= 1 or len(wanted) <= 1:
        return dict(read(item) for item in wanted)
    with ThreadPoolExecutor(max_workers=storage.writers, thread_name_prefix="feedsvc-fetch") as pool:
        return dict(pool.map(read, wanted))
