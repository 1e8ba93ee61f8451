"""Write a snapshot as static files laid out like the URLs, each replaced atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from feedsvc.model import Document, Format, Snapshot

FEED_SUFFIXES = tuple(f".{fmt.value}" for fmt in Format)


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


def remove_stale_feeds(snapshot: Snapshot, out: Path) -> int:
    """Remove the feed files under `out` that the snapshot no longer has; return how many."""
    removed = 0
    feeds_dir = out / "feeds"
    if feeds_dir.is_dir():
        for path in feeds_dir.iterdir():
            if path.suffix in FEED_SUFFIXES and f"feeds/{path.name}" not in snapshot.documents and path.is_file():
                path.unlink()
                removed += 1
    return removed


def remove_stale_archives(pages: Mapping[str, object], out: Path) -> int:
    """Remove the archive pages under `out` (feeds/*/archive/*) not in `pages`, and folders left empty."""
    removed = 0
    feeds_dir = out / "feeds"
    if not feeds_dir.is_dir():
        return 0
    for archive in sorted(feeds_dir.glob("*/archive")):
        if not archive.is_dir() or archive.is_symlink():
            continue
        for path in archive.iterdir():
            relative = f"feeds/{archive.parent.name}/archive/{path.name}"
            if path.suffix in FEED_SUFFIXES and relative not in pages and path.is_file():
                path.unlink()
                removed += 1
        for folder in (archive, archive.parent):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break
    return removed
