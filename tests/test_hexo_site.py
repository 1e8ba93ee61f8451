"""A Hexo site as content: its _config.yml settings, its permalinks, its dates and its ids, as Hexo gives them."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.cli import main
from feedsvc.config import Settings, load_settings, parse_settings
from feedsvc.errors import ConfigError
from feedsvc.feeds.catalog import build_catalog
from feedsvc.hexo.site import HexoSite, parse_site_config, post_link, post_path, slugize
from feedsvc.index.scan import EMPTY_INDEX, scan_content
from feedsvc.model import Article, Problem
from feedsvc.parse.articles import parse_article, parse_file
from tests.conftest import NOW, ROOT

FIXTURE = ROOT / "tests" / "data" / "hexo-site"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MTIME = 1_700_000_000.0


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """A copy of the fixture Hexo site, free to change."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "blog"))


def three_lines(tmp_path: Path, extra: str = "") -> Path:
    """Write a config that only names the Hexo site (and `extra` YAML), and return its path."""
    path = tmp_path / "feedsvc.yaml"
    path.write_text(f"content:\n  hexo: blog\n{extra}", encoding="utf-8")
    return path


def hexo_settings(config: dict[str, Any], **sections: dict[str, Any]) -> Settings:
    """Settings over an empty folder for a Hexo site whose _config.yml holds `config`."""
    data: dict[str, Any] = {"content": {"dir": "/nonexistent"}, **sections}
    base = parse_settings(data, source="test.yaml")
    site = parse_site_config({"url": "https://blog.example.org", "timezone": "Asia/Shanghai", **config})
    from dataclasses import replace

    own = data.get("content", {})
    return replace(
        base,
        hexo=site,
        hexo_permalink="permalink" not in own,
        ids=own.get("ids") or "permalink",
        timezone=SHANGHAI,
        site_link=site.url + "/",
        publish_future=site.future,
    )


def parsed(settings: Settings, text: str, source: str = "post.md", mtime: float = MTIME) -> Article:
    """Parse one post's text; fail the test on a problem."""
    result = parse_article(text.encode(), source=source, mtime=mtime, settings=settings)
    assert isinstance(result, Article), result
    return result


# --- settings -------------------------------------------------------------------------------------


def test_a_three_line_config_serves_a_hexo_site(site_dir: Path, tmp_path: Path) -> None:
    """`content.hexo` alone makes source/_posts the content and takes the site's URL, title, zone and feed block."""
    settings = load_settings(three_lines(tmp_path))
    assert settings.content_dir == site_dir / "source" / "_posts"
    assert settings.site_link == "https://blog.example.org/notes/"
    assert settings.site_title == "笔记 Notes"
    assert settings.site_author == "Fixture Author"
    assert settings.language == "zh-CN"
    assert settings.timezone == SHANGHAI
    assert settings.limit == 10_000  # feed.limit: 0 is every post
    assert settings.content == "full"
    assert settings.hexo is not None
    assert settings.hexo_permalink
    assert settings.ids == "permalink"
    assert settings.publish_future


def test_a_hexo_site_reads_only_its_posts_as_articles(site_dir: Path, tmp_path: Path) -> None:
    """In a Hexo site's _posts, a `.txt` beside the posts is an asset, not an article, unless extensions are set."""
    (site_dir / "source" / "_posts" / "notes.txt").write_text("not a post\n", encoding="utf-8")

    settings = load_settings(three_lines(tmp_path))
    own = load_settings(three_lines(tmp_path, "  extensions: [.md, .txt]\n"))

    assert settings.extensions == (".md",)  # the fixture sets post_asset_folder: only new_post_name's kind
    assert any("content.extensions" in note for note in settings.hexo_notes)
    assert own.extensions == (".md", ".txt")


