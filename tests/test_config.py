"""config: every default, every refusal naming the file and the dotted key, categories, loading and the file's path."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from feedsvc.config import (
    DEFAULT_PATH,
    ENV_VAR,
    SETTINGS,
    CategorySettings,
    Settings,
    config_path,
    load_settings,
    parse_settings,
)
from feedsvc.errors import ConfigError, FeedsvcError

BASE = Path("/srv/site/config")


def parse(data: Any) -> Settings:
    """Parse settings from `site.yaml` in BASE."""
    return parse_settings(data, source="site.yaml", base_dir=BASE)


def refused(data: Any) -> str:
    """Return the ConfigError message that parsing `data` gives."""
    with pytest.raises(ConfigError) as caught:
        parse(data)
    return str(caught.value)


def test_a_file_holding_only_content_dir_gets_every_default() -> None:
    """A config of only `content.dir` works, and every other key takes its documented default."""
    settings = parse({"content": {"dir": "articles"}})
    assert settings == Settings(
        site_title="feedsvc",
        site_link="http://127.0.0.1:8080/",
        feed_url="http://127.0.0.1:8080/",
        language="en",
        timezone=ZoneInfo("UTC"),
        site_author="",
        content_dir=BASE / "articles",
        permalink="{year}/{month:02d}/{day:02d}/{slug}/",
        max_file_bytes=5_000_000,
        interval_seconds=30,
        limit=20,
        content="full",
        summary_chars=200,
        all_feed=True,
        auto_categories=True,
        categories=(),
        source="site.yaml",
    )


def test_settings_defaults_are_what_an_empty_file_gives() -> None:
    """`Settings()` equals the settings of an empty file, but for content.dir, which the file's folder resolves."""
    assert parse({}) == dataclasses.replace(Settings(), content_dir=BASE / "content", source="site.yaml")


@pytest.mark.parametrize("data", [None, {}, {"site": None, "content": None, "categories": None}])
def test_empty_config_and_empty_sections_take_defaults(data: Any) -> None:
    """An empty file, or sections left empty, mean the defaults (content.dir is `content` beside the file)."""
    settings = parse(data)
    assert settings.content_dir == BASE / "content"
    assert settings.limit == 20
    assert settings.categories == ()


def test_null_values_take_defaults() -> None:
    """A key written with no value (`limit:`) takes its default."""
    settings = parse({"feeds": {"limit": None, "content": None}, "site": {"timezone": None}})
    assert (settings.limit, settings.content, settings.timezone) == (20, "full", ZoneInfo("UTC"))


def test_every_setting_has_a_default_that_passes_its_own_check_and_help() -> None:
    """Each setting in the table has a valid default and a help sentence, as the docs promise."""
    for setting in SETTINGS:
        setting.check(setting.default)
        assert len(setting.help.split()) >= 4, setting.key
        assert setting.key.count(".") == 1


def test_a_full_config_is_read() -> None:
    """Every key of the documented example is read into Settings."""
    settings = parse(
        {
            "site": {
                "title": "证券时报网",
                "link": "https://www.example.com",
                "feed_url": "https://feeds.example.com/base",
                "language": "zh-CN",
                "timezone": "Asia/Shanghai",
                "author": "证券时报网",
            },
            "content": {"dir": "../examples/content", "permalink": "/{year}/{slug}.html", "max_file_bytes": 1000},
            "scan": {"interval_seconds": 5},
            "feeds": {
                "limit": 7,
                "content": "summary",
                "summary_chars": 50,
                "all": False,
                "auto_categories": False,
            },
            "categories": {"金融": {"slug": "finance", "title": "金融", "description": "金融新闻", "limit": 30}},
        }
    )
    assert settings.site_title == "证券时报网"
    assert settings.site_link == "https://www.example.com/"
    assert settings.feed_url == "https://feeds.example.com/base/"
    assert settings.language == "zh-CN"
    assert settings.timezone == ZoneInfo("Asia/Shanghai")
    assert settings.site_author == "证券时报网"
    assert settings.content_dir == Path("/srv/site/examples/content")
    assert settings.permalink == "{year}/{slug}.html"
    assert (settings.max_file_bytes, settings.interval_seconds, settings.limit) == (1000, 5, 7)
    assert (settings.content, settings.summary_chars, settings.all_feed, settings.auto_categories) == (
        "summary",
        50,
        False,
        False,
    )
    assert settings.categories == (
        CategorySettings(name="金融", slug="finance", title="金融", description="金融新闻", limit=30),
    )


