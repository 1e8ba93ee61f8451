"""Where the counts are kept: one SQLite file in the state directory, shared by a service's processes.

Each serving process adds its batches in a transaction of its own and reads back the
counts of all of them, so the worker processes of one service count together, and a
restart finds what the last run counted. It holds aggregators' reports, the day's and
the previous day's hashes of direct clients (no address), and sketches past the cap.
The secret the day keys come from is a file beside it, readable by its owner only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from feedsvc.subscribers import sketch
from feedsvc.subscribers.tally import DAY, Batch, Counts, FeedCount

SECRET_NAME = "subscribers.key"  # noqa: S105 - the name of the file, not a secret
SECRET_BYTES = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    feed TEXT NOT NULL, path TEXT NOT NULL, aggregator TEXT NOT NULL, feed_id TEXT NOT NULL,
    subscribers INTEGER NOT NULL, seen INTEGER NOT NULL,
    PRIMARY KEY (feed, path, aggregator, feed_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clients (
    day INTEGER NOT NULL, feed TEXT NOT NULL, hash INTEGER NOT NULL, seen INTEGER NOT NULL,
    PRIMARY KEY (day, feed, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sketches (
    day INTEGER NOT NULL, feed TEXT NOT NULL, registers BLOB NOT NULL,
    PRIMARY KEY (day, feed)
) WITHOUT ROWID;
"""


def ledger_name(content_dir: Path | str) -> str:
    """Return the file name of a content directory's counts (one per directory, like the parse cache).

    A replica of a bucket names it after the bucket's URL (`s3://feeds/site`), taken as it is.
    """
    served = content_dir if isinstance(content_dir, str) and "://" in content_dir else os.path.realpath(content_dir)
    name = hashlib.sha1(served.encode("utf-8", "backslashreplace"), usedforsecurity=False)
    return f"subscribers-{name.hexdigest()[:16]}.sqlite3"


def read_secret(directory: Path) -> bytes:
    """Return the secret of the day keys in `directory`, made (mode 0600) when there is none yet.

    Raises:
        OSError: the directory or the file cannot be written or read.
    """
    path = directory / SECRET_NAME
    with contextlib.suppress(FileNotFoundError):
        return _valid_secret(path)
    directory.mkdir(parents=True, exist_ok=True)
    # Written whole under another name, then linked into place: a process that starts meanwhile
    # reads either no file or the whole secret, and the first process to link it wins.
    temporary = directory / f".{SECRET_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(secrets.token_bytes(SECRET_BYTES))
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _valid_secret(path)


def _valid_secret(path: Path) -> bytes:
    secret = path.read_bytes()
    if len(secret) < 16:
        raise OSError(f"{path}: {len(secret)} bytes (expected {SECRET_BYTES}; delete it to make a new one)")
    return secret


