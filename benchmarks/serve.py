#!/usr/bin/env python3
"""Measure `feedsvc serve`: time until the first feed answers, and requests per second on a cached feed.

Usage: .venv/bin/python benchmarks/serve.py [--config config/feedsvc.yaml] [--seconds 10] [--runs 5]
                                           [--user-agent UA]

Starts the real server on a free loopback port (the config's content, not a
copy), so the figures are those a user of `make run` gets. Throughput is
measured with wrk (Debian package `wrk`) when it is installed; otherwise that
part is skipped with a note. Prints one table.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEEDSVC = Path(sys.executable).parent / "feedsvc"


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_of(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """GET a URL and return its status and ETag (0 when nothing answers)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            response.read()
            return response.status, response.headers.get("ETag", "")
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""


def start(config: Path, port: int) -> subprocess.Popen[bytes]:
    """Start `feedsvc serve` quietly."""
    command = [str(FEEDSVC), "--log-level", "warning", "serve", "--no-access-log"]
    command += ["--config", str(config), "--port", str(port)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def time_to_first_feed(config: Path, path: str) -> float:
    """Seconds from process start until `path` answers 200."""
    port = free_port()
    began = time.perf_counter()
    process = start(config, port)
    try:
        while status_of(f"http://127.0.0.1:{port}{path}")[0] != 200:
            if process.poll() is not None:
                raise SystemExit(f"feedsvc exited with {process.returncode}")
            time.sleep(0.005)
        return time.perf_counter() - began
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(url: str, seconds: int, headers: dict[str, str]) -> tuple[float, float, int]:
    """Run wrk (2 threads, 32 connections) and return requests/s, mean latency in ms, and non-2xx/3xx answers."""
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    mean_ms = float(latency.group(1)) * scale[latency.group(2)] if latency else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return rps, mean_ms, int(errors.group(1)) if errors else 0


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "feedsvc.yaml")
    parser.add_argument("--path", default="/feeds/all.rss", help="the feed to measure")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--runs", type=int, default=5, help="starts to time")
    parser.add_argument("--user-agent", default="", help="a User-Agent wrk sends (none by default)")
    args = parser.parse_args()
    agent = {"User-Agent": args.user_agent} if args.user_agent else {}

    starts = [time_to_first_feed(args.config, args.path) for _ in range(args.runs)]
    rows = [("time to first feed (process start → 200)", f"{statistics.median(starts):.2f} s median of {args.runs}")]

    if shutil.which("wrk") is None:
        rows.append(("requests per second", "skipped: wrk is not installed (apt-get install wrk)"))
    else:
        port = free_port()
        process = start(args.config, port)
        try:
            url = f"http://127.0.0.1:{port}{args.path}"
            while status_of(url)[0] != 200:
                time.sleep(0.05)
            _, gzip_etag = status_of(url, {"Accept-Encoding": "gzip"})
            cases = [
                ("GET 200, identity", {}),
                ("GET 200, gzip", {"Accept-Encoding": "gzip"}),
                ("GET 304 (If-None-Match)", {"Accept-Encoding": "gzip", "If-None-Match": gzip_etag}),
            ]
            for label, headers in cases:
                rps, mean_ms, errors = wrk(url, args.seconds, headers | agent)
                note = f", {errors} errors" if errors else ""
                rows.append((f"{label} {args.path}", f"{rps:,.0f} req/s, mean latency {mean_ms:.1f} ms{note}"))
        finally:
            process.terminate()
            process.wait(timeout=30)

    width = max(len(label) for label, _ in rows)
    print(f"{'measure'.ljust(width)} | result")
    print(f"{'-' * width}-|-{'-' * 40}")
    for label, value in rows:
        print(f"{label.ljust(width)} | {value}")


if __name__ == "__main__":
    main()
