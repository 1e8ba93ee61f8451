"""The incremental index of the content directory; the only module that reads it.

A scan stats every article file, re-reads only those whose size, modification
time, inode or change time differ from the previous scan, and forgets deleted
ones. Nothing outside the content directory is opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from feedsvc.model import Article, Problem

EXTENSIONS = (".md", ".markdown")
MAX_DEPTH = 64

Parse = Callable[[bytes, str, float], "Article | Problem"]


@dataclass(frozen=True, slots=True)
class Stamp:
    """What tells a changed file from an unchanged one without reading it."""

    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> Stamp:
        return cls(info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)


@dataclass(frozen=True, slots=True)
class Entry:
    """One article file: its stamp, what it parsed to, and its last good article."""

    stamp: Stamp
    result: Article | Problem
    last_good: Article | None = None

    @property
    def article(self) -> Article | None:
        """Return the article to publish: the current one, else the last good one."""
        return self.result if isinstance(self.result, Article) else self.last_good

    @property
    def problem(self) -> Problem | None:
        """Return the file's problem, if it has one now."""
        return self.result if isinstance(self.result, Problem) else None


@dataclass(frozen=True, slots=True)
class ContentIndex:
    """Every article file by its path relative to the content directory (POSIX form)."""

    entries: Mapping[str, Entry]
    folder_problems: tuple[Problem, ...] = ()

    def articles(self) -> Iterator[Article]:
        """Yield the article of every file that has one (current or last good), by path."""
        for source in sorted(self.entries):
            article = self.entries[source].article
            if article is not None:
                yield article

    def problems(self) -> tuple[Problem, ...]:
        """Return every problem, files and folders, ordered by path."""
        found = [e.problem for e in self.entries.values() if e.problem is not None]
        return tuple(sorted([*found, *self.folder_problems], key=lambda p: p.source))


EMPTY_INDEX = ContentIndex(entries={})


@dataclass(frozen=True, slots=True)
class ScanResult:
    """A new index and what the scan did to get it."""

    index: ContentIndex
    files_seen: int
    reread: tuple[str, ...]
    failed: int
    error: str | None = None  # the content directory itself could not be read


@dataclass(frozen=True, slots=True)
class _Found:
    source: str
    path: str  # what to open: the file, or the resolved target of a link
    info: os.stat_result


def is_article_name(name: str) -> bool:
    """Tell whether a file name is an article: Markdown, not hidden, not an editor leftover."""
    if name.startswith(".") or name.endswith(("~", ".swp", ".swo", ".swx", ".tmp")):
        return False
    # Emacs auto-saves are `#name#`; a name that only starts with `#` (`#1 news.md`) is an article.
    if name.startswith("#") and name.endswith("#"):
        return False
    return name.lower().endswith(EXTENSIONS)