def test_a_hexo_site_hides_what_starts_with_an_underscore(site_dir: Path, tmp_path: Path) -> None:
    """Under a Hexo site's _posts, files and folders named `_…` are never read (Hexo hides them); elsewhere they are."""
    posts = site_dir / "source" / "_posts"
    post = "---\ntitle: hidden\ndate: 2024-01-01\n---\nx\n"
    (posts / "_unfinished.md").write_text(post, encoding="utf-8")
    (posts / "_parked").mkdir()
    (posts / "_parked" / "later.md").write_text(post, encoding="utf-8")
    settings = load_settings(three_lines(tmp_path))
    plain = parse_settings({"content": {"dir": str(posts)}}, source="plain.yaml")

    def sources(settings: Settings, changed: list[str] | None = None) -> set[str]:
        def parse(raw: bytes, source: str, mtime: float) -> tuple[Article | Problem, str]:
            return parse_file(raw, source=source, mtime=mtime, settings=settings)

        result = scan_content(
            settings.content_dir,
            EMPTY_INDEX,
            parse,
            max_bytes=settings.max_file_bytes,
            changed=changed,
            extensions=settings.extensions,
            hidden=settings.hidden,
        )
        return set(result.index.entries)

    hexo_sources = sources(settings)
    assert hexo_sources
    assert not {s for s in hexo_sources if s.startswith("_") or "/_" in s}
    assert not sources(settings, ["_unfinished.md", "_parked"])  # named by filesystem events, still hidden
    assert {"_unfinished.md", "_parked/later.md"} <= sources(plain)


def test_own_settings_win_over_the_site(site_dir: Path, tmp_path: Path) -> None:
    """A setting given in feedsvc's own file wins over the site's, and the notes say the site's was not used."""
    extra = "  permalink: '{slug}/'\n  ids: front_matter\nsite:\n  title: Mine\n  timezone: UTC\n"
    settings = load_settings(three_lines(tmp_path, extra))
    assert settings.site_title == "Mine"
    assert settings.timezone == ZoneInfo("UTC")
    assert not settings.hexo_permalink
    assert settings.ids == "front_matter"
    assert any("title: '笔记 Notes' (not used" in note for note in settings.hexo_notes)
    assert any("permalink: ':category/" in note and "(not used" in note for note in settings.hexo_notes)


def test_the_site_config_is_read_again_at_every_load(site_dir: Path, tmp_path: Path) -> None:
    """Loading the config again (as a reload does) reads the site's _config.yml as it is now."""
    config = three_lines(tmp_path)
    assert load_settings(config).site_title == "笔记 Notes"
    site_config = site_dir / "_config.yml"
    site_config.write_text(site_config.read_text(encoding="utf-8").replace("笔记 Notes", "New"), encoding="utf-8")
    assert load_settings(config).site_title == "New"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("url: not a url", "_config.yml: url: 'not a url' is not a URL"),
        ("timezone: Mars/Base", "_config.yml: timezone: 'Mars/Base' is not a time zone"),
        ("feed: [atom]", "_config.yml: feed: ['atom'] is not a mapping"),
        ("url: [1, 2", "_config.yml: "),
    ],
)
def test_a_bad_site_config_names_the_file_and_key(tmp_path: Path, line: str, message: str) -> None:
    """A _config.yml value feedsvc cannot use is a config error naming the site's file and the key."""
    (tmp_path / "blog").mkdir()
    (tmp_path / "blog" / "_config.yml").write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_settings(three_lines(tmp_path))


@pytest.mark.parametrize(
    ("feed", "limit", "content"),
    [
        ({"limit": 5, "content": False}, 5, "summary"),
        ({"limit": 0, "content": True}, 10_000, "full"),
        ({"limit": False}, 10_000, "full"),
        ({"limit": None, "content": None}, 10_000, "summary"),  # `limit:` and `content:` left empty
        ({}, 20, "full"),
    ],
)
def test_the_feed_block_gives_limit_and_content(tmp_path: Path, feed: dict[str, Any], limit: int, content: str) -> None:
    """hexo-generator-feed's `limit` and `content` become feeds.limit and feeds.content, read as it reads them."""
    (tmp_path / "blog").mkdir()
    (tmp_path / "blog" / "_config.yml").write_text(json.dumps({"feed": feed}), encoding="utf-8")  # JSON is YAML
    settings = load_settings(three_lines(tmp_path))
    assert (settings.limit, settings.content) == (limit, content)


def test_a_missing_site_is_a_config_error(tmp_path: Path) -> None:
    """A content.hexo folder without _config.yml stops feedsvc with a message naming the file."""
    with pytest.raises(ConfigError, match=r"blog/_config.yml: cannot be read"):
        load_settings(three_lines(tmp_path))


def test_check_prints_what_it_took_from_the_site(site_dir: Path, tmp_path: Path) -> None:
    """`feedsvc check` prints one line for each setting it took from the Hexo site."""
    config = three_lines(tmp_path, "cache:\n  enabled: false\nscan:\n  workers: 1\n")
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    lines = result.output.splitlines()
    assert f"hexo: {site_dir}/_config.yml: url: 'https://blog.example.org/notes' -> site.link" in lines
    assert (
        f"hexo: {site_dir}/_config.yml: permalink: ':category/:year/:month/:day/:title/' -> content.permalink" in lines
    )
    assert f"hexo: {site_dir}/_config.yml: timezone: 'Asia/Shanghai' -> site.timezone" in lines
    assert result.exit_code == 0, result.output


