"""The incremental index of the content directory; the only module that reads it.

A scan stats article files and re-reads only those whose size, modification
time, inode or change time differ from the previous scan, and forgets deleted
ones. A full scan walks the whole directory; a targeted scan looks only at the
paths that filesystem events named. Large batches of files are read and parsed
in worker processes. Nothing outside the content directory is opened.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import os
import stat
import struct
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, MutableMapping
from concurrent.futures import BrokenExecutor, Executor, Future
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import NamedTuple

from feedsvc.index.entries import Changes
from feedsvc.model import Article, Problem

log = logging.getLogger("feedsvc.scan")

# A file or folder whose name starts with one of these is hidden: never read (Hexo hides `_` too).
HIDDEN = (".",)
# What an article file's name ends with, unless content.extensions says otherwise (lower case).
EXTENSIONS = (".md", ".markdown", ".txt")
MAX_DEPTH = 64
# A batch of changed files at least this large is parsed in worker processes, in chunks
# (below it, starting the workers costs about what they save: measured on 2 cores).
PARALLEL_MIN_FILES = 2000
CHUNK_FILES = 256
IN_FLIGHT_CHUNKS = 8
# Bodies of re-read files are kept for this refresh's render only when there are this few:
# a cold scan of 100,000 files must not hold 100,000 bodies.
MAX_KEPT_BODIES = 1000
# Files larger than this are not read ahead (a stray video would fill the page cache for nothing).
PREFETCH_MAX_BYTES = 1 << 20

ParseResult = tuple[Article | Problem, str]
Parse = Callable[[bytes, str, float], ParseResult]
# A file to read as a worker gets it: source, path, size and mtime (size -1: not stat'ed by the walk).
_Item = tuple[str, str, int, float]
Progress = Callable[[int, int | None], None]  # (files parsed, files to parse: None while the walk goes on)


# A stamp tells a changed file from an unchanged one without reading it: size, modification
# time, inode and change time, packed in 32 bytes (one small object per file, not five).
# A stamp from the persistent cache has no inode or change time (zeros): it matches a file
# of the same size and modification time.
_STAMP = struct.Struct("<qqQq")
_NO_IDENTITY = bytes(16)
Stamp = bytes
# A file read and parsed, its body (when asked for) and its stamp (when the walk did not stat it).
_Read = tuple[Article | Problem, str, Stamp | None]
_BITS = 1 << 64
_HALF = 1 << 63


def _signed64(value: int) -> int:
    """Return `value` wrapped into a signed 64-bit number (itself when it fits).

    A stat value need not fit: a modification time after 2262 or before 1677 is more
    nanoseconds than 64 bits hold (ext4 goes to 2446, tmpfs and a bad clock further).
    Wrapped, it still tells a change (two times 584 years apart look alike, nothing
    else), and it fits the cache's INTEGER column, which is signed 64-bit too.
    """
    return value if -_HALF <= value < _HALF else (value + _HALF) % _BITS - _HALF


def stamp_of(info: os.stat_result) -> Stamp:
    """Return the stamp of a file from its stat; any stat value gives one."""
    try:  # every value fits, as on all but a broken clock or file system: a walk stamps every file
        return _STAMP.pack(info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)
    except struct.error:
        return _STAMP.pack(
            _signed64(int(info.st_size)),
            _signed64(int(info.st_mtime_ns)),
            int(info.st_ino) % _BITS,
            _signed64(int(info.st_ctime_ns)),
        )


def cached_stamp(size: int, mtime_ns: int) -> Stamp:
    """Return the stamp of a file known only by size and modification time (any integers)."""
    return _STAMP.pack(_signed64(size), _signed64(mtime_ns), 0, 0)


# The stamp of a file a cold walk found without a stat; it matches no file's (a size of -1).
_UNSTAMPED = cached_stamp(-1, -1)


def stamp_size_mtime(stamp: Stamp) -> tuple[int, int]:
    """Return the size and modification time (ns) a stamp holds, each a signed 64-bit number."""
    size, mtime_ns, _, _ = _STAMP.unpack(stamp)
    return size, mtime_ns


def stamps_match(old: Stamp, new: Stamp) -> bool:
    """Tell whether a file stamped `new` is unchanged since it was stamped `old`."""
    if old[16:] == _NO_IDENTITY or new[16:] == _NO_IDENTITY:
        return old[:16] == new[:16]
    return old == new


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """One article file: its stamp, what it parsed to, and its last good article.

    `path` is the file to open when it is not the content directory joined with
    the source: the target of a link, or a name that is not valid UTF-8.
    """

    stamp: Stamp
    result: Article | Problem
    last_good: Article | None = None
    path: str | None = None

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
    """Every article file by its path relative to the content directory (POSIX form).

    `has_links` says the last full walk met a symbolic link: filesystem events
    report a link's target, not the link, so such a directory is always walked whole.
    `folders` are the folders walked (paths without a final /), `problem_sources`
    the files that have a problem now: kept up to date by each scan, so that a
    refresh that touched one file costs nothing per file of the other 100,000.
    """

    entries: Mapping[str, IndexedFile]
    folder_problems: tuple[Problem, ...] = ()
    has_links: bool = False
    folders: frozenset[str] = frozenset()
    problem_sources: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.problem_sources is None:
            found = frozenset(s for s, e in self.entries.items() if e.problem is not None)
            object.__setattr__(self, "problem_sources", found)

    def articles(self) -> Iterator[Article]:
        """Yield the article of every file that has one (current or last good), by path."""
        for source in sorted(self.entries):
            article = self.entries[source].article
            if article is not None:
                yield article

    def problems(self) -> tuple[Problem, ...]:
        """Return every problem, files and folders, ordered by path."""
        found = [self.entries[s].problem for s in self.problem_sources or ()]
        return tuple(sorted([p for p in found if p is not None] + list(self.folder_problems), key=lambda p: p.source))


EMPTY_INDEX = ContentIndex(entries={})


class StopFlag:
    """Asks a scan to stop at the next file, in this process and in the worker processes parsing for it.

    Setting it is safe in a signal handler: it sets an event and writes flags in memory
    shared with the workers, taking no lock the interrupted thread might hold.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._shared: list[ctypes.c_bool] = []

    def set(self) -> None:
        """Stop every scan that watches this flag, at its next file."""
        for flag in list(self._shared):
            flag.value = True
        self._event.set()

    def is_set(self) -> bool:
        """Tell whether a stop was asked for."""
        return self._event.is_set()

    def share(self, context: BaseContext) -> ctypes.c_bool:
        """Return a flag in shared memory for worker processes of `context`, set along with this one."""
        flag = context.RawValue(ctypes.c_bool, False)
        self._shared.append(flag)
        if self.is_set():  # set meanwhile
            flag.value = True
        return flag

    def unshare(self, flag: ctypes.c_bool) -> None:
        """Forget a shared flag whose worker processes have ended."""
        self._shared.remove(flag)


