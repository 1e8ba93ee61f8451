"""Where a build is kept: a local directory or an S3-compatible bucket, behind one small interface.

`files`, `manifest`, `pages` and `follower` read and write a build through a
`Storage`, by names relative to the build (`feeds/all.rss`); `Directory` keeps
them as files here, `bucket.Bucket` as objects. Plain values and the standard
library only: the client library of the object store is imported by `bucket` alone.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from feedsvc.errors import BuildError
from feedsvc.worker import URL_PATTERN

BUCKET_SCHEME = "s3"
# `s3://bucket/site`, `https://…`: a URL where a directory was asked for.
# S3's rule for bucket names (3 to 63 lower-case letters, digits, dots and hyphens).
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True, slots=True)
class StorageOptions:
    """How to reach object storage, beyond what the AWS environment variables and config files say (`storage.*`)."""

    endpoint: str = ""  # empty: AWS_ENDPOINT_URL(_S3), the config file's endpoint_url, else AWS itself
    region: str = ""  # empty: AWS_REGION / AWS_DEFAULT_REGION, the config file's region
    addressing_style: str = ""  # path | virtual; empty: the config file's s3.addressing_style, else auto


@dataclass(frozen=True, slots=True)
class ObjectHeaders:
    """What a stored document is sent with by whatever serves the storage itself (a bucket's website, a CDN)."""

    media_type: str
    cache_control: str | None = None
    encoding: str | None = None  # `gzip` for a precompressed file


@dataclass(frozen=True, slots=True)
class Fetched:
    """A file read because it changed: its bytes and what tells this version from the next (`version`)."""

    version: str
    body: bytes


class Storage(Protocol):
    """A build's files, by names relative to the build (`feeds/all.rss`)."""

    @property
    def trusted(self) -> bool:
        """Whether the files a manifest lists may be taken to be there, unchanged, without a look at them."""

    @property
    def writers(self) -> int:
        """How many files are best written at once."""

    def locate(self, name: str) -> str:
        """Return where the file `name` is, for messages (a path, or an s3:// URL)."""

    def read(self, name: str) -> bytes:
        """Return the bytes of the file `name`.

        Raises:
            OSError: it cannot be read (FileNotFoundError: it is not there).
            BuildError: `name` is not a path inside the build.
        """

    def fetch(self, name: str, known: str | None) -> Fetched | None:
        """Return the file `name` unless its version is `known` (then None): one conditional read.

        Raises:
            OSError: it cannot be read (FileNotFoundError: it is not there).
        """

    def write(self, name: str, data: bytes, headers: ObjectHeaders) -> bool:
        """Write `data` as the file `name`, whole or not at all; return False when it held them already.

        Raises:
            OSError: it cannot be written.
        """

    def remove(self, names: Iterable[str]) -> int:
        """Remove the files `names` (those not there are skipped); return how many were removed.

        Raises:
            OSError: one cannot be removed.
        """


def url_scheme(value: str) -> str | None:
    """Return the scheme of `value` when it is a URL (`s3` of `s3://bucket/site`), None when it is a path."""
    return value.split(":", 1)[0].lower() if URL_PATTERN.match(value) is not None else None


def url_instead_of_location(value: str) -> str | None:
    """Say why `value` (where a build is, as given) is neither a local directory nor a bucket; None when it is one."""
    scheme = url_scheme(value)
    if scheme is None:
        return None
    if scheme == BUCKET_SCHEME:
        return bucket_url_problem(value)
    return (
        f"{value} is a URL feedsvc cannot publish to (expected a local directory, or s3://BUCKET/PREFIX for "
        f"S3-compatible object storage; not {scheme}: storage)"
    )


def bucket_url_problem(value: str) -> str | None:
    """Say why `value` is not an `s3://BUCKET[/PREFIX]` URL feedsvc uses; None when it is one."""
    bucket, _, prefix = value[len(BUCKET_SCHEME) + 3 :].partition("/")
    expected = "expected s3://BUCKET/PREFIX, such as s3://feeds/site"
    if not value.lower().startswith(f"{BUCKET_SCHEME}://") or _BUCKET_NAME.fullmatch(bucket) is None:
        return f"{value}: not a bucket name of 3 to 63 lower-case letters, digits, dots and hyphens ({expected})"
    parts = prefix.strip("/").split("/") if prefix.strip("/") else []
    if any(p in ("", ".", "..") or "\\" in p or "\x00" in p or "?" in p or "#" in p for p in parts):
        return f"{value}: the prefix holds an empty, `.` or `..` part, `?`, `#` or a backslash ({expected})"
    return None


def bucket_location(value: str) -> tuple[str, str]:
    """Return the bucket and the prefix (`site/`, or empty) of an `s3://BUCKET/PREFIX` URL.

    Raises:
        BuildError: not such a URL (`bucket_url_problem` says why).
    """
    problem = bucket_url_problem(value)
    if problem is not None:
        raise BuildError(problem)
    bucket, _, prefix = value[len(BUCKET_SCHEME) + 3 :].partition("/")
    prefix = prefix.strip("/")
    return bucket, prefix + "/" if prefix else ""


def name_in_build(name: str) -> list[str]:
    """Return the parts of a name a manifest lists, refusing one that would leave the build.

    Raises:
        BuildError: the name is empty, absolute, or holds `.`, `..`, a backslash or a NUL.
    """
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        raise BuildError(f"manifest.json: document {name!r} is not a path inside the build")
    return parts


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


def _listed_path(out: Path, relative: str) -> Path | None:
    """The file a manifest entry names under `out`, or None for a name that would leave it."""
    try:
        return out.joinpath(*name_in_build(relative))
    except BuildError:
        return None


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


class Directory:
    """A build kept as files in a local directory, each replaced by an atomic rename."""

    trusted = False  # a file may have been changed or removed by hand: looked at before it is skipped
    writers = 1

    def __init__(self, path: Path) -> None:
        self.path = path

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        """Return the file of `name` in the directory.

        Raises:
            BuildError: `name` would leave the directory.
        """
        return file_in_build(self.path, name)

    def locate(self, name: str) -> str:
        """Return the path of the file `name`."""
        return str(self.path / name)

    def read(self, name: str) -> bytes:
        """Return the bytes of the file `name`."""
        return self.file(name).read_bytes()

    def fetch(self, name: str, known: str | None) -> Fetched | None:
        """Return the file `name` unless its size, modification time and inode are `known`."""
        path = self.file(name)
        info = os.stat(path)
        version = f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino}"
        if version == known:
            return None
        return Fetched(version, path.read_bytes())

    def write(self, name: str, data: bytes, headers: ObjectHeaders) -> bool:
        """Write the file `name` through a temporary file and a rename (headers are a server's business here)."""
        return write_atomically(self.file(name), data)

    def remove(self, names: Iterable[str]) -> int:
        """Remove the files `names` and the folders they leave empty."""
        return remove_unlisted(self.path, names, ())


def open_storage(where: Path | str, options: StorageOptions | None = None) -> Storage:
    """Return the storage of a build: a bucket for `s3://BUCKET/PREFIX`, else a local directory.

    Raises:
        BuildError: an s3:// URL that is not one, or the bucket's client library is missing.
    """
    if isinstance(where, str) and url_scheme(where) == BUCKET_SCHEME:
        bucket, prefix = bucket_location(where)
        try:
            from feedsvc.builddir.bucket import Bucket  # noqa: PLC0415 - boto3 only for a bucket (the s3 extra)
        except ImportError as error:
            raise BuildError(
                f"{where}: object storage needs the S3 client library ({error.name} is not installed; "
                "expected feedsvc installed with its s3 extra: pip install 'feedsvc[s3]')"
            ) from None
        return Bucket(bucket, prefix, options or StorageOptions())
    return Directory(Path(where))
