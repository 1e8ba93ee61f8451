#!/usr/bin/env python3
"""Measure what counting subscribers costs: a cached feed GET with counting off and on, and a flush.

Usage: .venv/bin/python benchmarks/polls.py [--requests 40000] [--rounds 7]

In one process, without a server or a network: the WSGI app answers `/feeds/all.rss`
(a 304) through its fast path, as granian calls it, so that the difference is the
request thread's part of counting (one append to a queue). Then the recorder's thread's
part: one flush of 10,000 polls, from one reader and from 10,000 distinct ones. Prints
the best of `--rounds` (the least disturbed by other work on the machine).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from feedsvc.http.app import create_app
from feedsvc.model import Format, Snapshot, make_document
from feedsvc.store import Store
from feedsvc.subscribers.recorder import Options, Recorder

AGENT = "NetNewsWire (RSS Reader; https://netnewswire.com/)"


def best_of(rounds: int, run: Callable[[], float]) -> float:
    """Return the least of `rounds` measurements."""
    return min(run() for _ in range(rounds))


def per_request(app: Any, requests: int) -> float:
    """Return the CPU microseconds one conditional GET of a cached feed takes through the app."""
    document = make_document(b"<rss/>" * 2000, Format.RSS.media_type)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/feeds/all.rss",
        "REMOTE_ADDR": "192.0.2.1",
        "HTTP_USER_AGENT": AGENT,
        "HTTP_ACCEPT_ENCODING": "gzip",
        "HTTP_IF_NONE_MATCH": document.gzip_etag,
    }

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        return None

    began = time.process_time()  # CPU time: other processes on the machine count less
    for _ in range(requests):
        app(dict(environ), start_response)
    return (time.process_time() - began) / requests * 1e6


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40_000, help="requests per round (under the queue's limit)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    document = make_document(b"<rss/>" * 2000, Format.RSS.media_type)
    snapshot = Snapshot(documents={"feeds/all.rss": document}, redirects={}, max_age=60)
    with tempfile.TemporaryDirectory() as directory:
        recorder = Recorder(Path(directory) / "counts.sqlite3", Options())
        apps = {"off": create_app(Store(snapshot)), "on": create_app(Store(snapshot), recorder)}
        costs: dict[str, list[float]] = {label: [] for label in apps}
        for _ in range(args.rounds):  # taking turns, so that a busy moment falls on both
            for label, app in apps.items():
                costs[label].append(per_request(app.wsgi_app, args.requests))
                recorder.flush()
        for label, measured in costs.items():
            shown = ", ".join(f"{cost:.2f}" for cost in sorted(measured))
            print(f"cached feed 304, counting {label}: best {min(measured):.2f} µs per request (all: {shown})")
        for label, clients in (("one reader", 1), ("10,000 distinct readers", 10_000)):

            def flush(clients: int = clients) -> float:
                for number in range(10_000):
                    address = f"10.0.{number % clients // 256}.{number % 256}"
                    recorder.note("feeds/all.rss", {"REMOTE_ADDR": address, "HTTP_USER_AGENT": AGENT})
                began = time.process_time()
                recorder.flush()
                return (time.process_time() - began) * 1000

            print(f"flush of 10,000 polls, {label}: {best_of(args.rounds, flush):.1f} ms CPU (best of {args.rounds})")
        recorder.stop()


if __name__ == "__main__":
    main()