def test_site_link_defaults_to_feed_url() -> None:
    """Without `site.link`, permalinks resolve under `site.feed_url`."""
    settings = parse({"site": {"feed_url": "https://feeds.example.com"}})
    assert settings.site_link == settings.feed_url == "https://feeds.example.com/"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.com", "https://www.example.com/"),
        ("https://www.example.com/", "https://www.example.com/"),
        ("https://www.example.com/blog", "https://www.example.com/blog/"),
        ("  http://127.0.0.1:8080  ", "http://127.0.0.1:8080/"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
    ],
)
def test_urls_get_a_trailing_slash(url: str, expected: str) -> None:
    """`site.link` and `site.feed_url` always end in '/', so paths can be appended to them."""
    settings = parse({"site": {"link": url, "feed_url": url}})
    assert settings.site_link == settings.feed_url == expected


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("content", BASE / "content"),
        ("../examples/content", Path("/srv/site/examples/content")),
        ("./a/./b/../c", BASE / "a" / "c"),
        ("/var/lib/feedsvc/content", Path("/var/lib/feedsvc/content")),
    ],
)
def test_content_dir_is_relative_to_the_config_file(directory: str, expected: Path) -> None:
    """A relative `content.dir` resolves against the config file's folder; an absolute one is kept."""
    assert parse({"content": {"dir": directory}}).content_dir == expected


