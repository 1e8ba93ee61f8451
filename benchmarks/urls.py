#!/usr/bin/env python3
"""Compare how feedsvc writes a resolved URL as a URI (`_as_uri`) with URL libraries: same results, and time.

Usage: .venv/bin/python benchmarks/urls.py [--count 100000] [--runs 5]

yarl, rfc3986 and hyperlink are not dependencies of feedsvc: install them where
this script can import them (`pip install yarl rfc3986 hyperlink`) to get their
rows; a library that is missing is skipped with a note. Each writes the URLs of
a table of cases, compared with feedsvc's answers, then the links of
`count` articles as tests/corpus.py writes them (a relative link with a query,
resolved against the site: the path `_as_uri` takes at scale), in CPU time.
Prints one table.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from urllib.parse import urljoin

from feedsvc.parse.urls import _as_uri

BASE = "https://www.example.com/"
# What feedsvc must write for each resolved URL, as its tests and feeds expect.
CASES = [
    "https://x.example/路径",
    "https://例子.example/路径",
    "https://user:pä@例子.example:8080/x",
    "http://[::1]:8080/a",
    "https://x.example/a b?q=中 文#frag ment",
    "https://x.example/[x]?[y]",
    "https://x.example/a%zz",
    "https://x.example/%7e/%41",
    "https://x.example/a/../b",
    "https://x.example/a?",
    "https://x.example/a#",
    "https://X.Example:443/A",
    "mailto:a@b.example",
    "tel:+1 234",
]


def writers() -> dict[str, Callable[[str], str | None]]:
    """Return each URL writer that can be imported, by name."""
    found: dict[str, Callable[[str], str | None]] = {"feedsvc _as_uri": _as_uri}
    try:
        import yarl

        found["yarl"] = lambda url: str(yarl.URL(url))
    except ImportError:
        print("yarl is not installed: skipped.")
    try:
        import rfc3986

        found["rfc3986"] = lambda url: rfc3986.iri_reference(url).encode().unsplit()
    except ImportError:
        print("rfc3986 is not installed: skipped.")
    try:
        import hyperlink

        found["hyperlink"] = lambda url: hyperlink.parse(url).to_uri().to_text()
    except ImportError:
        print("hyperlink is not installed: skipped.")
    return found


def same_answers(write: Callable[[str], str | None]) -> int:
    """Return how many of CASES the writer answers as feedsvc does (an exception is a different answer)."""
    same = 0
    for url in CASES:
        try:
            same += write(url) == _as_uri(url)
        except Exception:  # noqa: S112 - a library refusing a URL feedsvc writes is a different answer
            continue
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # tests/corpus.py's links, resolved as absolute_url resolves them before writing them.
    links = [urljoin(BASE, f"/dc/stock/?code={number:06d}") for number in range(args.count)]
    found = writers()
    times: dict[str, list[float]] = {name: [] for name in found}
    for _ in range(args.runs):
        for name, write in found.items():
            started = time.process_time()
            for link in links:
                write(link)
            times[name].append(time.process_time() - started)
    print(f"| writer | same answers as feedsvc ({len(CASES)} cases) | {args.count:,} links, best / median CPU s |")
    print("| --- | --- | --- |")
    for name, write in found.items():
        best, median = min(times[name]), statistics.median(times[name])
        print(f"| {name} | {same_answers(write)} | {best:.3f} / {median:.3f} |")


if __name__ == "__main__":
    main()