# In a worker process: the flag its parent sets to stop it at the next file (see watch_stop).
_WORKER_STOP: list[ctypes.c_bool] = []


def watch_stop(flag: ctypes.c_bool) -> None:
    """Start a worker process that reads and parses no further file once `flag` is set."""
    _WORKER_STOP[:] = [flag]


@dataclass(frozen=True, slots=True)
class ScanResult:
    """A new index and what the scan did to get it.

    `bodies` holds the Markdown bodies of re-read articles, for this refresh's
    render only, and only when few files were re-read.
    """

    index: ContentIndex
    files_seen: int
    reread: tuple[str, ...]
    failed: int
    removed: tuple[str, ...] = ()
    full: bool = True
    bodies: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None  # the content directory itself could not be read
    # Stopped on the way (the service is stopping): `index` holds only the files parsed so far.
    stopped: bool = False


class _Found(NamedTuple):
    """An article file a walk found (a tuple: 100,000 of them are made on every full walk)."""

    source: str
    # What to open when it is not root joined with the source: the resolved target of a
    # link, or a name that is not valid UTF-8. None otherwise: 100,000 found files then
    # hold no second path string each.
    path: str | None
    stamp: Stamp
    size: int
    mtime: float

    @classmethod
    def of(cls, source: str, path: str, info: os.stat_result, root_prefix: str) -> _Found:
        """The file at `path`, known as `source`; `root_prefix` is the root with a final separator."""
        own = None if path == root_prefix + source else path
        return cls(source, own, stamp_of(info), info.st_size, info.st_mtime)

    @classmethod
    def unstamped(cls, source: str, path: str, root_prefix: str) -> _Found:
        """The file at `path`, not stat'ed: its reader stamps it (size -1: unknown until then)."""
        own = None if path == root_prefix + source else path
        return cls(source, own, _UNSTAMPED, -1, 0.0)


