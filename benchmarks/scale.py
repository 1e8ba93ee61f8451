#!/usr/bin/env python3
"""Measure feedsvc at 1,000 to 100,000 articles, next to Hugo and nginx on the same machine; print one table.

Usage: .venv/bin/python benchmarks/scale.py [--sizes 1000,10000,100000] [--work benchmarks/work]
                                            [--seconds 8] [--hugo-runs 3] [--servers] [--no-install]

For each size it generates the corpus (../shared/tools/gencorpus --seed 1 when that
file exists, the reference the targets are stated on; else benchmarks/corpus.py),
then measures, with the real `feedsvc serve` on a loopback port:

- cold start: process start until every feed answers 200, no cache; then, in the
  last cold run, the newest article edited at once (while the cold start's cache
  write goes on): how soon the feed shows it;
- rescans: a refresh with nothing changed after filesystem events (the scheduled
  path), a full walk with nothing changed (the safety net), and one file edited,
  added, deleted: the refresh's own duration as /healthz reports it, whether the
  feed changed, and that no feed's bytes change when nothing changed;
- restart: process start until every feed answers 200, with the cache warm (a restart
  serves what its last run served at once), and until its first refresh has ended;
- peak memory (VmHWM) of the serving process, cold and restarted;
- cached feed throughput (wrk: GET 200 identity and gzip, 304) next to nginx
  serving the same bytes as static files (gzip_static), side by side: with the
  request logs on (feedsvc's request log and nginx's access log, each written to
  a file, as operators run them) and with both off; with the logs off, also the
  same bytes from benchmarks/bare_app.py under granian, the most any app that
  granian serves can reach;
- Hugo building the same corpus, RSS and taxonomies only (median of --hugo-runs).

With --servers it also compares granian (what `serve` uses), waitress and
gunicorn on the largest size. nginx, hugo and wrk come from Debian packages and are
installed with apt-get when missing (unless --no-install); a tool that cannot be
had is reported as such, not guessed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
SHARED_GENERATOR = ROOT.parent / "shared" / "tools" / "gencorpus"
DEBIAN_PACKAGES = {"nginx": "nginx-light", "hugo": "hugo", "wrk": "wrk"}

sys.path.insert(0, str(HERE))
from corpus import write_corpus  # noqa: E402 - the generator next to this script


def log(text: str) -> None:
    """Say what is being measured, on stderr (the table goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def ensure_tool(name: str, install: bool) -> bool:
    """Make sure a Debian-packaged tool is there, installing it when allowed."""
    if shutil.which(name):
        return True
    if not install or os.geteuid() != 0:
        return False
    log(f"installing {DEBIAN_PACKAGES[name]} with apt-get")
    quiet = subprocess.DEVNULL
    subprocess.run(["apt-get", "update", "-qq"], stdout=quiet, stderr=quiet, check=False)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", DEBIAN_PACKAGES[name]]
    subprocess.run(install, env=env, stdout=quiet, stderr=quiet, check=False)
    return shutil.which(name) is not None


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET a URL; status 0 when nothing answers."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {}, b""
    except OSError:
        return 0, {}, b""


def generate(size: int, work: Path) -> Path:
    """Write (once) the corpus of `size` articles and return its directory."""
    target = work / f"corpus-{size}"
    marker = target / ".complete"
    if marker.exists():
        return target
    log(f"generating {size:,} articles")
    if SHARED_GENERATOR.exists():
        command = [sys.executable, str(SHARED_GENERATOR), "--count", str(size), "--out", str(target)]
        subprocess.run([*command, "--seed", "1", "--force", "--quiet"], check=True)
    else:
        write_corpus(target, size, seed=1)
    marker.write_text("generated\n", encoding="utf-8")
    return target


def write_config(work: Path, size: int, corpus: Path, port: int) -> Path:
    """A config for one size: its own cache directory, a 1-second scan interval."""
    path = work / f"feedsvc-{size}.yaml"
    path.write_text(
        "site:\n  title: 证券时报网\n  link: https://www.example.com/\n"
        f"  feed_url: http://127.0.0.1:{port}/\n  timezone: Asia/Shanghai\n"
        f"content:\n  dir: {corpus}\nscan:\n  interval_seconds: 60\n"
        f"cache:\n  dir: {work / f'cache-{size}'}\n",
        encoding="utf-8",
    )
    return path


class Server:
    """One `feedsvc serve` (or another server) in its own process group."""

    def __init__(
        self, command: list[str], port: int, env: dict[str, str] | None = None, log_path: Path | None = None
    ) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        # stdout and stderr go to a file: `log_path` when given (kept), else an anonymous one.
        self.log = log_path.open("w+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=self.log, env={**os.environ, **(env or {})}, start_new_session=True
        )
        # The whole service's memory: every process it started (worker, parsing processes) summed, sampled.
        self.total_peak_mb = 0.0
        self._sampling = threading.Event()
        threading.Thread(target=self._sample_total, daemon=True).start()

    def _sample_total(self) -> None:
        while not self._sampling.wait(0.2):
            total = 0.0
            for pid in [self.process.pid, *descendants(self.process.pid)]:
                with contextlib.suppress(OSError):
                    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
                    match = re.search(r"VmRSS:\s+(\d+) kB", status)
                    if match:
                        total += int(match.group(1)) / 1024
            self.total_peak_mb = max(self.total_peak_mb, total)

    def wait_until(self, path: str, timeout: float = 900) -> float:
        """Seconds from start until `path` answers 200."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if fetch(self.base + path)[0] == 200:
                return time.perf_counter() - self.started
            if self.process.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"server exited: {self.log.read().decode(errors='replace')[-2000:]}")
            time.sleep(0.02)
        raise SystemExit(f"{path} did not answer within {timeout} s")

    def feed_paths(self) -> list[str]:
        """Every feed the OPML lists."""
        status, _, body = fetch(self.base + "/feeds.opml")
        if status != 200:
            raise SystemExit("no OPML")
        urls = [o.get("xmlUrl", "") for o in ET.fromstring(body).iter("outline") if o.get("xmlUrl")]
        return ["/" + url.split("/", 3)[3] for url in urls]

    def peak_rss_mb(self) -> float:
        """The largest VmHWM among the server's processes (the serving worker)."""
        peaks = []
        for pid in [self.process.pid, *children(self.process.pid)]:
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
                match = re.search(r"VmHWM:\s+(\d+) kB", status)
                if match:
                    peaks.append(int(match.group(1)) / 1024)
        return max(peaks, default=float("nan"))

    def health(self) -> dict[str, object]:
        """The /healthz document."""
        return dict(json.loads(fetch(self.base + "/healthz")[2] or b"{}"))

    def stop(self) -> None:
        """SIGTERM the group, then make sure it is gone."""
        self._sampling.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def descendants(pid: int) -> list[int]:
    """Process ids under `pid`: its children, theirs, and so on."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text(encoding="utf-8")
                parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text(encoding="utf-8")
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


@contextlib.contextmanager
def feedsvc(config: Path, port: int, request_log: Path | None = None) -> Iterator[Server]:
    """Run `feedsvc serve` on a config; with `request_log`, its request log on and its stderr in that file."""
    if request_log is None:
        command = [str(BIN / "feedsvc"), "--log-level", "warning", "serve", "--no-access-log"]
    else:
        command = [str(BIN / "feedsvc"), "--log-level", "info", "serve"]
    command += ["--config", str(config), "--port", str(port)]
    server = Server(command, port, log_path=request_log)
    try:
        yield server
    finally:
        server.stop()


def all_feeds_ready(server: Server) -> float:
    """Seconds from start until the index, then every feed, answers 200."""
    server.wait_until("/feeds.opml")
    for path in server.feed_paths():
        server.wait_until(path)
    return time.perf_counter() - server.started


def first_refresh_done(server: Server, timeout: float = 3600) -> float:
    """Seconds from start until the first refresh has ended (a restart serves the last run's feeds before)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        health = server.health()
        if health.get("last_scan") and not health.get("restored"):
            return time.perf_counter() - server.started
        time.sleep(0.05)
    raise SystemExit("the first refresh did not end")


def ready(server: Server) -> None:
    """Wait until every feed is served and the first refresh has ended."""
    all_feeds_ready(server)
    first_refresh_done(server)


def etags(server: Server, paths: list[str]) -> dict[str, str]:
    """The ETag of every path."""
    return {path: fetch(server.base + path)[1].get("etag", "") for path in paths}


def wait_for_refresh(server: Server, *, after: str, timeout: float = 120) -> dict[str, object]:
    """Wait for a refresh that started after `after` and return its last_scan."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        scan = server.health().get("last_scan") or {}
        if isinstance(scan, dict) and str(scan.get("started", "")) > after:
            return scan
        time.sleep(0.05)
    raise SystemExit("no refresh came")


def now_iso() -> str:
    """The current UTC time as /healthz writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1e6) % 1_000_000:06d}+00:00"


