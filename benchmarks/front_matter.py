#!/usr/bin/env python3
"""Time parsing the front matter of articles: feedsvc's parser, its two YAML readers, and `frontmatter.loads`.

Usage: .venv/bin/python benchmarks/front_matter.py [--count 10000] [--runs 5] [--dir DIR]

Writes `count` articles with benchmarks/corpus.py into a temporary directory (or,
with --dir, takes the `.md` files under DIR: a real site, for one) and reads them
into memory; then each parser takes every article's text, in turns, in CPU time:
feedsvc's `split_front_matter` (fences, then the quick reader of plain YAML, else the
safe loader); the YAML between the fences read by the safe loader alone and by the
quick reader with the loader for the rest; and python-frontmatter's `loads` (its
fences and PyYAML's CSafeLoader). python-frontmatter is not a dependency of feedsvc:
install it where this script can import it (`pip install python-frontmatter`) to get
its row; without it the row is skipped with a note. Prints one table, then how many
front matters the quick reader took and whether every reader gave the same fields.
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

from feedsvc.parse.articles import split_front_matter
from feedsvc.parse.plainyaml import quick_load
from feedsvc.safeyaml import load_yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus import write_corpus  # noqa: E402 - the generator next to this script


def fields(text: str) -> str:
    """The YAML between an article's fences (none: the empty text)."""
    if not text.startswith("---\n") or "\n---" not in text[3:]:
        return ""
    return text[4 : text.index("\n---", 3) + 1]


def parsers() -> dict[str, Callable[[str], Any]]:
    """Return each front matter parser that can be imported, by name."""
    found: dict[str, Callable[[str], Any]] = {
        "feedsvc split_front_matter": split_front_matter,
        "YAML between the fences: the safe loader alone": lambda text: load_yaml(fields(text)),
        "YAML between the fences: the quick reader, else the loader": lambda text: (
            quick_load(fields(text)) or load_yaml(fields(text))
        ),
    }
    try:
        import frontmatter
    except ImportError:
        print("python-frontmatter is not installed: its row is skipped.")
        return found
    found["python-frontmatter loads"] = frontmatter.loads
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, help="read the .md files under this folder instead of generating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        folder = args.dir or Path(directory)
        if args.dir is None:
            write_corpus(folder, args.count)
        texts = [
            path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
            for path in sorted(folder.rglob("*.md"))
        ]
        texts = [text for text in texts if fields(text)]
    found = parsers()
    times: dict[str, list[float]] = {name: [] for name in found}
    for _ in range(args.runs):
        for name, parse in found.items():
            started = time.process_time()
            for text in texts:
                parse(text)
            times[name].append(time.process_time() - started)
    print(f"| parser ({len(texts):,} articles, {args.runs} runs) | best CPU s | median CPU s |")
    print("| --- | --- | --- |")
    for name, seconds in times.items():
        print(f"| {name} | {min(seconds):.3f} | {statistics.median(seconds):.3f} |")
    quick = sum(quick_load(fields(text)) is not None for text in texts)
    print(f"read by the quick reader: {quick:,} of {len(texts):,} front matters")
    same = sum(quick_load(fields(text)) in (None, load_yaml(fields(text))) for text in texts)
    print(f"quick reader and safe loader agree: {same:,} of {len(texts):,}")
    if "python-frontmatter loads" in found:
        library = found["python-frontmatter loads"]
        same = sum(split_front_matter(text)[0] == library(text).metadata for text in texts)
        print(f"feedsvc and python-frontmatter read the same fields: {same:,} of {len(texts):,} articles")


if __name__ == "__main__":
    main()
