"""Operations: JSON logs, the request log, refresh metrics, config reload, and the real server's signals."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc.config import Settings
from feedsvc.http.accesslog import Answered, request_lines
from feedsvc.http.app import create_app, log_requests
from feedsvc.http.metrics import Metrics
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime import logs
from feedsvc.runtime.service import Service, start_service
from feedsvc.store import Store
from tests.conftest import Clock
from tests.corpus import write_article, write_corpus
from tests.test_server import BIN, _free_port, _get, _wait_for

COMBINED = re.compile(
    r'^(?P<remote>\S+) - - \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) (?P<protocol>[^"]+)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)" [\d.]+ms$'
)


# --- log formats --------------------------------------------------------------------------------------------------


def test_json_lines_carry_level_logger_message_and_extra_fields() -> None:
    """A JSON line is one object: UTC time, level, logger, message, the record's extra fields, the exception."""
    record = logging.LogRecord("feedsvc.refresh", logging.WARNING, __file__, 1, "refresh of %d files", (3,), None)
    record.status = 304
    line = logs.JsonFormatter().format(record)
    data = json.loads(line)
    assert "\n" not in line
    assert data["level"] == "warning"
    assert data["logger"] == "feedsvc.refresh"
    assert data["message"] == "refresh of 3 files"
    assert data["status"] == 304
    assert data["time"].endswith("+00:00")

    try:
        raise ValueError("证券 broken")
    except ValueError:
        import sys

        failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    data = json.loads(logs.JsonFormatter().format(failed))
    assert "ValueError: 证券 broken" in data["exception"]


