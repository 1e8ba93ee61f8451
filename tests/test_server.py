"""The real thing: `feedsvc serve` (granian) and gunicorn as processes, talked to over HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import IO

import pytest

from tests.corpus import write_article, write_corpus

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
DEADLINE = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    """GET a URL; the headers come back case-insensitive."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _wait_for(check: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _config(tmp_path: Path, content: Path, port: int) -> Path:
    path = tmp_path / f"feedsvc-{port}.yaml"
    path.write_text(
        "site:\n  link: https://www.example.com/\n"
        f"  feed_url: http://127.0.0.1:{port}/\n"
        f"content:\n  dir: {content}\nscan:\n  interval_seconds: 1\n",
        encoding="utf-8",
    )
    return path


@contextmanager
def _running(command: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends; its log goes to a file (a full pipe would block it).

    It runs in a session of its own, so that whatever is left of it (a worker whose
    supervisor a test killed) is killed with it.
    """
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=log, env={**os.environ, **(env or {})}, start_new_session=True
        )
        try:
            _wait_until_answering(process, port, log)
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_until_answering(process: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
    """Wait for the server to answer /healthz; if it exits or never answers, fail with the end of its log."""

    def answering() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}) before answering:\n{_tail(log)}")
        return _get(f"http://127.0.0.1:{port}/healthz")[0] == 200

    try:
        _wait_for(answering, "the server to answer")
    except AssertionError as failure:
        if "before answering" in str(failure):
            raise
        raise AssertionError(f"{failure}; its log ends:\n{_tail(log)}") from None


def _tail(log: IO[bytes], size: int = 4000) -> str:
    """The last `size` bytes of a log file, as text."""
    log.flush()
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - size))
    return log.read().decode("utf-8", "replace")


@contextmanager
def _feedsvc(tmp_path: Path, content: Path, port: int = 0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = port or _free_port()
    command = [str(BIN / "feedsvc"), "serve", "--config", str(_config(tmp_path, content, port)), "--port", str(port)]
    with _running(command, port) as process:
        yield f"http://127.0.0.1:{port}", process


def _etags(base: str, paths: list[str]) -> dict[str, tuple[str, bytes]]:
    result = {}
    for path in paths:
        status, headers, body = _get(base + path)
        assert status == 200, path
        result[path] = (headers["ETag"], body)
    return result


def test_serve_answers_and_follows_content_changes(tmp_path: Path, content_dir: Path) -> None:
    """The served feed answers 200 then 304, and shows an added article and drops a deleted one within a scan."""
    write_corpus(content_dir, 5)
    with _feedsvc(tmp_path, content_dir) as (base, process):
        status, headers, body = _get(base + "/feeds/all.rss", {"Accept-Encoding": "gzip"})
        assert status == 200
        assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
        assert headers["Content-Encoding"] == "gzip"
        assert b"<rss" in gzip.decompress(body)
        assert _get(base + "/feeds/all.rss", {"If-None-Match": headers["ETag"]})[0] == 304

        write_article(content_dir, "new/breaking.md", {"title": "Breaking: rates cut", "date": "2030-01-01T00:00Z"})
        write_article(content_dir, "new/today.md", {"title": "Published today", "date": "2025-01-01T00:00Z"})
        _wait_for(lambda: b"Published today" in _get(base + "/feeds/all.atom")[2], "the new article")
        assert b"Breaking" not in _get(base + "/feeds/all.atom")[2]  # dated in the future: held

        (content_dir / "new" / "today.md").unlink()
        _wait_for(lambda: b"Published today" not in _get(base + "/feeds/all.atom")[2], "the deleted article to go")
        health = json.loads(_get(base + "/healthz")[2])
        assert health["status"] == "ok"
        assert health["articles"] == 5

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_last_good_feeds_serve_while_the_content_directory_is_gone(tmp_path: Path, content_dir: Path) -> None:
    """With the content directory moved away, feeds keep serving unchanged, /healthz says degraded, then recovers."""
    write_corpus(content_dir, 4)
    with _feedsvc(tmp_path, content_dir) as (base, _):
        before = _etags(base, ["/feeds/all.rss", "/feeds/all.json"])
        aside = content_dir.with_name("aside")
        content_dir.rename(aside)
        _wait_for(lambda: json.loads(_get(base + "/healthz")[2])["status"] == "degraded", "degraded health")
        assert "content directory" in json.loads(_get(base + "/healthz")[2])["reason"]
        assert _etags(base, ["/feeds/all.rss", "/feeds/all.json"]) == before
        aside.rename(content_dir)
        _wait_for(lambda: json.loads(_get(base + "/healthz")[2])["status"] == "ok", "recovery")
        assert _etags(base, ["/feeds/all.rss", "/feeds/all.json"]) == before


def test_kill_and_restart_serve_identical_bytes(tmp_path: Path, content_dir: Path) -> None:
    """After kill -9 and a restart, every feed has the same bytes and ETag."""
    write_corpus(content_dir, 12)
    paths = ["/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/feeds.opml", "/"]
    port = _free_port()  # the same port: feeds name their own URL
    with _feedsvc(tmp_path, content_dir, port) as (base, process):
        first = _etags(base, paths)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    with _feedsvc(tmp_path, content_dir, port) as (base, _):
        assert _etags(base, paths) == first


@pytest.mark.skipif(shutil.which("gunicorn", path=str(BIN)) is None, reason="gunicorn is not installed")
def test_gunicorn_workers_serve_the_same_feeds_as_serve(tmp_path: Path, content_dir: Path) -> None:
    """gunicorn with two workers over `feedsvc.wsgi:create()` serves byte-identical feeds to `feedsvc serve`."""
    write_corpus(content_dir, 8)
    paths = ["/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json"]
    with _feedsvc(tmp_path, content_dir) as (base, _):
        reference = _etags(base, [*paths, "/feeds.opml"])
    port = int(base.rsplit(":", 1)[1])  # the same feed_url, so the same self links
    config = _config(tmp_path, content_dir, port)
    command = [str(BIN / "gunicorn"), "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{port}", "feedsvc.wsgi:create()"]
    with _running(command, port, env={"FEEDSVC_CONFIG": str(config)}) as process:
        for _ in range(6):  # several requests, so that both workers are likely to answer
            assert _etags(base, [*paths, "/feeds.opml"]) == reference
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