# --- permalinks -----------------------------------------------------------------------------------

DATE = datetime(2019, 3, 4, 17, 5, 9, tzinfo=UTC)  # 2019-03-05 01:05:09 in Shanghai


@pytest.mark.parametrize(
    ("config", "source", "front", "expected"),
    [
        ({}, "hello.md", {}, "2019/03/05/hello/"),
        ({}, "sub/dir/hello.md", {}, "2019/03/05/sub/dir/hello/"),
        ({"permalink": ":i_month/:i_day/:hour:minute:second-:name"}, "a/b.md", {}, "3/5/010509-b"),
        ({"permalink": ":post_title/"}, "x.md", {"title": "Hello, World! Çava"}, "hello-world-cava/"),
        ({"permalink": ":id.html"}, "x.md", {"id": 42}, "42.html"),
        ({"permalink": ":category/:title/"}, "x.md", {}, "uncategorized/x/"),
        ({"permalink": ":category/:title/", "default_category": "misc"}, "x.md", {}, "misc/x/"),
        ({"permalink": ":category/:title/"}, "x.md", {"categories": ["A b", "C"]}, "A-b/C/x/"),
        ({"permalink": ":category/:title/"}, "x.md", {"categories": [["A"], ["B", "D"]]}, "B/D/x/"),
        (
            {"permalink": ":category/:title/", "category_map": {"编程": "code"}, "filename_case": 1},
            "x.md",
            {"category": "编程"},
            "code/x/",
        ),
        ({"permalink": ":lang/:title/", "permalink_defaults": {"lang": "en"}}, "x.md", {}, "en/x/"),
        ({"permalink": ":lang/:title/", "permalink_defaults": {"lang": "en"}}, "x.md", {"lang": "zh"}, "zh/x/"),
        ({"permalink": ":nothing/:title/"}, "x.md", {}, "undefined/x/"),
        ({"new_post_name": ":year-:month-:day-:title.md"}, "2019-03-05-hi.md", {}, "2019/03/05/hi/"),
        ({"new_post_name": ":year-:month-:day-:title.md"}, "d/2019-03-05-hi.md", {}, "2019/03/05/d-2019-03-05-hi/"),
        ({"permalink": ":title", "post_asset_folder": True}, "x.md", {}, "x/"),
        ({"permalink": ":title.html", "post_asset_folder": True}, "x.md", {}, "x.html"),
        ({}, "x.md", {"permalink": "about/me"}, "/about/me"),
        ({"post_asset_folder": True}, "x.md", {"permalink": "about/me"}, "/about/me/"),
        ({"permalink": ":year/:hash/"}, "x.md", {}, "2019/{hash}/"),
    ],
)
def test_permalinks_fill_every_hexo_token(
    config: dict[str, Any], source: str, front: dict[str, Any], expected: str
) -> None:
    """Each of Hexo's permalink tokens is filled as Hexo's post_permalink filter fills it."""
    site = parse_site_config({"timezone": "Asia/Shanghai", **config})
    path = post_path(
        site, source=source, title=str(front.get("title", "")), date=DATE, zone=SHANGHAI, front_matter=front
    )
    # Hexo's :hash: 12 hex digits of the SHA-1 of the slug and the date's Unix seconds.
    digest = hashlib.sha1(f"x{int(DATE.timestamp())}".encode(), usedforsecurity=False).hexdigest()[:12]
    expected = expected.replace("{hash}", digest)
    assert path == expected


