"""Hexo's front matter forms and content details, read and published as a Hexo site's readers expect.

JSON front matter (`;;;`), front matter without its opening fence, posts without a title;
code blocks' language, CJK summaries cut at a sentence end, a category named like the
site, local dates on the index, `photos`/`cover` thumbnails and `lang:`. Rendering cases
go through a refresh, with feedparser (or the JSON itself) as the oracle.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
import pytest
from bs4 import BeautifulSoup
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from feedsvc.config import Settings
from feedsvc.index.cache import open_cache
from feedsvc.model import Article, Format, Problem, feed_path
from feedsvc.parse.articles import MAX_JSON_DEPTH, parse_file
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from feedsvc.text import shorten
from tests.conftest import Clock, make_settings
from tests.corpus import write_article

MTIME = 1_650_000_000.0
SITE = "https://www.example.com/"


def parse(text: str, settings: Settings, source: str = "post.md") -> Article | Problem:
    """Parse a file's text as the scanner would."""
    return parse_file(text.encode("utf-8"), source=source, mtime=MTIME, settings=settings)[0]


def published(content_dir: Path, settings: Settings | None = None) -> Store:
    """Refresh once over the content directory and return the store holding the snapshot."""
    store = Store()
    Refresher(settings or make_settings(content_dir), store, clock=Clock()).refresh()
    return store


def document(store: Store, path: str) -> bytes:
    """Return the bytes the snapshot serves at a path."""
    return store.snapshot.documents[path].body


def parsed(store: Store, fmt: Format, slug: str = "all") -> Any:
    """Read a feed of the snapshot with feedparser, asserting it is well-formed."""
    result = feedparser.parse(document(store, feed_path(slug, fmt)))
    assert not result.bozo, result.bozo_exception
    return result


def json_items(store: Store, slug: str = "all") -> list[dict[str, Any]]:
    """Return the items of a feed's JSON Feed document."""
    items: list[dict[str, Any]] = json.loads(document(store, feed_path(slug, Format.JSON)))["items"]
    return items


@pytest.fixture(scope="module")
def site() -> Settings:
    """Settings of the test site: https://www.example.com/, Asia/Shanghai."""
    return make_settings(Path("/srv/content"))


# --- item 7: front matter forms Hexo accepts -------------------------------------------------------


def test_json_front_matter_publishes_like_yaml(content_dir: Path) -> None:
    """A post with Hexo's `;;;` JSON front matter is published with its title, date and categories."""
    (content_dir / "json.md").write_text(
        ';;;\n"title": "JSON post",\n"date": "2024-01-05 10:00",\n"categories": ["Hexo"]\n;;;\n<p>body</p>\n',
        encoding="utf-8",
    )
    store = published(content_dir)
    assert store.snapshot.problems == ()
    entries = parsed(store, Format.RSS).entries
    assert [(e.title, e.published_parsed[:6]) for e in entries] == [("JSON post", (2024, 1, 5, 2, 0, 0))]
    assert [e.title for e in parsed(store, Format.ATOM, "hexo").entries] == ["JSON post"]


def test_front_matter_without_opening_fence_publishes(content_dir: Path) -> None:
    """`title: x`, `date: y`, `---`, body (no opening fence, as Hexo accepts) is an article, not a problem."""
    (content_dir / "bare.md").write_text("title: Bare\ndate: 2024-01-05\n---\n<p>body</p>\n", encoding="utf-8")
    store = published(content_dir)
    assert store.snapshot.problems == ()
    assert [e.title for e in parsed(store, Format.ATOM).entries] == ["Bare"]


@pytest.mark.parametrize(
    "text",
    [
        "categories:\n  - Hexo\ntitle: Bare\ndate: 2024-01-05\n---\nbody\n",  # the first field a list
        '"categories":\n  ["Hexo"],\n"title": "Bare",\n"date": "2024-01-05"\n;;;\nbody\n',  # JSON, no opening
        "\n\ntitle: Bare\r\ndate: 2024-01-05\r\n----\r\nbody\r\n",  # blank lines first, CRLF, four dashes
    ],
)
def test_fields_before_the_first_fence_are_front_matter(text: str, site: Settings) -> None:
    """Fields before the first `---` or `;;;` line, in any of Hexo's spellings, are the front matter."""
    result = parse(text, site)
    assert isinstance(result, Article), result
    assert (result.title, result.published.date().isoformat()) == ("Bare", "2024-01-04")


@pytest.mark.parametrize(
    "text",
    [
        "# A heading\n\nSome text\n---\nmore text\n",  # a Markdown rule, no fields before it
        "Heading\n---\nbody\n",  # a setext heading: text, not a mapping
        "Note: a sentence with: two colons [\n---\nbody\n",  # reads like a field, is no YAML
    ],
)
def test_text_before_a_rule_is_not_front_matter(text: str, site: Settings) -> None:
    """A body with a `---` rule and no fields before it stays a problem, not an article with odd fields."""
    result = parse(text, site)
    assert isinstance(result, Problem)
    assert result.reason == "front matter: missing (expected '---' on the first line)"