@dataclass(slots=True)
class _Walk:
    """What a walk met besides article files: folders, unreadable ones, and whether it saw a link."""

    problems: list[Problem] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    links: bool = False


def is_article_name(name: str, extensions: tuple[str, ...] = EXTENSIONS, hidden: tuple[str, ...] = HIDDEN) -> bool:
    """Tell whether a file name is an article: one of the extensions (any case), not hidden, not an editor leftover.

    Leftovers (`x.md~`, `.x.md.swp`, `#x.md#`) are never articles, whatever the
    extensions; a name that only starts with `#` (`#1 news.md`) is an article.
    Hidden names start with one of `hidden` (`.`; in a Hexo site `_` too).
    """
    if name.startswith(hidden) or name.endswith("~") or (len(name) > 1 and name[0] == name[-1] == "#"):
        return False
    lowered = name.lower()
    return lowered.endswith(extensions) and not lowered.endswith(".swp")


def no_article_message(root: Path | str, extensions: tuple[str, ...] = EXTENSIONS) -> str:
    """Say that a content directory holds no article file, naming the extensions looked for."""
    looked_for = ", ".join("*" + extension for extension in extensions)
    return f"content directory {root} holds no article file (looked for {looked_for})"


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


def _walk(
    root: str,
    walk: _Walk,
    start: str = "",
    prefix: str = "",
    extensions: tuple[str, ...] = EXTENSIONS,
    *,
    hidden: tuple[str, ...] = HIDDEN,
    stamped: bool = True,
) -> Iterator[_Found]:
    """Yield every article file under `start` (default: `root`), following links that stay inside root.

    With `stamped` false (a cold scan: no stamp to compare with), an article file is known
    for a regular file by the type its folder's listing gives, without a stat: the reader
    stamps it from the descriptor it reads. A million stat calls (about 16 s of the walking
    thread, beside the workers) are left out.

    Yielded one by one, so that 100,000 unchanged files are compared and let go, not
    held in a list. A path crosses at most one link to a folder: folders that link to
    each other would otherwise multiply the paths without end (n folders, n! paths);
    loops are not followed. Folder problems and links met are noted in `walk`.

    Raises:
        OSError: `start` itself cannot be listed (on the first step).
    """
    real_root = os.path.realpath(root)
    root_prefix = os.path.join(root, "")
    first = start or root
    # (folder to list, its path relative to root, the real paths of it and its ancestors,
    # whether the path to it crossed a link to a folder)
    stack: list[tuple[str, str, frozenset[str], bool]] = [(first, prefix, frozenset({os.path.realpath(first)}), False)]
    while stack:
        directory, folder, ancestors, via_link = stack.pop()
        try:
            with os.scandir(directory) as listing:
                children = sorted(listing, key=lambda e: e.name, reverse=True)
        except OSError as error:
            if directory == first:
                raise
            reason = f"folder: cannot be read: {error.strerror or error} (expected a readable folder)"
            walk.problems.append(Problem(folder, reason))
            walk.unreadable.append(folder)
            continue
        for child in children:
            name = child.name
            if name.startswith(hidden):
                continue
            source = folder + _source_name(name)
            article = is_article_name(name, extensions, hidden)
            try:
                is_link = child.is_symlink()
                if is_link:
                    walk.links = True
                    target = os.path.realpath(child.path)
                    if not _inside(target, real_root):
                        continue
                    info = os.stat(target)
                    path = target
                elif not article and not child.is_dir(follow_symlinks=False):
                    continue  # no article, no folder: not even a stat
                elif not stamped and article and child.is_file(follow_symlinks=False):
                    yield _Found.unstamped(source, child.path, root_prefix)
                    continue
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
                walk.folders.append(source)
            elif article and stat.S_ISREG(info.st_mode):
                yield _Found.of(source, path, info, root_prefix)


