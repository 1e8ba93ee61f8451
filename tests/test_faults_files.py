"""One odd file or a damaged parse cache never stops publishing: any stat value, any file name, any cache file."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import feedsvc.index.cache
import feedsvc.index.scan
from feedsvc.cli import main
from feedsvc.config import Settings
from feedsvc.index.cache import Cache, open_cache
from feedsvc.index.scan import ContentIndex, IndexedFile, cached_stamp, stamp_of, stamp_size_mtime, stamps_match
from feedsvc.model import Article, Format, Problem, feed_path
from feedsvc.parse.articles import parse_file
from feedsvc.refresh.refresher import Refresher, RefreshReport
from feedsvc.store import Store
from tests.conftest import NOW, Clock, make_settings
from tests.corpus import write_article, write_corpus
from tests.test_cache import assert_same_documents, cached_settings, titles

CACHE_LOGGER = "feedsvc.cache"
DATE = "2024-05-04 10:33"
NS = 1_000_000_000
# Modification times a file can have: after 2262 (past 64-bit nanoseconds), ext4's last one (2446),
# before 1970, and just around the edges of a signed 64-bit count of nanoseconds.
ODD_MTIMES_NS = [
    10_413_792_000 * NS,  # 2300-01-01
    15_032_385_535 * NS,  # 2446-05-10, the latest ext4 stores
    2**63,
    -(2**63) - 1,
    -1,
    -NS,  # 1969-12-31 23:59:59
    -2_147_483_648 * NS,  # 1901-12-13, the earliest ext4 stores
]
# Small and deterministic: these tests write files and open caches for each example.
FILES_PROPERTY = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ANY_INT = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-(2**130), max_value=2**130),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, -(2**64), 2**64 - 1]),
)


def write(directory: Path, name: str, **fields: Any) -> Path:
    """Write an article titled after its name, with a fixed date unless given."""
    return write_article(directory, name, {"title": name, "date": DATE, **fields})


def undated(path: Path, title: str) -> Path:
    """Write an article without a date: its date is the file's modification time."""
    path.write_text(f"---\ntitle: {title}\n---\nbody of {title}\n", encoding="utf-8")
    return path


def set_mtime(path: Path, mtime_ns: int) -> None:
    """Give a file a modification time, as near to `mtime_ns` as its filesystem stores."""
    os.utime(path, ns=(mtime_ns, mtime_ns))


def fake_stat(size: int, mtime_ns: int, ino: int, ctime_ns: int) -> os.stat_result:
    """Return a stat result holding any values, as a filesystem or a bad clock may give."""
    return os.stat_result(
        (0o100644, ino, 1, 1, 0, 0, size, 0, 0, 0),
        {"st_mtime_ns": mtime_ns, "st_ctime_ns": ctime_ns, "st_mtime": mtime_ns / NS},
    )


def start(settings: Settings, clock: Clock) -> tuple[Refresher, Cache | None]:
    """Start a refresher as a service does: open the cache, load its index."""
    cache = open_cache(settings)
    return Refresher(settings, Store(), clock=clock, cache=cache), cache


def run(settings: Settings, clock: Clock) -> RefreshReport:
    """Run one service start: a first refresh, the cache written and closed as at a stop."""
    refresher, cache = start(settings, clock)
    try:
        return refresher.refresh()
    finally:
        refresher.flush()
        if cache is not None:
            cache.close()


def cache_file(settings: Settings) -> Path:
    """Return the path of the settings' parse cache file, made by opening it once as a service does."""
    cache = open_cache(settings)
    assert cache is not None
    cache.close()
    return cache.location


def config_file(tmp_path: Path, content: Path) -> Path:
    """Write a config file over `content`, with the parse cache on (the default)."""
    path = tmp_path / "feedsvc.yaml"
    path.write_text(f"site:\n  link: https://www.example.com/\ncontent:\n  dir: {content}\n", encoding="utf-8")
    return path


def cache_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the cache's warnings logged so far."""
    return [r.getMessage() for r in caplog.records if r.name == CACHE_LOGGER and r.levelno >= logging.WARNING]


# --- any stat value ------------------------------------------------------------------------------------------------


