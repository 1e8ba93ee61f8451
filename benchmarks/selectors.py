#!/usr/bin/env python3
"""Time finding the stock links of article bodies: feedsvc's entities (lxml + cssselect) and BeautifulSoup's select.

Usage: .venv/bin/python benchmarks/selectors.py [--count 2000] [--runs 3] [--selector a.trsHotWords]

Writes `count` articles with benchmarks/corpus.py into a temporary directory (HTML bodies
of about 6 KB with stock links), keeps their bodies in memory, and runs the selector over
each body, in CPU time: feedsvc's `entities_of` (the hint, then lxml's HTML parser and the
selector as XPath by cssselect), the same without the hint, and BeautifulSoup's `select`
with the lxml and html.parser tree builders (BeautifulSoup is a test dependency: install
`.[test]`). Prints one table, in milliseconds a body, and whether all found the same links.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from feedsvc.config import EntitySettings
from feedsvc.parse.entities import entities_of

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus import write_corpus  # noqa: E402 - the generator next to this script


def finders(selector: str) -> dict[str, Callable[[str], int]]:
    """Return each way of counting the elements a selector matches in a body, by name."""
    kind = EntitySettings(name="stocks", selector=selector, key=("text", ""))
    # A selector list gives no hint: the same selector, every body parsed.
    unhinted = EntitySettings(name="stocks", selector=f"{selector}, feedsvc-none", key=("text", ""))
    found: dict[str, Callable[[str], int]] = {
        "feedsvc entities_of (hint, lxml + cssselect)": lambda body: len(
            entities_of(body, [kind], max_entities=10_000, max_chars=10_000)[0]
        ),
        "lxml + cssselect, every body parsed": lambda body: len(
            entities_of(body, [unhinted], max_entities=10_000, max_chars=10_000)[0]
        ),
    }
    try:
        from bs4 import BeautifulSoup
    except ImportError:
        print("BeautifulSoup is not installed: its rows are skipped.")
        return found
    for builder in ("lxml", "html.parser"):
        found[f"BeautifulSoup({builder}).select"] = lambda body, builder=builder: len(
            {a.get_text() for a in BeautifulSoup(body, builder).select(selector)}
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--selector", default="a.trsHotWords")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        write_corpus(Path(directory), args.count)
        bodies = [
            path.read_text(encoding="utf-8").split("\n---\n", 1)[1] for path in sorted(Path(directory).rglob("*.md"))
        ]
    found = finders(args.selector)
    times: dict[str, list[float]] = {name: [] for name in found}
    counts: dict[str, int] = {}
    for _ in range(args.runs):
        for name, count in found.items():
            started = time.process_time()
            counts[name] = sum(count(body) for body in bodies)
            times[name].append(time.process_time() - started)
    size = sum(len(body.encode()) for body in bodies) / len(bodies) / 1024
    print(f"| finder ({len(bodies):,} bodies of {size:.1f} KB, {args.runs} runs) | best ms a body | median ms a body |")
    print("| --- | --- | --- |")
    for name, seconds in times.items():
        best, median = (value * 1000 / len(bodies) for value in (min(seconds), statistics.median(seconds)))
        print(f"| {name} | {best:.3f} | {median:.3f} |")
    print("elements found (distinct per body):", ", ".join(f"{name}: {count:,}" for name, count in counts.items()))


if __name__ == "__main__":
    main()