def test_content_dir_without_a_base_is_relative_to_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `base_dir`, a relative `content.dir` resolves against the working directory."""
    monkeypatch.chdir("/")
    assert parse_settings({"content": {"dir": "srv/content"}}).content_dir == Path("/srv/content")


@pytest.mark.parametrize(
    ("data", "key", "reason"),
    [
        (
            {"sites": {}},
            "sites",
            "unknown section (expected one of: authors, build, cache, categories, content, entities, feeds, scan, "
            "server, site, stats, storage, tags, websub)",
        ),
        ({"site": {"titel": "x"}}, "site.titel", "unknown key (expected one of: title, link"),
        ({"feeds": {"summary": "full"}}, "feeds.summary", "unknown key (expected one of: limit, content"),
        ({"content": {"dir": "c", "directory": "d"}}, "content.directory", "unknown key"),
        ({"site": ["title"]}, "site", "is not a mapping (expected keys under it)"),
        ({"scan": 30}, "scan", "is not a mapping"),
        # Wrong types and values.
        ({"feeds": {"limit": True}}, "feeds.limit", "True is not a whole number (expected a whole number from 1"),
        ({"feeds": {"limit": "20"}}, "feeds.limit", "'20' is not a whole number"),
        ({"feeds": {"limit": 2.5}}, "feeds.limit", "2.5 is not a whole number"),
        ({"feeds": {"limit": 0}}, "feeds.limit", "0 is out of range (expected a whole number from 1 to 10,000)"),
        ({"feeds": {"limit": 10_001}}, "feeds.limit", "is out of range"),
        ({"scan": {"interval_seconds": -1}}, "scan.interval_seconds", "is out of range"),
        ({"feeds": {"summary_chars": 5}}, "feeds.summary_chars", "is out of range"),
        ({"content": {"max_file_bytes": 0}}, "content.max_file_bytes", "is out of range"),
        ({"feeds": {"all": "yes"}}, "feeds.all", "'yes' is not a boolean (expected true or false)"),
        ({"feeds": {"auto_categories": 1}}, "feeds.auto_categories", "is not a boolean"),
        (
            {"feeds": {"content": "partial"}},
            "feeds.content",
            "'partial' is not allowed (expected one of: full, summary",
        ),
        ({"feeds": {"content": ["full"]}}, "feeds.content", "is not allowed"),
        ({"site": {"title": {"zh": "标题"}}}, "site.title", "is not text (expected a string)"),
        ({"site": {"title": True}}, "site.title", "is not text"),
        ({"site": {"language": ["en"]}}, "site.language", "is not text"),
        ({"site": {"language": "zh CN"}}, "site.language", "is not a language tag (expected an RFC 5646 tag"),
        ({"site": {"language": "chinese-simplified-mainland"}}, "site.language", "is not a language tag"),
        ({"site": {"language": ""}}, "site.language", "is not a language tag"),
        ({"site": {"title": ""}}, "site.title", "is empty (expected a title"),
        ({"site": {"title": "   "}}, "site.title", "is empty"),
        ({"site": {"title": "\x01\x02"}}, "site.title", "is empty"),
        ({"content": {"dir": "  "}}, "content.dir", "is empty (expected a directory path)"),
        ({"content": {"dir": ["a"]}}, "content.dir", "is not text"),
        # URLs.
        ({"site": {"link": "www.example.com"}}, "site.link", "is not a URL (expected an absolute http(s) URL)"),
        ({"site": {"link": "ftp://example.com/"}}, "site.link", "is not a URL"),
        ({"site": {"link": "//example.com/"}}, "site.link", "is not a URL"),
        ({"site": {"link": "https://"}}, "site.link", "is not a URL"),
        ({"site": {"link": "javascript:alert(1)"}}, "site.link", "is not a URL"),
        ({"site": {"link": "http://[broken/"}}, "site.link", "is not a URL"),
        ({"site": {"link": "http://example.com:99999/"}}, "site.link", "is not a URL"),
        ({"site": {"link": "http://exa mple.com/"}}, "site.link", "is not a URL"),
        (
            {"site": {"link": "https://example.com/?lang=zh"}},
            "site.link",
            "has a query or fragment (expected a base URL",
        ),
        ({"site": {"feed_url": "https://example.com/feeds#top"}}, "site.feed_url", "has a query or fragment"),
        ({"site": {"feed_url": ""}}, "site.feed_url", "is not a URL"),
        ({"site": {"feed_url": 8080}}, "site.feed_url", "is not a URL"),
        # Time zones.
        ({"site": {"timezone": "Mars/Olympus"}}, "site.timezone", "is not a time zone (expected an IANA name"),
        ({"site": {"timezone": "Asia"}}, "site.timezone", "'Asia' is not a time zone"),
        ({"site": {"timezone": "asia/shanghai"}}, "site.timezone", "is not a time zone"),
        ({"site": {"timezone": "../../../etc/passwd"}}, "site.timezone", "is not a time zone"),
        ({"site": {"timezone": "/etc/localtime"}}, "site.timezone", "is not a time zone"),
        ({"site": {"timezone": "UTC\x00"}}, "site.timezone", "is not a time zone"),
        ({"site": {"timezone": ""}}, "site.timezone", "is not a time zone"),
        ({"site": {"timezone": 8}}, "site.timezone", "is not a time zone"),
        # Permalink patterns.
        ({"content": {"permalink": "{slug.__class__}/"}}, "content.permalink", "is not a permalink pattern"),
        ({"content": {"permalink": "{slug.__init__.__globals__}"}}, "content.permalink", "is not a permalink pattern"),
        ({"content": {"permalink": "{slug[0]}/{slug}"}}, "content.permalink", "is not a permalink pattern"),
        (
            {"content": {"permalink": "{foo}/{slug}"}},
            "content.permalink",
            "is not a permalink pattern: 'foo' (expected fields among {year}",
        ),
        ({"content": {"permalink": "{}/{slug}"}}, "content.permalink", "is not a permalink pattern"),
        ({"content": {"permalink": "{0}/{slug}"}}, "content.permalink", "is not a permalink pattern"),
        ({"content": {"permalink": "{year:%Y}/{slug}"}}, "content.permalink", "is not a permalink pattern"),
        ({"content": {"permalink": "{year:{slug}}/{slug}"}}, "content.permalink", "is not a permalink pattern"),
        ({"content": {"permalink": "{slug!x}"}}, "content.permalink", "is not a permalink pattern"),
        ({"content": {"permalink": "{slug"}}, "content.permalink", "is not a permalink pattern"),
        ({"content": {"permalink": "{year}/{month}/"}}, "content.permalink", "has no {slug} (expected it"),
        ({"content": {"permalink": "{{slug}}/"}}, "content.permalink", "has no {slug}"),
        ({"content": {"permalink": "{slug:.0}/"}}, "content.permalink", "has no {slug}"),
        ({"content": {"permalink": ["{slug}"]}}, "content.permalink", "is not text"),
    ],
)
def test_unknown_keys_and_wrong_values_are_refused_naming_file_and_key(data: Any, key: str, reason: str) -> None:
    """Each unknown key or bad value is a ConfigError `file: dotted.key: reason (expected …)`."""
    message = refused(data)
    assert message.startswith(f"site.yaml: {key}: ")
    assert reason in message
    assert "(expected " in message


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("{year}/{month:02d}/{day:02d}/{slug}/", "{year}/{month:02d}/{day:02d}/{slug}/"),
        ("/posts/{slug}.html", "posts/{slug}.html"),
        ("{year}{month:02d}{day:02d}-{hour:02d}{minute:02d}{second:02d}-{slug}", None),
        ("{slug}", None),
        ("{slug:>3}/", None),
    ],
)
def test_permalink_patterns_with_known_fields_are_accepted(pattern: str, expected: str | None) -> None:
    """Patterns using {year} {month} {day} {hour} {minute} {second} {slug} with format specs are accepted."""
    assert parse({"content": {"permalink": pattern}}).permalink == (expected or pattern)


def test_config_error_is_a_feedsvc_error() -> None:
    """ConfigError is one of feedsvc's own errors."""
    assert issubclass(ConfigError, FeedsvcError)


