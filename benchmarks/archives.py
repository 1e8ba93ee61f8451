#!/usr/bin/env python3
"""Measure the archive pages (RFC 5005) at scale: on demand in `serve`, written by `build`.

Usage: .venv/bin/python benchmarks/archives.py [--sizes 10000,100000] [--work benchmarks/work] [--no-build] [--no-serve]

For each size, the same corpus as the scale benchmark (benchmarks/scale.py):

- `feedsvc serve` (its cache warm, as in production after the first start): how long
  the first request for a complete archive page takes (the page is made: its 50
  articles read again and rendered), the same page asked again (from the page cache),
  a 304, and the server's peak memory after 600 distinct pages were asked for (the
  page cache is bounded at 16 MB); then wrk on one archive page and on the feed.
- `feedsvc build` into an empty directory: seconds, peak memory, archive files and
  bytes written, and the disk the whole build directory takes beside the disk the
  corpus takes (blocks allocated, as `du` counts them); again over the unchanged
  content (kept as it is: a walk of the content, nothing read or written); again
  after one file is touched (its bytes the same: the index is loaded and every page
  checked, nothing written); then after one new article (which pages were written again).

Prints one table. Needs wrk (Debian package) for the throughput rows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scale import (  # the same corpus, server and helpers as the scale benchmark
    HERE,
    Server,
    children,
    ensure_tool,
    feedsvc,
    fetch,
    free_port,
    generate,
    log,
    ready,
    write_config,
    wrk,
)

BIN = Path(sys.executable).parent
PAGES = 600  # distinct pages asked for, to show the page cache's bound


def archive_links(base: str, path: str) -> tuple[int, str]:
    """How many archive pages a feed has, and the slug, from the feed's prev-archive link."""
    _, _, body = fetch(base + path)
    match = re.search(rb'href="[^"]*/feeds/([^/"]+)/archive/(\d+)\.atom" rel="prev-archive"', body)
    if match is None:
        return 0, ""  # an empty feed
    return int(match.group(2)), match.group(1).decode()


def rss_mb(server: Server) -> float:
    """The resident memory now (VmRSS) of the largest of the server's processes (the serving worker)."""
    sizes = []
    for pid in [server.process.pid, *children(server.process.pid)]:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
            match = re.search(r"VmRSS:\s+(\d+) kB", status)
            if match:
                sizes.append(int(match.group(1)) / 1024)
    return max(sizes, default=float("nan"))


def timed(url: str, headers: dict[str, str] | None = None) -> tuple[float, int, dict[str, str]]:
    """Milliseconds one GET takes, its status and headers."""
    start = time.perf_counter()
    status, answer, _ = fetch(url, headers)
    return (time.perf_counter() - start) * 1000, status, answer


def measure_serve(config: Path, port: int, seconds: int, have_wrk: bool) -> dict[str, str]:
    """First request, cached request, 304 and memory of archive pages in `serve`."""
    results: dict[str, str] = {}
    with feedsvc(config, port) as server:
        ready(server)
        base = server.base
        before = rss_mb(server)
        pages, _ = archive_links(base, "/feeds/all.atom")
        firsts, again, not_modified = [], [], []
        for number in range(1, min(pages, 20) + 1):
            url = f"{base}/feeds/all/archive/{number}.atom"
            first, status, headers = timed(url)
            if status != 200:
                raise SystemExit(f"{url}: {status}")
            firsts.append(first)
            again.append(timed(url)[0])
            not_modified.append(timed(url, {"If-None-Match": headers.get("etag", "")})[0])
        results["archive page, first request (made: 50 articles read and rendered)"] = (
            f"{statistics.median(firsts):.0f} ms (max {max(firsts):.0f})"
        )
        results["archive page, asked again (page cache)"] = f"{statistics.median(again):.1f} ms"
        results["archive page, 304"] = f"{statistics.median(not_modified):.1f} ms"
        complete = fetch(f"{base}/feeds/all/archive/1.atom")[1].get("cache-control", "")
        newest = fetch(f"{base}/feeds/all/archive/{pages}.atom")[1].get("cache-control", "")
        results["Cache-Control, complete page / newest page"] = f"`{complete}` / `{newest}`"
        # Many distinct pages (every format, `all` and categories): memory stays bounded.
        asked = 0
        opml = fetch(base + "/feeds.opml")[2].decode()
        feeds = sorted(set(re.findall(r"/feeds/([^/\"]+)\.atom", opml)))
        for slug in feeds:
            count = archive_links(base, f"/feeds/{slug}.atom")[0]
            for number in range(1, count + 1):
                for fmt in ("rss", "atom", "json"):
                    if asked >= PAGES:
                        break
                    fetch(f"{base}/feeds/{slug}/archive/{number}.{fmt}")
                    asked += 1
        results[f"memory before / after {asked + 20} distinct pages (peak since start)"] = (
            f"{before:.0f} / {rss_mb(server):.0f} MB ({server.peak_rss_mb():.0f} MB)"
        )
        if have_wrk:
            page = wrk(f"{base}/feeds/all/archive/1.atom", seconds, {"Accept-Encoding": "gzip"})
            feed = wrk(f"{base}/feeds/all.atom", seconds, {"Accept-Encoding": "gzip"})
            results["wrk, gzip: archive page 1 / the feed"] = f"{page:,.0f} / {feed:,.0f} req/s"
    return results


