#!/usr/bin/env python3
"""What one article costs in a serving process's memory: its index entry and its places in the catalog.

Usage: .venv/bin/python benchmarks/memory.py [--count 100000] [--dir CORPUS]

Writes `count` articles with benchmarks/corpus.py (or takes --dir, a content
directory), fills a parse cache with `feedsvc check` in a process of its own,
then, as a restart does, loads the index from that cache and builds the catalog
here, and prints one table: the resident memory each step added, per article,
and what an article's own objects take (the sizes Python gives, on a sample of
1,000 articles).
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from feedsvc.config.file import load_settings
from feedsvc.feeds.catalog import CatalogState
from feedsvc.index.cache import open_cache
from feedsvc.index.scan import ContentIndex

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus import write_corpus  # noqa: E402 - the generator next to this script

CONFIG = """\
site:
  title: 证券时报网
  link: https://www.example.com/
  timezone: Asia/Shanghai
content:
  dir: {content}
cache:
  dir: {cache}
"""


def resident_mb() -> float:
    """The process's resident memory now, in MB."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6


def own_objects(index: ContentIndex, sample: int = 1000) -> dict[str, float]:
    """Bytes an article's own objects take, on average over `sample` articles (shared names and authors left out)."""
    totals: dict[str, float] = {}

    def add(part: str, size: int) -> None:
        totals[part] = totals.get(part, 0) + size / sample

    for entry in list(index.entries.values())[:sample]:
        article = entry.article
        if article is None:
            continue
        add("the IndexedFile, with its stamp", sys.getsizeof(entry) + sys.getsizeof(entry.stamp))
        add("the Article", sys.getsizeof(article))
        for part in ("source", "link"):
            add(f"its {part}", sys.getsizeof(getattr(article, part)))
        # Title, summary, image, fingerprint and language are kept as one string of UTF-8 bytes.
        add("its title, summary, image, fingerprint, language", sys.getsizeof(article._text))
        if article.id is not article.link:
            add("its id", sys.getsizeof(article.id))
        dates = 1 if article.updated is article.published else 2
        add("its dates", sys.getsizeof(article.published) * dates)
    return totals


def main() -> None:
    """Fill a cache, load it as a restart does, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="a content directory to use instead of a generated corpus")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        content = args.dir or Path(work) / "content"
        if args.dir is None:
            write_corpus(content, args.count, seed=1)
        config = Path(work) / "feedsvc.yaml"
        config.write_text(CONFIG.format(content=content.resolve(), cache=Path(work) / "cache"), encoding="utf-8")
        feedsvc = Path(sys.executable).with_name("feedsvc")
        subprocess.run([str(feedsvc), "--log-level", "warning", "check", "--config", str(config)], check=True)

        settings = load_settings(config)
        cache = open_cache(settings)
        if cache is None:
            raise SystemExit("the cache is off")
        gc.collect()
        start = resident_mb()
        index = cache.load_index()
        gc.collect()
        loaded = resident_mb()
        state = CatalogState(settings)
        state.update((), index.articles(), datetime.now(UTC))
        state.catalog()
        gc.collect()
        cataloged = resident_mb()
        count = len(index.entries)

    def per_article(megabytes: float) -> str:
        return f"{megabytes:,.0f} MB, {megabytes * 1e6 / count:,.0f} B an article"

    rows = [
        ("articles", f"{count:,}"),
        ("the index (every file's entry and article)", per_article(loaded - start)),
        ("the catalog (each feed's list, ids, what is live)", per_article(cataloged - loaded)),
        ("both", per_article(cataloged - start)),
    ]
    rows += [(f"  of which {part}", f"{size:,.0f} B") for part, size in own_objects(index).items()]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