@given(size=ANY_INT, mtime_ns=ANY_INT, ino=ANY_INT, ctime_ns=ANY_INT)
@example(size=1234, mtime_ns=1_650_000_000 * NS, ino=7, ctime_ns=1_650_000_000 * NS)  # an ordinary file: kept as is
@FILES_PROPERTY
def test_any_stat_value_gives_a_stamp_that_round_trips(size: int, mtime_ns: int, ino: int, ctime_ns: int) -> None:
    """Any size, modification time, inode and change time give a stamp; its size and time make a matching stamp."""
    stamp = stamp_of(fake_stat(size, mtime_ns, ino, ctime_ns))

    kept_size, kept_mtime = stamp_size_mtime(stamp)

    assert -(2**63) <= kept_size < 2**63
    assert -(2**63) <= kept_mtime < 2**63
    assert stamps_match(cached_stamp(kept_size, kept_mtime), stamp)
    assert cached_stamp(size, mtime_ns) == cached_stamp(kept_size, kept_mtime)
    if -(2**63) <= mtime_ns < 2**63 and -(2**63) <= size < 2**63:
        assert (kept_size, kept_mtime) == (size, mtime_ns)


@given(size=ANY_INT, mtime_ns=ANY_INT)
@FILES_PROPERTY
def test_any_stat_value_round_trips_through_the_cache(tmp_path: Path, size: int, mtime_ns: int) -> None:
    """A file of any size and modification time is stored and read back by the cache, stamp unchanged."""
    cache = Cache.open(tmp_path / "cache", tmp_path / "content", "identity")
    assert cache is not None
    stamp = stamp_of(fake_stat(size, mtime_ns, 7, 8))
    index = ContentIndex({"a.md": IndexedFile(stamp=stamp, result=Problem("a.md", "x: y (expected z)"))})
    try:
        cache.save_entries(index, ["a.md"], [])
        loaded = cache.load_index()
    finally:
        cache.close()

    assert stamps_match(loaded.entries["a.md"].stamp, stamp)


def test_stamps_still_tell_changed_times_apart() -> None:
    """Two different modification times (of any size) give two different stamps."""
    stamps = {stamp_of(fake_stat(10, mtime, 1, 1)) for mtime in ODD_MTIMES_NS}

    assert len(stamps) == len(ODD_MTIMES_NS)


@pytest.mark.parametrize("mtime_ns", ODD_MTIMES_NS)
def test_file_with_any_modification_time_publishes_and_is_cached(
    content_dir: Path, tmp_path: Path, clock: Clock, mtime_ns: int
) -> None:
    """A dated file with any modification time publishes; after a restart the cache knows it (nothing is read)."""
    write(content_dir, "ok.md")
    set_mtime(write(content_dir, "odd.md"), mtime_ns)
    settings = cached_settings(content_dir, tmp_path / "cache")

    first = run(settings, clock)
    second = run(settings, clock)

    assert sorted(titles(first.snapshot)) == ["odd.md", "ok.md"]
    assert second.reread == ()
    assert_same_documents(first.snapshot, second.snapshot)


def test_undated_file_from_2300_is_held_until_then(content_dir: Path, tmp_path: Path, clock: Clock) -> None:
    """An undated file modified in 2300 takes that date: it waits for it, the others publish, no refresh fails."""
    write(content_dir, "ok.md")
    set_mtime(undated(content_dir / "future.md", "future"), 10_413_792_000 * NS)
    settings = cached_settings(content_dir, tmp_path / "cache")

    report = run(settings, clock)

    assert titles(report.snapshot) == ["ok.md"]
    assert report.snapshot.held == 1
    assert run(settings, clock).reread == ()


def test_undated_file_from_before_1970_takes_its_date(content_dir: Path, tmp_path: Path, clock: Clock) -> None:
    """An undated file modified in 1901 publishes with that date (in UTC), the same on every refresh."""
    set_mtime(undated(content_dir / "old.md", "old"), -2_147_483_648 * NS)
    settings = cached_settings(content_dir, tmp_path / "cache")

    report = run(settings, clock)

    feed = json.loads(report.snapshot.documents[feed_path("all", Format.JSON)].body)
    assert [item["title"] for item in feed["items"]] == ["old"]
    published = datetime.fromisoformat(feed["items"][0]["date_published"])
    assert published == datetime(1901, 12, 13, 20, 45, 52, tzinfo=UTC)
    assert_same_documents(report.snapshot, run(settings, clock).snapshot)