def build(config: Path, out: Path) -> tuple[float, float, str]:
    """Run `feedsvc build`; return seconds, peak memory (MB) and its summary line."""
    command = ["/usr/bin/time", "-f", "%M", str(BIN / "feedsvc"), "--log-level", "warning"]
    command += ["build", "--config", str(config), "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak = int(done.stderr.strip().splitlines()[-1]) / 1024
    return seconds, peak, done.stdout.strip().splitlines()[-1]


def disk_usage(directory: Path) -> tuple[int, int, int]:
    """Files under a directory, their bytes, and the disk they take (allocated blocks, as `du` counts them)."""
    files = size = allocated = 0
    for path in directory.rglob("*"):
        info = path.lstat()
        if path.is_file():
            files += 1
            size += info.st_size
        allocated += info.st_blocks * 512
    return files, size, allocated


def archive_files(out: Path) -> dict[str, int]:
    """Every archive page file under a build directory, with its modification time (ns)."""
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in (out / "feeds").glob("*/archive/*") if p.is_file()}


def rebuild(config: Path, out: Path, files: dict[str, int]) -> str:
    """Build again; return seconds, peak memory, files written and archive pages rewritten since `files`."""
    seconds, peak, summary = build(config, out)
    written = re.search(r"(\d+) files written", summary)
    changed = sum(1 for p, t in archive_files(out).items() if files.get(p) != t)
    count = written.group(1) if written else "?"
    return f"{seconds:.1f} s, {peak:.0f} MB peak, {count} files written, {changed} archive pages"


def measure_build(config: Path, corpus: Path, work: Path, size: int) -> dict[str, str]:
    """A cold build, an unchanged rebuild, and a rebuild after one new article."""
    results: dict[str, str] = {}
    out = work / f"build-{size}"
    shutil.rmtree(out, ignore_errors=True)
    seconds, peak, _ = build(config, out)
    files = archive_files(out)
    size_bytes = sum((out / p).stat().st_size for p in files)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    complete = sum(1 for entry in manifest["archives"].values() if entry["immutable"])
    results["build, empty directory"] = f"{seconds:.1f} s, {peak:.0f} MB peak"
    results["archive files written (complete ones)"] = f"{len(files):,} ({complete:,}), {size_bytes / 1e9:.2f} GB"
    count, apparent, allocated = disk_usage(out)
    _, corpus_bytes, corpus_disk = disk_usage(corpus)
    results["build directory: files, bytes, disk (disk / the corpus's disk)"] = (
        f"{count:,}, {apparent / 1e9:.2f} GB, {allocated / 1e9:.2f} GB ({allocated / corpus_disk:.1f}×)"
    )
    results["corpus: bytes, disk"] = f"{corpus_bytes / 1e9:.2f} GB, {corpus_disk / 1e9:.2f} GB"
    results["build again, nothing changed (kept: a walk)"] = rebuild(config, out, files)
    next(corpus.rglob("*.md")).touch()  # the same bytes, a new time: everything loaded and checked, nothing written
    results["build again, one file touched (everything checked)"] = rebuild(config, out, files)
    before = archive_files(out)
    new = corpus / "posts" / "archives-benchmark.md"
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    new.write_text(
        f"---\ntitle: 归档基准测试\ncategories: [金融]\ndate: {yesterday}\n---\n\n<p>正文。</p>\n", encoding="utf-8"
    )
    try:
        seconds, _, _ = build(config, out)
    finally:
        new.unlink()
    after = archive_files(out)
    rewritten = sorted(p for p, t in after.items() if before.get(p) != t)
    results["build after one new article"] = (
        f"{seconds:.1f} s, archive pages written: {len(rewritten)} ({', '.join(rewritten[:6])}"
        f"{' …' if len(rewritten) > 6 else ''})"
    )
    shutil.rmtree(out, ignore_errors=True)
    return results


def main() -> None:
    """Measure each size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--no-build", action="store_true", help="measure `serve` only")
    parser.add_argument("--no-serve", action="store_true", help="measure `build` only")
    parser.add_argument("--no-install", action="store_true", help="do not apt-get wrk when it is missing")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    have_wrk = ensure_tool("wrk", not args.no_install)
    rows: dict[str, dict[int, str]] = {}
    for size in sizes:
        corpus = generate(size, work)
        port = free_port()
        config = write_config(work, size, corpus, port)
        if not args.no_serve:
            log(f"{size:,} articles: serve")
            for measure, value in measure_serve(config, port, args.seconds, have_wrk).items():
                rows.setdefault(measure, {})[size] = value
        if not args.no_build:
            log(f"{size:,} articles: build")
            for measure, value in measure_build(config, corpus, work, size).items():
                rows.setdefault(measure, {})[size] = value
    print()
    print("| measure | " + " | ".join(f"{size:,} articles" for size in sizes) + " |")
    print("| --- |" + " --- |" * len(sizes))
    for measure, values in rows.items():
        print(f"| {measure} | " + " | ".join(values.get(size, "") for size in sizes) + " |")


if __name__ == "__main__":
    main()
