#!/usr/bin/env python3
"""Time reading the front matter of N articles: the full safe YAML loader, and the quick reader of plain front matter.

Usage: .venv/bin/python benchmarks/plain_yaml.py [--count 20000] [--dir DIR] [--repeat 3]

Without --dir it writes --count articles with benchmarks/corpus.py into a temporary
folder; with --dir it reads the `.md` files under DIR (a real site, for one). The
front matter is cut from each file first, so the table shows the parsers alone, on
one core. It also checks that both give the same values for every file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import write_corpus
from feedsvc.parse.plainyaml import quick_load
from feedsvc.safeyaml import load_yaml


def front_matters(folder: Path) -> list[str]:
    """The YAML between the fences of each article under `folder`."""
    found = []
    for path in sorted(folder.rglob("*.md")):
        text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
        if text.startswith("---\n") and "\n---" in text[3:]:
            found.append(text[4 : text.index("\n---", 3) + 1])
    return found


def best_of(repeat: int, work: Callable[[], Any]) -> float:
    """The median wall time of `repeat` runs of `work`, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.dir
        if folder is None:
            folder = Path(scratch)
            write_corpus(folder, args.count, body_kb=0.5)
        texts = front_matters(folder)
    quick = [quick_load(text) for text in texts]
    handled = sum(value is not None for value in quick)
    differ = sum(1 for text, value in zip(texts, quick, strict=True) if value is not None and value != load_yaml(text))
    full_s = best_of(args.repeat, lambda: [load_yaml(text) for text in texts])
    quick_s = best_of(args.repeat, lambda: [quick_load(text) or load_yaml(text) for text in texts])
    per = 1e6 / max(len(texts), 1)
    print(f"{len(texts):,} front matters; read by the quick reader: {handled:,}; values that differ: {differ}")
    print()
    print("reader                               | total  | per article")
    print("-------------------------------------|--------|------------")
    print(f"safe YAML loader (libyaml + PyYAML)  | {full_s:5.2f} s | {full_s * per:6.1f} µs")
    print(f"quick reader, the loader for the rest | {quick_s:5.2f} s | {quick_s * per:6.1f} µs")
    print(f"speed-up                             | {full_s / quick_s:5.1f} × |")


if __name__ == "__main__":
    main()