@given(mtime=st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-62135596801.0, 253402300800.0]))
@example(mtime=1_650_000_000.0)  # an Article
@example(mtime=float("inf"))  # a Problem
@FILES_PROPERTY
def test_undated_article_with_any_modification_time_is_an_article_or_a_problem(mtime: float) -> None:
    """Whatever the file's modification time, an undated article parses to an Article or a Problem, never raises."""
    settings = make_settings(Path("content"))
    raw = b"---\ntitle: x\n---\nbody\n"

    result, _ = parse_file(raw, source="x.md", mtime=mtime, settings=settings)

    assert isinstance(result, Article | Problem)
    assert result == parse_file(raw, source="x.md", mtime=mtime, settings=settings)[0]
    if isinstance(result, Problem):
        assert result.reason.startswith("date: missing, and the file's modification time")
        assert result.reason.endswith("(expected a date)")


def test_check_with_a_file_from_2300_does_not_crash(tmp_path: Path, content_dir: Path) -> None:
    """`feedsvc check` over a file modified in 2300 reports, exits 0, and says so again from the cache."""
    write(content_dir, "ok.md")
    set_mtime(write(content_dir, "odd.md"), 10_413_792_000 * NS)
    config = config_file(tmp_path, content_dir)

    for _ in range(2):
        result = CliRunner().invoke(main, ["check", "--config", str(config)])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert result.exit_code == 0, result.output
        assert "2 published" in result.output


# --- any file name -------------------------------------------------------------------------------------------------

LATIN1_NAME = b"caf\xe9.md"


def test_file_name_not_utf8_publishes_as_without_the_cache(content_dir: Path, tmp_path: Path, clock: Clock) -> None:
    """A file named in Latin-1 publishes as with the cache off; the cache stores it and a restart reads nothing."""
    write(content_dir, "ok.md")
    (Path(os.fsdecode(os.fsencode(content_dir) + b"/" + LATIN1_NAME))).write_bytes(
        b"---\ntitle: cafe\ndate: 2024-05-04\n---\n<p>the body of the cafe</p>\n"
    )
    with_cache = cached_settings(content_dir, tmp_path / "cache")
    without = cached_settings(content_dir, tmp_path / "cache", cache={"enabled": False})

    plain = run(without, clock)
    first = run(with_cache, clock)
    second = run(with_cache, clock)

    assert sorted(titles(first.snapshot)) == ["cafe", "ok.md"]
    assert_same_documents(plain.snapshot, first.snapshot)
    assert_same_documents(plain.snapshot, second.snapshot)
    assert second.reread == ()


def test_refreshes_go_on_after_a_file_name_not_utf8_is_deleted(content_dir: Path, tmp_path: Path, clock: Clock) -> None:
    """With a Latin-1 name, then without it, every refresh of one running service succeeds."""
    write(content_dir, "ok.md")
    odd = Path(os.fsdecode(os.fsencode(content_dir) + b"/" + LATIN1_NAME))
    write_article(odd.parent, odd.name, {"title": "cafe", "date": DATE})
    refresher, cache = start(cached_settings(content_dir, tmp_path / "cache"), clock)
    try:
        refresher.refresh()
        refresher.refresh()  # writes the first refresh's results to the cache
        odd.unlink()
        write(content_dir, "new.md")
        report = refresher.refresh()
        refresher.flush()
    finally:
        if cache is not None:
            cache.close()

    assert sorted(titles(report.snapshot)) == ["new.md", "ok.md"]


@pytest.mark.parametrize("command", ["check", "build"])
def test_check_and_build_with_a_file_name_not_utf8(tmp_path: Path, content_dir: Path, command: str) -> None:
    """`feedsvc check` and `feedsvc build` publish a Latin-1 named file with the cache on, run after run."""
    write(content_dir, "ok.md")
    odd = Path(os.fsdecode(os.fsencode(content_dir) + b"/" + LATIN1_NAME))
    write_article(odd.parent, odd.name, {"title": "cafe", "date": DATE})
    out = tmp_path / "out"
    arguments = [command, "--config", str(config_file(tmp_path, content_dir))]
    if command == "build":
        arguments += ["--out", str(out)]

    for _ in range(2):
        result = CliRunner().invoke(main, arguments)
        assert result.exit_code == 0, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception

    if command == "build":
        assert b"cafe" in (out / "feeds" / "all.rss").read_bytes()
    else:
        assert "2 published" in result.output