class Ledger:
    """The counts file of one service."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def open(cls, location: Path, *, read_only: bool = False) -> Ledger:
        """Open (or create) the counts file.

        Raises:
            sqlite3.Error: it is not a database or cannot be opened.
            OSError: its directory cannot be made.
        """
        if read_only:
            connection = sqlite3.connect(f"{location.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
            return cls(connection)
        location.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(location, check_same_thread=False, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(_SCHEMA)
        return cls(connection)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def record(self, batch: Batch, *, max_clients: int, report_days: int) -> None:
        """Add a batch (one transaction), dropping what is too old; past `max_clients` rows, sketch instead."""
        db = self._db
        day, now = batch.day, batch.seen
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM reports WHERE seen < ?", (now - report_days * DAY,))
            db.execute("DELETE FROM clients WHERE day < ?", (day - 1,))
            db.execute("DELETE FROM sketches WHERE day < ?", (day - 1,))
            self._add_reports(batch, max_clients)
            self._add_clients(batch, max_clients)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _add_reports(self, batch: Batch, max_clients: int) -> None:
        db = self._db
        (rows,) = db.execute("SELECT count(*) FROM reports").fetchone()
        for (feed, path, aggregator, feed_id), subscribers in batch.reports.items():
            updated = db.execute(
                "UPDATE reports SET subscribers = ?, seen = ? "
                "WHERE feed = ? AND path = ? AND aggregator = ? AND feed_id = ? AND seen <= ?",
                (subscribers, batch.seen, feed, path, aggregator, feed_id, batch.seen),
            )
            if updated.rowcount == 0 and rows < max_clients:  # a new one (or a later report already there)
                inserted = db.execute(
                    "INSERT OR IGNORE INTO reports VALUES (?, ?, ?, ?, ?, ?)",
                    (feed, path, aggregator, feed_id, subscribers, batch.seen),
                )
                rows += inserted.rowcount

    def _add_clients(self, batch: Batch, max_clients: int) -> None:
        db = self._db
        day, now = batch.day, batch.seen
        (rows,) = db.execute("SELECT count(*) FROM clients WHERE day = ?", (day,)).fetchone()
        overflow: dict[str, bytearray] = {}
        for (feed, today), yesterday in batch.clients.items():
            # Seen today: the same client's row of yesterday (another key) must not count it twice.
            db.execute("DELETE FROM clients WHERE day = ? AND feed = ? AND hash = ?", (day - 1, feed, yesterday))
            updated = db.execute(
                "UPDATE clients SET seen = max(seen, ?) WHERE day = ? AND feed = ? AND hash = ?",
                (now, day, feed, today),
            )
            if updated.rowcount:
                continue
            if rows < max_clients:
                db.execute("INSERT INTO clients VALUES (?, ?, ?, ?)", (day, feed, today, now))
                rows += 1
            else:
                sketch.add(overflow.setdefault(feed, sketch.new_sketch()), today)
        for feed, registers in overflow.items():
            self._merge_sketch(day, feed, registers)

    def _merge_sketch(self, day: int, feed: str, registers: bytearray) -> None:
        """Store a feed's sketch of a day, merged with the one already stored (`registers` takes the merge)."""
        found = self._db.execute("SELECT registers FROM sketches WHERE day = ? AND feed = ?", (day, feed)).fetchone()
        if found is not None:
            sketch.merge(registers, found[0])
        self._db.execute("INSERT OR REPLACE INTO sketches VALUES (?, ?, ?)", (day, feed, bytes(registers)))

    def counts(self, now: int, *, report_days: int) -> Counts:
        """Return every feed's subscribers: reports of the last `report_days`, direct clients of the last 24 hours."""
        db = self._db
        day = now // DAY
        aggregators: dict[str, dict[str, int]] = {}
        for feed, aggregator, subscribers in db.execute(
            "SELECT feed, aggregator, sum(subscribers) FROM reports WHERE seen >= ? GROUP BY feed, aggregator",
            (now - report_days * DAY,),
        ):
            aggregators.setdefault(feed, {})[aggregator] = subscribers
        direct: dict[str, int] = dict(
            db.execute(
                "SELECT feed, count(*) FROM clients WHERE day = ? OR (day = ? AND seen > ?) GROUP BY feed",
                (day, day - 1, now - DAY),
            ).fetchall()
        )
        sketches: dict[str, bytearray] = {}
        for feed, registers in db.execute("SELECT feed, registers FROM sketches WHERE day >= ?", (day - 1,)):
            sketch.merge(sketches.setdefault(feed, sketch.new_sketch()), registers)
        feeds = {}
        for feed in sorted(aggregators.keys() | direct.keys() | sketches.keys()):
            extra = sketch.estimate(sketches[feed]) if feed in sketches else 0
            feeds[feed] = FeedCount(
                feed,
                dict(sorted(aggregators.get(feed, {}).items())),
                direct.get(feed, 0) + extra,
                estimated=feed in sketches,
            )
        return Counts(feeds, now)

    def merge_from(self, others: Iterable[Path]) -> None:
        """Add other replicas' files to this (in-memory) ledger: reports latest first, client hashes as a union.

        Hashes match across files only when the replicas share the secret file: then a
        client polling several replicas is counted once.
        """
        db = self._db
        for number, other in enumerate(others):
            alias = f"other{number}"
            db.execute(f"ATTACH DATABASE ? AS {alias}", (f"{other.resolve().as_uri()}?mode=ro",))
            try:
                db.execute(
                    f"INSERT INTO reports SELECT * FROM {alias}.reports WHERE true "  # noqa: S608 - our own alias
                    "ON CONFLICT DO UPDATE SET subscribers = excluded.subscribers, seen = excluded.seen "
                    "WHERE excluded.seen > reports.seen"
                )
                db.execute(
                    f"INSERT INTO clients SELECT * FROM {alias}.clients WHERE true "  # noqa: S608 - our own alias
                    "ON CONFLICT DO UPDATE SET seen = max(seen, excluded.seen)"
                )
                for day, feed, registers in db.execute(f"SELECT * FROM {alias}.sketches").fetchall():  # noqa: S608
                    self._merge_sketch(day, feed, bytearray(registers))
            finally:
                db.execute(f"DETACH DATABASE {alias}")


def merged(paths: Iterable[Path]) -> Ledger:
    """Return an in-memory ledger holding several counts files merged (`feedsvc stats FILE…`)."""
    connection = sqlite3.connect("file::memory:", uri=True, isolation_level=None)  # uri: ATTACH reads `?mode=ro`
    connection.executescript(_SCHEMA)
    ledger = Ledger(connection)
    ledger.merge_from(paths)
    return ledger
