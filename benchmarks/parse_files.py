#!/usr/bin/env python3
"""Time parsing one content file: `parse_file` alone, and reading plus parsing as a scan's worker does.

Usage: .venv/bin/python benchmarks/parse_files.py [--count 5000] [--runs 5] [--dir DIR] [--config FILE]

Writes `count` articles with benchmarks/corpus.py into a temporary directory (or, with
--dir, takes the `.md` files under DIR) and reads them into memory. Then, in CPU time,
for each of two settings: `parse_file` on every file's bytes, and `_read_and_parse` on
every file (open, read, parse: the scanner's per-file work in its worker processes).
The settings are a plain site (a title, a link, a zone: no entities) and the bundled
config/feedsvc.yaml (or --config), which finds stock links in every body. Prints one
table of milliseconds per file, the median of the runs (and the best).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from feedsvc.config import Settings
from feedsvc.config.file import load_settings
from feedsvc.index.scan import _read_and_parse
from feedsvc.parse.articles import parse_file, parse_for_scan

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus import write_corpus  # noqa: E402 - the generator next to this script

PLAIN_CONFIG = """\
site:
  title: 证券时报网
  link: https://www.example.com/
  timezone: Asia/Shanghai
content:
  dir: {folder}
"""

Item = tuple[str, str, int, float]


def plain_settings(folder: Path, directory: Path) -> Settings:
    """Settings of a plain site over `folder`, read from a config file written in `directory`."""
    config = directory / "plain.yaml"
    config.write_text(PLAIN_CONFIG.format(folder=folder), encoding="utf-8")
    return load_settings(config)


def bundled_settings(config: Path, folder: Path) -> Settings:
    """The bundled config's settings (entities on), its content directory pointed at `folder`."""
    return dataclasses.replace(load_settings(config), content_dir=folder)


def corpus(folder: Path) -> tuple[list[Item], list[bytes]]:
    """Each `.md` file under `folder` as the scanner hands it to a worker, and its bytes."""
    items: list[Item] = []
    for path in sorted(folder.rglob("*.md")):
        info = path.stat()
        items.append((path.relative_to(folder).as_posix(), str(path), info.st_size, info.st_mtime))
    return items, [Path(path).read_bytes() for _, path, _, _ in items]


def timed(work: Callable[[], None], runs: int) -> list[float]:
    """CPU seconds of `runs` calls of `work` (after one call that warms the caches up)."""
    work()
    seconds = []
    for _ in range(runs):
        started = time.process_time()
        work()
        seconds.append(time.process_time() - started)
    return seconds


def measure(settings: Settings, items: list[Item], raws: list[bytes], runs: int) -> tuple[list[float], list[float]]:
    """CPU seconds per run of parse_file alone, and of read and parse."""
    parse = partial(parse_for_scan, settings=settings)
    max_bytes = settings.max_file_bytes

    def parse_only() -> None:
        for (source, _, _, mtime), raw in zip(items, raws, strict=True):
            parse_file(raw, source=source, mtime=mtime, settings=settings)

    def read_and_parse() -> None:
        for item in items:
            _read_and_parse(item, parse, max_bytes)

    return timed(parse_only, runs), timed(read_and_parse, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, help="read the .md files under this folder instead of generating")
    parser.add_argument("--config", type=Path, default=HERE.parent / "config" / "feedsvc.yaml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        folder = (args.dir or Path(directory)).resolve()
        if args.dir is None:
            write_corpus(folder, args.count)
        items, raws = corpus(folder)
        configs = {
            "plain site": plain_settings(folder, Path(directory)),
            f"{args.config.name} (entities)": bundled_settings(args.config, folder),
        }
        print(f"{len(items):,} files, {sum(map(len, raws)) / len(raws) / 1024:.1f} KiB each; {args.runs} runs")
        print("| settings | parse_file ms/file (best) | read+parse ms/file (best) |")
        print("| --- | --- | --- |")
        for name, settings in configs.items():
            parse_only, both = measure(settings, items, raws, args.runs)
            per_file = 1000 / len(items)
            print(
                f"| {name} | {statistics.median(parse_only) * per_file:.4f} ({min(parse_only) * per_file:.4f}) "
                f"| {statistics.median(both) * per_file:.4f} ({min(both) * per_file:.4f}) |"
            )


if __name__ == "__main__":
    main()
