"""The request log: its lines (unchanged), the writer thread that writes them, a full queue, and a stop."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from feedsvc.config import Settings
from feedsvc.http.accesslog import Answered, RequestLog, request_lines
from feedsvc.http.app import create_app, log_requests
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime import logs
from feedsvc.store import Store
from feedsvc.wsgi import _log_requests
from tests.conftest import Clock
from tests.corpus import write_corpus
from tests.test_server import BIN, _config, _free_port, _get, _wait_for

ACCESS = logging.getLogger("feedsvc.access")
ANSWERED_NS = 1_796_040_000_123_456_000  # 2026-11-30 12:00:00.123456 UTC
TAKEN_S = 0.0123456
ENVIRON = {
    "REQUEST_METHOD": "GET",
    "PATH_INFO": "/feeds/all.rss",
    "QUERY_STRING": "",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
}
# Requests, and the line the request log wrote for each before it had a writer thread (same time, same duration).
LINES: list[tuple[dict[str, Any], str]] = [
    ({}, 'GET /feeds/all.rss HTTP/1.1" 200 6 "-" "-" 12.3ms'),
    ({"QUERY_STRING": 'x=1&y="2"'}, 'GET /feeds/all.rss?x=1&y=\\"2\\" HTTP/1.1" 200 6 "-" "-" 12.3ms'),
    (
        {"HTTP_USER_AGENT": 'Reader "quoted"/1.0 \\ back', "HTTP_REFERER": "https://r/"},
        'GET /feeds/all.rss HTTP/1.1" 200 6 "https://r/" "Reader \\"quoted\\"/1.0 \\\\ back" 12.3ms',
    ),
    ({"HTTP_USER_AGENT": "", "HTTP_REFERER": ""}, 'GET /feeds/all.rss HTTP/1.1" 200 6 "" "" 12.3ms'),
    (
        {"HTTP_USER_AGENT": "evil\n127.0.0.1 - - fake\u2028line\x85"},
        'GET /feeds/all.rss HTTP/1.1" 200 6 "-" "evil\\x0a127.0.0.1 - - fake\\x2028line\\x85" 12.3ms',
    ),
    ({"REQUEST_METHOD": "HEAD"}, 'HEAD /feeds/all.rss HTTP/1.1" 200 0 "-" "-" 12.3ms'),
    ({"REMOTE_ADDR": ""}, 'GET /feeds/all.rss HTTP/1.1" 200 6 "-" "-" 12.3ms'),
    ({"PATH_INFO": "/证券/é\udce9", "x.status": "404 NOT FOUND"}, 'GET /证券/é\\xdce9 HTTP/1.1" 404 6 "-" "-" 12.3ms'),
    ({"x.stream": True}, 'GET /feeds/all.rss HTTP/1.1" 200 5 "-" "-" 12.3ms'),
    ({"x.status": "304 Not Modified"}, 'GET /feeds/all.rss HTTP/1.1" 304 6 "-" "-" 12.3ms'),
    ({"SERVER_PROTOCOL": "HTTP/2"}, 'GET /feeds/all.rss HTTP/2" 200 6 "-" "-" 12.3ms'),
]
# The JSON lines written before, of LINES[2], LINES[4] and LINES[5].
JSON_LINES = {
    2: '{"time": "2026-11-30T12:00:00.123+00:00", "level": "info", "logger": "feedsvc.access", "message": '
    '"127.0.0.1 - - [30/Nov/2026:12:00:00 +0000] \\"GET /feeds/all.rss HTTP/1.1\\" 200 6 \\"https://r/\\" '
    '\\"Reader \\\\\\"quoted\\\\\\"/1.0 \\\\\\\\ back\\" 12.3ms", "remote": "127.0.0.1", "method": "GET", '
    '"path": "/feeds/all.rss", "protocol": "HTTP/1.1", "status": 200, "bytes": 6, "referer": "https://r/", '
    '"user_agent": "Reader \\\\\\"quoted\\\\\\"/1.0 \\\\\\\\ back", "duration_ms": 12.346}',
    4: '{"time": "2026-11-30T12:00:00.123+00:00", "level": "info", "logger": "feedsvc.access", "message": '
    '"127.0.0.1 - - [30/Nov/2026:12:00:00 +0000] \\"GET /feeds/all.rss HTTP/1.1\\" 200 6 \\"-\\" '
    '\\"evil\\\\x0a127.0.0.1 - - fake\\\\x2028line\\\\x85\\" 12.3ms", "remote": "127.0.0.1", "method": "GET", '
    '"path": "/feeds/all.rss", "protocol": "HTTP/1.1", "status": 200, "bytes": 6, "referer": "-", '
    '"user_agent": "evil\\\\x0a127.0.0.1 - - fake\\\\x2028line\\\\x85", "duration_ms": 12.346}',
    5: '{"time": "2026-11-30T12:00:00.123+00:00", "level": "info", "logger": "feedsvc.access", "message": '
    '"127.0.0.1 - - [30/Nov/2026:12:00:00 +0000] \\"HEAD /feeds/all.rss HTTP/1.1\\" 200 0 \\"-\\" \\"-\\" 12.3ms", '
    '"remote": "127.0.0.1", "method": "HEAD", "path": "/feeds/all.rss", "protocol": "HTTP/1.1", "status": 200, '
    '"bytes": 0, "referer": "-", "user_agent": "-", "duration_ms": 12.346}',
}


def _app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """A WSGI app answering with the status the environ asks for, in a list or streamed."""
    start_response(environ.get("x.status", "200 OK"), [])
    return iter([b"abc", b"de"]) if environ.get("x.stream") else [b"hello", b"!"]


def _answered(requests: list[dict[str, Any]]) -> list[Answered]:
    """What the middleware notes of each request, with the time answered and taken fixed."""
    noted: list[Answered] = []
    logged = RequestLog(_app, noted.append)
    with _handler_on_access_log(logging.NullHandler()):  # the request log is on: INFO lines are wanted
        for overrides in requests:
            body = logged({**ENVIRON, **overrides}, lambda status, headers, exc_info=None: None)  # type: ignore[arg-type]
            b"".join(body)
            getattr(body, "close", lambda: None)()
    return [(*entry[:9], TAKEN_S, ANSWERED_NS) for entry in noted]


class _Recording(logging.Handler):
    """Keep each record with the thread that handled it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, logging.LogRecord]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((threading.get_ident(), record))