@pytest.mark.parametrize(
    ("config", "path", "expected"),
    [
        ({"url": "https://e.org/blog/"}, "2019/a/", "https://e.org/blog/2019/a/"),
        ({"url": "https://e.org"}, "中文/Über Café/", "https://e.org/%E4%B8%AD%E6%96%87/%C3%9Cber%20Caf%C3%A9/"),
        ({"url": "https://e.org", "pretty_urls": {"trailing_index": False}}, "a/index.html", "https://e.org/a/"),
        ({"url": "https://e.org", "pretty_urls": {"trailing_html": False}}, "a/b.html", "https://e.org/a/b"),
        (
            {"url": "https://e.org", "pretty_urls": {"trailing_html": False}},
            "a/index.html",
            "https://e.org/a/index.html",
        ),
        ({"url": "https://e.org"}, "a%20b/", "https://e.org/a%20b/"),
    ],
)
def test_links_are_full_urls_as_hexo_writes_them(config: dict[str, Any], path: str, expected: str) -> None:
    """A permalink becomes a full URL as full_url_for makes it: url + path, percent-encoded, pretty_urls applied."""
    site = parse_site_config(config)
    link = post_link(site, source="x.md", title="", date=DATE, zone=SHANGHAI, front_matter={"permalink": path})
    assert link == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello World", "Hello-World"),
        ("  a--b__c  ", "a-b-c"),
        ("新年快乐", "新年快乐"),
        ("Über Café", "Uber-Cafe"),
        ("C++ & Rust: 2024?", "C-Rust-2024"),
        ("Straße Łódź Æon", "Strase-Lodz-AEon"),
    ],
)
def test_slugize_is_hexos(text: str, expected: str) -> None:
    """Slugs drop accents and turn punctuation and spaces into single dashes, keeping case and CJK."""
    assert slugize(text) == expected


@given(st.text(max_size=40))
def test_a_slug_never_holds_a_separator_at_its_ends_or_punctuation(text: str) -> None:
    """Any text slugizes to text with no leading or trailing '-', no '--', no '/' or space."""
    slug = slugize(text)
    assert not slug.startswith("-")
    assert not slug.endswith("-")
    assert "--" not in slug
    assert not any(char in slug for char in "/ ")


def test_a_hexo_site_publishes_its_permalink_not_a_link_field() -> None:
    """In a Hexo site the link is Hexo's permalink: a `link:` field (a link post) does not replace it."""
    settings = hexo_settings({})
    article = parsed(settings, "---\ntitle: x\ndate: 2019-03-05 10:00:00\nlink: https://other.example/\n---\n")
    assert article.link == "https://blog.example.org/2019/03/05/post/"


# --- dates ----------------------------------------------------------------------------------------


def test_a_post_without_date_takes_it_from_its_file_name() -> None:
    """`2019-03-05-hello.md` without `date:` is dated midnight of that day in site.timezone, with no warning."""
    settings = hexo_settings({"new_post_name": ":year-:month-:day-:title.md"})
    article = parsed(settings, "---\ntitle: x\n---\n", source="2019-03-05-hello.md")
    assert article.published == datetime(2019, 3, 4, 16, tzinfo=UTC)
    assert article.link == "https://blog.example.org/2019/03/05/hello/"
    assert article.warnings == ()


def test_a_file_name_date_needs_new_post_name_to_have_one() -> None:
    """With Hexo's default new_post_name (`:title.md`) a dated file name is only a slug: the mtime dates the post."""
    settings = hexo_settings({})
    article = parsed(settings, "---\ntitle: x\n---\n", source="2019-03-05-hello.md")
    assert article.published == datetime.fromtimestamp(MTIME, UTC)
    assert [w.split(":")[0] for w in article.warnings] == ["date"]


@given(st.floats(min_value=0, max_value=4_000_000_000))
@settings(max_examples=30, deadline=None)
def test_a_modification_time_never_moves_an_article(mtime: float) -> None:
    """Whatever its mtime, an undated article keeps the same link and id (Hexo site or not)."""
    for current in (hexo_settings({}), parse_settings({"site": {"link": "https://e.org/"}})):
        first = parsed(current, "---\ntitle: x\n---\n", mtime=MTIME)
        other = parsed(current, "---\ntitle: x\n---\n", mtime=mtime)
        assert (first.link, first.id) == (other.link, other.id)
        assert first.link.startswith("https://")
        assert "//" not in first.link.removeprefix("https://")


def test_a_timestamp_with_a_zone_is_read_as_hexo_reads_it() -> None:
    """A YAML timestamp with an offset is its UTC time of day taken in the site's zone, as Hexo reads it."""
    settings = hexo_settings({})
    article = parsed(settings, "---\ntitle: x\ndate: 2020-05-05T08:00:00+02:00\n---\n")
    assert article.published == datetime(2020, 5, 4, 22, tzinfo=UTC)
    quoted = parsed(settings, "---\ntitle: x\ndate: '2020-05-05T08:00:00+02:00'\n---\n")
    assert quoted.published == datetime(2020, 5, 5, 6, tzinfo=UTC)


def test_updated_is_the_entrys_updated_time() -> None:
    """`updated:` is the article's updated time; without it, updated is the publication date."""
    settings = hexo_settings({})
    article = parsed(settings, "---\ntitle: x\ndate: 2021-06-15 23:30:00\nupdated: 2021-07-01 08:00:00\n---\n")
    assert article.published == datetime(2021, 6, 15, 15, 30, tzinfo=UTC)
    assert article.updated == datetime(2021, 7, 1, 0, tzinfo=UTC)


