#!/usr/bin/env python3
"""Write N synthetic news articles in the Hexo format feedsvc reads, the same for the same seed.

Usage: python benchmarks/corpus.py --count 10000 --out DIR [--seed 1] [--categories 40] [--body-kb 6]

Articles go to DIR/posts/<yyyy>/<mm>/<slug>.md: YAML front matter (a title, mostly
Chinese; one to three categories drawn so that a few are large and most are small;
an author; a date written as RFC 822, as a local date and time, or as ISO 8601 with
an offset; a thumbnail for nine in ten) and an HTML body of paragraphs with stock
links, grown to about --body-kb KiB. This is the project's own generator, so the
benchmarks run from a clone of this repository alone.
"""

from __future__ import annotations

import argparse
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

POOL = [
    *(
        "金融 要闻 证券时报网 股票 公司 宏观 基金 A股 银行 券商 港股 债券 美股 IPO 保险 科创板 期货 外汇 新能源 ESG "
        "半导体 房地产 医药 消费 人工智能 创业板 理财 汽车 互联网 REITs 数字货币 黄金 大宗商品 国际 评论 研报 快讯 "
        "监管 北交所 碳中和 央行 财政 税收 就业 物价 进出口 产业链 区域经济 数据 政策"
    ).split(),
    "Wall Street",
    "Fintech",
]
SOURCES = [
    "证券时报网",
    "证券时报网",
    "新华社",
    "人民日报",
    "中国证券报",
    "上海证券报",
    "财联社",
    "Reuters",
    "Bloomberg",
]
TOPICS = [
    "沪指",
    "创业板指",
    "北向资金",
    "央行",
    "光伏龙头",
    "券商板块",
    "半导体",
    "新能源车",
    "国债收益率",
    "人民币汇率",
]
ACTIONS = ["震荡上行", "小幅回落", "持续放量", "加速扩张", "稳中有进", "创出新高", "企稳回升", "明显改善"]
ENGLISH = [
    "Markets weigh the next move of the {t}",
    "Investors return to {t} as volumes recover",
    "Why the {t} matters for the second half",
    "Analysts' view: {t} and the S&P 500",
]
SENTENCES = [
    "{t}今日{a}，成交额突破{n}亿元。",
    "分析人士认为，在稳增长政策持续发力的背景下，{t}仍有较大空间。",
    "数据显示，{t}本周净流入{n}亿元，其中{c}获加仓居前。",
    "业内人士表示，市场信心逐步恢复，{t}有望继续{a}。",
    "Officials said the {e} remained broadly stable this quarter.",
    "Analysts at several brokerages expect {e} to stay constructive.",
]
COMPANIES = ["宏能控股", "鼎通智能", "长健医药", "新润材料", "华能银行", "海源科技", "中关村"]
SLUG_WORDS = ["market", "bond", "fund", "chip", "ev", "yuan", "gold", "ipo", "bank", "data", "policy", "rally"]


def _weights(count: int) -> list[float]:
    """Zipf-like: category k is drawn about 1/k as often as the first."""
    return [1.0 / rank for rank in range(1, count + 1)]


def _paragraph(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(4, 8)):
        text = rng.choice(SENTENCES).format(
            t=rng.choice(TOPICS),
            a=rng.choice(ACTIONS),
            n=f"{rng.uniform(10, 999):.2f}",
            c=rng.choice(COMPANIES),
            e=rng.choice(["yuan", "bond market", "credit cycle", "property sector"]),
        )
        if rng.random() < 0.3:
            company = rng.choice(COMPANIES)
            code = f"{rng.choice(['SH60', 'SZ00', 'SZ30'])}{rng.randint(0, 9999):04d}"
            link = f'<a class="trsHotWords" href="https://info.stcn.com/dc/stock/?stockcode={code}">{company}</a>'
            text = text.replace(company, link, 1) if company in text else text + link
        parts.append(text)
    return "<p>" + "".join(parts) + "</p>"


def _body(rng: random.Random, kib: float) -> str:
    paragraphs: list[str] = []
    size = 0
    while size < kib * 1024:
        paragraph = _paragraph(rng)
        paragraphs.append(paragraph)
        size += len(paragraph.encode("utf-8"))
    return "<div>\n" + "".join(paragraphs) + "\n</div>\n"


def _date_line(rng: random.Random, moment: datetime) -> str:
    roll = rng.random()
    if roll < 0.75:
        return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
    local = moment + timedelta(hours=8)
    if roll < 0.9:
        return local.strftime("%Y-%m-%d %H:%M:%S")
    return local.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_corpus(out: Path, count: int, *, seed: int = 1, categories: int = 40, body_kb: float = 6.0) -> int:
    """Write `count` articles under out/posts (replacing any there); return the bytes written."""
    rng = random.Random(seed)
    posts = out / "posts"
    if posts.exists():
        shutil.rmtree(posts)
    pool = POOL[:categories]
    weights = _weights(len(pool))
    end = datetime(2024, 6, 30, tzinfo=UTC)
    span_minutes = 3 * 365 * 24 * 60
    written = 0
    for number in range(1, count + 1):
        moment = end - timedelta(minutes=rng.randrange(span_minutes))
        chosen: list[str] = []
        while len(chosen) < rng.randint(1, 3):
            name = rng.choices(pool, weights)[0]
            if name not in chosen:
                chosen.append(name)
        chosen.sort(key=pool.index)
        if rng.random() < 0.15:
            title = rng.choice(ENGLISH).format(t=rng.choice(["yuan", "bond market", "Fed", "ChiNext"]))
        else:
            title = f"{rng.choice(TOPICS)}{rng.choice(ACTIONS)}（{rng.choice(COMPANIES)}）"
        lines = ["---", f"title: {_quoted(title)}", "categories:"]
        lines += [f" - {name}" for name in chosen]
        picture = f"https://picsum.photos/400/300?random={number}"
        if rng.random() < 0.9:
            lines.append(f"headimg: {_quoted(picture)}")
        lines += [f"author: {rng.choice(SOURCES)}", "comments: false", f"date: {_date_line(rng, moment)}"]
        if rng.random() < 0.9:
            lines.append(f"thumbnail: {_quoted(picture)}")
        lines.append("---")
        text = "\n".join(lines) + "\n\n" + _body(rng, body_kb)
        slug = f"{rng.choice(SLUG_WORDS)}-{rng.choice(SLUG_WORDS)}-{number:06d}"
        path = posts / f"{moment:%Y}" / f"{moment:%m}" / f"{slug}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(data)
        written += len(data)
    return written


def main() -> None:
    """Parse the arguments and write the corpus."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--categories", type=int, default=40)
    parser.add_argument("--body-kb", type=float, default=6.0)
    args = parser.parse_args()
    size = write_corpus(args.out, args.count, seed=args.seed, categories=args.categories, body_kb=args.body_kb)
    print(f"wrote {args.count:,} articles, {size / 2**20:.0f} MiB, under {args.out / 'posts'}")


if __name__ == "__main__":
    main()