def measure_changes(server: Server, corpus: Path) -> dict[str, str]:
    """Nothing changed, one file edited, added and deleted: how soon the feed shows it, and the refresh's work.

    The service rescans on its schedule only every minute: what shows sooner was refreshed
    because filesystem events said so.
    """
    results: dict[str, str] = {}
    paths = server.feed_paths()
    before = etags(server, paths)
    quiet = []
    touched = corpus / "posts" / "benchmark-touch.png"  # an event, and no article changed
    for _ in range(3):
        marker = now_iso()
        touched.write_bytes(b"not an article")
        scan = wait_for_refresh(server, after=marker, timeout=30)
        quiet.append(float(str(scan["duration_s"])))
    touched.unlink()
    wait_for_refresh(server, after=now_iso(), timeout=30)
    unchanged = etags(server, paths) == before
    results["rescan, nothing changed (events)"] = (
        f"{statistics.median(quiet) * 1000:.1f} ms; bytes {'unchanged' if unchanged else 'CHANGED'}"
    )
    newest = newest_file(server, corpus)
    original = newest.read_bytes()
    try:
        marker = now_iso()
        newest.write_bytes(retitled(original, "EDITED"))
        results["one file edited"] = watch_change(server, marker, "EDITED")
    finally:
        marker = now_iso()
        newest.write_bytes(original)
        watch_change(server, marker, "EDITED", present=False)
    added = corpus / "posts" / "benchmark-added.md"
    marker = now_iso()
    added.write_text(
        "---\ntitle: 'ADDED article'\ncategories: [金融]\ndate: 2030-01-01\n---\n<p>x</p>\n".replace(
            "2030-01-01", time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
        ),
        encoding="utf-8",
    )
    results["one file added"] = watch_change(server, marker, "ADDED")
    marker = now_iso()
    added.unlink()
    results["one file deleted"] = watch_change(server, marker, "ADDED", present=False)
    return results


