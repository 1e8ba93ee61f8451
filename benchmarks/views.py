#!/usr/bin/env python3
"""Measure the feeds' HTML views: how long one takes to make, and what they weigh beside the feeds.

Usage: .venv/bin/python benchmarks/views.py [--config config/feedsvc.yaml] [--repeat 50]

Refreshes the configured content once, in this process, then for every feed document
makes its view `--repeat` times (the best time counts: a view is made once per change of
its feed, on the request that first asks for it) and prints, per feed and format, the feed's
bytes, the view's bytes and that time, then the totals: what views of every feed would
hold if they were made ahead (feedsvc makes only those browsers ask for, up to 4 MB).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from feedsvc.config import load_settings
from feedsvc.feeds.views import view_document
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=Path("config/feedsvc.yaml"))
    parser.add_argument("--repeat", type=int, default=50)
    arguments = parser.parse_args()
    store = Store()
    Refresher(load_settings(arguments.config), store).refresh()
    feeds = views = 0
    print(f"{'feed document':40} {'feed B':>9} {'view B':>9} {'ms':>6}")
    for path, document in sorted(store.snapshot.documents.items()):
        if not path.startswith("feeds/"):
            continue
        best = float("inf")
        for _ in range(arguments.repeat):
            start = time.perf_counter()
            view = view_document(path, document)
            best = min(best, time.perf_counter() - start)
        if view is None:
            raise SystemExit(f"{path}: no view made of it")
        feeds += len(document.body)
        views += len(view.body)
        print(f"{path:40} {len(document.body):9,} {len(view.body):9,} {best * 1000:6.2f}")
    print(f"{'all feed documents':40} {feeds:9,} {views:9,}   views are {views / feeds:.0%} of the feeds' bytes")


if __name__ == "__main__":
    main()