def walked_stamps(
    root: Path, *, extensions: tuple[str, ...] = EXTENSIONS, hidden: tuple[str, ...] = HIDDEN
) -> Iterator[tuple[str, int, int]]:
    """Yield the source, size and modification time (ns) of every article file a full scan's walk finds; none is read.

    Raises:
        OSError: `root` cannot be listed.
    """
    for found in _walk(str(root), _Walk(), extensions=extensions, hidden=hidden):
        size, mtime_ns = stamp_size_mtime(found.stamp)
        yield found.source, size, mtime_ns


def _open_flags() -> int:
    return os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _read(source: str, path: str, max_bytes: int) -> bytes | Problem:
    """Read a file of at most `max_bytes` without following a link swapped in meanwhile."""
    return _read_stat(source, path, max_bytes)[0]


def _read_stat(source: str, path: str, max_bytes: int) -> tuple[bytes | Problem, os.stat_result | None]:
    """Read a file as `_read` does; return with it the stat of the file read (None when it could not be opened)."""
    try:
        fd = os.open(path, _open_flags())
    except OSError as error:
        return Problem(source, f"file: cannot be read: {error.strerror or error} (expected a readable file)"), None
    # The descriptor itself, not a file object around it: one read call either way, without the object.
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return Problem(source, "file: is not a regular file (expected an article file)"), info
        if info.st_size > max_bytes:
            return _too_large(source, info.st_size, max_bytes), info
        # Ask for what the file holds (plus one byte, to see it grew past the limit): asking
        # for the limit itself would allocate and free megabytes for every 6 KB article.
        data = os.read(fd, min(info.st_size, max_bytes) + 1)
        while info.st_size < len(data) <= max_bytes or 0 < len(data) < info.st_size:
            # It grew since fstat, or a network or FUSE file system read short: on to its end (or the limit).
            more = os.read(fd, max_bytes + 1 - len(data))
            if not more:
                break
            data += more
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        return _too_large(source, len(data), max_bytes), info
    return data, info


def _too_large(source: str, size: int, max_bytes: int) -> Problem:
    return Problem(
        source,
        f"file: is {size:,} bytes or more, skipped (expected at most content.max_file_bytes = {max_bytes:,})",
    )


def _read_and_parse(item: _Item, parse: Parse, max_bytes: int) -> tuple[Article | Problem, str, Stamp | None]:
    source, path, size, mtime = item
    if size > max_bytes:
        return _too_large(source, size, max_bytes), "", None
    if size >= 0:  # stat'ed by the walk: its stamp and time stand
        data = _read(source, path, max_bytes)
        return (data, "", None) if isinstance(data, Problem) else (*parse(data, source, mtime), None)
    # Found without a stat: stamped here, from the descriptor read, and parsed with its time.
    data, info = _read_stat(source, path, max_bytes)
    if info is None:  # it could not be opened: stamped as it stands, so that it is read again once it changes
        with contextlib.suppress(OSError):
            info = os.stat(path, follow_symlinks=False)
    stamp = stamp_of(info) if info is not None else None
    if isinstance(data, Problem):
        return data, "", stamp
    return (*parse(data, source, info.st_mtime if info is not None else mtime), stamp)


