"""Every setting: the `Settings` dataclass and the table of config file keys with their defaults and help."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from feedsvc.config import checks
from feedsvc.hexo.site import HexoSite

CONTENT_MODES = ("full", "summary", "none")
DEFAULT_EXTENSIONS = (".md", ".markdown", ".txt")


@dataclass(frozen=True, slots=True)
class Setting:
    """One configuration key: its dotted name, default, a check, and what it is for."""

    key: str
    default: object
    check: Callable[[Any], Any]
    help: str


@dataclass(frozen=True, slots=True)
class CategorySettings:
    """A configured category, keyed by the name used in front matter."""

    name: str
    slug: str | None = None
    title: str | None = None
    description: str | None = None
    limit: int | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, validated; paths are absolute."""

    site_title: str
    site_link: str
    feed_url: str
    language: str
    timezone: ZoneInfo
    site_author: str
    content_dir: Path
    permalink: str
    max_file_bytes: int
    interval_seconds: int
    limit: int
    content: str
    summary_chars: int
    all_feed: bool
    auto_categories: bool
    archive_size: int = 50  # entries per archive page (RFC 5005); 0: no archive
    max_categories: int = 50  # categories (and, apart, tags) an article may name
    max_name_chars: int = 200  # the longest category, tag or author name
    watch: bool = True
    full_rescan_seconds: int = 600
    workers: int = 0
    cache_enabled: bool = True
    cache_dir: Path | None = None  # None: the user's cache directory
    websub_hub: str = ""  # empty: no WebSub
    websub_delay_seconds: int = 0
    max_depth: int = 512  # HTML nesting kept in a body
    max_html_bytes: int = 2_000_000  # sanitized HTML of one article
    max_feed_content_bytes: int = 20_000_000  # contents of one feed document
    hexo_tags: bool = True  # render Hexo's tag plugins, remove other template syntax
    # Front matter (field, values) pairs that keep an article out of feeds; values as `front_matter_text` writes them.
    exclude_when: tuple[tuple[str, tuple[str, ...]], ...] = (("hidden", ("true",)),)
    categories: tuple[CategorySettings, ...] = ()
    source: str = "<defaults>"
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS  # lower case
    hidden: tuple[str, ...] = (".",)  # names of files and folders never read start so (Hexo: `_` too)
    # The keys the config file sets, sorted; what they are set to is in the fields above.
    given: tuple[str, ...] = field(default=(), compare=False, repr=False)
    hexo: HexoSite | None = None  # the Hexo site whose `_config.yml` was read (content.hexo)
    hexo_permalink: bool = False  # links follow the Hexo site's permalink (content.permalink not given)
    ids: str = "front_matter"  # content.ids: front_matter (an `id:` field wins) or permalink
    hexo_notes: tuple[str, ...] = ()  # what was taken from the Hexo site, one line each, for `feedsvc check`
    publish_future: bool = False  # publish articles dated in the future at once (Hexo's `future: true`)


