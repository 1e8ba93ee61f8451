"""Faults a whole process meets: idle and slow clients, a reload onto unreadable content, a stop mid-refresh.

Each test runs the real `feedsvc serve` on a free 127.0.0.1 port.
"""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from feedsvc.server import HEADER_READ_TIMEOUT_S
from tests.corpus import write_corpus
from tests.test_ops import _serve, _write_config
from tests.test_server import BIN, _free_port

pytestmark = pytest.mark.slow

IDLE_CONNECTIONS = 2000
SLOW_CONNECTIONS = 50


def _enough_open_files(needed: int) -> None:
    """Raise this process's soft limit on open files to what the test needs, or skip."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"needs {needed} open files; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _open_quietly(port: int) -> socket.socket:
    """Open a connection without waiting for it to be accepted, and send nothing."""
    sock = socket.socket()
    sock.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        sock.connect(("127.0.0.1", port))
    return sock


def _timed_get(url: str) -> float:
    """GET a URL on a new connection; return the seconds the complete answer took."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert b"<item>" in response.read()
    return time.perf_counter() - started


# --- case: idle and slow connections -----------------------------------------------------------------------------


def test_a_cached_feed_answers_within_a_second_while_thousands_of_idle_and_slow_connections_are_open(
    tmp_path: Path, content_dir: Path
) -> None:
    """2,000 idle and 50 slowloris connections cost a real client no wait; the server closes them within seconds."""
    _enough_open_files(IDLE_CONNECTIONS + SLOW_CONNECTIONS + 256)
    write_corpus(content_dir, 5)
    config = _write_config(tmp_path / "feedsvc.yaml", content_dir, "Site")
    port = _free_port()
    command = [str(BIN / "feedsvc"), "serve", "--no-access-log", "--config", str(config), "--port", str(port)]
    url = f"http://127.0.0.1:{port}/feeds/all.rss"
    with _serve(command, port) as (_, log):
        _timed_get(url)
        opened = time.monotonic()
        idle = [_open_quietly(port) for _ in range(IDLE_CONNECTIONS)]
        slow = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(SLOW_CONNECTIONS)]
        stop = threading.Event()

        def trickle() -> None:  # slowloris: a header line now and then, the header never complete
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b"GET /feeds/all.rss HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while not stop.wait(1.0):
                for sock in slow:
                    with contextlib.suppress(OSError):
                        sock.sendall(b"X-Wait: 1\r\n")

        trickler = threading.Thread(target=trickle)
        trickler.start()
        try:
            time.sleep(0.5)  # every connection is open and with the server by now
            latencies = [_timed_get(url) for _ in range(5)]
            print(f"latency of /feeds/all.rss with {IDLE_CONNECTIONS} idle connections open: {latencies}")
            assert max(latencies) < 1.0, latencies

            # The server closes connections that send no whole header in time: idle or trickling.
            selector = selectors.DefaultSelector()
            for sock in idle + slow:
                selector.register(sock, selectors.EVENT_READ)
            deadline = opened + HEADER_READ_TIMEOUT_S + 3
            while selector.get_map() and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=0.5):
                    with contextlib.suppress(OSError):
                        if key.fileobj.recv(4096):  # type: ignore[union-attr]
                            continue  # an answer (408) before the close
                    selector.unregister(key.fileobj)
            left = len(selector.get_map())
            assert left == 0, f"{left} connections still open after {HEADER_READ_TIMEOUT_S + 3} s"
            assert _timed_get(url) < 1.0
        finally:
            stop.set()
            trickler.join()
            for sock in idle + slow:
                sock.close()
        assert "up to 10000 connections" in log.read_text(encoding="utf-8")