# Categories.


def test_categories_are_read_in_order_with_their_fields() -> None:
    """Each configured category keeps its name, slug, title, description, limit and aliases, in file order."""
    settings = parse(
        {
            "categories": {
                "金融": {"slug": "finance", "title": "Finance", "description": "Money", "limit": 30},
                "要闻": {"slug": "headlines", "aliases": ["头条", "Top"]},
                "股票": {"aliases": "A股"},
            }
        }
    )
    assert settings.categories == (
        CategorySettings(name="金融", slug="finance", title="Finance", description="Money", limit=30),
        CategorySettings(name="要闻", slug="headlines", aliases=("头条", "Top")),
        CategorySettings(name="股票", aliases=("A股",)),
    )


def test_a_category_with_a_null_value_uses_defaults() -> None:
    """`金融:` with nothing under it is a category with no slug, title or aliases of its own."""
    assert parse({"categories": {"金融": None}}).categories == (CategorySettings(name="金融"),)


def test_category_keys_with_null_values_are_left_out() -> None:
    """A category key written without a value (`slug:`) is as if not written."""
    assert parse({"categories": {"a": {"slug": None, "aliases": None}}}).categories == (CategorySettings(name="a"),)


@pytest.mark.parametrize(
    ("name", "expected"),
    [(2024, "2024"), (1.5, "1.5"), (True, "true"), (False, "false"), ("  spaced   name ", "spaced name")],
)
def test_category_names_are_text_as_in_front_matter(name: Any, expected: str) -> None:
    """Numbers and booleans as category names are their text, and spaces collapse, as front matter reads them."""
    assert parse({"categories": {name: None}}).categories[0].name == expected