def read_and_parse_chunk(items: list[_Item], parse: Parse, max_bytes: int, keep_bodies: bool) -> list[_Read]:
    """Read and parse a chunk of files (in a worker process); bodies come back only if asked for.

    Each result comes with the stamp of the file read when the walk did not stat it (None otherwise).
    A worker process whose stop flag is set returns the files parsed so far: fewer than asked.
    """
    if len(items) > 1:
        _prefetch(items)
    results: list[_Read] = []
    for item in items:
        if _WORKER_STOP and _WORKER_STOP[0].value:
            break
        result, body, stamp = _read_and_parse(item, parse, max_bytes)
        results.append((result, body if keep_bodies else "", stamp))
    return results


def _prefetch(items: list[_Item]) -> None:
    """Ask the kernel to read a chunk's files ahead, so that their reads from disk overlap the parsing.

    A cold start of a million files (7.7 GB) that are not all in the page cache otherwise
    waits on the disk file by file: a third of the time, on a machine whose kernel evicts
    pages it deems cold. With the files cached, this costs an open and a close a file.
    """
    advise = getattr(os, "posix_fadvise", None)
    if advise is None:
        return
    for _, path, size, _ in items:
        if size > PREFETCH_MAX_BYTES:
            continue
        try:
            fd = os.open(path, _open_flags())
        except OSError:
            continue  # its read says why
        try:
            with contextlib.suppress(OSError):  # only advice: its read works without it
                if size >= 0 or os.fstat(fd).st_size <= PREFETCH_MAX_BYTES:
                    advise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(fd)


def read_source(root: Path, source: str, entry: IndexedFile, max_bytes: int) -> bytes | None:
    """Read an indexed file again (for its body), refusing anything that now resolves outside root."""
    path = entry.path or os.path.join(root, source)
    real_root = os.path.realpath(root)
    if not _inside(os.path.realpath(path), real_root):
        return None
    data = _read(source, path, max_bytes)
    return None if isinstance(data, Problem) else data


def _is_empty(folder: Path) -> bool:
    with os.scandir(folder) as listing:
        return next(listing, None) is None


@dataclass(slots=True)
class _Targets:
    """What the paths named by events turned out to be."""

    found: list[_Found] = field(default_factory=list)
    files: set[str] = field(default_factory=set)  # sources to look at exactly (found now, or gone)
    folders: set[str] = field(default_factory=set)  # folders walked again, or gone: everything inside


def _candidates(
    root: Path,
    previous: ContentIndex,
    changed: Collection[str],
    walk: _Walk,
    extensions: tuple[str, ...] = EXTENSIONS,
    *,
    hidden: tuple[str, ...] = HIDDEN,
) -> _Targets | None:
    """Look at the paths events named: files stat'ed, folders walked.

    Returns what was found and what each named path was, or None when a full walk
    is needed instead (a link appeared).
    """
    targets = _Targets()
    named = {tuple(p for p in relative.split("/") if p and p != ".") for relative in changed}
    # Sorted as parts, a folder comes before every path inside it.
    for parts in sorted(named):
        if not parts or ".." in parts or any(p.startswith(hidden) for p in parts):
            continue
        source = "/".join(_source_name(p) for p in parts)
        if _under(source, targets.folders):
            # Already looked at, inside a folder named before it: inotify names a new folder and
            # each file in it. Looked at twice, a file would be read and handed on twice.
            continue
        path = os.path.join(root, *parts)
        try:
            info = os.lstat(path)
        except OSError:  # gone: a file, or a whole folder
            (targets.folders if source in previous.folders else targets.files).add(source)
            continue
        if stat.S_ISLNK(info.st_mode):
            return None
        if stat.S_ISDIR(info.st_mode):
            targets.folders.add(source)
            targets.found.extend(_walk(str(root), walk, path, source + "/", extensions, hidden=hidden))
            walk.folders.append(source)
            if walk.links:
                return None
        else:
            targets.files.add(source)
            if stat.S_ISREG(info.st_mode) and is_article_name(parts[-1], extensions, hidden):
                targets.found.append(_Found.of(source, path, info, os.path.join(root, "")))
    return targets


