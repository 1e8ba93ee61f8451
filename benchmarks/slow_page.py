#!/usr/bin/env python3
"""Measure what a slow archive page costs everything else: /healthz and a feed's latency while it is made.

Usage: PYTHONPATH=. .venv/bin/python benchmarks/slow_page.py [--depth 30000] [--slow 3]

Writes 120 articles, the `--slow` oldest with a body of `--depth` nested `<div>`s
(nh3 takes about 1.5 s for 30,000), all on archive page 1 of `all` and in no
current feed; starts `feedsvc serve`; asks for that page (again every 0.2 s
until it answers 200) while polling /healthz and /feeds/all.rss every 20 ms.
Prints the page's first answer and the two latencies during the render.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, float, str | None]:
    """GET a URL: its status, seconds taken and Retry-After."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()
            status, retry_after = response.status, response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        error.read()
        status, retry_after = error.code, error.headers.get("Retry-After")
    return status, time.perf_counter() - start, retry_after


def summary(seconds: list[float]) -> str:
    ordered = sorted(seconds)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000

    return f"median {at(0.5):.1f} ms, p99 {at(0.99):.1f} ms, max {ordered[-1] * 1000:.1f} ms ({len(ordered)} requests)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=30_000)
    parser.add_argument("--slow", type=int, default=3)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="feedsvc-slow-page-"))
    content = work / "content"
    content.mkdir()
    for number in range(120):
        body = "<div>" * options.depth if number < options.slow else f"<p>Body {number}</p>"
        date = f"2025-01-01T{number // 60:02d}:{number % 60:02d}:00Z"
        text = f"---\ntitle: Article {number}\ndate: {date}\n---\n{body}\n"
        (content / f"a{number:04d}.md").write_text(text, encoding="utf-8")
    port = free_port()
    config = work / "feedsvc.yaml"
    config.write_text(
        f"site:\n  link: https://www.example.com/\n  feed_url: http://127.0.0.1:{port}/\n"
        f"content:\n  dir: {content}\nfeeds:\n  archive_size: 50\n",
        encoding="utf-8",
    )
    base = f"http://127.0.0.1:{port}"
    with (work / "log").open("wb") as log:
        server = subprocess.Popen(
            [str(BIN / "feedsvc"), "serve", "--config", str(config), "--port", str(port)],
            stdout=log,
            stderr=log,
            env={**os.environ, "XDG_CACHE_HOME": str(work / "cache")},
            start_new_session=True,
        )
    try:
        for _ in range(600):
            try:
                if get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        get(base + "/feeds/all.rss")
        idle = [get(base + "/healthz")[1] for _ in range(20)]
        answers: list[tuple[int, float, str | None]] = []
        started = time.perf_counter()

        def ask_until_made() -> None:
            while not answers or answers[-1][0] != 200:
                answers.append(get(base + "/feeds/all/archive/1.rss"))
                time.sleep(0.2)

        asker = threading.Thread(target=ask_until_made)
        asker.start()
        health: list[float] = []
        feed: list[float] = []
        while asker.is_alive():
            health.append(get(base + "/healthz")[1])
            feed.append(get(base + "/feeds/all.rss")[1])
            time.sleep(0.02)
        made = time.perf_counter() - started
        status, took, retry_after = answers[0]
        print(f"{options.slow} article(s) of {options.depth} nested divs on archive page 1 of `all`")
        print(f"idle /healthz: {summary(idle)}")
        print(f"the page's first answer: {status} in {took:.3f} s (Retry-After: {retry_after}); 200 after {made:.2f} s")
        print(f"during the render: /healthz {summary(health)}")
        print(f"during the render: /feeds/all.rss {summary(feed)}")
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


if __name__ == "__main__":
    main()