def test_aliases_are_text_as_in_front_matter() -> None:
    """Aliases that are numbers or booleans are text; empty ones are dropped."""
    category = parse({"categories": {"a": {"aliases": [2024, True, "  x  y ", ""]}}}).categories[0]
    assert category.aliases == ("2024", "true", "x y")


@pytest.mark.parametrize(
    ("categories", "key", "reason"),
    [
        ({"a": {"slug": "all"}}, "categories.a.slug", "'all' is not a usable slug"),
        ({"a": {"slug": "Finance"}}, "categories.a.slug", "is not a usable slug (expected lower-case ASCII"),
        ({"a": {"slug": "a/b"}}, "categories.a.slug", "is not a usable slug"),
        ({"a": {"slug": "../x"}}, "categories.a.slug", "is not a usable slug"),
        ({"a": {"slug": "-x"}}, "categories.a.slug", "is not a usable slug"),
        ({"a": {"slug": "金融"}}, "categories.a.slug", "is not a usable slug"),
        ({"a": {"slug": "x" * 81}}, "categories.a.slug", "is not a usable slug"),
        ({"a": {"slug": ""}}, "categories.a.slug", "is not a usable slug"),
        ({"a": {"slug": ["x"]}}, "categories.a.slug", "is not text"),
        ({"a": {"limit": 0}}, "categories.a.limit", "is out of range"),
        ({"a": {"limit": "5"}}, "categories.a.limit", "is not a whole number"),
        ({"a": {"title": ["x"]}}, "categories.a.title", "is not text"),
        ({"a": {"aliases": [None]}}, "categories.a.aliases", "is not a list of names"),
        ({"a": {"aliases": [{"x": 1}]}}, "categories.a.aliases", "is not a list of names"),
        ({"a": {"slog": "x"}}, "categories.a.slog", "unknown key (expected one of: slug, title, description, limit"),
        ({"a": ["x"]}, "categories.a", "is not a mapping (expected keys slug"),
        ({"a": "finance"}, "categories.a", "is not a mapping"),
        ({"a": {"slug": "x"}, "b": {"slug": "x"}}, "categories.b.slug", "'x' is also the slug of 'a'"),
        ({"a": None, "b": {"aliases": ["a"]}}, "categories.b.aliases", "'a' already means 'a'"),
        ({"a": {"aliases": ["c"]}, "b": {"aliases": "c"}}, "categories.b.aliases", "'c' already means 'a'"),
        ({"a": {"aliases": ["b"]}, "b": None}, "categories.a.aliases", "'b' already means 'b'"),
        ({1: None, "1": None}, "categories.1", "'1' is configured twice"),
        ({"a": None, " a ": None}, "categories.a", "'a' is configured twice"),
        ({"": None}, "categories", "an empty category name"),
        ({None: None}, "categories", "is not a category name"),
    ],
)
def test_bad_categories_are_refused(categories: Any, key: str, reason: str) -> None:
    """Bad slugs, shared slugs, names meaning two categories, and malformed entries are refused by key."""
    message = refused({"categories": categories})
    assert message.startswith(f"site.yaml: {key}: ")
    assert reason in message
    assert "(expected " in message


def test_categories_that_are_not_a_mapping_are_refused() -> None:
    """`categories` as a list is refused: categories are keyed by name."""
    assert refused({"categories": ["金融", "要闻"]}).startswith("site.yaml: categories: ")


def test_an_alias_naming_its_own_category_is_allowed() -> None:
    """Listing a category's own name among its aliases is harmless."""
    assert parse({"categories": {"a": {"aliases": ["a"]}}}).categories[0].aliases == ("a",)


@pytest.mark.parametrize("data", [["site"], "text", 42])
def test_a_config_that_is_not_a_mapping_is_refused(data: Any) -> None:
    """A config file that is a list or a scalar is refused, naming the file."""
    assert refused(data).startswith("site.yaml: the file is ")


# Loading the file.


