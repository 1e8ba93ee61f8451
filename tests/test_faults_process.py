"""Faults a whole process meets: idle and slow clients, a reload onto unreadable content, a stop mid-refresh.

Each test runs the real `feedsvc serve` on a free 127.0.0.1 port.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from feedsvc.config import load_settings
from feedsvc.index.cache import default_cache_dir, open_cache
from feedsvc.runtime.counting import counts_file
from feedsvc.runtime.server import HEADER_READ_TIMEOUT_S
from feedsvc.subscribers.ledger import merged
from tests.corpus import write_corpus
from tests.test_ops import _serve, _write_config
from tests.test_server import BIN, _free_port, _get, _wait_for

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


def _get_quietly(url: str) -> int | None:
    """GET a URL; return its status, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


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


# --- case: SIGTERM during the first refresh ----------------------------------------------------------------------


def _write_slow_corpus(content: Path, count: int, notes: int = 300) -> None:
    """Write `count` articles whose long front matter takes a few ms each to parse (the body is short).

    The notes are mappings, which only the full YAML loader reads: the quick reader of plain front
    matter would read a list of plain notes in a fraction of the time, and the refresh would end first.
    """
    listing = "".join(f"  - {{note: {i}}}\n" for i in range(notes))
    for number in range(count):
        folder = content / f"{number // 500:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"article-{number:05d}.md").write_text(
            f"---\ntitle: Article {number}\ndate: 2024-01-01 00:{number // 60 % 60:02d}:{number % 60:02d}\n"
            f"notes:\n{listing}---\n\n<p>Body of article {number}.</p>\n",
            encoding="utf-8",
        )