def _source_name(name: str) -> str:
    """Return a file name as text for a source path: bytes that are not UTF-8 are shown as `\\xNN`.

    os.scandir gives such bytes as lone surrogates, which no encoder accepts: left in, one
    badly named file would make the whole refresh raise when its path is hashed or quoted.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    return name


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _walk(root: str) -> tuple[list[_Found], list[Problem], list[str]]:
    """List every article file under `root`, following links that stay inside it, without loops.

    A path crosses at most one link to a folder: folders that link to each other
    would otherwise multiply the paths without end (n folders, n! paths).
    Returns the files, the problems of folders that could not be read, and those folders' prefixes.
    """
    real_root = os.path.realpath(root)
    found: list[_Found] = []
    problems: list[Problem] = []
    unreadable: list[str] = []
    # (folder to list, its path relative to root, the real paths of it and its ancestors,
    # whether the path to it crossed a link to a folder)
    stack: list[tuple[str, str, frozenset[str], bool]] = [(root, "", frozenset({real_root}), False)]
    while stack:
        directory, prefix, ancestors, via_link = stack.pop()
        try:
            with os.scandir(directory) as listing:
                children = sorted(listing, key=lambda e: e.name, reverse=True)
        except OSError as error:
            if not prefix:
                raise
            problems.append(
                Problem(prefix, f"folder: cannot be read: {error.strerror or error} (expected a readable folder)")
            )
            unreadable.append(prefix)
            continue
        for child in children:
            name = child.name
            if name.startswith("."):
                continue
            source = prefix + _source_name(name)
            try:
                is_link = child.is_symlink()
                if is_link:
                    target = os.path.realpath(child.path)
                    if not _inside(target, real_root):
                        continue
                    info = os.stat(target)
                    path = target
                else:
                    info = child.stat(follow_symlinks=False)
                    path = child.path
            except OSError:
                continue  # vanished, or a dangling or looping link
            if stat.S_ISDIR(info.st_mode):
                real_dir = os.path.realpath(path)
                if real_dir in ancestors or len(ancestors) > MAX_DEPTH or (is_link and via_link):
                    continue  # a loop back to an ancestor, or a second folder link on the path
                stack.append((path, source + "/", ancestors | {real_dir}, via_link or is_link))
            elif stat.S_ISREG(info.st_mode) and is_article_name(name):
                found.append(_Found(source, path, info))
    return found, problems, unreadable


def _read(found: _Found, max_bytes: int) -> bytes | Problem:
    """Read a file of at most `max_bytes` without following a link swapped in meanwhile."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(found.path, flags)
    except OSError as error:
        return Problem(found.source, f"file: cannot be read: {error.strerror or error} (expected a readable file)")
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return Problem(found.source, "file: is not a regular file (expected a Markdown file)")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        return _too_large(found.source, len(data), max_bytes)
    return data


def _too_large(source: str, size: int, max_bytes: int) -> Problem:
    return Problem(
        source,
        f"file: is {size:,} bytes or more, skipped (expected at most content.max_file_bytes = {max_bytes:,})",
    )


def _is_empty(folder: Path) -> bool:
    with os.scandir(folder) as listing:
        return next(listing, None) is None


def scan_content(root: Path, previous: ContentIndex, parse: Parse, *, max_bytes: int) -> ScanResult:
    """Bring the index up to date with the content directory, re-reading only changed files.

    When the directory itself cannot be read, the previous index is returned with
    `error` set, so the last good feeds keep serving. So it is when a directory
    that held articles is now completely empty: that is what an unmounted volume
    looks like, far more often than a publisher deleting every article at once.
    """
    try:
        if not root.is_dir():
            raise FileNotFoundError("missing or not a directory")
        found, folder_problems, unreadable = _walk(str(root))
        if not found and previous.entries and _is_empty(root):
            raise FileNotFoundError("empty, as when its volume is not mounted")
    except OSError as error:
        reason = error.strerror or str(error)
        return ScanResult(previous, files_seen=0, reread=(), failed=0, error=f"content directory {root}: {reason}")

    entries: dict[str, Entry] = {}
    reread: list[str] = []
    failed = 0
    for item in found:
        stamp = Stamp.of(item.info)
        old = previous.entries.get(item.source)
        if old is not None and old.stamp == stamp:
            entries[item.source] = old
            continue
        reread.append(item.source)
        if stamp.size > max_bytes:
            result: Article | Problem = _too_large(item.source, stamp.size, max_bytes)
        else:
            data = _read(item, max_bytes)
            result = data if isinstance(data, Problem) else parse(data, item.source, item.info.st_mtime)
        last_good = result if isinstance(result, Article) else (old.article if old is not None else None)
        if isinstance(result, Problem):
            failed += 1
        entries[item.source] = Entry(stamp=stamp, result=result, last_good=last_good)
    # Files under a folder that could not be listed this time are kept as they were.
    for source, entry in previous.entries.items():
        if source not in entries and any(source.startswith(prefix) for prefix in unreadable):
            entries[source] = entry
    index = ContentIndex(entries=entries, folder_problems=tuple(folder_problems))
    return ScanResult(index, files_seen=len(found), reread=tuple(reread), failed=failed)
