"""Write a snapshot as static files laid out like the URLs, each replaced atomically; remove only listed files.

Beside each feed goes its HTML view (`feeds/finance.rss.html`), for a static server told to send it to browsers.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from feedsvc.errors import BuildError
from feedsvc.feeds.views import view_document, view_path
from feedsvc.model import Document, Snapshot

# `s3://bucket/site`, `https://…`: a URL where a directory was asked for.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/")


def url_instead_of_directory(value: str) -> str | None:
    """Say why `value` (a build directory as given) is a URL and not a local directory, or None when it is a path.

    Only local directories are written and served: a deploy script must not be told
    that `build --out s3://bucket/site` published when it wrote a folder named `s3:`.
    """
    if _URL.match(value) is None:
        return None
    scheme = value.split(":", 1)[0]
    return (
        f"{value} is a URL (expected a local directory: feedsvc writes and serves build directories on this"
        f" machine's file system, not {scheme}: storage)"
    )


def write_atomically(path: Path, data: bytes) -> bool:
    """Write `data` to `path` through a temporary file and a rename; skip identical files."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def write_documents(snapshot: Snapshot, out: Path, unchanged: Mapping[str, Document] | None = None) -> int:
    """Write every document of a snapshot under `out`; return how many files changed.

    A document that `unchanged` (what was written last) has with the same ETag is
    skipped without a look at the disk; others are compared with the file first.
    """
    written = 0
    known = unchanged or {}
    for relative, document in sorted(snapshot.documents.items()):
        before = known.get(relative)
        if before is not None and before.etag == document.etag:
            continue
        written += write_atomically(out / relative, document.body)
    return written


def views_of(snapshot: Snapshot) -> dict[str, str]:
    """Return the HTML views a build of the snapshot holds: each view's file, and the feed it shows.

    Every current feed has one; archive pages have none in a build (thousands, stored compressed):
    `serve` and `serve --from` make theirs when a browser asks.
    """
    return {view_path(path): path for path in sorted(snapshot.documents) if path.startswith("feeds/")}


def write_views(snapshot: Snapshot, out: Path, unchanged: Mapping[str, Document] | None = None) -> int:
    """Write the HTML view beside every feed of a snapshot; return how many files changed.

    A view is a function of its feed's bytes: a feed with the ETag it had in `unchanged`
    (what was written last) keeps the view written then, and is not read again.
    """
    written = 0
    known = unchanged or {}
    for relative, path in views_of(snapshot).items():
        document = snapshot.documents[path]
        before = known.get(path)
        if before is not None and before.etag == document.etag:
            continue
        view = view_document(path, document)
        if view is not None:
            written += write_atomically(out / relative, view.body)
    return written


def _listed_path(out: Path, relative: str) -> Path | None:
    """The file a manifest entry names under `out`, or None for a name that would leave it."""
    parts = relative.split("/")
    if not relative or any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        return None
    return out.joinpath(*parts)


def file_in_build(directory: Path, relative: str) -> Path:
    """Return the file a manifest entry names in a build directory, refusing any name that would leave it.

    Raises:
        BuildError: the name is empty, absolute, or holds `.`, `..`, a backslash or a NUL.
    """
    path = _listed_path(directory, relative)
    if path is None:
        raise BuildError(f"{directory / 'manifest.json'}: document {relative!r} is not a path inside the build")
    return path


def remove_unlisted(out: Path, before: Iterable[str], now: Collection[str]) -> int:
    """Remove the files under `out` that `before` lists and `now` does not, and folders left empty; return how many.

    `before` is what the previous manifest of this build listed: a file no manifest
    listed (one the directory held before the first build) is never removed.
    """
    removed = 0
    root = out.resolve()
    for relative in sorted(set(before) - set(now)):
        path = _listed_path(out, relative)
        # A folder replaced by a link to elsewhere since: what is there is not the build's.
        if path is None or not path.parent.resolve().is_relative_to(root):
            continue
        try:
            if path.is_file() or path.is_symlink():
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
        folder = path.parent
        while folder != out:
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break
            folder = folder.parent
    return removed