def _under(source: str, covered: set[str]) -> bool:
    """Tell whether a source is one of the covered paths or inside one of them."""
    if source in covered:
        return True
    cut = source.rfind("/")
    while cut > 0:
        if source[:cut] in covered:
            return True
        cut = source.rfind("/", 0, cut)
    return False


def scan_content(
    root: Path,
    previous: ContentIndex,
    parse: Parse,
    *,
    max_bytes: int,
    changed: Collection[str] | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    stop: StopFlag | None = None,
    extensions: tuple[str, ...] = EXTENSIONS,
    hidden: tuple[str, ...] = HIDDEN,
) -> ScanResult:
    """Bring the index up to date with the content directory, re-reading only changed files.

    With `changed` (paths relative to root, from filesystem events) only those
    paths are looked at; without it, or when the index has links, the whole
    directory is walked. When the directory itself cannot be read, the previous
    index is returned with `error` set, so the last good feeds keep serving. So
    it is when a directory that held articles is now completely empty: that is
    what an unmounted volume looks like, far more often than a publisher
    deleting every article at once.

    Article files are those whose names end in one of `extensions` (lower case); files
    and folders whose names start with one of `hidden` are never looked at.
    When `stop` is set, the scan ends at the next file (or chunk of files in worker
    processes) with `stopped` set: its index then holds the files parsed so far.
    """
    full = changed is None or previous.has_links
    walk = _Walk()
    targets = _Targets()
    entries: MutableMapping[str, IndexedFile] = {}
    dropped: list[str] = []
    cut = _Cut()
    try:
        if not root.is_dir():
            raise FileNotFoundError("missing or not a directory")
        targeted = None if full else _candidates(root, previous, changed or (), walk, extensions, hidden=hidden)
        if targeted is None:
            full = True
            walk = _Walk()
            # A first scan has no stamp to compare with: the files are stamped as they are read.
            stamped = bool(previous.entries)
            found: Iterable[_Found] = _walk(str(root), walk, extensions=extensions, hidden=hidden, stamped=stamped)
        else:
            targets = targeted
            found = targets.found
            # Keep what the events did not touch; drop what they touched, to be re-added if still there.
            # A layer of changes over the last index's entries: not a copy of every one of them.
            entries = Changes(previous.entries)
            dropped = [source for source in targets.files if entries.pop(source, None) is not None]
            if targets.folders:  # rare (a folder made, moved or deleted): look through every path
                prefixes = tuple(folder + "/" for folder in targets.folders)
                inside = [source for source in entries if source.startswith(prefixes)]
                for source in inside:
                    del entries[source]
                dropped += inside
        pending = _changed(found, previous, entries, stop, cut)
        # The first files to read, before any is read: when the walk ends within them, it is
        # known how many there are (a few: parsed here, bodies kept); otherwise the rest are
        # handed to the workers as the walk finds them, and never all held at once.
        head = list(itertools.islice(pending, PARALLEL_MIN_FILES))
        if cut.short:
            return ScanResult(previous, files_seen=0, reread=(), failed=0, full=full, stopped=True)
        if full and not head and not entries and previous.entries and _is_empty(root):
            raise FileNotFoundError("empty, as when its volume is not mounted")
    except OSError as error:
        reason = error.strerror or str(error)
        message = f"content directory {root}: {reason}"
        return ScanResult(previous, files_seen=0, reread=(), failed=0, error=message)

    walked = len(head) < PARALLEL_MIN_FILES  # the walk has ended: every file to read is in `head`
    keep_bodies = walked and len(head) <= MAX_KEPT_BODIES
    results = _parse_all(
        head if walked else itertools.chain(iter(head), pending),  # an iterator: `head` goes once read
        str(root),
        parse,
        max_bytes=max_bytes,
        executor=executor,
        keep_bodies=keep_bodies,
        progress=progress,
        stop=stop,
        cut=cut,
        total=len(head) if walked else None,
    )
    del head
    bodies: dict[str, str] = {}
    failed = 0
    reread: list[str] = []
    for item, old, (result, body, read_stamp) in results:
        last_good = result if isinstance(result, Article) else (old.article if old is not None else None)
        if isinstance(result, Problem):
            failed += 1
        elif keep_bodies:
            bodies[item.source] = body
        # Keyed by the result's own source string (a parsed copy, from a worker): one string per file.
        # The stamp is copied too: what a walk made is then all let go together, and the memory
        # it took goes back whole instead of staying pinned by one small object per file.
        stamp = read_stamp if read_stamp is not None else bytes(memoryview(item.stamp))
        entries[result.source] = IndexedFile(stamp=stamp, result=result, last_good=last_good, path=item.path)
        reread.append(result.source)
    if cut.short:
        # Stopped while reading (or walking, with workers): the index holds the files parsed until then.
        return ScanResult(
            ContentIndex(_settled(entries)), files_seen=len(entries), reread=tuple(reread), failed=failed, stopped=True
        )
    if walk.unreadable:
        # Files under a folder that could not be listed this time are kept as they were.
        prefixes = tuple(walk.unreadable)
        for source, entry in previous.entries.items():
            if source not in entries and source.startswith(prefixes):
                entries[source] = entry
    if full:
        removed = tuple(sorted(s for s in previous.entries if s not in entries))
        folder_problems = tuple(walk.problems)
        index = ContentIndex(entries, folder_problems, walk.links, frozenset(walk.folders))
    else:
        removed = tuple(sorted(s for s in dropped if s not in entries))
        touched = set(dropped) | {item.source for item in targets.found}
        kept = [p for p in previous.folder_problems if not _under(p.source.rstrip("/"), targets.folders)]
        gone = {f for f in previous.folders if _under(f, targets.folders)}
        folders = (previous.folders - gone) | frozenset(walk.folders)
        problem_sources = (previous.problem_sources or frozenset()) - touched
        problem_sources |= {s for s in touched if s in entries and entries[s].problem is not None}
        index = ContentIndex(
            _settled(entries), tuple(kept + walk.problems), previous.has_links, folders, problem_sources
        )
    return ScanResult(
        index,
        files_seen=len(entries),
        reread=tuple(reread),
        failed=failed,
        removed=removed,
        full=full,
        bodies=bodies,
    )