@given(
    depth=st.integers(min_value=1, max_value=20_000) | st.integers(min_value=190, max_value=210),
    kind=st.sampled_from("[{"),
)
@hypothesis_settings(max_examples=40, deadline=None)
def test_json_front_matter_of_any_depth_is_an_article_or_a_problem(depth: int, kind: str) -> None:
    """JSON front matter of any depth is an Article up to MAX_JSON_DEPTH levels, past it a Problem, never a crash."""
    value = ("[" * depth + "]" * depth) if kind == "[" else ('{"a":' * depth + "1" + "}" * depth)
    text = f';;;\n"title": "deep",\n"date": "2024-01-05",\n"x": {value}\n;;;\nbody\n'
    result = parse(text, make_settings(Path("/srv/content")))
    if depth + 1 <= MAX_JSON_DEPTH:  # the fields' own object is one level
        assert isinstance(result, Article), result
    else:
        assert isinstance(result, Problem)
        assert result.reason.startswith("front matter: invalid JSON: nested too deep")


def test_post_without_title_is_published_titled_by_its_date(content_dir: Path) -> None:
    """A post with no title is published, titled by its date in site.timezone, and `check` sees a warning."""
    write_article(content_dir, "untitled.md", {"date": "2024-01-05T20:00:00Z"})
    store = published(content_dir)
    assert store.snapshot.problems == ()
    # 20:00 UTC is the next morning in Asia/Shanghai.
    assert [e.title for e in parsed(store, Format.RSS).entries] == ["2024-01-06"]
    article = parse((content_dir / "untitled.md").read_text(encoding="utf-8"), make_settings(content_dir))
    assert isinstance(article, Article)
    assert article.warnings == (
        "title: missing, the article is titled by its date 2024-01-06 (expected the article's title)",
    )


# --- item 8: content fidelity -----------------------------------------------------------------------


def test_code_blocks_keep_their_language_class(content_dir: Path) -> None:
    """A fenced code block keeps `class="language-…"` on its `code`; other classes and places lose theirs."""
    body = (
        "```python\nprint(1)\n```\n\n"
        '<div class="note"><pre class="language-c++ x"><code class="js">y</code></pre></div>'
    )
    write_article(content_dir, "code.md", {"title": "Code", "date": "2024-01-05"}, body)
    store = published(content_dir)
    html = parsed(store, Format.ATOM).entries[0].content[0].value
    assert '<code class="language-python">' in html
    assert '<pre class="language-c++">' in html
    assert 'class="note"' not in html
    assert 'class="js"' not in html


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        # The 。 comes too early: cut anywhere.
        ("第一句话说完了。" + "第二句" * 10, 20, "第一句话说完了。第二句第二句第二句第二…"),
        ("一二三四五六七八九十一二三四五六七。后面还有很多很多的字", 20, "一二三四五六七八九十一二三四五六七。…"),
        ("一二三四五六七八九十一二三四五六！”后面还有很多很多的字", 20, "一二三四五六七八九十一二三四五六！”…"),
        ("一二三四五六七八九十一二三四五；后面还有很多很多的字", 20, "一二三四五六七八九十一二三四五；…"),
        ("一二三四五六七八九十一二三四五六七八九十", 20, "一二三四五六七八九十一二三四五六七八九十"),  # not cut at all
    ],
)
def test_cjk_text_is_cut_at_a_sentence_end_in_the_last_fifth(text: str, limit: int, expected: str) -> None:
    """A CJK text is cut after 。！？； (and a closing quote) when that falls in the last fifth of the limit."""
    assert shorten(text, limit) == expected
    assert len(shorten(text, limit)) <= limit


@given(text=st.text(alphabet="一二三。！？；”a ", max_size=300), limit=st.integers(min_value=2, max_value=120))
def test_shorten_never_exceeds_its_limit(text: str, limit: int) -> None:
    """Any text is cut to at most its limit, ending in '…' exactly when it was cut."""
    cut = shorten(text, limit)
    assert len(cut) <= limit
    assert cut == text or cut.endswith("…")


def test_cjk_summary_ends_at_a_sentence(content_dir: Path) -> None:
    """A CJK body's summary ends after its last sentence in the last fifth of feeds.summary_chars, then '…'."""
    body = "<p>" + "市场" * 40 + "。" + "后续内容" * 30 + "</p>"  # the 。 is the 81st character of 100
    write_article(content_dir, "cjk.md", {"title": "摘要", "date": "2024-01-05"}, body)
    store = published(content_dir, make_settings(content_dir, feeds={"summary_chars": 100}))
    assert [item["summary"] for item in json_items(store)] == ["市场" * 40 + "。…"]