def test_future_true_publishes_a_future_post_at_once() -> None:
    """With Hexo's `future: true` (its default) a post dated ahead is in the feeds now; `future: false` holds it."""
    text = "---\ntitle: x\ndate: 2099-01-01\n---\n"
    now_publishing = hexo_settings({})
    assert build_catalog([parsed(now_publishing, text)], now_publishing, NOW).published == 1
    held = hexo_settings({"future": False})
    assert build_catalog([parsed(held, text)], held, NOW).published == 0


def test_a_post_published_ahead_of_its_date_never_dates_the_feed_in_the_future() -> None:
    """With `future: true` a post dated 2099 is in the feed, yet the feed's Last-Modified is not in the future."""
    settings = hexo_settings({})
    ahead = parsed(settings, "---\ntitle: ahead\ndate: 2099-01-01\n---\n", source="ahead.md")
    past = parsed(settings, "---\ntitle: past\ndate: 2019-03-05 10:00:00\n---\n", source="past.md")

    feed = build_catalog([ahead, past], settings, NOW).feeds[0]

    assert {a.title for a in feed.articles} == {"ahead", "past"}
    assert feed.updated == past.updated


# --- ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("given_id", ["42", "7d0c5f1e-3b5a-4c52-9a51-2f0d8c1b9e44", "https://old.example/p/1"])
def test_a_hexo_sites_ids_are_its_permalinks(given_id: str) -> None:
    """In a Hexo site an `id:` field (numeric, UUID or URL) does not replace the permalink as the entry's id."""
    settings = hexo_settings({})
    article = parsed(settings, f"---\ntitle: x\ndate: 2019-03-05 10:00:00\nid: '{given_id}'\n---\n")
    assert article.id == article.link == "https://blog.example.org/2019/03/05/post/"


def test_content_ids_front_matter_lets_the_id_field_win() -> None:
    """`content.ids: front_matter` makes an `id:` field the entry's id, in a Hexo site too."""
    settings = hexo_settings({}, content={"dir": "/nonexistent", "ids": "front_matter"})
    article = parsed(settings, "---\ntitle: x\ndate: 2019-03-05 10:00:00\nid: 42\n---\n")
    assert article.id == "42"


def test_content_ids_permalink_applies_to_any_content() -> None:
    """Outside a Hexo site the `id:` field wins by default, and `content.ids: permalink` makes the link the id."""
    text = "---\ntitle: x\ndate: 2019-03-05 10:00:00\nid: 42\n---\n"
    assert parsed(parse_settings({}), text).id == "42"
    link_ids = parse_settings({"content": {"ids": "permalink"}})
    article = parsed(link_ids, text)
    assert article.id == article.link


def test_a_permalink_with_id_warns_when_a_post_has_none() -> None:
    """`:id` takes the file name for a post without `id:` (Hexo's database id is unknowable), with a warning."""
    settings = hexo_settings({"permalink": "p/:id/"})
    article = parsed(settings, "---\ntitle: x\ndate: 2019-03-05\n---\n")
    assert article.link == "https://blog.example.org/p/post/"
    assert [w.split(":")[0] for w in article.warnings] == ["id"]


def test_hexo_site_defaults_are_hexos() -> None:
    """A _config.yml that says nothing gives Hexo's own defaults."""
    site = parse_site_config({})
    assert (site.url, site.root, site.permalink, site.new_post_name) == (
        "http://example.com",
        "/",
        ":year/:month/:day/:title/",
        ":title.md",
    )
    assert site.future
    assert site.trailing_index
    assert site.trailing_html
    assert site.default_category == "uncategorized"
    assert isinstance(site, HexoSite)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("{year}/{month:02d}/{day:02d}/{slug}/", "https://e.org/post/"),
        ("{{year}}/{slug}.html", "https://e.org/{year}/post.html"),
        ("news-{year}{month:02d}/{slug:>6}", "https://e.org/news-/  post"),
    ],
)
def test_an_undated_articles_link_leaves_the_date_fields_out(pattern: str, expected: str) -> None:
    """Without a date but its mtime, content.permalink is filled without its date fields, literals kept."""
    settings = parse_settings({"site": {"link": "https://e.org/"}, "content": {"permalink": pattern}})
    assert parsed(settings, "---\ntitle: x\n---\n").link == expected
