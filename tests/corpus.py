"""Write realistic test articles: Hexo-style front matter and HTML bodies, deterministic per seed."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

CATEGORIES = ["金融", "要闻", "证券时报网", "股票", "公司", "宏观", "基金", "A股", "Wall Street", "ESG"]
AUTHORS = ["证券时报网", "新华社", "Reuters", "中国证券报"]
WORDS = ["市场", "资金", "央行", "流动性", "上涨", "成交额", "业绩", "投资者", "政策", "改革"]


def article_text(fields: Mapping[str, Any], body: str = "<div><p>正文。</p></div>") -> str:
    """Return the text of an article file: YAML front matter between '---' lines, then the body."""
    front = yaml.safe_dump(dict(fields), allow_unicode=True, sort_keys=False)
    return f"---\n{front}---\n\n{body}\n"


def write_article(
    directory: Path, name: str, fields: Mapping[str, Any], body: str = "<div><p>正文。</p></div>"
) -> Path:
    """Write one article under `directory` (sub-folders allowed in `name`) and return its path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(article_text(fields, body), encoding="utf-8")
    return path


def write_corpus(directory: Path, count: int, *, seed: int = 1, start: datetime | None = None) -> list[Path]:
    """Write `count` articles spread over folders, categories and dates; the same seed gives the same files."""
    rng = random.Random(seed)
    start = start or datetime(2024, 1, 1, tzinfo=UTC)
    paths = []
    for number in range(count):
        when = start + timedelta(minutes=37 * number)
        categories = rng.sample(CATEGORIES, rng.randint(1, 3))
        title = "".join(rng.sample(WORDS, 4)) + f"（第{number}号）"
        fields: dict[str, Any] = {
            "title": title,
            "categories": categories,
            "author": rng.choice(AUTHORS),
            "date": when.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        if number % 10:
            fields["thumbnail"] = f"https://img.example.com/{number}.jpg"
        paragraphs = "".join(f"<p>{''.join(rng.choices(WORDS, k=30))}。</p>" for _ in range(3))
        link = f'<a class="trsHotWords" href="/dc/stock/?code={number:06d}">个股</a>'
        name = f"posts/{when:%Y}/{when:%m}/article-{number:05d}.md"
        paths.append(write_article(directory, name, fields, f"<div>{paragraphs}<p>{link}</p></div>"))
    return paths


def bump_mtime(path: Path, seconds: int = 10) -> None:
    """Move a file's modification time forward, so that a rewrite is told apart without sleeping."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + seconds * 1_000_000_000))


def retitle(path: Path) -> None:
    """Change an article's title in place and move its modification time forward, as an editor saving it would."""
    path.write_text(path.read_text(encoding="utf-8").replace("title: ", "title: 改", 1), encoding="utf-8")
    bump_mtime(path)
