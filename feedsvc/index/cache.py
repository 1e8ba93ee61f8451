"""The persistent parse cache: what a restart needs so as not to read and render everything again.

One SQLite file per content directory under the cache directory holds every
file's stamp and parse result, the content of the articles feeds show, and the
rendered documents with the inputs they were rendered from. Stored as plain
columns and JSON: nothing in the cache is executed. Feeds never depend on it:
a failure of the file disables the cache for the process with one warning, a
corrupt file is moved aside and a new one started, and a value that cannot be
stored or read back costs only its own row (that file is read again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedsvc import __version__ as GENERATOR_VERSION
from feedsvc.config import Settings
from feedsvc.index.scan import ContentIndex, IndexedFile, cached_stamp, stamp_size_mtime
from feedsvc.model import (
    Article,
    ArticleContent,
    Author,
    Document,
    Entity,
    Problem,
    shared_author,
    shared_entities,
    shared_names,
    stored_article,
)

log = logging.getLogger("feedsvc.cache")

# Rows written per statement: a batch is built in memory while the service already serves.
_BATCH = 500
# Bump when what is stored, or how articles are parsed or rendered, changes.
# 4: URLs as URIs (IDNA hosts), stricter Atom ids and emails, escaped RSS descriptions
# 5: an article's language (`lang:`), a column the files table did not have
# 6: the entities a body names (`entities:`), a column of its own
FORMAT = "6"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, path TEXT,
    problem TEXT,
    title TEXT, link TEXT, id TEXT, published TEXT, updated TEXT, categories TEXT, tags TEXT,
    author_name TEXT, author_email TEXT, summary TEXT, image TEXT, draft INTEGER, fingerprint TEXT, warnings TEXT,
    last_good TEXT, language TEXT, entities TEXT
);
CREATE TABLE IF NOT EXISTS contents (
    source TEXT NOT NULL, fingerprint TEXT NOT NULL, html TEXT NOT NULL, summary TEXT NOT NULL, image TEXT,
    PRIMARY KEY (source, fingerprint)
);
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY, inputs TEXT NOT NULL, body BLOB NOT NULL, etag TEXT NOT NULL,
    media_type TEXT NOT NULL, last_modified TEXT
);
"""


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return $XDG_CACHE_HOME/feedsvc, else ~/.cache/feedsvc."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "feedsvc"


def open_cache(settings: Settings) -> Cache | None:
    """Open the cache the settings ask for, or None when it is disabled or cannot be used."""
    if not settings.cache_enabled:
        return None
    directory = settings.cache_dir or default_cache_dir()
    return Cache.open(directory, settings.content_dir, settings_identity(settings))


def settings_identity(settings: Settings) -> str:
    """Return a digest of the settings and this version: what they make of the same files is the same."""
    return hashlib.sha256(f"{GENERATOR_VERSION}|{settings!r}".encode("utf-8", "backslashreplace")).hexdigest()