def test_category_named_like_the_site_is_not_titled_twice(content_dir: Path) -> None:
    """A category spelt like the site's title (case aside) gives a feed titled once, not "X - X"."""
    write_article(content_dir, "a.md", {"title": "A", "date": "2024-01-05", "categories": ["My Blog", "Other"]})
    store = published(content_dir, make_settings(content_dir, site={"title": "my blog"}))
    assert parsed(store, Format.RSS, "my-blog").feed.title == "My Blog"
    assert parsed(store, Format.RSS, "other").feed.title == "my blog - Other"


def test_index_shows_dates_in_the_site_timezone(content_dir: Path) -> None:
    """The index page shows each feed's newest date in site.timezone, with its offset."""
    write_article(content_dir, "a.md", {"title": "Late", "date": "2024-01-05T20:30:00Z"})
    store = published(content_dir)
    page = BeautifulSoup(document(store, "index.html").decode("utf-8"), "html.parser")
    assert page.select_one("li#all time").get_text() == "2024-01-06 04:30 +08:00"
    utc_store = published(content_dir, make_settings(content_dir, site={"timezone": "UTC"}))
    utc_page = BeautifulSoup(document(utc_store, "index.html").decode("utf-8"), "html.parser")
    assert utc_page.select_one("li#all time").get_text() == "2024-01-05 20:30 UTC"


@pytest.mark.parametrize(
    ("fields", "image"),
    [
        ({"photos": ["/gallery/1.jpg", "/gallery/2.jpg"]}, SITE + "gallery/1.jpg"),
        ({"photos": "https://cdn.example.org/one.jpg"}, "https://cdn.example.org/one.jpg"),
        ({"photos": ["", None, "https://cdn.example.org/two.jpg"]}, "https://cdn.example.org/two.jpg"),
        ({"cover": "/c.jpg", "photos": ["/p.jpg"]}, SITE + "c.jpg"),
        ({"thumbnail": "/t.jpg", "cover": "/c.jpg", "photos": ["/p.jpg"]}, SITE + "t.jpg"),
    ],
)
def test_photos_and_cover_are_the_thumbnail(content_dir: Path, fields: dict[str, Any], image: str) -> None:
    """`photos` (its first entry) is the entry's image when thumbnail, headimg, cover and image give none."""
    write_article(content_dir, "a.md", {"title": "Gallery", "date": "2024-01-05", **fields}, "<p>no image</p>")
    store = published(content_dir)
    assert [e.media_thumbnail[0]["url"] for e in parsed(store, Format.RSS).entries] == [image]
    assert [item["image"] for item in json_items(store)] == [image]


def test_lang_is_the_entry_language(content_dir: Path) -> None:
    """`lang:` is the Atom entry's xml:lang and the JSON Feed item's language; other entries have the site's."""
    write_article(content_dir, "zh.md", {"title": "中文", "date": "2024-01-06", "lang": "zh-CN"})
    write_article(content_dir, "en.md", {"title": "English", "date": "2024-01-05"})
    store = published(content_dir)
    entries = parsed(store, Format.ATOM).entries
    assert [(e.title, e.title_detail.language) for e in entries] == [("中文", "zh-CN"), ("English", "en")]
    assert [item.get("language") for item in json_items(store)] == ["zh-CN", None]
    assert not parsed(store, Format.RSS).bozo


def test_lang_survives_the_parse_cache(content_dir: Path, tmp_path: Path) -> None:
    """An article's language read back from the parse cache after a restart is the one parsed."""
    write_article(content_dir, "zh.md", {"title": "中文", "date": "2024-01-06", "lang": "zh-TW"})
    settings = make_settings(content_dir, scan={"workers": 1}, cache={"dir": str(tmp_path / "cache")})
    for _ in range(2):  # the second run reads the article from the cache
        cache = open_cache(settings)
        assert cache is not None
        store = Store()
        Refresher(settings, store, clock=Clock(), cache=cache).refresh()
        cache.close()
        assert [item.get("language") for item in json_items(store)] == ["zh-TW"]


def test_cache_of_an_older_format_is_replaced(content_dir: Path, tmp_path: Path) -> None:
    """A cache file written by an older format (without the language column) is emptied and used, not an error."""
    write_article(content_dir, "zh.md", {"title": "中文", "date": "2024-01-06", "lang": "zh-TW"})
    settings = make_settings(content_dir, scan={"workers": 1}, cache={"dir": str(tmp_path / "cache")})
    cache = open_cache(settings)
    assert cache is not None
    location = cache.location
    cache.close()
    with sqlite3.connect(location) as old:
        old.execute("DROP TABLE files")
        old.execute("CREATE TABLE files (source TEXT PRIMARY KEY, size INTEGER NOT NULL)")
        old.execute("UPDATE meta SET value = '4:' || substr(value, 3) WHERE key = 'identity'")
    old.close()
    cache = open_cache(settings)
    assert cache is not None
    store = Store()
    Refresher(settings, store, clock=Clock(), cache=cache).refresh()
    cache.close()
    assert [item.get("language") for item in json_items(store)] == ["zh-TW"]