def _settled(entries: MutableMapping[str, IndexedFile]) -> Mapping[str, IndexedFile]:
    """Return a scan's entries as its index holds them (a targeted scan's: layered over the last index's)."""
    return entries.settled() if isinstance(entries, Changes) else entries


@dataclass(slots=True)
class _Cut:
    """Whether a scan was stopped before it had walked and read everything."""

    short: bool = False


_ToRead = tuple[_Found, IndexedFile | None]  # a file to read, and what the last index held for it
_Parsed = tuple[_Found, IndexedFile | None, _Read]


def _changed(
    found: Iterable[_Found],
    previous: ContentIndex,
    entries: MutableMapping[str, IndexedFile],
    stop: StopFlag | None,
    cut: _Cut,
) -> Iterator[_ToRead]:
    """Yield the files found that changed since `previous`; put the others in `entries` as they were."""
    for item in found:
        if stop is not None and stop.is_set():
            cut.short = True
            return
        old = previous.entries.get(item.source)
        if old is not None and stamps_match(old.stamp, item.stamp):
            # Kept as it is, a stamp from the cache too (size and time still tell a change):
            # a restart makes no new entry for 100,000 unchanged files. Keyed by the article's
            # own source string: one string per file, not two.
            entries[old.result.source] = old
            continue
        yield item, old


def _chunks(to_read: Iterable[_ToRead], counted: list[int]) -> Iterator[list[_ToRead]]:
    """The files to read in lists of CHUNK_FILES, made as they are needed; `counted` gets their number at the end."""
    chunk: list[_ToRead] = []
    count = 0
    for pair in to_read:
        chunk.append(pair)
        count += 1
        if len(chunk) == CHUNK_FILES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
    counted.append(count)


def _items(chunk: list[_ToRead], root: str) -> list[_Item]:
    return [
        (found.source, found.path or os.path.join(root, found.source), found.size, found.mtime) for found, _ in chunk
    ]