def test_configure_json_makes_every_logger_write_json(capsys: pytest.CaptureFixture[str]) -> None:
    """After configure(json), lines from any logger (the server's own included) are JSON objects."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.configure("info", "json")
        logging.getLogger("_granian").info("Listening at: http://127.0.0.1:1")
        logging.getLogger("feedsvc").warning("a warning")
        lines = capsys.readouterr().err.strip().splitlines()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert [json.loads(line)["logger"] for line in lines] == ["_granian", "feedsvc"]


# --- the request log ----------------------------------------------------------------------------------------------


@pytest.fixture
def line_writer() -> Iterator[logs.LineWriter[Answered]]:
    writer = logs.LineWriter(logging.getLogger("feedsvc.access"), request_lines)
    writer.start()
    yield writer
    writer.stop()


@pytest.fixture
def logged_app(content_dir: Path, settings: Settings, line_writer: logs.LineWriter[Answered]) -> Flask:
    write_corpus(content_dir, 3)
    store = Store()
    Refresher(settings, store, clock=Clock()).refresh()
    app = create_app(store)
    log_requests(app, line_writer.add)
    return app


def test_each_request_is_logged_in_combined_log_format(
    logged_app: Flask, line_writer: logs.LineWriter[Answered], caplog: pytest.LogCaptureFixture
) -> None:
    """One line per request, as nginx writes it: address, time, request line, status, bytes, referer, agent."""
    client = logged_app.test_client()
    caplog.set_level(logging.INFO, "feedsvc.access")
    first = client.get("/feeds/all.rss?x=1", headers={"User-Agent": 'Reader "quoted"/1.0', "Referer": "https://r/"})
    client.get("/feeds/all.rss", headers={"If-None-Match": first.headers["ETag"]})
    client.head("/feeds/all.atom")
    client.get("/feeds/missing.rss")
    line_writer.stop()

    records = [r for r in caplog.records if r.name == "feedsvc.access"]
    assert len(records) == 4
    lines = [COMBINED.match(r.getMessage()) for r in records]
    assert all(lines), [r.getMessage() for r in records]
    get, not_modified, head, missing = (m.groupdict() for m in lines if m)
    assert (get["method"], get["path"], get["status"]) == ("GET", "/feeds/all.rss?x=1", "200")
    assert int(get["bytes"]) == len(first.data)
    assert get["agent"] == 'Reader \\"quoted\\"/1.0'
    assert get["referer"] == "https://r/"
    assert (not_modified["status"], not_modified["bytes"]) == ("304", "0")
    assert (head["method"], head["status"], head["bytes"]) == ("HEAD", "200", "0")
    assert missing["status"] == "404"
    assert records[0].status == 200  # type: ignore[attr-defined]
    assert records[0].bytes == len(first.data)  # type: ignore[attr-defined]
    assert records[0].user_agent == 'Reader \\"quoted\\"/1.0'  # type: ignore[attr-defined]


def test_every_answer_is_one_line_whether_the_fast_path_or_the_app_answered_it(
    logged_app: Flask, line_writer: logs.LineWriter[Answered], caplog: pytest.LogCaptureFixture
) -> None:
    """The fast path notes its own answers, the app behind it the rest: no request unlogged, none twice."""
    client = logged_app.test_client()
    caplog.set_level(logging.INFO, "feedsvc.access")
    asked = ["/", "/feeds.opml", "/feeds/all.json", "/healthz", "/nowhere", "/feeds/all.rss"]
    statuses = []
    for path in asked:
        with client.get(path) as answer:  # closed unread, as a server closes a HEAD's: noted all the same
            statuses.append(answer.status_code)
    client.post("/feeds/all.rss").close()
    line_writer.stop()
    lines = [COMBINED.match(r.getMessage()) for r in caplog.records if r.name == "feedsvc.access"]
    assert [(m["method"], m["path"], int(m["status"])) for m in lines if m] == [
        *(("GET", path, status) for path, status in zip(asked, statuses, strict=True)),
        ("POST", "/feeds/all.rss", 405),
    ]
    assert statuses == [200, 200, 200, 200, 404, 200]


def test_control_characters_in_a_request_cannot_forge_log_lines(
    logged_app: Flask, line_writer: logs.LineWriter[Answered], caplog: pytest.LogCaptureFixture
) -> None:
    """A newline in a header is escaped: the line stays one line."""
    caplog.set_level(logging.INFO, "feedsvc.access")
    environ = {"HTTP_USER_AGENT": "evil\n127.0.0.1 - - fake line"}
    logged_app.test_client().get("/feeds/all.json", environ_base=environ)
    line_writer.stop()
    (record,) = [r for r in caplog.records if r.name == "feedsvc.access"]
    assert "\n" not in record.getMessage()
    assert "evil\\x0a127.0.0.1" in record.getMessage()


# --- metrics ------------------------------------------------------------------------------------------------------


def test_request_counts_kept_by_each_thread_add_up_exactly_and_outlive_their_thread() -> None:
    """Request threads count without a lock, each in its own tallies: every count is in the sum, ended threads' too."""
    store = Store()
    metrics = Metrics(lambda: store.snapshot, time.time)

    def answer(count: int) -> None:
        for number in range(count):
            metrics.observe("feed", "rss", 304 if number % 2 else 200, 0 if number % 2 else 10)

    threads = [threading.Thread(target=answer, args=(2_000,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    answer(1_000)  # and this thread, which lives on
    for thread in threads:
        thread.join()
    assert metrics.feed_answers() == (9_000, 4_500)
    text = metrics.exposition().decode()
    assert 'feedsvc_http_requests_total{format="rss",route="feed",status="200"} 4500.0' in text
    assert 'feedsvc_http_requests_total{format="rss",route="feed",status="304"} 4500.0' in text
    assert 'feedsvc_http_response_bytes_total{route="feed"} 45000.0' in text
    later = threading.Thread(target=answer, args=(2,))
    later.start()
    later.join()
    assert metrics.feed_answers() == (9_002, 4_501)  # the ended threads' counts kept, the new one's added
    for _ in range(50):  # threads that come and go, and nobody reads the metrics meanwhile
        passing = threading.Thread(target=answer, args=(2,))
        passing.start()
        passing.join()
    assert len(metrics._requests._threads) <= 2  # this one and the last: the ended ones folded as others came
    assert metrics.feed_answers() == (9_102, 4_551)


def test_metrics_count_refreshes_files_feeds_and_the_304_ratio(content_dir: Path, settings: Settings) -> None:
    """Each refresh lands in the duration histogram once; parsed files and rebuilt feeds add up; 304s are a ratio."""
    write_corpus(content_dir, 4)
    store = Store()
    clock = Clock()
    refresher = Refresher(settings, store, clock=clock)
    refresher.refresh()
    client = create_app(store).test_client()
    write_article(content_dir, "new.md", {"title": "New", "date": "2025-01-01"})
    refresher.refresh()
    store.replace(store.snapshot)  # the same refresh again (as when only marked degraded): not counted twice

    etag = client.get("/feeds/all.rss").headers["ETag"]
    client.get("/feeds/all.rss", headers={"If-None-Match": etag})
    client.get("/feeds/all.rss", headers={"If-None-Match": etag})
    client.get("/feeds/all.rss")
    text = client.get("/metrics").data.decode()

    def value(name: str) -> float:
        match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        assert match, name
        return float(match.group(1))

    assert value("feedsvc_refresh_duration_seconds_count") == 2
    assert value('feedsvc_refresh_files_total{outcome="parsed"}') == 5
    assert value('feedsvc_refresh_files_total{outcome="failed"}') == 0
    assert value("feedsvc_refresh_feeds_rebuilt_total") > 0
    assert value("feedsvc_http_not_modified_ratio") == 0.5
    assert value('feedsvc_http_requests_total{format="rss",route="feed",status="304"}') == 2
    assert value("feedsvc_articles") == 5
    assert "feedsvc_snapshot_age_seconds" in text


# --- config reload ------------------------------------------------------------------------------------------------


def _write_config(path: Path, content: Path, title: str, extra: str = "") -> Path:
    path.write_text(
        f"site:\n  title: {title}\n  link: https://www.example.com/\n  feed_url: https://feeds.example.com/\n"
        f"content:\n  dir: {content}\nscan:\n  interval_seconds: 1\n{extra}",
        encoding="utf-8",
    )
    return path


@contextlib.contextmanager
def _reloadable(tmp_path: Path, content_dir: Path) -> Iterator[tuple[Path, Service, FlaskClient]]:
    """Start a service (no schedule) over 3 articles from a config file it can reload; stop it after."""
    from feedsvc.config import load_settings

    write_corpus(content_dir, 3)
    config = _write_config(tmp_path / "feedsvc.yaml", content_dir, "Old Title")
    service = start_service(load_settings(config), scheduled=False)
    try:
        yield config, service, service.app.test_client()
    finally:
        service.stop()


def test_reload_swaps_in_a_valid_config_and_keeps_the_old_on_an_invalid_one(
    tmp_path: Path, content_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A valid new config takes over (new feeds); an invalid one is logged, naming the key, and changes nothing."""
    with _reloadable(tmp_path, content_dir) as (config, service, client):
        assert b"Old Title" in client.get("/feeds/all.rss").data

        _write_config(config, content_dir, "New Title")
        assert service.reload(config)
        assert b"New Title" in client.get("/feeds/all.rss").data

        before = client.get("/feeds/all.rss").data
        _write_config(config, content_dir, "Broken", extra="feeds:\n  limit: many\n")
        caplog.set_level(logging.ERROR, "feedsvc")
        assert not service.reload(config)
        assert client.get("/feeds/all.rss").data == before
        message = " ".join(r.getMessage() for r in caplog.records)
        assert "config reload" in message
        assert "feeds.limit" in message
        assert "running config stays" in message

        assert not service.reload(config.with_name("missing.yaml"))
        assert client.get("/feeds/all.rss").data == before


def test_reload_onto_content_that_cannot_be_read_is_refused_and_the_feeds_keep_serving(
    tmp_path: Path, content_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload onto a missing, or empty (unmounted), content directory is refused, saying so; a readable one works."""
    with _reloadable(tmp_path, content_dir) as (config, service, client):
        before = client.get("/feeds/all.rss").data
        assert before.count(b"<item>") == 3
        empty = tmp_path / "mount-point"
        empty.mkdir()
        caplog.set_level(logging.INFO, "feedsvc")
        for directory, reason in ((tmp_path / "typo", "missing"), (empty, "not mounted")):
            caplog.clear()
            _write_config(config, directory, "New Title")
            assert not service.reload(config)
            assert client.get("/feeds/all.rss").data == before
            assert client.get("/healthz").get_json()["articles"] == 3
            refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
            assert len(refusals) == 1
            assert str(directory) in refusals[0]
            assert reason in refusals[0]
            assert "running config stays in force" in refusals[0]
            assert not any("is in force" in r.getMessage() for r in caplog.records)

        write_corpus(empty, 2, seed=7)
        _write_config(config, empty, "New Title")
        assert service.reload(config)
        after = client.get("/feeds/all.rss").data
        assert b"New Title" in after
        assert after.count(b"<item>") == 2


@pytest.mark.parametrize("stop_after", [0, 1, 7, 19])
def test_a_stopped_scan_ends_at_the_next_file_with_what_it_parsed(content_dir: Path, stop_after: int) -> None:
    """Stopped after any file, a scan parses no further file and holds exactly the files parsed so far."""
    from feedsvc.index.scan import EMPTY_INDEX, ParseResult, StopFlag, scan_content
    from feedsvc.parse.articles import parse_for_scan
    from tests.conftest import make_settings

    write_corpus(content_dir, 20)
    settings = make_settings(content_dir)
    stop = StopFlag()
    parsed: list[str] = []

    def parse(raw: bytes, source: str, mtime: float) -> ParseResult:
        parsed.append(source)
        if len(parsed) >= stop_after:
            stop.set()
        return parse_for_scan(raw, source, mtime, settings=settings)

    if stop_after == 0:
        stop.set()
    result = scan_content(content_dir, EMPTY_INDEX, parse, max_bytes=settings.max_file_bytes, stop=stop)
    assert result.stopped == (stop_after < 20)
    assert list(result.reread) == parsed
    assert len(parsed) == stop_after
    assert sorted(result.index.entries) == sorted(parsed)


def test_a_stopped_refresh_publishes_nothing_and_caches_what_it_parsed(content_dir: Path) -> None:
    """A refresh stopped mid-scan leaves the served snapshot alone and writes the files it parsed to the cache."""
    from feedsvc.index.cache import open_cache
    from feedsvc.index.scan import CHUNK_FILES, StopFlag
    from feedsvc.refresh.refresher import RefreshStopped
    from tests.conftest import make_settings

    write_corpus(content_dir, CHUNK_FILES + 20)
    settings = make_settings(content_dir, scan={"workers": 1})
    stop = StopFlag()
    store = Store()
    before = store.snapshot
    cache = open_cache(settings)
    assert cache is not None
    refresher = Refresher(settings, store, cache=cache, progress=lambda done, total: stop.set(), stop=stop)
    with pytest.raises(RefreshStopped):
        refresher.refresh()
    assert store.snapshot is before
    cache.close()

    reopened = open_cache(settings)
    assert reopened is not None
    try:
        assert len(reopened.load_index().entries) == CHUNK_FILES  # the progress report comes after each chunk
    finally:
        reopened.close()


@pytest.mark.parametrize(
    "case",
    [
        (1024, 1_048_576, 10_000, 10_256),  # raised as far as the connections need
        (1024, 4096, 3840, 4096),  # raised to the hard limit, which caps the connections
        (1024, 1024, 768, None),  # cannot be raised
        (65_536, 65_536, 10_000, None),  # already enough
    ],
)
def test_serve_raises_the_open_files_limit_and_holds_the_connections_it_allows(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, case: tuple[int, int, int, int | None]
) -> None:
    """The soft open-files limit is raised toward the hard one; the connections fit under it (a warning if few)."""
    import resource

    from feedsvc.runtime import server

    soft, hard, limit, raised_to = case
    set_to: list[tuple[int, int]] = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, hard))
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: set_to.append(limits))
    caplog.set_level(logging.WARNING, "feedsvc")
    assert server._connection_limit() == limit
    assert set_to == ([] if raised_to is None else [(raised_to, hard)])
    assert ("raise `ulimit -n`" in caplog.text) == (limit < server.MAX_CONNECTIONS)


# --- the real server: JSON logs, SIGHUP and SIGTERM --------------------------------------------------------------


@contextlib.contextmanager
def _serve(command: list[str], port: int) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        try:
            _wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 200, "the server to answer")
            yield process, Path(log.name)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.mark.slow
