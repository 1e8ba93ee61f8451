#!/usr/bin/env python3
"""Time parsing the front matter of generated articles: feedsvc's parser against `frontmatter.loads`.

Usage: .venv/bin/python benchmarks/front_matter.py [--count 10000] [--runs 5]

Writes `count` articles with benchmarks/corpus.py into a temporary directory and
reads them into memory; then each parser takes every article's text, in turns, in
CPU time: feedsvc's `split_front_matter` (fences, then the safe YAML loader) and
python-frontmatter's `loads` (its fences and PyYAML's CSafeLoader). python-frontmatter
is not a dependency of feedsvc: install it where this script can import it
(`pip install python-frontmatter`) to get its row; without it the row is skipped
with a note. Prints one table, then whether the two read the same fields.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus import write_corpus  # noqa: E402 - the generator next to this script


def parsers() -> dict[str, Callable[[str], Any]]:
    """Return each front matter parser that can be imported, by name."""
    found: dict[str, Callable[[str], Any]] = {"feedsvc split_front_matter": split_front_matter}
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        write_corpus(Path(directory), args.count)
        texts = [path.read_text(encoding="utf-8") for path in sorted(Path(directory).rglob("*.md"))]
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
    if len(found) > 1:
        library = found["python-frontmatter loads"]
        same = sum(split_front_matter(text)[0] == library(text).metadata for text in texts)
        print(f"same fields: {same:,} of {len(texts):,} articles")


if __name__ == "__main__":
    main()
