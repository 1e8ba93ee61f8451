#!/usr/bin/env python3
"""Size a scale-out deployment: requests per second per web worker on a cached feed, and memory per worker.

Usage: .venv/bin/python benchmarks/sizing.py [--config config/feedsvc.yaml] [--seconds 8]

Builds the config's content once (`feedsvc build`), then serves that build
directory the ways the README describes and drives each with wrk (Debian
package `wrk`; 2 threads, 32 connections) on `/feeds/all.rss`:

- `feedsvc serve --from DIR` (granian, one worker), with and without the request log;
- gunicorn with FEEDSVC_FROM=DIR, 1 and 2 sync workers, and 1 gthread worker.

Web workers that serve a build directory hold only the built documents, never
the content index, so their memory does not grow with the number of articles.
Prints one table: requests/s for 200 gzip, 200 identity and 304, and the
resident memory (RSS) of each worker after the load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from scale import children, fetch, free_port, log, wrk  # the same helpers as the scale benchmark

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PATH = "/feeds/all.rss"


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


@contextlib.contextmanager
def running(command: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in its own process group until the block ends."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
        start_new_session=True,
    )
    try:
        end = time.monotonic() + 60
        while fetch(f"http://127.0.0.1:{port}{PATH}")[0] != 200:
            if time.monotonic() > end or process.poll() is not None:
                raise SystemExit(f"{command[0]} did not serve {PATH}")
            time.sleep(0.05)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "feedsvc.yaml")
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package wrk)")
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "build"
        subprocess.run(
            [str(BIN / "feedsvc"), "--log-level", "warning", "build", "--config", str(args.config), "--out", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        size = (out / PATH.lstrip("/")).stat().st_size
        port = free_port()
        feedsvc = [str(BIN / "feedsvc"), "--log-level", "info", "serve", "--from", str(out), "--port", str(port)]
        gunicorn = [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{port}", "feedsvc.wsgi:create()"]
        quiet = {"FEEDSVC_ACCESS_LOG": "0"}
        setups: dict[str, tuple[list[str], dict[str, str]]] = {
            "feedsvc serve --from, no request log": ([*feedsvc, "--no-access-log"], {}),
            "feedsvc serve --from, request log on": (feedsvc, {}),
            "gunicorn sync, 1 worker": ([*gunicorn, "-w", "1"], {"FEEDSVC_FROM": str(out), **quiet}),
            "gunicorn sync, 2 workers": ([*gunicorn, "-w", "2"], {"FEEDSVC_FROM": str(out), **quiet}),
            "gunicorn gthread, 1 worker x 8 threads": (
                [*gunicorn, "-w", "1", "-k", "gthread", "--threads", "8"],
                {"FEEDSVC_FROM": str(out), **quiet},
            ),
        }
        rows = []
        for name, (command, env) in setups.items():
            if not Path(command[0]).exists():
                log(f"{name}: {command[0]} is not installed, skipped")
                continue
            log(name)
            with running(command, port, env) as process:
                base = f"http://127.0.0.1:{port}{PATH}"
                etag = fetch(base, {"Accept-Encoding": "gzip"})[1].get("etag", "")
                rates = [
                    wrk(base, args.seconds, {"Accept-Encoding": "gzip"}),
                    wrk(base, args.seconds, {}),
                    wrk(base, args.seconds, {"Accept-Encoding": "gzip", "If-None-Match": etag}),
                ]
                # The worker processes: the supervisor's (granian's, gunicorn's) children.
                memory = [rss_mb(pid) for pid in children(process.pid) or [process.pid]]
            rows.append((name, rates, memory))
    print(f"\nserving a build directory: {PATH} ({size:,} bytes), wrk 2 threads x 32 connections, {args.seconds} s")
    print(f"{'setup':44} | {'200 gzip':>9} | {'200 identity':>12} | {'304':>9} | RSS per worker")
    print("-" * 44 + "-|-" + "-" * 9 + "-|-" + "-" * 12 + "-|-" + "-" * 9 + "-|-" + "-" * 16)
    for name, rates, memory in rows:
        per_worker = ", ".join(f"{m:.0f} MB" for m in memory)
        print(f"{name:44} | {rates[0]:9,.0f} | {rates[1]:12,.0f} | {rates[2]:9,.0f} | {per_worker}")


if __name__ == "__main__":
    main()