def test_serve_logs_json_reloads_on_sighup_and_stops_on_sigterm(tmp_path: Path, content_dir: Path) -> None:
    """Every line is JSON (the server's own and requests too); SIGHUP reloads or keeps; SIGTERM exits 0."""
    write_corpus(content_dir, 3)
    config = _write_config(tmp_path / "feedsvc.yaml", content_dir, "Old Title")
    port = _free_port()
    command = [str(BIN / "feedsvc"), "--log-format", "json", "serve", "--config", str(config), "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with _serve(command, port) as (process, log):
        assert b"Old Title" in _get(base + "/feeds/all.rss", {"User-Agent": "TestReader/2"})[2]

        _write_config(config, content_dir, "Broken", extra="feeds:\n  limit: many\n")
        process.send_signal(signal.SIGHUP)
        _wait_for(lambda: "running config stays" in log.read_text(encoding="utf-8"), "the refusal to be logged")
        assert b"Old Title" in _get(base + "/feeds/all.rss")[2]

        _write_config(config, content_dir, "New Title")
        process.send_signal(signal.SIGHUP)
        _wait_for(lambda: b"New Title" in _get(base + "/feeds/all.rss")[2], "the new config to take over")

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0  # after its worker process: the log is whole
        lines = log.read_text(encoding="utf-8").splitlines()

    records = [json.loads(line) for line in lines]  # every line parses
    loggers = {r["logger"] for r in records}
    assert {"_granian", "feedsvc.access", "feedsvc"} <= loggers
    access = [r for r in records if r["logger"] == "feedsvc.access" and r.get("user_agent") == "TestReader/2"]
    assert [(r["status"], r["path"]) for r in access] == [(200, "/feeds/all.rss")]
    assert any("feeds.limit" in r["message"] for r in records if r["level"] == "error")


@pytest.mark.slow
def test_sigterm_under_load_truncates_no_answer_and_exits_zero(tmp_path: Path, content_dir: Path) -> None:
    """Clients keep asking while SIGTERM arrives: every answer that started is complete and right; exit 0."""
    import http.client
    import threading

    write_corpus(content_dir, 20)
    config = _write_config(tmp_path / "feedsvc.yaml", content_dir, "Site")
    port = _free_port()
    command = [str(BIN / "feedsvc"), "serve", "--no-access-log", "--config", str(config), "--port", str(port)]
    with _serve(command, port) as (process, _):
        expected = _get(f"http://127.0.0.1:{port}/feeds/all.rss")[2]
        complete: list[int] = []
        broken: list[str] = []
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                try:
                    connection.request("GET", "/feeds/all.rss")
                    response = connection.getresponse()
                    body = response.read()  # raises IncompleteRead on a truncated answer
                    if response.status != 200 or body != expected:
                        broken.append(f"{response.status}: {len(body)} bytes")
                    else:
                        complete.append(1)
                except http.client.IncompleteRead as error:
                    broken.append(f"truncated: {error!r}")
                except (ConnectionError, http.client.RemoteDisconnected):
                    return  # no longer accepting: the server is going away
                finally:
                    connection.close()

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        _wait_for(lambda: len(complete) > 200, "clients to be busy")
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    assert code == 0
    assert broken == []
    assert len(complete) > 200