_names = itertools.count()


@given(name=st.binary(min_size=1, max_size=60).filter(lambda b: b"/" not in b and b"\x00" not in b))
@FILES_PROPERTY
def test_any_file_name_bytes_publish_as_without_the_cache(tmp_path: Path, name: bytes) -> None:
    """A file with any name (bytes) leaves every refresh finishing, the others published, as with the cache off."""
    content = tmp_path / f"content-{next(_names)}"
    content.mkdir()
    write(content, "ok.md")
    odd = os.path.join(os.fsencode(content), name + b".md")
    with open(odd, "wb") as handle:  # a name in bytes: not a Path
        handle.write(b"---\ntitle: odd\ndate: 2024-05-04\n---\n<p>odd body</p>\n")
    clock = Clock(NOW)
    with_cache = cached_settings(content, tmp_path / "cache")
    plain = run(cached_settings(content, tmp_path / "cache", cache={"enabled": False}), clock)

    first = run(with_cache, clock)
    second = run(with_cache, clock)

    assert "ok.md" in titles(plain.snapshot)
    assert_same_documents(plain.snapshot, first.snapshot)
    assert_same_documents(plain.snapshot, second.snapshot)
    assert second.reread == ()


# --- a cache write that fails --------------------------------------------------------------------------------------


def test_an_entry_the_cache_cannot_store_costs_only_itself(
    content_dir: Path, tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row that cannot be stored (any exception) is logged once and left out; the others are cached."""
    write(content_dir, "a.md")
    write(content_dir, "b.md")
    file_row = feedsvc.index.cache._file_row

    def failing_row(source: str, entry: IndexedFile) -> tuple[Any, ...]:
        if source == "b.md":
            raise RuntimeError("no row for b.md")
        return file_row(source, entry)

    monkeypatch.setattr(feedsvc.index.cache, "_file_row", failing_row)
    settings = cached_settings(content_dir, tmp_path / "cache")

    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        run(settings, clock)
    warnings = cache_warnings(caplog)
    second = run(settings, clock)

    assert second.reread == ("b.md",)
    assert len(warnings) == 1
    assert "1 files not stored (first 'b.md'" in warnings[0]


@pytest.mark.parametrize("method", ["save_entries", "save_contents", "save_documents"])
def test_a_cache_write_that_raises_is_dropped_and_never_blocks_a_refresh(
    content_dir: Path, clock: Clock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """A cache write raising anything is logged once and dropped: later refreshes neither fail nor retry it."""
    write(content_dir, "a.md")
    calls: list[str] = []

    def failing(self: Cache, *args: object) -> None:
        calls.append(method)
        raise RuntimeError(f"{method} broke")

    monkeypatch.setattr(Cache, method, failing)
    refresher, cache = start(cached_settings(content_dir, content_dir.parent / "cache"), clock)
    try:
        with caplog.at_level(logging.WARNING):
            refresher.refresh()
            refresher.refresh()  # writes (and fails) the first refresh's changes
            refresher.refresh()  # nothing new to write: the failed write is not tried again
            assert calls == [method]
            write(content_dir, "b.md")
            report = refresher.refresh()  # an edit's change: written (and failing) as soon as it serves
    finally:
        if cache is not None:
            cache.close()

    assert sorted(titles(report.snapshot)) == ["a.md", "b.md"]
    assert calls == [method, method]  # the new change's own write, once: not the first one again
    failures = [r for r in caplog.records if r.exc_info is not None and "broke" in str(r.exc_info[1])]
    assert len(failures) == 2


def test_an_unreadable_stored_content_is_made_again(
    content_dir: Path, tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored content or document of the wrong type is not served: it is made again, with one warning."""
    write_corpus(content_dir, 3)
    settings = cached_settings(content_dir, tmp_path / "cache")
    first = run(settings, clock)
    location = cache_file(settings)
    with contextlib.closing(sqlite3.connect(location)) as connection, connection:
        connection.execute("UPDATE contents SET html = x'00ff'")  # bytes, where text belongs
        connection.execute("UPDATE documents SET body = 12")

    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        second = run(settings, clock)

    assert_same_documents(first.snapshot, second.snapshot)
    assert len(cache_warnings(caplog)) == 2


# --- a corrupt cache file ------------------------------------------------------------------------------------------


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(3000))


