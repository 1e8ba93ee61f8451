"""Every setting, declared once: each key of the config file is a field of `Settings`.

`setting(key, default, check, help)` declares one: its dotted key, its default as the file
writes it, the check (from `checks`) that reads a value, and one line of Markdown for the
README. `SETTINGS` is made from `dataclasses.fields(Settings)`: `file` reads the file by it
and `reference` writes the README's table from it, so a new key is one new field. The
fields without a key are what `file` works out.

Why the dataclass is the declaration, not made from a table: mypy sees a class only as
written, so `settings.limit` stays an `int`; and `setting()` returns what its check returns,
so mypy refuses a field whose type its check does not give. No reading logic here.
"""

# Each field's default is the dataclasses.field that setting() returns, not a shared mutable value.
# ruff: noqa: RUF009

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from feedsvc.config import checks
from feedsvc.hexo.site import HexoSite

CONTENT_MODES = ("full", "summary", "none")
DEFAULT_EXTENSIONS = (".md", ".markdown", ".txt")
DEFAULT_FEED_URL = "http://127.0.0.1:8080/"

T = TypeVar("T")
E = TypeVar("E")
# The key under which a field's metadata holds its Setting.
_DECLARED = "feedsvc.config.setting"


@dataclass(frozen=True, slots=True)
class Setting:
    """One key of the config file: its dotted name, default, check and help, and the field it fills."""

    key: str  # dotted: `section.name`, or `categories.<name>.name` for a category's
    default: object  # as the file would write it
    check: Callable[[Any], Any]
    help: str  # one line of Markdown: the README's reference
    shown_default: str = ""  # the default as the README shows it, when not the default written as YAML
    attribute: str = ""  # the field it fills; set from the field's name when the table is made


def setting(
    key: str,
    default: object,
    check: Callable[[Any], T],
    help: str,
    *,
    shown: str = "",
    value: T | None = None,
    output: bool = True,
) -> T:
    """Declare a field read from `key`; its default is `check(default)`, or `value` where `file` works it out.

    `output=False`: the setting changes how and when feedsvc works, never what it makes
    of the same files; it is left out of the settings' repr, which identifies the parse
    cache and archive pages (`settings_identity`), so changing it re-reads and re-makes nothing.
    """
    declared = Setting(key=key, default=default, check=check, help=help, shown_default=shown)
    return field(default=check(default) if value is None else value, metadata={_DECLARED: declared}, repr=output)


def category_key(check: Callable[[Any], T], empty: E, help: str, *, shown: str) -> T | E:
    """Declare a field of a category, read from the key of its name; `empty` when the file gives none."""
    declared = Setting(key="", default=empty, check=check, help=help, shown_default=shown)
    return field(default=empty, metadata={_DECLARED: declared})


@dataclass(frozen=True, slots=True)
class CategorySettings:
    """A configured category, keyed by the name used in front matter."""

    name: str
    slug: str | None = category_key(
        checks.slug,
        None,
        "The category's URL slug (lower-case ASCII, digits, `-`, `_`; not `all`)",
        shown="from the name",
    )
    title: str | None = category_key(checks.prose, None, "Feed title after the `site.title` prefix", shown="the name")
    description: str | None = category_key(checks.prose, None, "Feed description", shown="the title")
    limit: int | None = category_key(
        checks.integer(1, 10_000), None, "Newest N entries of this category's feed", shown="`feeds.limit`"
    )
    aliases: tuple[str, ...] = category_key(
        checks.category_names, (), "Other names in front matter that mean this category", shown="none"
    )


DEFAULT_ENTITY_TITLE = "{title}"