def _parsing_cpu_seconds(pid: int) -> float:
    """Return the CPU time used by the scan's worker processes: the children of a forkserver under `pid` (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    parents = [pid]
    while parents:
        parent = parents.pop()
        tasks = Path(f"/proc/{parent}/task").iterdir()
        children = [int(child) for task in tasks for child in (task / "children").read_text().split()]
        parents += children
        if b"forkserver" in Path(f"/proc/{parent}/cmdline").read_bytes():
            for child in children:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime and stime
    return total


def test_sigterm_during_the_first_refresh_stops_it_exits_zero_and_keeps_what_was_parsed(
    tmp_path: Path, content_dir: Path
) -> None:
    """SIGTERM while the first refresh parses: it stops at the next file, exits 0 at once, the cache keeps it."""
    _write_slow_corpus(content_dir, 4000)  # 2 workers take seconds: SIGTERM comes mid-way
    config = _write_config(tmp_path / "feedsvc.yaml", content_dir, "Site", extra="  workers: 2\n")
    port = _free_port()
    command = [str(BIN / "feedsvc"), "serve", "--no-access-log", "--config", str(config), "--port", str(port)]
    cache_dir = default_cache_dir()
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        try:
            # The worker opens the cache just before its first refresh starts.
            _wait_for(lambda: any(cache_dir.glob("*.sqlite3")), "the first refresh to start")
            _wait_for(lambda: _parsing_cpu_seconds(process.pid) >= 1.0, "the worker processes to parse for 1 s")
            assert _get_quietly(f"http://127.0.0.1:{port}/healthz") is None, "the first refresh ended too soon"
            process.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            code = process.wait(timeout=15)
            took = time.monotonic() - stopped
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        text = Path(log.name).read_text(encoding="utf-8")
    print(f"SIGTERM during the first refresh: exit {code} after {took:.2f} s")
    assert code == 0, text
    assert took < 5.0, text
    parsed = re.search(r"refresh stopped after parsing (\d+) files", text)
    assert parsed is not None, text
    assert "Killing worker" not in text
    cache = open_cache(load_settings(config))
    assert cache is not None
    try:
        kept = len(cache.load_index().entries)
    finally:
        cache.close()
    assert kept == int(parsed.group(1)) > 0


# --- case: SIGTERM while clients never read their answers -------------------------------------------------------


def _stuck_client(port: int, feed_bytes: int) -> socket.socket:
    """A client that asks for the feed again and again and reads nothing: answers under way pile up, unsent.

    It asks for more than the kernel's buffers on both sides hold (16 MB of answers).
    """
    client = socket.create_connection(("127.0.0.1", port))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.sendall(b"GET /feeds/all.rss HTTP/1.1\r\nHost: x\r\n\r\n" * (16_000_000 // feed_bytes + 1))
    return client


@pytest.mark.slow
def test_sigterm_with_clients_that_never_read_makes_the_services_writes_at_once(
    tmp_path: Path, content_dir: Path
) -> None:
    """The subscriber counts reach their file right after SIGTERM, while granian waits for answers nobody reads.

    Made only at the worker's exit, they would never be: granian kills the worker it
    waited for 30 s, and a killed process runs no exit handler.
    """
    write_corpus(content_dir, 5)
    state = tmp_path / "state"
    extra = f"stats:\n  flush_seconds: 3600\ncache:\n  dir: {state}\n"
    config = _write_config(tmp_path / "feedsvc.yaml", content_dir, "Site", extra=extra)
    port = _free_port()
    command = [str(BIN / "feedsvc"), "serve", "--no-access-log", "--config", str(config), "--port", str(port)]
    with _serve(command, port) as (process, log):
        reader = {"User-Agent": "NetNewsWire (RSS Reader; https://netnewswire.com/)"}
        status, _, body = _get(f"http://127.0.0.1:{port}/feeds/all.rss", reader)
        assert status == 200
        stuck = [_stuck_client(port, len(body)) for _ in range(20)]
        try:
            time.sleep(0.5)  # the answers under way fill the sockets
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            _wait_for(lambda: _subscribers(config, "all") == 1, "the counts to be written", timeout=10)
            took = time.monotonic() - signalled
            still_running = process.poll() is None
        finally:
            for client in stuck:
                client.close()
        text = log.read_text(encoding="utf-8")
    print(f"SIGTERM with 20 clients that never read: counts written after {took:.2f} s")
    assert still_running, text  # granian was still waiting for the answers nobody reads
    assert "the service's writes are made now" in text


def _subscribers(config: Path, feed: str) -> int:
    """The subscribers of a feed its counts file holds (0 before the file or the feed is there)."""
    path = counts_file(load_settings(config))
    if not path.is_file():
        return 0
    ledger = merged([path])
    try:
        report = ledger.counts(int(time.time()), report_days=7).report()
    finally:
        ledger.close()
    return int(report["feeds"].get(feed, {}).get("subscribers", 0))


# --- case: SIGHUP onto a content directory that cannot be read ---------------------------------------------------


def test_sighup_onto_a_missing_content_directory_is_refused_and_the_last_good_feeds_keep_serving(
    tmp_path: Path, content_dir: Path
) -> None:
    """A reload whose content directory is missing is refused, saying so; fixing the config and SIGHUP recovers."""
    write_corpus(content_dir, 5)
    config = _write_config(tmp_path / "feedsvc.yaml", content_dir, "Old Title")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(BIN / "feedsvc"), "serve", "--no-access-log", "--config", str(config), "--port", str(port)]
    with _serve(command, port) as (process, log):
        status, _, body = _get(base + "/feeds/all.rss")
        assert status == 200
        assert body.count(b"<item>") == 5
        slugs = re.findall(r'href="feeds/([^"/]+)\.rss"', _get(base + "/")[2].decode())
        category_feed = f"{base}/feeds/{next(s for s in slugs if s != 'all')}.rss"
        assert _get(category_feed)[0] == 200

        missing = tmp_path / "not-mounted-yet"
        _write_config(config, missing, "New Title")
        process.send_signal(signal.SIGHUP)
        # The new config's first refresh logs a line of its own ("config reload: …: missing") before the outcome.
        _wait_for(
            lambda: any(word in log.read_text(encoding="utf-8") for word in (" refused: ", " is in force")),
            "the reload's outcome to be logged",
        )
        text = log.read_text(encoding="utf-8")
        assert "refused" in text
        assert str(missing) in text
        assert "is in force" not in text
        status, _, body = _get(base + "/feeds/all.rss")
        assert status == 200
        assert body.count(b"<item>") == 5
        assert b"Old Title" in body
        assert _get(category_feed)[0] == 200
        health = json.loads(_get(base + "/healthz")[2])
        assert health["articles"] == 5

        _write_config(config, content_dir, "New Title")
        process.send_signal(signal.SIGHUP)
        _wait_for(lambda: b"New Title" in _get(base + "/feeds/all.rss")[2], "the fixed config to take over")
        assert _get(base + "/feeds/all.rss")[2].count(b"<item>") == 5
        # Logged just after the new feeds are swapped in: a request may see them first.
        _wait_for(lambda: "is in force" in log.read_text(encoding="utf-8"), "the reload to be logged in force")