def newest_file(server: Server, corpus: Path) -> Path:
    """The newest article's file (first in the feed `all`), found by its slug, the file's name."""
    first_link = re.search(
        rb"<item>\s*<title>.*?</title>\s*<link>([^<]+)</link>", fetch(server.base + "/feeds/all.rss")[2], re.S
    )
    stem = first_link.group(1).decode().rstrip("/").rsplit("/", 1)[1] if first_link else ""
    return next(corpus.rglob(f"{stem}.md"))


def retitled(original: bytes, word: str) -> bytes:
    """An article's bytes with `word` before its title, the YAML kept valid (inside the quotes when there are some)."""
    if b"title: '" in original:
        return original.replace(b"title: '", b"title: '" + word.encode() + b" ", 1)
    return original.replace(b"title: ", b"title: " + word.encode() + b" ", 1)


def edit_right_away(server: Server, corpus: Path) -> str:
    """The newest article edited as soon as every feed serves after a cold start (its cache write still going on)."""
    newest = newest_file(server, corpus)
    original = newest.read_bytes()
    try:
        marker = now_iso()
        newest.write_bytes(retitled(original, "SOON"))
        return watch_change(server, marker, "SOON")
    finally:
        newest.write_bytes(original)


def watch_change(server: Server, marker: str, word: str, present: bool = True, timeout: float = 60) -> str:
    """From a write on: seconds until the feed `all` shows it, and the work of the refresh that rebuilt feeds.

    The feed is polled with If-None-Match (a 304 costs the server little) and /healthz
    beside it, keeping the last refresh since the write that rebuilt feed documents.
    """
    written = time.perf_counter()
    url = server.base + "/feeds/all.rss"
    etag = ""
    rebuilt: dict[str, object] | None = None
    while time.perf_counter() - written < timeout:
        scan = server.health().get("last_scan") or {}
        if isinstance(scan, dict) and str(scan.get("started", "")) > marker and int(str(scan.get("feeds_rebuilt", 0))):
            rebuilt = scan
        status, headers, body = fetch(url, {"If-None-Match": etag} if etag else None)
        if status == 200:
            etag = headers.get("etag", "")
            if (word.encode() in body) == present:
                visible = time.perf_counter() - written
                if rebuilt is None:  # the refresh may already have been followed by another: one more look
                    scan = server.health().get("last_scan") or {}
                    rebuilt = scan if isinstance(scan, dict) and int(str(scan.get("feeds_rebuilt", 0))) else None
                work = (
                    f"refresh {float(str(rebuilt['duration_s'])) * 1000:.1f} ms, {rebuilt['files_parsed']} re-read, "
                    f"{rebuilt['feeds_rebuilt']} feed documents rebuilt"
                    if rebuilt is not None
                    else "refresh not seen"
                )
                return f"visible after {visible:.2f} s; {work}"
        time.sleep(0.01)
    return f"FEED NOT UPDATED within {timeout:.0f} s"