def _article_json(article: Article | None) -> str | None:
    if article is None:
        return None
    author = None if article.author is None else [article.author.name, article.author.email]
    return json.dumps(
        [
            article.title,
            article.link,
            article.id,
            article.published.isoformat(),
            article.updated.isoformat(),
            list(article.categories),
            list(article.tags),
            author,
            article.summary,
            article.image,
            article.draft,
            article.fingerprint,
            list(article.warnings),
            article.language,
            _entities_text(article.entities),
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _article(source: str, text: str) -> Article:
    (
        title,
        link,
        identity,
        published,
        updated,
        categories,
        tags,
        author,
        summary,
        image,
        draft,
        fingerprint,
        warnings,
        language,
        entities,
    ) = json.loads(text)
    published_at = datetime.fromisoformat(published)
    # Built from shared parts directly: names and authors repeat across thousands of articles.
    return Article(
        source=source,
        title=title,
        link=link,
        id=link if identity == link else identity,
        published=published_at,
        updated=published_at if updated == published else datetime.fromisoformat(updated),
        categories=shared_names(categories),
        tags=shared_names(tags),
        author=shared_author(None if author is None else Author(name=author[0], email=author[1])),
        summary=summary,
        image=image,
        draft=draft,
        fingerprint=fingerprint,
        warnings=tuple(warnings),
        language=language,
        entities=_entities(entities),
    )


def _path_value(path: str | None) -> str | bytes | None:
    """Return a path as the cache stores it: text, or its bytes when it is no UTF-8 (a name in another encoding)."""
    if path is None:
        return None
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _path_of(value: str | bytes | None) -> str | None:
    """Return the path a stored value stands for (see _path_value)."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


# Lists of names in one column: the unit separator never occurs in front matter text.
_SEP = "\x1f"
_FILE_COLUMNS = (
    "source, size, mtime_ns, path, problem, title, link, id, published, updated, categories, tags,"
    " author_name, author_email, summary, image, draft, fingerprint, warnings, last_good, language, entities"
)

_FILE_VALUES = ", ".join("?" * (_FILE_COLUMNS.count(",") + 1))


def _split_names(text: str) -> list[str]:
    return text.split(_SEP) if text else []


# An entity's kind, key and title in one text: the record separator never occurs in them either.
_PART = "\x1e"


def _entities_text(entities: tuple[Entity, ...]) -> str | None:
    return _SEP.join(f"{e.kind}{_PART}{e.key}{_PART}{e.title}" for e in entities) if entities else None


def _entities(text: str | None) -> tuple[Entity, ...]:
    if not text:
        return ()
    return shared_entities(Entity(*item.split(_PART, 2)) for item in text.split(_SEP))


def _file_row(source: str, entry: IndexedFile) -> tuple[Any, ...]:
    """One `files` row: the result as plain columns (the common case), the rare last good version as JSON."""
    size, mtime_ns = stamp_size_mtime(entry.stamp)
    last_good = _article_json(entry.last_good if entry.last_good is not entry.result else None)
    result = entry.result
    if isinstance(result, Problem):
        return (source, size, mtime_ns, _path_value(entry.path), result.reason, *([None] * 14), last_good, None, None)
    author = result.author
    return (
        source,
        size,
        mtime_ns,
        _path_value(entry.path),
        None,
        # As UTF-8 bytes: binding a str makes sqlite3 keep a UTF-8 copy inside the (long-lived) title.
        result.title.encode("utf-8"),
        result.link,
        None if result.id == result.link else result.id,
        result.published.isoformat(),
        None if result.updated == result.published else result.updated.isoformat(),
        _SEP.join(result.categories),
        _SEP.join(result.tags),
        None if author is None else author.name,
        None if author is None else author.email,
        result.summary,
        result.image,
        int(result.draft),
        result.fingerprint,
        _SEP.join(result.warnings),
        last_good,
        result.language,
        _entities_text(result.entities),
    )


class _SharedParts:
    """The shared tuple of names and the shared author of each text a cache row holds.

    Rows repeat the same few hundred category lists and authors 100,000 times:
    one dictionary lookup per row instead of splitting and pooling each again.
    """

    def __init__(self) -> None:
        self._names: dict[str, tuple[str, ...]] = {}
        self._authors: dict[tuple[str, str | None], Author | None] = {}

    def names(self, text: str) -> tuple[str, ...]:
        found = self._names.get(text)
        if found is None:
            found = self._names[text] = shared_names(_split_names(text))
        return found

    def author(self, name: str | None, email: str | None) -> Author | None:
        if name is None:
            return None
        key = (name, email)
        found = self._authors.get(key)
        if found is None:
            found = self._authors[key] = shared_author(Author(name=name, email=email))
        return found


def _entry(row: tuple[Any, ...], shared: _SharedParts) -> IndexedFile:
    (source, size, mtime_ns, path, problem, title, link, identity, published, updated, categories, tags) = row[:12]
    (author_name, author_email, summary, image, draft, fingerprint, warnings, last_good, language, entities) = row[12:]
    stamp = cached_stamp(size, mtime_ns)
    path = _path_of(path)
    good = None if last_good is None else _article(source, last_good)
    if problem is not None:
        return IndexedFile(stamp=stamp, result=Problem(source, problem), last_good=good, path=path)
    published_at = datetime.fromisoformat(published)
    # Built from shared parts directly: names and authors repeat across thousands of articles.
    held = (
        source,
        link,
        link if identity is None else identity,
        published_at,
        published_at if updated is None else datetime.fromisoformat(updated),
        shared.names(categories),
        shared.names(tags),
        shared.author(author_name, author_email),
        bool(draft),
        tuple(_split_names(warnings)),
        _entities(entities),
    )
    article = stored_article(held, (title.decode("utf-8"), summary, image, fingerprint, language))
    return IndexedFile(stamp=stamp, result=article, last_good=good or article, path=path)


def inputs_digest(inputs: object) -> str:
    """Return a stable digest of what a document was rendered from (its repr is deterministic)."""
    return hashlib.sha256(repr(inputs).encode("utf-8", "backslashreplace")).hexdigest()


STALE_SECONDS = 7 * 24 * 3600


def _remove_stale(directory: Path, prefix: str, keep: Path) -> None:
    """Remove the cache files of one content directory made by other settings and unused for a week."""
    cutoff = time.time() - STALE_SECONDS
    for path in directory.glob(f"{prefix}-*.sqlite3*"):
        # Copies of a corrupt file are kept a week for a look, then go too.
        if not path.name.startswith(keep.name) or ".corrupt-" in path.name:
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()


# What sqlite says of a file that is not, or no longer, a database: a file cut short,
# overwritten, or not written by sqlite. It will not get better: it is moved aside.
_CORRUPT_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
# What binding a value of a row can raise: the row is skipped, not the whole write.
_ROW_ERRORS = (ValueError, TypeError, OverflowError, sqlite3.InterfaceError, sqlite3.ProgrammingError)


def _is_corrupt(error: BaseException) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.DatabaseError) and code is not None and code & 0xFF in _CORRUPT_CODES


def _connect(location: Path, identity: str) -> sqlite3.Connection:
    """Open the cache file at `location`, made ready for `identity` (emptied when it was made for other settings)."""
    connection = sqlite3.connect(location, check_same_thread=False, timeout=30, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(_SCHEMA)
        stored = connection.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
        wanted = f"{FORMAT}:{identity}"
        if stored is None or stored[0] != wanted:
            with connection:
                connection.execute("BEGIN")
                for table in ("files", "contents", "documents"):
                    # Dropped, not emptied: a cache of an older format may lack a column.
                    connection.execute(f"DROP TABLE {table}")
                for statement in _SCHEMA.split(";"):  # executescript would commit the transaction
                    connection.execute(statement)
                connection.execute("DELETE FROM meta")  # what the last run served, too: other settings made it
                connection.execute("INSERT OR REPLACE INTO meta VALUES ('identity', ?)", (wanted,))
    except BaseException:
        connection.close()
        raise
    return connection


def _inode(location: Path) -> int | None:
    try:
        return location.stat().st_ino
    except OSError:
        return None


def _move_aside(location: Path, inode: int | None, error: BaseException, then: str) -> None:
    """Move a corrupt cache file (and its write-ahead log) to `<name>.corrupt-<UTC time>`; drop its index file.

    Only the file found corrupt: another process over the same content directory may have
    moved it aside already and started a new one, which stays. One warning says what
    happened and `then` what happens next.
    """
    if inode is not None and _inode(location) != inode:
        log.warning("cache %s was corrupt (%s) and is replaced already: %s", location, error, then)
        return
    aside = location.with_name(f"{location.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    try:
        os.replace(location, aside)
        os.utime(aside)  # kept a week from now (see _remove_stale), whatever its age
    except OSError as failure:
        log.warning("cache %s is corrupt (%s) and cannot be moved aside (%s): %s", location, error, failure, then)
        return
    with contextlib.suppress(OSError):
        os.replace(f"{location}-wal", f"{aside}-wal")
    with contextlib.suppress(OSError):
        os.unlink(f"{location}-shm")
    log.warning("cache %s is corrupt (%s): moved aside to %s, %s", location, error, aside.name, then)


class Cache:
    """An open cache file; every method is a no-op once the cache has failed.

    No method raises: whatever goes wrong in here (the file, a value, a bug) costs the
    cache, never a refresh.
    """

    def __init__(self, connection: sqlite3.Connection, location: Path, identity: str = "") -> None:
        self._db: sqlite3.Connection | None = connection
        self.location = location
        self._identity = identity
        self._inode = _inode(location)
        self._logged: set[str] = set()  # the operations whose failure was logged already
        # The documents `served` handed out, with their inputs, until a refresh asks for them: the
        # same objects are handed again (a restart then holds its feeds once, not twice meanwhile).
        self._handed: dict[str, tuple[str, Document]] = {}

    @classmethod
    def open(cls, directory: Path, content_dir: Path, identity: str) -> Cache | None:
        """Open (or create) the cache of a content directory; `identity` names the settings and version.

        One file per content directory and settings, so that two services with other
        settings over one directory never mix their results; files of the same directory
        left by earlier settings and unused for a week are removed. A file whose stored
        identity differs is emptied; a file that is not a database (any more) is moved
        aside and a new one started. Returns None (after one warning) when the cache
        directory cannot be used.
        """
        name = hashlib.sha1(os.path.realpath(content_dir).encode("utf-8", "backslashreplace"), usedforsecurity=False)
        prefix = name.hexdigest()[:16]
        location = directory / f"{prefix}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}.sqlite3"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            _remove_stale(directory, prefix, keep=location)
            inode = _inode(location)
            try:
                connection = _connect(location, identity)
            except sqlite3.DatabaseError as error:
                if not _is_corrupt(error):
                    raise
                _move_aside(location, inode, error, "a new one is started")
                connection = _connect(location, identity)
        except Exception as error:  # whatever it is, the service runs without the cache
            log.warning("cache %s cannot be used, running without it: %s", location, error)
            return None
        return cls(connection, location, identity)

    def _close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
        self._db = None

    def _fail(self, error: BaseException) -> None:
        """Give up the cache for this process after a failure of the file; a corrupt file is moved aside."""
        self._close()
        if _is_corrupt(error):
            _move_aside(self.location, self._inode, error, "running without a cache until the next start")
        else:
            log.warning("cache %s failed, running without it from now on: %s", self.location, error)

    def _failed(self, operation: str, error: Exception) -> None:
        """Handle an exception from one operation: the file's failures end the cache, any other only the operation."""
        if isinstance(error, sqlite3.Error) and not isinstance(error, _ROW_ERRORS):
            self._fail(error)
        elif operation not in self._logged:
            self._logged.add(operation)
            log.warning(
                "cache %s: %s failed, done without the cache: %s: %s",
                self.location,
                operation,
                type(error).__name__,
                error,
            )

    def _restart(self, error: BaseException) -> None:
        """Move a corrupt file aside and start a new, empty one (when nothing is held from the old one yet)."""
        self._close()
        _move_aside(self.location, self._inode, error, "a new one is started")
        try:
            self._db = _connect(self.location, self._identity)
        except Exception as failure:  # the service runs without the cache
            log.warning("cache %s cannot be started again, running without it: %s", self.location, failure)
            return
        self._inode = _inode(self.location)

    def load_index(self) -> ContentIndex:
        """Return the index as the cache last saw it (stamps without inode or change time).

        A row that does not read back is left out (its file is read again); a corrupt file
        is moved aside and a new one started.
        """
        if self._db is None:
            return ContentIndex(entries={})
        entries: dict[str, IndexedFile] = {}
        unreadable: list[str] = []
        first_error: Exception | None = None
        try:
            rows = self._db.execute(f"SELECT {_FILE_COLUMNS} FROM files")  # noqa: S608 - a constant
            shared = _SharedParts()
            for row in rows:
                try:
                    entries[row[0]] = _entry(row, shared)
                except Exception as error:  # one row that does not read back costs only itself
                    unreadable.append(repr(row[0])[:80] if row else "?")
                    first_error = first_error or error
        except Exception as error:  # the cache is never a reason for the service not to start
            if _is_corrupt(error):
                self._restart(error)
            else:
                self._failed("reading the index", error)
            return ContentIndex(entries={})
        if unreadable:
            log.warning(
                "cache %s: %d rows do not read back (first %s: %s), their files are read again",
                self.location,
                len(unreadable),
                unreadable[0],
                first_error,
            )
        return ContentIndex(entries=entries)

    def save_entries(self, index: ContentIndex, changed: Iterable[str], removed: Iterable[str]) -> None:
        """Store the entries of changed sources and forget removed ones; an entry that cannot be stored is left out."""
        if self._db is None:
            return
        db = self._db
        insert = f"INSERT OR REPLACE INTO files ({_FILE_COLUMNS}) VALUES ({_FILE_VALUES})"  # noqa: S608 - constants
        skipped: list[tuple[Any, Exception]] = []

        def write(batch: list[tuple[Any, ...]]) -> None:
            try:
                db.executemany(insert, batch)
            except _ROW_ERRORS:
                # One row in the batch is wrong: store the others one by one. INSERT OR REPLACE
                # makes the rows written before the wrong one harmless to write again.
                for row in batch:
                    try:
                        db.execute(insert, row)
                    except _ROW_ERRORS as error:
                        skipped.append((row[0], error))
                        # Its earlier row is not left to stand for a file that changed since.
                        with contextlib.suppress(*_ROW_ERRORS):
                            db.execute("DELETE FROM files WHERE source = ?", (row[0],))

        try:
            with db:
                db.execute("BEGIN")
                db.executemany("DELETE FROM files WHERE source = ?", [(s,) for s in removed])
                # In batches: the rows of 100,000 files at once would cost more memory than the index.
                batch: list[tuple[Any, ...]] = []
                for source in changed:
                    entry = index.entries.get(source)
                    if entry is None:
                        continue
                    try:
                        batch.append(_file_row(source, entry))
                    except Exception as error:  # one entry that cannot be made a row costs only itself
                        skipped.append((source, error))
                        continue
                    if len(batch) >= _BATCH:
                        write(batch)
                        batch.clear()
                write(batch)
        except Exception as error:  # a write that fails is dropped; the feeds do not need it
            self._failed("saving files", error)
            return
        if skipped:
            first, reason = skipped[0]
            log.warning(
                "cache %s: %d files not stored (first %r: %s: %s), they are read again after a restart",
                self.location,
                len(skipped),
                first,
                type(reason).__name__,
                reason,
            )

    def content(self, source: str, fingerprint: str) -> ArticleContent | None:
        """Return the stored feed content of one version of an article."""
        if self._db is None:
            return None
        try:
            row = self._db.execute(
                "SELECT html, summary, image FROM contents WHERE source = ? AND fingerprint = ?", (source, fingerprint)
            ).fetchone()
            if row is None:
                return None
            content = ArticleContent(html=row[0], summary=row[1], image=row[2])
            if not isinstance(content.html, str) or not isinstance(content.summary, str):
                raise TypeError(f"content of {source!r} is not text")
        except Exception as error:  # the content is made again instead
            self._failed("reading contents", error)
            return None
        return content

    def save_contents(
        self, contents: Mapping[tuple[str, str], ArticleContent], keep: AbstractSet[tuple[str, str]]
    ) -> None:
        """Store new article contents and drop those of articles no feed shows any more."""
        if self._db is None:
            return
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR REPLACE INTO contents VALUES (?, ?, ?, ?, ?)",
                    [(s, f, c.html, c.summary, c.image) for (s, f), c in contents.items()],
                )
                stored = self._db.execute("SELECT source, fingerprint FROM contents").fetchall()
                self._db.executemany(
                    "DELETE FROM contents WHERE source = ? AND fingerprint = ?",
                    [row for row in stored if (row[0], row[1]) not in keep],
                )
        except Exception as error:  # a write that fails is dropped; the feeds do not need it
            self._failed("saving contents", error)

    def document(self, path: str, inputs: str) -> Document | None:
        """Return the stored document at `path` if it was rendered from the same inputs.

        One that `served` handed out is handed again, the same object, without a read.
        """
        handed = self._handed.pop(path, None)
        if handed is not None and handed[0] == inputs:
            return handed[1]
        if self._db is None:
            return None
        try:
            row = self._db.execute(
                "SELECT body, etag, media_type, last_modified FROM documents WHERE path = ? AND inputs = ?",
                (path, inputs),
            ).fetchone()
            if row is None:
                return None
            if not isinstance(row[0], bytes) or not isinstance(row[1], str) or not isinstance(row[2], str):
                raise TypeError(f"document {path!r} is not stored as bytes and text")
            modified = None if row[3] is None else datetime.fromisoformat(row[3])
            return Document(body=bytes(row[0]), etag=row[1], media_type=row[2], last_modified=modified)
        except Exception as error:  # the document is rendered again instead
            self._failed("reading documents", error)
            return None

    def save_documents(
        self, documents: Mapping[str, tuple[str, Document]], paths: Iterable[str], served: Mapping[str, Any]
    ) -> None:
        """Store re-rendered documents with their inputs; forget documents at paths no longer served.

        `served` is what a restart serves with those documents until its first refresh ends
        (`restore`): JSON-ready facts of the snapshot that served them.
        """
        self._handed.clear()  # a refresh has rendered: what `served` handed out is not asked for again
        if self._db is None:
            return
        try:
            rows: list[tuple[Any, ...]] = [
                (path, inputs, doc.body, doc.etag, doc.media_type, doc.last_modified and doc.last_modified.isoformat())
                for path, (inputs, doc) in documents.items()
            ]
            kept = set(paths)
            facts = json.dumps(served, ensure_ascii=False, sort_keys=True)
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?)", rows)
                stored = [row[0] for row in self._db.execute("SELECT path FROM documents")]
                self._db.executemany("DELETE FROM documents WHERE path = ?", [(p,) for p in stored if p not in kept])
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('served', ?)", (facts,))
        except Exception as error:  # a write that fails is dropped; the feeds do not need it
            self._failed("saving documents", error)

    def served(self) -> tuple[dict[str, Document], dict[str, Any]] | None:
        """Return every document the last run served, with the facts stored with them; None if there are none.

        A restart serves these at once, while its first refresh reads the index and the
        content directory. Anything that does not read back gives None: nothing is
        served early from a cache that is not whole.
        """
        if self._db is None:
            return None
        try:
            with self._db:
                self._db.execute("BEGIN")  # the documents and their facts of one write
                facts = self._db.execute("SELECT value FROM meta WHERE key = 'served'").fetchone()
                rows = self._db.execute(
                    "SELECT path, body, etag, media_type, last_modified, inputs FROM documents"
                ).fetchall()
            if facts is None or not rows:
                return None
            documents: dict[str, Document] = {}
            handed: dict[str, tuple[str, Document]] = {}
            for path, body, etag, media_type, modified, inputs in rows:
                if not isinstance(body, bytes) or not isinstance(etag, str) or not isinstance(media_type, str):
                    raise TypeError(f"document {path!r} is not stored as bytes and text")
                when = None if modified is None else datetime.fromisoformat(modified)
                document = Document(body=body, etag=etag, media_type=media_type, last_modified=when)
                documents[str(path)] = document
                handed[str(path)] = (str(inputs), document)
            served = json.loads(facts[0])
            if not isinstance(served, dict):
                raise TypeError("the facts of the served documents are not a mapping")
            self._handed = handed
            return documents, served
        except Exception as error:  # the first refresh serves instead, as without a cache
            self._failed("reading the served documents", error)
            return None

    def close(self) -> None:
        """Close the file."""
        self._close()