def _truncated(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _overwritten_inside(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.seek(4096)
        handle.write(b"\xa5" * 20000)


def _header_overwritten(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.write(b"\x00" * 100)


@pytest.mark.parametrize("damage", [_garbage, _truncated, _overwritten_inside, _header_overwritten])
def test_corrupt_cache_is_moved_aside_and_rebuilt(
    content_dir: Path, tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture, damage: Any
) -> None:
    """A cache file damaged in any way is moved aside once (one warning); the next start reads nothing again."""
    write_corpus(content_dir, 40)
    settings = cached_settings(content_dir, tmp_path / "cache")
    first = run(settings, clock)
    location = cache_file(settings)
    damage(location)

    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        second = run(settings, clock)
        third = run(settings, clock)

    assert second.stats.files_parsed == 40
    assert third.reread == ()
    assert_same_documents(first.snapshot, third.snapshot)
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "moved aside" in warnings[0]
    aside = list(location.parent.glob(f"{location.name}.corrupt-*"))
    assert [p.name[len(location.name) :][:9] for p in aside] == [".corrupt-"]


def test_corrupt_copies_go_after_a_week(content_dir: Path, tmp_path: Path) -> None:
    """A corrupt cache moved aside is kept a week for a look, then removed when a cache is opened."""
    settings = cached_settings(content_dir, tmp_path / "cache")
    location = cache_file(settings)
    old = location.with_name(location.name + ".corrupt-20200101T000000Z")
    recent = location.with_name(location.name + ".corrupt-20260101T000000Z")
    for path in (old, recent):
        path.write_bytes(b"x")
    week_ago = time.time() - feedsvc.index.cache.STALE_SECONDS - 60
    os.utime(old, (week_ago, week_ago))

    reopened = open_cache(settings)
    assert reopened is not None
    reopened.close()

    assert not old.exists()
    assert recent.exists()


class _CorruptConnection:
    """A connection to a file found corrupt while the service runs: every statement fails as sqlite says it."""

    def execute(self, *args: object) -> None:
        error = sqlite3.DatabaseError("database disk image is malformed")
        error.sqlite_errorcode = sqlite3.SQLITE_CORRUPT  # type: ignore[attr-defined]
        raise error

    def close(self) -> None:
        """Close nothing."""


def test_cache_found_corrupt_while_running_is_moved_aside(
    content_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache found corrupt by a read while serving is moved aside (one warning); the service goes on without it."""
    cache = open_cache(cached_settings(content_dir, tmp_path / "cache"))
    assert cache is not None
    cache.close()
    cache._db = _CorruptConnection()  # type: ignore[assignment]

    with caplog.at_level(logging.WARNING, logger=CACHE_LOGGER):
        assert cache.content("a.md", "f") is None
        assert cache.document("feeds/all.rss", "i") is None
        cache.save_entries(ContentIndex({}), [], ["a.md"])

    warnings = cache_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "moved aside" in warnings[0]
    assert "until the next start" in warnings[0]
    assert list(cache.location.parent.glob("*.corrupt-*"))
    assert not cache.location.exists()


def test_a_file_system_that_reads_short_still_gives_the_whole_file(
    content_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some network and FUSE file systems answer a read with part of a file: reading goes on to its end."""
    body = "<p>" + "证券时报网" * 2000 + "</p>\n"
    write_article(content_dir, "long.md", {"title": "long", "date": "2024-01-02 10:00:00"}, body)
    real_read = os.read
    monkeypatch.setattr(feedsvc.index.scan.os, "read", lambda fd, size: real_read(fd, min(size, 1000)))
    settings = make_settings(content_dir, scan={"workers": 1})

    report = Refresher(settings, Store(), clock=Clock()).refresh()

    document = report.snapshot.documents[feed_path("all", Format.RSS)].body.decode()
    assert document.count("证券时报网") >= 2000