@contextlib.contextmanager
def _handler_on_access_log(handler: logging.Handler) -> Iterator[None]:
    saved = (ACCESS.level, ACCESS.propagate)
    ACCESS.setLevel(logging.INFO)
    ACCESS.propagate = False
    ACCESS.addHandler(handler)
    try:
        yield
    finally:
        ACCESS.removeHandler(handler)
        ACCESS.setLevel(saved[0])
        ACCESS.propagate = saved[1]


class _OtherStream(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler of another class: it gets records, as from logger.log, not lines."""


@pytest.fixture(params=[logging.StreamHandler, _OtherStream], ids=["lines", "records"])
def stream_handler(request: pytest.FixtureRequest) -> type[logging.StreamHandler]:  # type: ignore[type-arg]
    """The handler `configure` installs (which gets lines), or one that gets records: they must write the same."""
    handler: type[logging.StreamHandler] = request.param  # type: ignore[type-arg]
    return handler


def _formatted(
    log_format: str,
    answered: list[Answered],
    stream_handler: type[logging.StreamHandler],  # type: ignore[type-arg]
) -> list[str]:
    """The lines a stream handler with our formatter of `log_format` writes for these requests."""
    out = io.StringIO()
    handler = stream_handler(out)
    handler.setFormatter(logs.formatter(log_format))
    with _handler_on_access_log(handler):
        logs.write_lines(ACCESS, logging.INFO, request_lines(answered))
    return out.getvalue().splitlines()


# --- the lines --------------------------------------------------------------------------------------------------


def test_text_lines_are_those_written_before_the_writer_thread(
    stream_handler: type[logging.StreamHandler],  # type: ignore[type-arg]
) -> None:
    """Each text line is, byte for byte, the line the request log wrote when requests wrote their own."""
    lines = _formatted("text", _answered([overrides for overrides, _ in LINES]), stream_handler)
    asctime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ANSWERED_NS // 10**9)) + ",123"
    remote = ["- - -" if overrides.get("REMOTE_ADDR") == "" else "127.0.0.1 - -" for overrides, _ in LINES]
    assert lines == [
        f'{asctime} INFO feedsvc.access: {who} [30/Nov/2026:12:00:00 +0000] "{request}'
        for who, (_, request) in zip(remote, LINES, strict=True)
    ]


def test_json_lines_are_those_written_before_the_writer_thread(
    stream_handler: type[logging.StreamHandler],  # type: ignore[type-arg]
) -> None:
    """Each JSON line is, byte for byte, the line the request log wrote before: the same keys, order and escapes."""
    lines = _formatted("json", _answered([overrides for overrides, _ in LINES]), stream_handler)
    assert {index: lines[index] for index in JSON_LINES} == JSON_LINES
    assert [json.loads(line)["message"].split('] "', 1)[1] for line in lines] == [line for _, line in LINES]


def test_a_line_answered_at_the_end_of_a_second_is_not_stamped_a_second_later() -> None:
    """A time a few ns before a second ends (which a float rounds up) gives that second or the next one's start."""
    (entry,) = _answered([{}])
    just_before = (ANSWERED_NS // 10**9 + 1) * 10**9 - 10
    (line,) = _formatted("text", [(*entry[:10], just_before)], logging.StreamHandler)
    stamps = [
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ANSWERED_NS // 10**9)) + ",999",
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ANSWERED_NS // 10**9 + 1)) + ",000",
    ]
    assert line.split(" INFO ", 1)[0] in stamps


def test_the_json_time_is_the_one_datetime_writes() -> None:
    """The JSON format's time, its seconds' text made once per second, is datetime's isoformat to the millisecond."""
    rounding = [0.0, 0.0000005, 0.0000015, 0.0000025, 0.0004995, 0.0005, 0.9994999, 0.9995, 0.9999994999, 0.9999995]
    times = [whole + part for whole in (1_796_040_000.0, 1.0, 0.0, -2.0) for part in rounding]
    draw = random.Random(7)
    times += [draw.uniform(-1e9, 4e9) for _ in range(20_000)]
    formatter = logs.JsonFormatter()
    assert [formatter._time(created) for created in times] == [
        datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds") for created in times
    ]


def test_every_character_the_formats_escape_is_one_isprintable_refuses() -> None:
    """The short cut of both formats (a printable line is left as it is) never skips a character to escape."""
    escaped = [chr(code) for code in range(0x110000) if logs._UNSAFE.match(chr(code))]
    assert len(escaped) > 2000
    assert not any(char.isprintable() for char in escaped)
    assert all(logs._UNSAFE.match(chr(code)) for code in range(0x110000) if logs._JSON_UNSAFE.match(chr(code)))


# --- the writer thread --------------------------------------------------------------------------------------------


@pytest.fixture
def logged_app(content_dir: Path, settings: Settings) -> Flask:
    write_corpus(content_dir, 3)
    store = Store()
    Refresher(settings, store, clock=Clock()).refresh()
    return create_app(store)


class _Written(io.StringIO):
    """A stream that notes which thread wrote each piece of text."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: list[int] = []

    def write(self, text: str) -> int:
        self.writers.append(threading.get_ident())
        return super().write(text)


def test_the_request_thread_queues_and_the_writer_thread_makes_and_writes_lines(logged_app: Flask) -> None:
    """Requests only queue what their line needs: lines and records are made and handled in the writer's thread."""
    writer = logs.LineWriter(ACCESS, request_lines)
    log_requests(logged_app, writer.add)
    handler, stream = _Recording(), _Written()
    plain = logging.StreamHandler(stream)  # as `configure` installs it: it gets lines, in one write per batch
    plain.setFormatter(logs.formatter("text"))
    with _handler_on_access_log(handler), _handler_on_access_log(plain):
        client = logged_app.test_client()
        for number in range(5):
            assert client.get(f"/feeds/all.rss?n={number}").status_code == 200
        assert handler.seen == []  # the writer has not started: no request made or wrote its line
        assert stream.getvalue() == ""
        writer.start()
        writer.stop()
    writer_thread = writer._thread
    assert writer_thread is not None
    assert {ident for ident, _ in handler.seen} == {writer_thread.ident}
    assert {record.thread for _, record in handler.seen} == {writer_thread.ident}
    assert [record.path for _, record in handler.seen] == [f"/feeds/all.rss?n={n}" for n in range(5)]  # type: ignore[attr-defined]
    assert stream.writers == [writer_thread.ident]
    assert [line.split('"GET ', 1)[1].split(" ")[0] for line in stream.getvalue().splitlines()] == [
        f"/feeds/all.rss?n={n}" for n in range(5)
    ]


def test_stop_writes_every_queued_line_in_order() -> None:
    """A stop cuts the writer's wait short and writes every line queued before it, in the order they came."""
    writer = logs.LineWriter(ACCESS, request_lines, gather_s=3600)  # it would wait an hour for more
    handler = _Recording()
    with _handler_on_access_log(handler):
        writer.start()
        for entry in _answered([{"QUERY_STRING": f"n={n}"} for n in range(50)]):
            writer.add(entry)
        writer.stop()
        writer.add(_answered([{"QUERY_STRING": "late"}])[0])  # after a stop: written at once, here
    assert [record.path for _, record in handler.seen] == [  # type: ignore[attr-defined]
        *(f"/feeds/all.rss?n={n}" for n in range(50)),
        "/feeds/all.rss?late",
    ]
    assert handler.seen[-1][0] == threading.get_ident()


class _Stuck(logging.Handler):
    """A handler whose writes do not return until released, as stderr into a pipe nobody reads."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.unblocked = threading.Event()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.entered.set()
        assert self.unblocked.wait(timeout=60)
        self.records.append(record)


def test_a_full_queue_drops_and_counts_lines_instead_of_waiting() -> None:
    """With the writer stuck and the queue full, adding returns at once: the line is dropped, counted, and reported."""
    writer = logs.LineWriter(ACCESS, request_lines, capacity=3, gather_s=0)
    handler = _Stuck()
    entries = _answered([{"QUERY_STRING": f"n={n}"} for n in range(10)])
    with _handler_on_access_log(handler):
        writer.start()
        writer.add(entries[0])
        assert handler.entered.wait(timeout=30)  # the writer is stuck writing the first line
        for entry in entries[1:]:
            writer.add(entry)  # never waits: the test would hang here otherwise
        assert writer.dropped == 6
        handler.unblocked.set()
        writer.stop()
    requests = [record for record in handler.records if record.levelno == logging.INFO]
    assert [record.path for record in requests] == [f"/feeds/all.rss?n={n}" for n in range(4)]  # type: ignore[attr-defined]
    (warning,) = [record.getMessage() for record in handler.records if record.levelno == logging.WARNING]
    assert warning.startswith("lines dropped since the last report: 6 ")


class _Seconds:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_dropped_lines_are_reported_once_per_interval() -> None:
    """Drops are reported in one warning at most every REPORT_EVERY_S, naming how many since the last one."""
    clock = _Seconds()
    writer = logs.LineWriter(ACCESS, request_lines, capacity=1, clock=clock)
    handler = _Recording()
    entries = _answered([{"QUERY_STRING": f"n={n}"} for n in range(6)])

    def warnings() -> list[str]:
        return [record.getMessage() for _, record in handler.seen if record.levelno == logging.WARNING]

    with _handler_on_access_log(handler):
        writer.add(entries[0])
        writer.add(entries[1])  # dropped
        writer.flush()
        assert warnings() == [
            "lines dropped since the last report: 1 (they came faster than they could be written; at most 1 wait)"
        ]
        for entry in entries[2:4]:  # one written, one dropped, within the interval
            writer.add(entry)
        clock.now += logs.REPORT_EVERY_S / 2
        writer.flush()
        assert len(warnings()) == 1
        writer.add(entries[4])
        writer.add(entries[5])  # dropped
        clock.now += logs.REPORT_EVERY_S / 2
        writer.flush()
        assert len(warnings()) == 2
        assert warnings()[1].startswith("lines dropped since the last report: 2 ")
        writer.stop()
    assert writer.dropped == 3
    assert len(warnings()) == 2


def test_metrics_count_the_dropped_lines_of_the_request_log(logged_app: Flask) -> None:
    """/metrics has the request log's dropped lines as a counter: 0 without a request log, the writer's count with."""
    client = logged_app.test_client()
    assert "feedsvc_request_log_dropped_lines_total 0.0" in client.get("/metrics").text
    writer = _log_requests(logged_app)
    writer._dropped = 7  # as a flood would have left it
    writer.stop()
    assert "feedsvc_request_log_dropped_lines_total 7.0" in client.get("/metrics").text


# --- a real server: every line is written by the time it stops ----------------------------------------------------


def _requests_then_sigterm(command: list[str], port: int, env: dict[str, str], count: int) -> list[str]:
    """Ask for a feed `count` times, SIGTERM the server at once, and return its log once it has exited."""
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, env={**os.environ, **env}, start_new_session=True)
        try:
            _wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 200, "the server to answer")
            for number in range(count):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/feeds/all.rss?n={number}", headers={"User-Agent": "StopTest/1"}
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        return Path(log.name).read_text(encoding="utf-8").splitlines()


def _asked(lines: list[str]) -> list[str]:
    """The paths of the test's requests, in the order of their lines."""
    asked = [re.search(r'"GET (\S+) HTTP/1.1" 200 ', line) for line in lines if '"StopTest/1"' in line]
    return [match.group(1) for match in asked if match]


@pytest.mark.slow
def test_serve_writes_every_request_line_before_it_exits(tmp_path: Path, content_dir: Path) -> None:
    """`feedsvc serve` stopped right after its last answer has written the line of every request, in order."""
    write_corpus(content_dir, 3)
    port = _free_port()
    command = [str(BIN / "feedsvc"), "serve", "--config", str(_config(tmp_path, content_dir, port))]
    lines = _requests_then_sigterm([*command, "--port", str(port)], port, {}, count=100)
    assert _asked(lines) == [f"/feeds/all.rss?n={number}" for number in range(100)]


@pytest.mark.slow
@pytest.mark.skipif(not (BIN / "gunicorn").exists(), reason="gunicorn is not installed")
def test_gunicorn_writes_every_request_line_before_it_exits(tmp_path: Path, content_dir: Path) -> None:
    """A gunicorn worker over `feedsvc.wsgi:create()` writes the line of every request before it exits, in order."""
    write_corpus(content_dir, 3)
    port = _free_port()
    config = _config(tmp_path, content_dir, port)
    command = [str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "feedsvc.wsgi:create()"]
    lines = _requests_then_sigterm(command, port, {"FEEDSVC_CONFIG": str(config)}, count=100)
    assert _asked(lines) == [f"/feeds/all.rss?n={number}" for number in range(100)]


def test_a_streamed_answer_is_noted_once_when_the_server_closes_it_read_or_not() -> None:
    """A server closes every answer (PEP 3333), a HEAD's unread: its line is noted then, once, with the bytes taken."""
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            return iter([b"abc", b"de"])

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        return Body()

    noted: list[Answered] = []
    logged = RequestLog(app, noted.append)
    with _handler_on_access_log(logging.NullHandler()):
        unread = logged(dict(ENVIRON), lambda status, headers, exc_info=None: None)  # type: ignore[arg-type]
        assert noted == []
        unread.close()  # type: ignore[attr-defined]
        read = logged(dict(ENVIRON), lambda status, headers, exc_info=None: None)  # type: ignore[arg-type]
        assert b"".join(read) == b"abcde"
        read.close()  # type: ignore[attr-defined]
        read.close()  # type: ignore[attr-defined]
    assert [(entry[7], entry[8]) for entry in noted] == [("200 OK", 0), ("200 OK", 5)]
    assert closed == [True, True]  # each answer's body closed once