SETTINGS: tuple[Setting, ...] = (
    Setting("site.title", "feedsvc", checks.title, "Feed title, and the prefix of every category feed's title."),
    Setting(
        "site.link",
        "",
        checks.optional_base_url,
        "The site the articles live on; permalinks and relative URLs resolve against it. Defaults to site.feed_url.",
    ),
    Setting(
        "site.feed_url",
        "http://127.0.0.1:8080/",
        checks.base_url,
        "Public base URL of this service, used in self links and OPML.",
    ),
    Setting("site.language", "en", checks.language, "Language of the feeds (RFC 5646 tag, e.g. zh-CN)."),
    Setting(
        "site.timezone",
        "UTC",
        checks.timezone,
        "Zone for dates written without one, and for the permalink's {year}/{month}/{day}.",
    ),
    Setting("site.author", "", checks.prose, "Author of articles that name none."),
    Setting("content.dir", "content", checks.path, "The directory of articles, relative to this file."),
    Setting(
        "content.extensions",
        list(DEFAULT_EXTENSIONS),
        checks.extensions,
        "What article files' names end with (any case); hidden files and editor leftovers are never read.",
    ),
    Setting(
        "content.permalink",
        "{year}/{month:02d}/{day:02d}/{slug}/",
        checks.permalink,
        "An article's URL under site.link; fields {year} {month} {day} {hour} {minute} {second} {slug}.",
    ),
    Setting(
        "content.hexo",
        "",
        checks.optional_path,
        "A Hexo site folder, relative to this file: its source/_posts is the content, its _config.yml the defaults.",
    ),
    Setting(
        "content.ids",
        "",
        checks.ids,
        "permalink: an entry's id is its link; front_matter: an `id:` field wins (default: permalink for a Hexo site).",
    ),
    Setting(
        "content.max_file_bytes",
        5_000_000,
        checks.integer(1, 1 << 31),
        "Larger files are reported as problems and skipped without being read.",
    ),
    Setting(
        "content.max_categories",
        50,
        checks.integer(1, 10_000),
        "Categories an article may name, and tags apart; the rest are left out with a warning.",
    ),
    Setting(
        "content.max_name_chars",
        200,
        checks.integer(1, 100_000),
        "The longest category, tag or author name; a longer category or tag is left out, an author cut (warned).",
    ),
    Setting(
        "content.max_depth",
        512,
        checks.integer(32, 100_000),
        "HTML in a body nested deeper is flattened (tags dropped, text kept) before sanitizing, with a warning.",
    ),
    Setting(
        "content.max_html_bytes",
        2_000_000,
        checks.integer(10_000, 1 << 31),
        "An article's sanitized HTML is cut at this size (and at 10 times its body's), with a warning.",
    ),
    Setting(
        "content.hexo_tags",
        True,
        checks.boolean,
        "Render Hexo's tag plugins ({% img %}, {% codeblock %}…) and remove other {% %}, {{ }}, {# #} outside code.",
    ),
    Setting(
        "content.exclude_when",
        {"hidden": True},
        checks.exclude_when,
        "Front matter values that keep an article out of feeds: a mapping of field to a value or list of values.",
    ),
    Setting(
        "scan.interval_seconds",
        30,
        checks.integer(1, 86_400),
        "Seconds between rescans; also the feeds' Cache-Control max-age.",
    ),
    Setting(
        "scan.watch",
        True,
        checks.boolean,
        "Learn which files changed from filesystem events, so a rescan reads only those paths.",
    ),
    Setting(
        "scan.full_rescan_seconds",
        600,
        checks.integer(1, 604_800),
        "With scan.watch, walk the whole directory at least this often, to catch what events miss.",
    ),
    Setting(
        "scan.workers",
        0,
        checks.integer(0, 64),
        "Processes that parse large batches of files (0: one per CPU; 1: parse in the service itself).",
    ),
    Setting(
        "cache.enabled",
        True,
        checks.boolean,
        "Keep a persistent parse cache, so that a restart reads only changed files.",
    ),
    Setting(
        "cache.dir",
        "",
        checks.optional_path,
        "Where the cache lives, relative to this file (empty: $XDG_CACHE_HOME/feedsvc or ~/.cache/feedsvc).",
    ),
    Setting("feeds.limit", 20, checks.integer(1, 10_000), "Newest N entries per feed (a category may set its own)."),
    Setting(
        "feeds.content",
        "full",
        checks.choice(*CONTENT_MODES),
        "full: content and summary; summary: the summary only; none: neither.",
    ),
    Setting(
        "feeds.summary_chars",
        200,
        checks.integer(10, 100_000),
        "Longest summary made from the body, including the final …",
    ),
    Setting("feeds.all", True, checks.boolean, "Also publish the feed 'all' of every article."),
    Setting("feeds.auto_categories", True, checks.boolean, "Publish categories found in content but not configured."),
    Setting(
        "feeds.archive_size",
        50,
        checks.integer(0, 10_000),
        "Entries per archive page: every feed links its complete history, oldest page first (0: no archive pages).",
    ),
    Setting(
        "feeds.max_content_bytes",
        20_000_000,
        checks.integer(10_000, 1 << 31),
        "Once the contents in one feed document reach this size, its older entries carry only their summary.",
    ),
    Setting(
        "websub.hub",
        "",
        checks.hub_url,
        "A WebSub hub: feeds link to it, and it is told which feeds changed after each refresh (empty: no WebSub).",
    ),
    Setting(
        "websub.delay_seconds",
        0,
        checks.integer(0, 3_600),
        "Wait this long after a change before telling the hub, e.g. for a cache in front to expire its copy.",
    ),
)
SETTINGS_BY_KEY = {setting.key: setting for setting in SETTINGS}
SECTIONS = sorted({key.split(".")[0] for key in SETTINGS_BY_KEY} | {"categories"})
CATEGORY_KEYS = ("slug", "title", "description", "limit", "aliases")