def _parse_all(
    to_read: Iterable[_ToRead],
    root: str,
    parse: Parse,
    *,
    max_bytes: int,
    executor: Executor | None,
    keep_bodies: bool,
    progress: Progress | None,
    stop: StopFlag | None = None,
    cut: _Cut | None = None,
    total: int | None = None,
) -> Iterator[_Parsed]:
    """Read and parse every file to read, in worker processes when there are many; yield results in order.

    `to_read` may still be coming from a walk (`total` None: many files, and how many is known
    only when the walk ends): workers read the first files while the walk goes on, and each
    file found is let go once its result is handed on. Results are handed on chunk by chunk,
    so that the caller can keep what it needs and let the rest go: a cold scan never holds
    two copies of the whole index. Progress gives the number of files once the walk has ended.
    When `stop` is set, no further file is read (worker processes that share it stop too, at
    their next file): the files parsed until then are handed on, in order, the rest dropped,
    and `cut` tells it.
    """
    counted: list[int] = [] if total is None else [total]
    upcoming = _chunks(to_read, counted)
    unfinished: deque[list[_ToRead]] = deque()  # handed to workers, results not taken yet
    done = 0
    reported: tuple[int, int | None] | None = None

    def report() -> None:
        nonlocal reported
        now = (done, counted[0] if counted else None)
        if progress is not None and now != reported:
            reported = now
            progress(*now)

    def stopped() -> bool:
        if stop is not None and stop.is_set():
            if cut is not None:
                cut.short = True
            return True
        return False

    def handed(chunk: list[_ToRead], batch: list[_Read]) -> Iterator[_Parsed]:
        for (found, old), result in zip(chunk, batch):  # noqa: B905 - a stopped worker returns fewer
            yield found, old, result

    if executor is not None and (total is None or total >= PARALLEL_MIN_FILES):
        try:
            # A few chunks in flight at a time: enough to keep every worker busy, few enough
            # that results never pile up faster than they are taken in.
            futures: deque[Future[list[_Read]]] = deque()
            while True:
                if stopped():
                    # Chunks a worker has taken end at its next file: they are handed on, in order, up to
                    # the first one cut short; chunks no worker has taken yet are dropped.
                    while futures and not futures[0].cancel():
                        batch = futures.popleft().result()
                        chunk = unfinished.popleft()
                        yield from handed(chunk, batch)
                        if len(batch) < len(chunk):
                            break
                    for future in futures:
                        future.cancel()
                    return
                while len(futures) < IN_FLIGHT_CHUNKS:
                    fresh = next(upcoming, None)
                    if fresh is None:
                        break
                    unfinished.append(fresh)
                    items = _items(fresh, root)
                    futures.append(executor.submit(read_and_parse_chunk, items, parse, max_bytes, keep_bodies))
                if not futures:
                    return
                batch = futures[0].result()
                futures.popleft()  # let go of the future, and the results it holds
                chunk = unfinished.popleft()
                if len(batch) < len(chunk):  # its worker was stopped mid-chunk
                    for future in futures:
                        future.cancel()
                    if cut is not None:
                        cut.short = True
                    yield from handed(chunk, batch)
                    return
                done += len(batch)
                report()
                yield from handed(chunk, batch)
                del chunk, batch
        except (BrokenExecutor, OSError) as error:
            # Worker processes are an optimisation: without them the same work is done here.
            log.warning("parsing in worker processes failed (%s); parsing in this process instead", error)
    for chunk in itertools.chain(unfinished, upcoming):
        if stop is not None:
            batch = []
            for item in _items(chunk, root):  # one file at a time, to stop at the next file
                if stopped():
                    yield from handed(chunk, batch)
                    return
                batch += read_and_parse_chunk([item], parse, max_bytes, keep_bodies)
        else:
            batch = read_and_parse_chunk(_items(chunk, root), parse, max_bytes, keep_bodies)
        done += len(batch)
        report()
        yield from handed(chunk, batch)
    report()  # the walk may have ended after the last chunk's report: its end is reported now
