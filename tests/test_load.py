"""The running server under hostile requests and under load while the content keeps changing."""

from __future__ import annotations

import gzip
import http.client
import random
import socket
import threading
import time
from functools import partial
from pathlib import Path

import pytest
from lxml import etree

from tests.corpus import write_article, write_corpus
from tests.test_server import _feedsvc, _wait_for

pytestmark = pytest.mark.slow


def _raw_status(port: int, request: bytes) -> int:
    """Send raw request bytes and return the status code of the answer (0 when the server just closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return 0
            data += chunk
    return int(data.split(b" ", 2)[1])


HOSTILE_TARGETS = [
    b"/feeds/../../etc/passwd",
    b"/feeds/..%2F..%2Fetc%2Fpasswd.rss",
    b"/feeds/%2e%2e/%2e%2e/etc/passwd.rss",
    b"/feeds/%00.rss",
    b"/feeds/\xff\xfe.rss",
    b"/feeds/%ff%fe%fd.rss",
    b"/feeds/%E9%87%91.rss",
    b"/" + b"a" * 5000,
    b"/feeds/" + b"%41" * 2000 + b".rss",
    b"/feeds/all.rss?" + b"x=1&" * 500,
    b"/feeds/all.rss#frag",
    b"//feeds//all.rss",
    b"/feeds/all.rss/",
    b"/feeds/all.RSS",
    b"/feeds/.rss",
    b"/feeds/all",
    b"*",
    b"http://127.0.0.1/feeds/all.rss",
]
HOSTILE_HEADERS = [
    b"If-None-Match: " + b'"' * 3000,
    b"If-None-Match: W/, , ,*,",
    b"If-Modified-Since: Sat, 01 Jan 99999 00:00:00 GMT",
    b"If-Modified-Since: -1",
    b"Accept-Encoding: gzip;q=nan, br;q=-1, *;q=2",
    b"Accept: text/html;q=abc, */*;q=1e400",
    b"Range: bytes=0-10,5-1,-0",
    b"Range: bytes=99999999999999999999-",
    b"Host: \xff\xfe",
    b"X-Forwarded-For: " + b"1," * 1000,
]
METHODS = [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"TRACE", b"PROPFIND", b"BREW"]


def test_no_request_makes_the_server_answer_5xx(tmp_path: Path, content_dir: Path) -> None:
    """Traversal, NUL, invalid UTF-8, huge paths, absurd headers and odd methods never get a 5xx from the server."""
    write_corpus(content_dir, 5)
    rng = random.Random(3)
    with _feedsvc(tmp_path, content_dir) as (base, process):
        port = int(base.rsplit(":", 1)[1])
        statuses = []
        for target in HOSTILE_TARGETS:
            for method in (b"GET", b"HEAD"):
                statuses.append(_raw_status(port, method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n"))
        for header in HOSTILE_HEADERS:
            statuses.append(_raw_status(port, b"GET /feeds/all.rss HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n"))
        for method in METHODS:
            statuses.append(
                _raw_status(port, method + b" /feeds/all.atom HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            )
        for _ in range(200):
            path = b"/feeds/" + bytes(rng.randrange(33, 256) for _ in range(rng.randrange(0, 40)))
            junk = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 60)))
            request = (
                b"GET " + path.replace(b" ", b"%20") + b" HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + junk + b"\r\n\r\n"
            )
            statuses.append(_raw_status(port, request))
        assert process.poll() is None, "the server died"
        assert all(status < 500 for status in statuses), sorted(set(statuses))
        assert 404 in statuses
        assert 200 in statuses


CLIENTS = 16
REQUESTS = 25  # each client asks at least this many times, and on until the content stops changing
# One change after another, each seen by the clients before the next; each gives content not served before.
CHANGES = (("added", "churn/a.md"), ("edited", "churn/a.md"), ("added", "churn/b.md"), ("deleted", "churn/a.md"))


def test_load_while_content_changes_gives_only_complete_feeds(tmp_path: Path, content_dir: Path) -> None:
    """Many clients while files are added, edited and deleted: no error, every body complete and true to its ETag."""
    write_corpus(content_dir, 30)
    paths = ["/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/feeds/jin-rong.rss", "/", "/feeds.opml"]
    errors: list[str] = []
    bodies_by_etag: dict[str, bytes] = {}
    seen = {path: set[str]() for path in paths}  # the ETags of the 200 answers of each path
    made: list[int] = []  # requests each client made
    lock = threading.Lock()
    stop = threading.Event()

    def client(seed: int, port: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        etags: dict[str, str] = {}
        count = 0
        while count < REQUESTS or not stop.is_set():
            count += 1
            path = rng.choice(paths)
            headers = {"Accept-Encoding": "gzip"} if rng.random() < 0.5 else {}
            if path in etags and rng.random() < 0.3:
                headers["If-None-Match"] = etags[path]
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                with lock:
                    errors.append(f"{path} {headers}: {error!r} at {time.monotonic() - started:.2f}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            if response.status == 304:
                continue
            if response.status != 200:
                with lock:
                    errors.append(f"{path}: status {response.status}")
                continue
            etag = response.getheader("ETag", "")
            plain = gzip.decompress(body) if response.getheader("Content-Encoding") == "gzip" else body
            if path.endswith((".rss", ".atom", ".opml")):
                try:
                    etree.fromstring(plain)
                except etree.XMLSyntaxError as error:
                    with lock:
                        errors.append(f"{path}: incomplete XML: {error}")
            key = etag.removesuffix('-gz"').rstrip('"')
            with lock:
                if bodies_by_etag.setdefault(key, plain) != plain:
                    errors.append(f"{path}: one ETag {etag} for two different bodies")
                seen[path].add(key)
            etags[path] = etag
        connection.close()
        with lock:
            made.append(count)

    def versions_of_all() -> int:
        with lock:
            return len(seen["/feeds/all.json"])

    def more_versions_than(count: int) -> bool:
        return versions_of_all() > count

    started = time.monotonic()
    with _feedsvc(tmp_path, content_dir) as (base, process):
        port = int(base.rsplit(":", 1)[1])
        threads = [threading.Thread(target=client, args=(seed, port)) for seed in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            _wait_for(partial(more_versions_than, 0), "the clients to read /feeds/all.json")
            for number, (change, name) in enumerate(CHANGES, 1):
                versions = versions_of_all()
                if change == "deleted":
                    (content_dir / name).unlink()
                else:
                    fields = {"title": f"更新 {number}", "date": f"2025-01-{number:02d}", "categories": ["金融"]}
                    write_article(content_dir, name, fields, f"<p>版本 {number}</p>")
                _wait_for(partial(more_versions_than, versions), f"the clients to see {name} {change}")
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        assert process.poll() is None
    assert errors == [], errors[:20]
    assert len(made) == CLIENTS
    assert min(made) >= REQUESTS
    assert versions_of_all() > len(CHANGES)  # the first version, then one more for each change at least
    assert len(bodies_by_etag) > len(paths)