def full_rescan(config: Path) -> str:
    """A full walk with nothing changed (the safety net), measured in-process on a warm cache."""
    code = (
        "import time\n"
        "from feedsvc.index.cache import open_cache\n"
        "from feedsvc.config import load_settings\n"
        "from feedsvc.refresh.refresher import Refresher\n"
        "from feedsvc.store import Store\n"
        f"s = load_settings({str(config)!r})\n"
        "r = Refresher(s, Store(), cache=open_cache(s)); first = r.refresh()\n"
        "before = {p: doc.etag for p, doc in first.snapshot.documents.items()}\n"
        "t = time.perf_counter(); second = r.refresh(); took = time.perf_counter() - t\n"
        "same = before == {p: doc.etag for p, doc in second.snapshot.documents.items()}\n"
        "print(took, second.stats.files_parsed, len(second.rebuilt), same)\n"
    )
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    seconds, parsed, rebuilt, same = float(output[0]), output[1], output[2], output[3] == "True"
    return f"{seconds:.2f} s; {parsed} re-read, {rebuilt} rebuilt; bytes {'unchanged' if same else 'CHANGED'}"


def spread(values: list[float], unit: str, digits: int = 1) -> str:
    """The median of some runs, with their range when there are several."""
    median = f"{statistics.median(values):.{digits}f} {unit}"
    if len(values) < 2:
        return median
    return f"{median} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def wrk(url: str, seconds: int, headers: dict[str, str]) -> float:
    """Requests per second from wrk (2 threads, 32 connections); errors make it fail."""
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    if "Non-2xx or 3xx" in output or "Socket errors" in output:
        log(f"wrk reported errors for {url} {headers}: {output.strip().splitlines()[-4:]}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    return float(match.group(1)) if match else float("nan")


def throughput(base: str, path: str, seconds: int) -> dict[str, float]:
    """GET 200 identity and gzip, and 304, on one feed."""
    _, headers, _ = fetch(base + path, {"Accept-Encoding": "gzip"})
    gzip_etag = headers.get("etag", "")
    return {
        "200 identity": wrk(base + path, seconds, {}),
        "200 gzip": wrk(base + path, seconds, {"Accept-Encoding": "gzip"}),
        "304": wrk(base + path, seconds, {"Accept-Encoding": "gzip", "If-None-Match": gzip_etag}),
    }


NGINX_CONF = """worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
  {access_log}
  types {{ application/rss+xml rss; }}
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  gzip_static on;
  server {{ listen 127.0.0.1:{port}; root {root}; etag on; }}
}}
"""


def throughputs(server: Server, work: Path, seconds: int, nginx: bool, *, logs: bool) -> dict[str, str]:
    """Measure feedsvc, then nginx with its access log on or off as feedsvc's request log; one row per case.

    With the logs off, also the same bytes from benchmarks/bare_app.py under granian: the
    most any app that granian serves could reach on this machine.
    """
    ours = throughput(server.base, "/feeds/all.rss", seconds)
    theirs = nginx_throughput(server, "/feeds/all.rss", work, seconds, access_log=logs) if nginx else {}
    label = "request logs on" if logs else "logs off"
    measured = {f"cached feed, {{case}}, {label}": ours}
    if not logs:
        measured["cached feed, {case}, a bare WSGI app on granian, logs off"] = bare_throughput(server, work, seconds)
    rows = {}
    for row, results in measured.items():
        for case, rps in results.items():
            ratio = f" = {rps / theirs[case]:.2f} × nginx ({theirs[case]:,.0f})" if case in theirs else ""
            rows[row.format(case=case)] = f"{rps:,.0f} req/s{ratio}"
    return rows


def bare_throughput(server: Server, work: Path, seconds: int) -> dict[str, float]:
    """benchmarks/bare_app.py under granian as `feedsvc serve` runs it, answering with the feed `server` serves."""
    path = "/feeds/all.rss"
    feed = work / "bare-feed"
    etag = save_feed(server, path, feed)
    env = {"FEED_BODY": str(feed), "FEED_GZIP": str(feed) + ".gz", "FEED_ETAG": etag}
    port = free_port()
    command = [str(BIN / "granian"), "--interface", "wsgi", "--workers", "1", "--blocking-threads", "2"]
    command += ["--http", "1", "--no-ws", "--log-level", "warning", "--working-dir", str(HERE)]
    command += ["--host", "127.0.0.1", "--port", str(port), "bare_app:app"]
    bare = Server(command, port, env)
    try:
        bare.wait_until(path, timeout=30)
        return throughput(bare.base, path, seconds)
    finally:
        bare.stop()


def save_feed(server: Server, path: str, target: Path) -> str:
    """Write the bytes a feed is served with to `target`, its gzip form beside it (`.gz`); return its ETag."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _, headers, body = fetch(server.base + path)
    target.write_bytes(body)
    target.with_name(target.name + ".gz").write_bytes(fetch(server.base + path, {"Accept-Encoding": "gzip"})[2])
    return headers["etag"]


def request_log_lines(path: Path) -> int:
    """How many request lines (the Combined Log Format, after the log line's own time and name) a log file holds."""
    pattern = re.compile(rb'feedsvc\.access: \S+ - - \[[^]]+\] "')
    with path.open("rb") as lines:
        return sum(1 for line in lines if pattern.search(line))


def nginx_throughput(server: Server, path: str, work: Path, seconds: int, access_log: bool) -> dict[str, float]:
    """nginx serving the same feed bytes as a static file (with a .gz beside it), measured the same way.

    With `access_log`, nginx writes its access log to a file in `work` (the default
    combined format, unbuffered: one write per request, as nginx ships it).
    """
    root = work / "nginx-root"
    save_feed(server, path, root / path.lstrip("/"))
    port = free_port()
    conf = work / "nginx.conf"
    access = f"access_log {work}/nginx-access.log;" if access_log else "access_log off;"
    (work / "nginx-access.log").unlink(missing_ok=True)
    conf.write_text(NGINX_CONF.format(work=work, port=port, root=root, access_log=access), encoding="utf-8")
    process = subprocess.Popen(["nginx", "-c", str(conf)], stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 10
        while fetch(base + path)[0] != 200 and time.monotonic() < end:
            time.sleep(0.05)
        return throughput(base, path, seconds)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


# RSS for the home page and each category (term), nothing else: pages are read and
# rendered into the feeds, but no page of their own is written.
HUGO_CONFIG = """baseURL = "https://www.example.com/"
title = "benchmark"
ignoreErrors = ["error-disable-taxonomy"]
disableKinds = ["section", "taxonomy", "sitemap", "robotsTXT", "404"]
[outputs]
home = ["RSS"]
page = []
term = ["RSS"]
[services.rss]
limit = 20
[markup.goldmark.renderer]
unsafe = true
"""


def hugo(corpus: Path, work: Path, runs: int) -> tuple[float, float]:
    """Median seconds and peak RSS (MB) of Hugo building the RSS feeds of the corpus."""
    site = work / "hugo-site"
    if site.exists():
        shutil.rmtree(site)
    (site / "content").mkdir(parents=True)
    # Hard links: Hugo does not follow a symlinked content folder, and a copy would cost the disk.
    subprocess.run(["cp", "-al", str(corpus / "posts"), str(site / "content" / "posts")], check=True)
    (site / "config.toml").write_text(HUGO_CONFIG, encoding="utf-8")
    times, peaks = [], []
    for _ in range(runs):
        out = work / "hugo-out"
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        process = subprocess.Popen(
            ["hugo", "--quiet", "-s", str(site), "-d", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        times.append(time.perf_counter() - started)
        peaks.append(usage.ru_maxrss / 1024)
        index = out / "index.xml"
        if process.returncode != 0 or not index.exists() or b"<item>" not in index.read_bytes():
            raise SystemExit(f"hugo did not build the feeds (exit {process.returncode})")
    return statistics.median(times), max(peaks)


def server_comparison(config: Path, seconds: int) -> dict[str, dict[str, float]]:
    """granian (what `serve` runs), waitress and gunicorn serving the same app, measured alike."""
    results: dict[str, dict[str, float]] = {}
    env = {"FEEDSVC_CONFIG": str(config), "FEEDSVC_ACCESS_LOG": "0"}  # as nginx here: no request log
    port = int(re.search(r"127\.0\.0\.1:(\d+)", config.read_text(encoding="utf-8")).group(1))  # type: ignore[union-attr]
    candidates = {
        "granian (feedsvc serve)": [
            *(str(BIN / "feedsvc"), "--log-level", "warning", "serve", "--no-access-log"),
            *("--config", str(config), "--port", str(port)),
        ],
        "waitress, 8 threads": [
            *(str(BIN / "waitress-serve"), f"--listen=127.0.0.1:{port}", "--threads=8"),
            *("--call", "feedsvc.wsgi:create"),
        ],
        "gunicorn gthread, 1 worker x 8 threads": [
            *(str(BIN / "gunicorn"), "-k", "gthread", "-w", "1", "--threads", "8"),
            *("-b", f"127.0.0.1:{port}", "--log-level", "warning", "feedsvc.wsgi:create()"),
        ],
    }
    for name, command in candidates.items():
        if not Path(command[0]).exists():
            log(f"{name}: not installed (pip install '.[bench]')")
            continue
        log(f"server comparison: {name}")
        server = Server(command, port, env)
        try:
            ready(server)
            results[name] = throughput(server.base, "/feeds/all.rss", seconds)
        finally:
            server.stop()
    return results


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--seconds", type=int, default=8, help="duration of each wrk run")
    parser.add_argument("--hugo-runs", type=int, default=3)
    parser.add_argument(
        "--n",
        type=int,
        action="append",
        help="one more size, its own column: --n 1000000 (opt-in: its corpus takes about 8 GB of disk)",
    )
    parser.add_argument("--runs", type=int, default=3, help="cold starts and restarts to time at each size")
    parser.add_argument("--servers", action="store_true", help="also compare granian, waitress and gunicorn")
    parser.add_argument("--no-install", action="store_true", help="do not apt-get missing tools")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",")} | set(args.n or ()))
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    have = {tool: ensure_tool(tool, not args.no_install) for tool in ("wrk", "nginx", "hugo")}
    rows: dict[str, dict[int, str]] = {}

    def put(measure: str, size: int, value: str) -> None:
        rows.setdefault(measure, {})[size] = value

    comparison: dict[str, dict[str, float]] = {}
    for size in sizes:
        corpus = generate(size, args.work)
        port = free_port()
        config = write_config(args.work, size, corpus, port)
        colds, cold_peaks, cold_totals = [], [], []
        right_after = ""
        for run in range(args.runs):
            shutil.rmtree(args.work / f"cache-{size}", ignore_errors=True)
            log(f"{size:,}: cold start {run + 1} of {args.runs}")
            with feedsvc(config, port) as server:
                colds.append(all_feeds_ready(server))
                cold_peaks.append(server.peak_rss_mb())
                cold_totals.append(server.total_peak_mb)
                if run == args.runs - 1:
                    right_after = edit_right_away(server, corpus)
        cold = statistics.median(colds)
        put("cold start until every feed is served (median)", size, spread(colds, "s"))
        put("peak memory, cold start (serving process, median)", size, spread(cold_peaks, "MB", digits=0))
        put("peak memory, cold start (every process, sampled sum, median)", size, spread(cold_totals, "MB", digits=0))
        put("one file edited right after the cold start", size, right_after)
        with feedsvc(config, port) as server:  # cache warm from the last cold start
            ready(server)
            put("feed documents", size, str(server.health().get("feeds")))
            log(f"{size:,}: rescans")
            for measure, value in measure_changes(server, corpus).items():
                put(measure, size, value)
            if have["wrk"]:
                log(f"{size:,}: throughput, logs off")
                for measure, value in throughputs(server, args.work, args.seconds, have["nginx"], logs=False).items():
                    put(measure, size, value)
        if have["wrk"]:
            log(f"{size:,}: throughput, request logs on")
            request_log = args.work / "feedsvc-requests.log"
            with feedsvc(config, port, request_log=request_log) as server:  # cache warm
                ready(server)
                for measure, value in throughputs(server, args.work, args.seconds, have["nginx"], logs=True).items():
                    put(measure, size, value)
            log(f"request log: {request_log_lines(request_log):,} request lines written")
        put("rescan, nothing changed (full walk, the safety net)", size, full_rescan(config))
        restarts, refreshed, restart_peaks, restart_totals = [], [], [], []
        for run in range(args.runs):
            log(f"{size:,}: restart {run + 1} of {args.runs}")
            with feedsvc(config, port) as server:
                restarts.append(all_feeds_ready(server))
                refreshed.append(first_refresh_done(server))
                restart_peaks.append(server.peak_rss_mb())
                restart_totals.append(server.total_peak_mb)
        put("restart until every feed is served (cache warm, median)", size, spread(restarts, "s"))
        put("restart until its first refresh ends (cache warm, median)", size, spread(refreshed, "s"))
        put("peak memory, restart (serving process, median)", size, spread(restart_peaks, "MB", digits=0))
        put("peak memory, restart (every process, sampled sum, median)", size, spread(restart_totals, "MB", digits=0))
        if have["hugo"] and size not in (args.n or ()):  # Hugo at a million articles would need about 30 GB
            log(f"{size:,}: hugo")
            seconds, peak = hugo(corpus, args.work, args.hugo_runs)
            put("Hugo, RSS-only build (median)", size, f"{seconds:.1f} s, {peak:.0f} MB peak")
            put("feedsvc cold start / Hugo (medians)", size, f"{cold / seconds:.2f}")
        if args.servers and size == sizes[-1] and have["wrk"]:
            comparison = server_comparison(config, args.seconds)

    width = max(len(m) for m in rows)
    print(f"\n{'measure'.ljust(width)} | " + " | ".join(f"N = {s:,}" for s in sizes))
    print("-" * width + "-|-" + "-|-".join("-" * 20 for _ in sizes))
    for measure, values in rows.items():
        print(f"{measure.ljust(width)} | " + " | ".join(values.get(s, "-") for s in sizes))
    for tool, present in have.items():
        if not present:
            print(f"({tool} is not installed: its measurements were skipped)")
    if comparison:
        print(f"\nservers on /feeds/all.rss at N = {sizes[-1]:,} (req/s)")
        for name, result in comparison.items():
            print(f"{name.ljust(40)} | " + " | ".join(f"{case}: {rps:,.0f}" for case, rps in result.items()))


if __name__ == "__main__":
    main()
