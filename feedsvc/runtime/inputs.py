"""What a build is made of, so that a build of the same can be known without making it again.

A build's output follows from its inputs alone: the content files (each known, as the
parse cache knows it, by its path, size and modification time), the settings, and the
code that renders (feedsvc's own files and the libraries installed beside it), until
the next held article falls due. A one-off `feedsvc build` records these in the build
directory's status; the next one, when they are the same, nothing is due and every
file the manifest lists is still there, writes nothing and reads no article: a walk of
the content directory's stamps is all it costs (at a million articles, seconds instead
of the minute that loading the index, cataloguing and checking every page take).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import feedsvc
from feedsvc.config import Settings
from feedsvc.index.scan import ContentIndex, stamp_size_mtime, walked_stamps

_MODULUS = 1 << 128


def content_digest(stamps: Iterable[tuple[str, int, int]]) -> str:
    """Return a digest of content files by (source, size, mtime_ns), in any order: the same set, the same digest.

    A sum of each file's own hash, so that the index (in its order) and a walk (in
    its) give the same digest without sorting a million paths.
    """
    total = count = 0
    for source, size, mtime_ns in stamps:
        key = f"{size}:{mtime_ns}:".encode() + source.encode("utf-8", "surrogatepass")
        total += int.from_bytes(hashlib.blake2b(key, digest_size=16).digest(), "big")
        count += 1
    return f"{count}:{total % _MODULUS:032x}"


def index_digest(index: ContentIndex) -> str:
    """Return the content digest of the files an index was made from."""
    return content_digest((source, *stamp_size_mtime(entry.stamp)) for source, entry in index.entries.items())


def walked_digest(settings: Settings) -> str:
    """Return the content digest of the article files in the content directory now (a walk, no file read).

    Raises:
        OSError: the content directory cannot be listed.
    """
    return content_digest(walked_stamps(settings.content_dir, extensions=settings.extensions, hidden=settings.hidden))


@functools.cache
def code_identity() -> str:
    """Return a digest of the code that renders: each file of feedsvc's package, each installed library's version."""
    digest = hashlib.sha256()
    package = Path(feedsvc.__file__).parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode("utf-8", "surrogatepass") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    libraries = sorted(
        f"{dist.metadata['Name']}=={dist.version}" for dist in importlib.metadata.distributions() if dist.metadata
    )
    digest.update("\n".join(libraries).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@dataclass(frozen=True)
class BuildInputs:
    """What a build was made of: its content digest, its settings and code, and when its next held article is due."""

    content: str
    settings: str
    due: datetime | None

    @property
    def files(self) -> int:
        """Return how many content files the build was made of (what `content_digest` counted)."""
        return int(self.content.partition(":")[0])

    def record(self) -> dict[str, Any]:
        """Return the inputs as the build's status records them."""
        return {
            "content": self.content,
            "settings": self.settings,
            "due": None if self.due is None else self.due.isoformat(),
        }

    @classmethod
    def recorded(cls, record: object) -> BuildInputs | None:
        """Return the inputs a status recorded, or None when it records none (or not in this form)."""
        if not isinstance(record, Mapping):
            return None
        content, settings, due = record.get("content"), record.get("settings"), record.get("due")
        if not isinstance(content, str) or not isinstance(settings, str) or not isinstance(due, str | None):
            return None
        try:
            return cls(content, settings, None if due is None else datetime.fromisoformat(due))
        except ValueError:
            return None


def build_inputs(settings: Settings, index: ContentIndex, due: datetime | None) -> BuildInputs:
    """Return the inputs of a build made from `index` with `settings` by this code."""
    return BuildInputs(index_digest(index), _settings_and_code(settings), due)


def _settings_and_code(settings: Settings) -> str:
    """Return a digest of every setting (those that change no parse too: how pages are stored) and the code."""
    every = tuple((one.name, getattr(settings, one.name)) for one in dataclasses.fields(settings) if one.compare)
    text = f"{every!r}|{code_identity()}"
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()


def _all_there(out: Path, files: Collection[str]) -> bool:
    """Tell whether every file is in `out`: each folder listed once (a million articles' build: 230,000 files)."""
    by_folder: dict[str, list[str]] = {}
    for name in files:
        folder, _, base = name.rpartition("/")
        by_folder.setdefault(folder, []).append(base)
    for folder, names in by_folder.items():
        try:
            with os.scandir(out / folder) as listing:
                there = {entry.name for entry in listing if entry.is_file()}
        except OSError:
            return False
        if not there.issuperset(names):
            return False
    return True


def unchanged_since(
    recorded: BuildInputs, settings: Settings, now: datetime, out: Path, files: Collection[str]
) -> bool:
    """Tell whether a build of the content now would be the build `recorded` describes, still whole in `out`.

    The cheap checks first (settings and code, a held article due, the built files
    there); the walk of the content directory last.
    """
    if recorded.settings != _settings_and_code(settings):
        return False
    if recorded.due is not None and now >= recorded.due:
        return False
    if not _all_there(out, files):
        return False
    try:
        return recorded.content == walked_digest(settings)
    except OSError:  # the content directory cannot be listed: a build says why
        return False