@dataclass(frozen=True, slots=True)
class EntitySettings:
    """A kind of entity found in bodies, keyed by its name in the config file (`stocks`): each entity has feeds."""

    name: str
    selector: str = category_key(
        checks.selector,
        "",
        "A CSS selector of the elements that name an entity in a body (`a.trsHotWords`); required",
        shown="(required)",
    )
    key: tuple[str, str] = category_key(
        checks.entity_source,
        ("text", ""),
        "Where an element's key comes from (the feed's URL): `text`, `attribute:NAME` or `query:NAME` (a parameter "
        "of its `href`)",
        shown="`text`",
    )
    title: tuple[str, str] = category_key(
        checks.entity_source, ("text", ""), "Where an element's name comes from, as `key`", shown="`text`"
    )
    feed_title: str = category_key(
        checks.entity_title,
        DEFAULT_ENTITY_TITLE,
        "Feed title after the `site.title` prefix; `{title}` is the name (the most used), `{key}` the key",
        shown="`{title}`",
    )
    description: str | None = category_key(checks.prose, None, "Feed description", shown="the title")
    label: str | None = category_key(
        checks.prose, None, "What the index page and the OPML call this kind's feeds", shown="the name, capitalized"
    )
    limit: int | None = category_key(
        checks.integer(1, 10_000), None, "Newest N entries of each entity's feed", shown="`feeds.limit`"
    )
    min_articles: int = category_key(
        checks.integer(1, 1_000_000), 2, "Articles that must name an entity before it has a feed", shown="`2`"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Every setting, validated.

    `parse_settings` makes them; `Settings()` holds the defaults, with `content_dir`
    still relative to the config file's folder.
    """

    site_title: str = setting(
        "site.title",
        "feedsvc",
        checks.title,
        "Feed title, and the prefix of every category feed's title (`Site - Category`; a category named like the "
        "site, case aside, is titled once)",
    )
    site_link: str = setting(
        "site.link",
        "",
        checks.optional_base_url,
        "The site the articles live on; permalinks and relative URLs resolve against it",
        shown="`site.feed_url`",
        value=DEFAULT_FEED_URL,  # file: site.feed_url when empty
    )
    feed_url: str = setting(
        "site.feed_url",
        DEFAULT_FEED_URL,
        checks.base_url,
        "Public base URL of this service, used in self links, the OPML and the index page",
        shown=f"`{DEFAULT_FEED_URL}`; under `serve`, the address it listens on",
    )
    language: str = setting(
        "site.language", "en", checks.language, "Language of the feeds (an RFC 5646 tag such as `zh-CN`)"
    )
    timezone: ZoneInfo = setting(
        "site.timezone",
        "UTC",
        checks.timezone,
        "Zone for dates written without one, and for the permalink's `{year}`/`{month}`/`{day}`",
    )
    site_author: str = setting("site.author", "", checks.prose, "Author of articles that name none")
    content_dir: Path = setting("content.dir", "content", checks.path, "The directory of articles")
    # Lower case.
    extensions: tuple[str, ...] = setting(
        "content.extensions",
        list(DEFAULT_EXTENSIONS),
        checks.extensions,
        "What article files' names end with, compared in any case (each a dot and a name, no separators); hidden "
        "files and editor leftovers are never read",
    )
    permalink: str = setting(
        "content.permalink",
        "{year}/{month:02d}/{day:02d}/{slug}/",
        checks.permalink,
        "An article's URL under `site.link`; fields `{year}` `{month}` `{day}` `{hour}` `{minute}` `{second}` `{slug}`",
    )
    hexo_dir: Path | None = setting(
        "content.hexo",
        "",
        checks.optional_path,
        "A Hexo site folder (relative to this file): its `source/_posts` is the content and its `_config.yml` gives "
        "the defaults of the settings this file leaves out, read again at every reload; see "
        "[Moving from Hexo](#moving-from-hexo)",
    )
    ids: str = setting(
        "content.ids",
        "",
        checks.ids,
        "What an entry's id is: `permalink`, its link (what hexo-generator-feed publishes); `front_matter`, an "
        "article's `id:` field when it has one, else its link",
        shown="`permalink` for a Hexo site, else `front_matter`",
        value="front_matter",  # file: permalink for a Hexo site when empty
    )
    max_file_bytes: int = setting(
        "content.max_file_bytes",
        5_000_000,
        checks.integer(1, 1 << 31),
        "Larger files are reported as problems and skipped without being read",
    )
    max_categories: int = setting(
        "content.max_categories",
        50,
        checks.integer(1, 10_000),
        "Categories an article may name, and tags apart; the rest are left out with a warning",
    )
    max_name_chars: int = setting(
        "content.max_name_chars",
        200,
        checks.integer(1, 100_000),
        "The longest category, tag or author name; a longer category or tag is left out, an author's name cut, "
        "with a warning",
    )
    max_depth: int = setting(
        "content.max_depth",
        512,
        checks.integer(32, 100_000),
        "HTML in a body nested deeper is flattened (the deeper tags dropped, their text kept) before it is "
        "sanitized, with a warning",
    )
    max_html_bytes: int = setting(
        "content.max_html_bytes",
        2_000_000,
        checks.integer(10_000, 1 << 31),
        "An article's sanitized HTML is cut at this size, and at 10 times its body's size plus 64 KiB, with a warning",
    )
    hexo_tags: bool = setting(
        "content.hexo_tags",
        True,
        checks.boolean,
        "Render Hexo's tag plugins and remove other `{% %}`, `{{ }}` and `{# #}` outside code (see \"Hexo tag "
        'plugins"); `false` leaves bodies as written',
    )
    # (field, values) pairs; values as `front_matter_text` writes them.
    exclude_when: tuple[tuple[str, tuple[str, ...]], ...] = setting(
        "content.exclude_when",
        {"hidden": True},
        checks.exclude_when,
        "Front matter that keeps an article out of the feeds: a mapping of field to a value or a list of values, "
        "e.g. `{hidden: true, layout: [page, draft]}`; any pair that matches (a list field by any item) holds the "
        "article, like a draft. `{}` excludes nothing",
    )
    interval_seconds: int = setting(
        "scan.interval_seconds",
        30,
        checks.integer(1, 86_400),
        "Seconds between rescans; also the feeds' `Cache-Control` max-age",
    )
    watch: bool = setting(
        "scan.watch",
        True,
        checks.boolean,
        "Learn which files changed from filesystem events (inotify), so a rescan looks only at those paths",
        output=False,
    )
    settle_ms: int = setting(
        "scan.settle_ms",
        250,
        checks.integer(0, 60_000),
        "With `scan.watch`, refresh this many milliseconds after filesystem events stop (at most four times that "
        "after the first event of a burst), instead of waiting for the next rescan; `0`: on the schedule only",
        output=False,
    )
    full_rescan_seconds: int = setting(
        "scan.full_rescan_seconds",
        600,
        checks.integer(1, 604_800),
        "With `scan.watch`, walk the whole directory at least this often, to catch what events miss",
        output=False,
    )
    workers: int = setting(
        "scan.workers",
        0,
        checks.integer(0, 64),
        "Processes that parse large batches of files (`0`: one per CPU; `1`: none)",
        output=False,
    )
    cache_enabled: bool = setting(
        "cache.enabled",
        True,
        checks.boolean,
        "Keep a persistent parse cache, so that a restart reads only the files that changed",
        output=False,
    )
    cache_dir: Path | None = setting(
        "cache.dir",
        "",
        checks.optional_path,
        "Where the cache lives (default `~/.cache/feedsvc`); one SQLite file per content directory",
        shown="`$XDG_CACHE_HOME/feedsvc`",
        output=False,
    )
    trusted_proxies: tuple[str, ...] = setting(
        "server.trusted_proxies",
        [],
        checks.networks,
        "Addresses (or networks) of the proxies in front: a request from one of them is counted for the client "
        "`X-Forwarded-For` names (read from the right, past the trusted proxies); from any other address, that "
        "header is ignored",
        shown="none",
        output=False,
    )
    stats_enabled: bool = setting(
        "stats.enabled",
        True,
        checks.boolean,
        "Estimate each feed's subscribers from its polls (see [Subscribers](#subscribers)); `false`: nothing is "
        "counted or kept",
        output=False,
    )
    stats_index_page: bool = setting(
        "stats.index_page",
        True,
        checks.boolean,
        "Show each feed's subscribers on the index page (read from `/stats.json` by the page, which stays the same "
        "bytes)",
        output=False,
    )
    stats_max_clients: int = setting(
        "stats.max_clients",
        100_000,
        checks.integer(10, 10_000_000),
        "Direct clients (and aggregator reports) kept one by one per day, all feeds together; past it, more are "
        "counted by a fixed-size sketch (HyperLogLog), an estimate",
        output=False,
    )
    stats_report_days: int = setting(
        "stats.report_days",
        7,
        checks.integer(1, 365),
        "An aggregator's reported count is kept this many days after its last poll",
        output=False,
    )
    stats_flush_seconds: int = setting(
        "stats.flush_seconds",
        10,
        checks.integer(1, 3_600),
        "How often each serving process adds the polls it saw to the counts file and reads the totals back",
        output=False,
    )
    limit: int = setting(
        "feeds.limit",
        20,
        checks.integer(1, 10_000),
        "Newest N entries per feed, `all` included (a category may set its own)",
    )
    content: str = setting(
        "feeds.content",
        "full",
        checks.choice(*CONTENT_MODES),
        "`full`: content and summary; `summary`: the summary only; `none`: neither",
    )
    summary_chars: int = setting(
        "feeds.summary_chars",
        200,
        checks.integer(10, 100_000),
        "Longest summary made from the body, including the final `…`",
    )
    all_feed: bool = setting("feeds.all", True, checks.boolean, "Also publish the feed `all` of every article")
    auto_categories: bool = setting(
        "feeds.auto_categories", True, checks.boolean, "Publish categories found in content but not configured"
    )
    auto_tags: bool = setting(
        "feeds.auto_tags",
        True,
        checks.boolean,
        "Publish a feed for each tag found in content (`/feeds/tags/{slug}.rss`), besides those under `tags:`",
    )
    tag_min_articles: int = setting(
        "feeds.tag_min_articles",
        2,
        checks.integer(1, 1_000_000),
        "Articles a tag found in content needs before it has a feed (tags under `tags:` always have one)",
    )
    auto_authors: bool = setting(
        "feeds.auto_authors",
        True,
        checks.boolean,
        "Publish a feed for each author named in front matter (`/feeds/authors/{slug}.rss`), besides those under "
        "`authors:`",
    )
    author_min_articles: int = setting(
        "feeds.author_min_articles",
        2,
        checks.integer(1, 1_000_000),
        "Articles an author found in content needs before it has a feed (authors under `authors:` always have one)",
    )
    archive_size: int = setting(
        "feeds.archive_size",
        50,
        checks.integer(0, 10_000),
        "Entries per archive page: every feed links its complete history, page 1 the oldest "
        "([RFC 5005](#complete-history-archive-pages)); `0`: no archive pages",
    )
    max_feed_content_bytes: int = setting(
        "feeds.max_content_bytes",
        20_000_000,
        checks.integer(10_000, 1 << 31),
        "Once the article contents in one feed document (or archive page) reach this size, its older entries carry "
        "only their summary",
    )
    websub_hub: str = setting(
        "websub.hub",
        "",
        checks.hub_url,
        "A WebSub hub: every feed links to it, and after a refresh it is told which feeds changed; empty: no WebSub",
    )
    websub_delay_seconds: int = setting(
        "websub.delay_seconds",
        0,
        checks.integer(0, 3_600),
        "Wait this long after a change before telling the hub; behind a cache that keeps feeds for their max-age "
        "(nginx, a CDN), set it to `scan.interval_seconds` or more",
        output=False,
    )
    archive_pages: str = setting(
        "build.archive_pages",
        "gzip",
        checks.choice("gzip", "plain", "both"),
        "How `build --out` stores archive pages: `gzip`, only `{n}.{fmt}.gz` (a twelfth of the disk; nginx "
        "`gzip_static always` and `gunzip`, or `serve --from`); `plain`, only the plain file (any static server); "
        "`both`, the two side by side (Caddy's `precompressed`, nginx `gzip_static on`)",
        output=False,
    )
    storage_endpoint: str = setting(
        "storage.endpoint",
        "",
        checks.optional_http_url,
        "The S3-compatible endpoint `build --out s3://BUCKET/PREFIX` writes to (`http://127.0.0.1:8333`); empty: "
        "`AWS_ENDPOINT_URL`, the AWS config file's `endpoint_url`, else AWS itself",
        output=False,
    )
    storage_region: str = setting(
        "storage.region",
        "",
        checks.plain_text,
        "The bucket's region; empty: `AWS_REGION`, the AWS config file's `region`",
        output=False,
    )
    storage_addressing_style: str = setting(
        "storage.addressing_style",
        "",
        checks.optional_choice("path", "virtual"),
        "`path` (`http://host/BUCKET/key`, what most self-hosted stores need) or `virtual` (`http://BUCKET.host/key`); "
        "empty: the AWS config file's `s3.addressing_style`, else chosen by the client",
        shown="(from the AWS config)",
        output=False,
    )

    # What `file` works out, not keys of the file.
    categories: tuple[CategorySettings, ...] = ()
    tags: tuple[CategorySettings, ...] = ()  # the `tags:` section: configured like categories
    authors: tuple[CategorySettings, ...] = ()  # the `authors:` section, keyed by the author's name
    entities: tuple[EntitySettings, ...] = ()  # the `entities:` section
    # The config file as the command line named it: not part of what the settings are (nor of their
    # identity, which keys the parse cache and archive pages): `./x.yaml` and `/srv/x.yaml` are the same.
    source: str = field(default="<defaults>", compare=False, repr=False)
    hidden: tuple[str, ...] = (".",)  # names of files and folders never read start so (Hexo: `_` too)
    # The keys the config file sets, sorted; what they are set to is in the fields above.
    given: tuple[str, ...] = field(default=(), compare=False, repr=False)
    hexo: HexoSite | None = None  # the Hexo site whose `_config.yml` was read (content.hexo)
    hexo_permalink: bool = False  # links follow the Hexo site's permalink (content.permalink not given)
    hexo_notes: tuple[str, ...] = ()  # what was taken from the Hexo site, one line each, for `feedsvc check`
    publish_future: bool = False  # publish articles dated in the future at once (Hexo's `future: true`)


def _declared(cls: type[Any]) -> tuple[Setting, ...]:
    """Return the Setting of each declared field of `cls`, in the order of the fields."""
    return tuple(
        dataclasses.replace(declared, attribute=one.name)
        for one in dataclasses.fields(cls)
        if (declared := one.metadata.get(_DECLARED)) is not None
    )


SETTINGS = _declared(Settings)
SETTINGS_BY_KEY = {setting.key: setting for setting in SETTINGS}
# The sections of names, each configured like `categories:` (a mapping of name to its settings).
NAMED_SECTIONS = ("categories", "tags", "authors")
SECTIONS = sorted({key.split(".")[0] for key in SETTINGS_BY_KEY} | {*NAMED_SECTIONS, "entities"})
CATEGORY_SETTINGS = tuple(
    dataclasses.replace(setting, key=f"categories.<name>.{setting.attribute}")
    for setting in _declared(CategorySettings)
)
CATEGORY_KEYS = tuple(setting.attribute for setting in CATEGORY_SETTINGS)
ENTITY_SETTINGS = tuple(
    dataclasses.replace(setting, key=f"entities.<kind>.{setting.attribute}") for setting in _declared(EntitySettings)
)
ENTITY_KEYS = tuple(setting.attribute for setting in ENTITY_SETTINGS)
# Folders under `feeds/` that an entity kind cannot be named.
KIND_FOLDERS = frozenset({"tags", "authors"})