def write(path: Path, text: str | bytes) -> Path:
    """Write a config file and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def test_load_settings_reads_the_file_and_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    """load_settings reads YAML, names the file as the source, and resolves content.dir beside it."""
    path = write(tmp_path / "conf" / "feedsvc.yaml", "site:\n  title: 测试\ncontent:\n  dir: ../articles\n")
    settings = load_settings(path)
    assert settings.site_title == "测试"
    assert settings.content_dir == tmp_path / "articles"
    assert settings.source == str(path)


def test_load_settings_drops_a_bom(tmp_path: Path) -> None:
    """A config saved with a UTF-8 BOM is read like any other."""
    path = write(tmp_path / "c.yaml", b"\xef\xbb\xbfsite:\n  title: BOM\n")
    assert load_settings(path).site_title == "BOM"


def test_load_settings_of_an_empty_file_gives_defaults(tmp_path: Path) -> None:
    """An empty config file means every default."""
    settings = load_settings(write(tmp_path / "c.yaml", ""))
    assert settings.content_dir == tmp_path / "content"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "cannot be read"),
        (b"site:\n  title: caf\xe9\n", "is not UTF-8 text (expected a YAML config file)"),
        ("site:\n  title: [unclosed\ncontent:\n  dir: x\n", "invalid YAML"),
        ("site: {title: a, title: b}\n", "duplicate key 'title' at line 1"),
        ("- site\n- content\n", "the file is list (expected a mapping of sections"),
        ("just text\n", "the file is str"),
        ("site:\n  title: !!python/object/apply:os.getcwd []\n", "could not determine a constructor"),
        ("feeds:\n  limit: " + "9" * 5000 + "\n", "feeds.limit: "),
        ("feeds:\n  limit: 0x" + "f" * 5000 + "\n", "feeds.limit: "),
        ("sites:\n  title: x\n", "sites: unknown section"),
    ],
)
def test_load_settings_refuses_unusable_files_naming_them(
    tmp_path: Path, content: str | bytes | None, reason: str
) -> None:
    """A missing, non-UTF-8, unparsable or non-mapping file is a ConfigError naming the file."""
    path = tmp_path / "feedsvc.yaml"
    if content is not None:
        write(path, content)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert reason in message


def test_load_settings_reports_yaml_errors_with_their_line(tmp_path: Path) -> None:
    """A YAML error names the line and column in the config file."""
    path = write(tmp_path / "c.yaml", "site:\n  title: x\n  link: [unclosed\ncontent:\n  dir: c\n")
    with pytest.raises(ConfigError, match=r"at line \d+, column \d+"):
        load_settings(path)


def test_load_settings_of_a_directory_is_a_config_error(tmp_path: Path) -> None:
    """A path that is a directory is refused as unreadable, not an unexpected OSError."""
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(tmp_path)


# Choosing the file.


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        ("given.yaml", {ENV_VAR: "env.yaml"}, Path("given.yaml")),
        (Path("/etc/feedsvc.yaml"), {}, Path("/etc/feedsvc.yaml")),
        (None, {ENV_VAR: "env.yaml"}, Path("env.yaml")),
        ("", {ENV_VAR: "env.yaml"}, Path("env.yaml")),
        (None, {ENV_VAR: ""}, DEFAULT_PATH),
        (None, {}, DEFAULT_PATH),
        (None, {"OTHER": "x.yaml"}, Path("config/feedsvc.yaml")),
    ],
)
def test_config_path_precedence(explicit: str | Path | None, environ: dict[str, str], expected: Path) -> None:
    """--config wins, then $FEEDSVC_CONFIG, then config/feedsvc.yaml under the working directory."""
    assert config_path(explicit, environ) == expected


def test_config_path_reads_the_real_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit mapping, config_path reads the process environment."""
    monkeypatch.setenv(ENV_VAR, "/from/env.yaml")
    assert config_path(None) == Path("/from/env.yaml")
    monkeypatch.delenv(ENV_VAR)
    assert config_path(None) == DEFAULT_PATH
