"""Settings: every key with its default and help, validated before anything starts.

`parse_settings` is pure; `load_settings` reads the YAML file.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import string
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedsvc.errors import ConfigError
from feedsvc.hexo.site import FEED_CONTENT, HexoSite, SiteConfigError, parse_site_config
from feedsvc.safeyaml import YamlError, load_yaml
from feedsvc.text import one_line, xml_safe
from feedsvc.worker import CONFIG_VAR as ENV_VAR
from feedsvc.worker import FEED_URL_VAR

DEFAULT_PATH = Path("config") / "feedsvc.yaml"
CONTENT_MODES = ("full", "summary", "none")
ID_CHOICES = ("permalink", "front_matter")
RESERVED_SLUGS = frozenset({"all"})
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,78}[a-z0-9])?")
PERMALINK_FIELDS = ("year", "month", "day", "hour", "minute", "second", "slug")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_BLANK = re.compile(r"[\s\x00-\x1f\x7f]")
# An article file's extension: a dot, then letters, digits, `_`, `+`, `-` (more dots inside: `.md.txt`).
_EXTENSION = re.compile(r"\.[\w+-]+(?:\.[\w+-]+)*")
DEFAULT_EXTENSIONS = (".md", ".markdown", ".txt")
# Filled in for {slug} when a permalink pattern is checked: it must come out whole.
_SLUG_PROBE = "slug-probe-7f3a"


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


class _Invalid(ValueError):
    """A value that does not fit its key; the message says what was expected."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(f"{_shown(value)} is not text (expected a string)")
    return str(value).strip()


def _prose(value: Any) -> str:
    """Read text that feeds show (titles, descriptions, names).

    YAML escapes ("\x01") can put characters XML forbids into it: they are removed
    here, where the text enters, so that every feed built from it is well-formed.
    """
    return xml_safe(_text(value)).strip()


def _http_url(value: Any) -> str:
    text = _text(value)
    try:
        parts = urlsplit(text)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # urlsplit and .port raise on a malformed host (http://[x) or port (:99999)
        usable = False
    if not usable or _BLANK.search(text):
        raise _Invalid(f"{_shown(value)} is not a URL (expected an absolute http(s) URL)")
    return text


def _url(value: Any) -> str:
    text = _http_url(value)
    parts = urlsplit(text)
    if parts.query or parts.fragment or "?" in text or "#" in text:
        # Paths are appended to it: a query or fragment would swallow them.
        raise _Invalid(f"{_shown(value)} has a query or fragment (expected a base URL such as https://example.com/)")
    return text if text.endswith("/") else text + "/"


def _title(value: Any) -> str:
    text = _prose(value)
    if not any(ch.isprintable() and not ch.isspace() for ch in text):
        raise _Invalid(f"{_shown(value)} is empty (expected a title that feed readers can show)")
    return text


def _language(value: Any) -> str:
    text = _text(value)
    if not _LANGUAGE.fullmatch(text):
        raise _Invalid(f"{_shown(value)} is not a language tag (expected an RFC 5646 tag such as en or zh-CN)")
    return text


def _optional_url(value: Any) -> str:
    return "" if value is None or value == "" else _url(value)


def _hub(value: Any) -> str:
    """Read a WebSub hub's URL: used as it is written (no slash added), a query allowed, no fragment."""
    if value is None or value == "":
        return ""
    text = _http_url(value)
    if "#" in text:
        raise _Invalid(f"{_shown(value)} has a fragment (expected a hub URL such as https://hub.example.com/)")
    return text


def front_matter_text(value: Any) -> str | None:
    """Write a scalar front matter value as text, so that `true`, `'true'` and `True` compare equal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str | int | float):
        return one_line(str(value))
    return None


def _exclude_when(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Read `content.exclude_when`: a mapping of front matter fields to a value or a list of values."""
    expected = "expected a mapping such as {hidden: true, layout: [page, draft]}"
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise _Invalid(f"{_shown(value)} is not a mapping ({expected})")
    pairs = []
    for key, item in value.items():
        items = item if isinstance(item, list) else [item]
        texts = tuple(front_matter_text(one) for one in items)
        if not isinstance(key, str) or not key.strip() or any(text is None for text in texts):
            raise _Invalid(f"{_shown({key: item})} is not a field and its values ({expected})")
        pairs.append((key.strip(), tuple(text for text in texts if text is not None)))
    return tuple(pairs)


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        expected = f"expected a whole number from {low:,} to {high:,}"
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"{_shown(value)} is not a whole number ({expected})")
        if not low <= value <= high:
            raise _Invalid(f"{_shown(value)} is out of range ({expected})")
        return value

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"{_shown(value)} is not a boolean (expected true or false)")
    return value


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise _Invalid(f"{_shown(value)} is not allowed (expected one of: {', '.join(choices)})")
        return str(value)

    return check


def _timezone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(_text(value))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, such as "Asia"
        raise _Invalid(f"{_shown(value)} is not a time zone (expected an IANA name such as Asia/Shanghai)") from None


def _path(value: Any) -> Path:
    text = _text(value)
    if not text:
        raise _Invalid("is empty (expected a directory path)")
    return Path(text)


def _optional_path(value: Any) -> Path | None:
    text = _text(value)
    return Path(text) if text else None


def _ids(value: Any) -> str:
    """Read content.ids; empty means the default of the content (permalink for a Hexo site)."""
    return "" if value == "" else _choice(*ID_CHOICES)(value)


class _PermalinkFormatter(string.Formatter):
    """Fill `{year}`… only: no attribute or index lookups reach the values."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if field_name not in PERMALINK_FIELDS:
            raise KeyError(field_name)
        return kwargs[field_name], field_name


PERMALINK_FORMATTER = _PermalinkFormatter()


def _permalink(value: Any) -> str:
    text = _text(value).lstrip("/")
    try:
        sample = PERMALINK_FORMATTER.format(
            text, year=2024, month=1, day=2, hour=3, minute=4, second=5, slug=_SLUG_PROBE
        )
    except (KeyError, ValueError, IndexError) as error:
        raise _Invalid(
            f"{_shown(value)} is not a permalink pattern: {error} (expected fields among "
            f"{', '.join('{' + f + '}' for f in PERMALINK_FIELDS)})"
        ) from None
    # Not a text search for "{slug": "{{slug}}" is a literal, "{slug:.3}" cuts the slug.
    if _SLUG_PROBE not in sample:
        raise _Invalid(f"{_shown(value)} has no {{slug}} (expected it, so that articles get distinct URLs)")
    return text


def _extensions(value: Any) -> tuple[str, ...]:
    """Read `content.extensions`: a list of extensions such as `.md` (or one), compared in lower case."""
    items = value if isinstance(value, list) else [value]
    expected = "expected a list of extensions such as [.md, .markdown, .txt]"
    found: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise _Invalid(f"{_shown(item)} is not an extension ({expected})")
        extension = item.strip().lower()
        if not _EXTENSION.fullmatch(extension):
            raise _Invalid(f"{_shown(item)} is not an extension: a dot, then a name without separators ({expected})")
        if extension not in found:
            found.append(extension)
    if not found:
        raise _Invalid(f"is empty ({expected})")
    return tuple(found)


SETTINGS: tuple[Setting, ...] = (
    Setting("site.title", "feedsvc", _title, "Feed title, and the prefix of every category feed's title."),
    Setting(
        "site.link",
        "",
        _optional_url,
        "The site the articles live on; permalinks and relative URLs resolve against it. Defaults to site.feed_url.",
    ),
    Setting(
        "site.feed_url", "http://127.0.0.1:8080/", _url, "Public base URL of this service, used in self links and OPML."
    ),
    Setting("site.language", "en", _language, "Language of the feeds (RFC 5646 tag, e.g. zh-CN)."),
    Setting(
        "site.timezone",
        "UTC",
        _timezone,
        "Zone for dates written without one, and for the permalink's {year}/{month}/{day}.",
    ),
    Setting("site.author", "", _prose, "Author of articles that name none."),
    Setting("content.dir", "content", _path, "The directory of articles, relative to this file."),
    Setting(
        "content.extensions",
        list(DEFAULT_EXTENSIONS),
        _extensions,
        "What article files' names end with (any case); hidden files and editor leftovers are never read.",
    ),
    Setting(
        "content.permalink",
        "{year}/{month:02d}/{day:02d}/{slug}/",
        _permalink,
        "An article's URL under site.link; fields {year} {month} {day} {hour} {minute} {second} {slug}.",
    ),
    Setting(
        "content.hexo",
        "",
        _optional_path,
        "A Hexo site folder, relative to this file: its source/_posts is the content, its _config.yml the defaults.",
    ),
    Setting(
        "content.ids",
        "",
        _ids,
        "permalink: an entry's id is its link; front_matter: an `id:` field wins (default: permalink for a Hexo site).",
    ),
    Setting(
        "content.max_file_bytes",
        5_000_000,
        _integer(1, 1 << 31),
        "Larger files are reported as problems and skipped without being read.",
    ),
    Setting(
        "content.max_categories",
        50,
        _integer(1, 10_000),
        "Categories an article may name, and tags apart; the rest are left out with a warning.",
    ),
    Setting(
        "content.max_name_chars",
        200,
        _integer(1, 100_000),
        "The longest category, tag or author name; a longer category or tag is left out, an author cut (warned).",
    ),
    Setting(
        "content.max_depth",
        512,
        _integer(32, 100_000),
        "HTML in a body nested deeper is flattened (tags dropped, text kept) before sanitizing, with a warning.",
    ),
    Setting(
        "content.max_html_bytes",
        2_000_000,
        _integer(10_000, 1 << 31),
        "An article's sanitized HTML is cut at this size (and at 10 times its body's), with a warning.",
    ),
    Setting(
        "content.hexo_tags",
        True,
        _boolean,
        "Render Hexo's tag plugins ({% img %}, {% codeblock %}…) and remove other {% %}, {{ }}, {# #} outside code.",
    ),
    Setting(
        "content.exclude_when",
        {"hidden": True},
        _exclude_when,
        "Front matter values that keep an article out of feeds: a mapping of field to a value or list of values.",
    ),
    Setting(
        "scan.interval_seconds",
        30,
        _integer(1, 86_400),
        "Seconds between rescans; also the feeds' Cache-Control max-age.",
    ),
    Setting(
        "scan.watch",
        True,
        _boolean,
        "Learn which files changed from filesystem events, so a rescan reads only those paths.",
    ),
    Setting(
        "scan.full_rescan_seconds",
        600,
        _integer(1, 604_800),
        "With scan.watch, walk the whole directory at least this often, to catch what events miss.",
    ),
    Setting(
        "scan.workers",
        0,
        _integer(0, 64),
        "Processes that parse large batches of files (0: one per CPU; 1: parse in the service itself).",
    ),
    Setting(
        "cache.enabled", True, _boolean, "Keep a persistent parse cache, so that a restart reads only changed files."
    ),
    Setting(
        "cache.dir",
        "",
        _optional_path,
        "Where the cache lives, relative to this file (empty: $XDG_CACHE_HOME/feedsvc or ~/.cache/feedsvc).",
    ),
    Setting("feeds.limit", 20, _integer(1, 10_000), "Newest N entries per feed (a category may set its own)."),
    Setting(
        "feeds.content",
        "full",
        _choice(*CONTENT_MODES),
        "full: content and summary; summary: the summary only; none: neither.",
    ),
    Setting(
        "feeds.summary_chars", 200, _integer(10, 100_000), "Longest summary made from the body, including the final …"
    ),
    Setting("feeds.all", True, _boolean, "Also publish the feed 'all' of every article."),
    Setting("feeds.auto_categories", True, _boolean, "Publish categories found in content but not configured."),
    Setting(
        "feeds.archive_size",
        50,
        _integer(0, 10_000),
        "Entries per archive page: every feed links its complete history, oldest page first (0: no archive pages).",
    ),
    Setting(
        "feeds.max_content_bytes",
        20_000_000,
        _integer(10_000, 1 << 31),
        "Once the contents in one feed document reach this size, its older entries carry only their summary.",
    ),
    Setting(
        "websub.hub",
        "",
        _hub,
        "A WebSub hub: feeds link to it, and it is told which feeds changed after each refresh (empty: no WebSub).",
    ),
    Setting(
        "websub.delay_seconds",
        0,
        _integer(0, 3_600),
        "Wait this long after a change before telling the hub, e.g. for a cache in front to expire its copy.",
    ),
)
_BY_KEY = {setting.key: setting for setting in SETTINGS}
_SECTIONS = sorted({key.split(".")[0] for key in _BY_KEY} | {"categories"})
CATEGORY_KEYS = ("slug", "title", "description", "limit", "aliases")


def _name(value: Any) -> str:
    """Write a category name as articles do: booleans lower case, dates in ISO form, spaces collapsed."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    return one_line(text)


@functools.lru_cache(maxsize=65_536)
def fold_name(name: str) -> str:
    """Return the form in which category names that differ only by case, width or spacing are equal.

    NFKC makes full-width and compatibility forms plain (`ＮＥＷＳ` is `NEWS`), casefold
    ignores case (`News` is `news`), and runs of white space count as one space.
    """
    return one_line(unicodedata.normalize("NFKC", name).casefold())


def _names(value: Any) -> tuple[str, ...]:
    """Read `aliases`: a name or a list of names."""
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if item is None or isinstance(item, dict | list):
            raise _Invalid(f"{_shown(value)} is not a list of names (expected text)")
        names.append(_name(item))
    return tuple(name for name in names if name)


def _slug(value: Any) -> str:
    text = _text(value)
    if not _SLUG.fullmatch(text) or text in RESERVED_SLUGS:
        raise _Invalid(
            f"{_shown(value)} is not a usable slug (expected lower-case ASCII letters, digits, "
            "'-' and '_', at most 80, not 'all')"
        )
    return text


def _category(name: str, value: Any, where: Callable[[str], str]) -> CategorySettings:
    if value is None:
        return CategorySettings(name=name)
    if not isinstance(value, dict):
        expected = ", ".join(CATEGORY_KEYS)
        raise ConfigError(f"{where(f'categories.{name}')}: {_shown(value)} is not a mapping (expected keys {expected})")
    checks: dict[str, Callable[[Any], Any]] = {
        "slug": _slug,
        "title": _prose,
        "description": _prose,
        "limit": _integer(1, 10_000),
        "aliases": _names,
    }
    fields: dict[str, Any] = {}
    for key, item in value.items():
        full = f"categories.{name}.{key}"
        if key not in checks:
            raise ConfigError(f"{where(full)}: unknown key (expected one of: {', '.join(CATEGORY_KEYS)})")
        if item is None:
            continue
        try:
            fields[str(key)] = checks[str(key)](item)
        except _Invalid as error:
            raise ConfigError(f"{where(full)}: {error}") from None
    return CategorySettings(name=name, **fields)


def _categories(data: Any, where: Callable[[str], str]) -> tuple[CategorySettings, ...]:
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ConfigError(f"{where('categories')}: {_shown(data)} is not a mapping (expected category names as keys)")
    result: list[CategorySettings] = []
    for raw_name, value in data.items():
        if raw_name is None or isinstance(raw_name, list | dict | tuple):
            raise ConfigError(f"{where('categories')}: {_shown(raw_name)} is not a category name (expected text)")
        name = _name(raw_name)
        if not name:
            raise ConfigError(f"{where('categories')}: an empty category name (expected text)")
        if any(category.name == name for category in result):
            # `1` and `'1'`, or `a` and `' a'`, are one name in front matter.
            raise ConfigError(f"{where(f'categories.{name}')}: {name!r} is configured twice (expected each name once)")
        result.append(_category(name, value, where))
    _check_categories(result, where)
    return tuple(result)


def _check_categories(categories: list[CategorySettings], where: Callable[[str], str]) -> None:
    """Refuse two categories that would share a slug, or a name that means two categories."""
    slugs: dict[str, str] = {}
    # Names are compared folded: `News` and `ｎｅｗｓ` in front matter are one category.
    names: dict[str, str] = {}
    for category in categories:
        other = names.setdefault(fold_name(category.name), category.name)
        if other != category.name:
            raise ConfigError(
                f"{where(f'categories.{category.name}')}: {category.name!r} is the same category as "
                f"{other!r}: names that differ only by case, width or spacing are one (expected each name once)"
            )
    for category in categories:
        if category.slug is not None:
            if category.slug in slugs:
                raise ConfigError(
                    f"{where(f'categories.{category.name}.slug')}: {category.slug!r} is also the slug of "
                    f"{slugs[category.slug]!r} (expected a slug per category)"
                )
            slugs[category.slug] = category.name
        for alias in category.aliases:
            other = names.setdefault(fold_name(alias), category.name)
            if other != category.name:
                raise ConfigError(
                    f"{where(f'categories.{category.name}.aliases')}: {alias!r} already means "
                    f"{other!r} (expected each name to mean one category)"
                )


def parse_settings(
    data: Any, *, source: str = "<defaults>", base_dir: Path | None = None, feed_url: str | None = None
) -> Settings:
    """Validate a parsed config mapping and fill in every default.

    `feed_url` replaces the default of `site.feed_url` (and so of `site.link`) when
    the mapping sets none: the address `feedsvc serve` listens on.

    Raises:
        ConfigError: an unknown key or a value of the wrong type; the message
            names the file and the key.
    """

    def where(key: str) -> str:
        return f"{source}: {key}"

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the file is {type(data).__name__} (expected a mapping of sections: {', '.join(_SECTIONS)})"
        )
    values: dict[str, Any] = {}
    given: set[str] = set()  # the keys this file sets itself: they win over a Hexo site's
    for section, body in data.items():
        if section == "categories":
            continue
        if section not in _SECTIONS:
            raise ConfigError(f"{where(str(section))}: unknown section (expected one of: {', '.join(_SECTIONS)})")
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"{where(str(section))}: {_shown(body)} is not a mapping (expected keys under it)")
        for key, value in body.items():
            full = f"{section}.{key}"
            setting = _BY_KEY.get(full)
            if setting is None:
                known = ", ".join(k.split(".", 1)[1] for k in _BY_KEY if k.startswith(section + "."))
                raise ConfigError(f"{where(full)}: unknown key (expected one of: {known})")
            if value is None:
                continue
            given.add(full)
            try:
                values[full] = setting.check(value)
            except _Invalid as error:
                raise ConfigError(f"{where(full)}: {error}") from None
    hexo: HexoSite | None = None
    notes: tuple[str, ...] = ()
    site_dir: Path | None = values.get("content.hexo")
    if site_dir is not None:
        if not site_dir.is_absolute():
            site_dir = Path(os.path.normpath((base_dir or Path.cwd()) / site_dir))
        hexo = load_site(site_dir)
        notes = _overlay(hexo, site_dir, values, source)
    if feed_url and "site.feed_url" not in values:
        try:
            values["site.feed_url"] = _url(feed_url)
        except _Invalid as error:
            raise ConfigError(f"{FEED_URL_VAR}: {error}") from None
    for setting in SETTINGS:
        if setting.key not in values:
            values[setting.key] = setting.check(setting.default)
    content_dir: Path = values["content.dir"]
    if not content_dir.is_absolute():
        content_dir = (base_dir or Path.cwd()) / content_dir
    cache_dir: Path | None = values["cache.dir"]
    if cache_dir is not None and not cache_dir.is_absolute():
        cache_dir = Path(os.path.normpath((base_dir or Path.cwd()) / cache_dir))
    return Settings(
        site_title=values["site.title"],
        site_link=values["site.link"] or values["site.feed_url"],
        feed_url=values["site.feed_url"],
        language=values["site.language"],
        timezone=values["site.timezone"],
        site_author=values["site.author"],
        content_dir=Path(os.path.normpath(content_dir)),
        permalink=values["content.permalink"],
        max_file_bytes=values["content.max_file_bytes"],
        interval_seconds=values["scan.interval_seconds"],
        limit=values["feeds.limit"],
        content=values["feeds.content"],
        summary_chars=values["feeds.summary_chars"],
        all_feed=values["feeds.all"],
        auto_categories=values["feeds.auto_categories"],
        archive_size=values["feeds.archive_size"],
        max_categories=values["content.max_categories"],
        max_name_chars=values["content.max_name_chars"],
        watch=values["scan.watch"],
        full_rescan_seconds=values["scan.full_rescan_seconds"],
        workers=values["scan.workers"],
        cache_enabled=values["cache.enabled"],
        cache_dir=cache_dir,
        websub_hub=values["websub.hub"],
        websub_delay_seconds=values["websub.delay_seconds"],
        max_depth=values["content.max_depth"],
        max_html_bytes=values["content.max_html_bytes"],
        max_feed_content_bytes=values["feeds.max_content_bytes"],
        hexo_tags=values["content.hexo_tags"],
        exclude_when=values["content.exclude_when"],
        categories=_categories(data.get("categories"), where),
        source=source,
        extensions=values["content.extensions"],
        # Hexo hides every file and folder under _posts whose name starts with `_` (or `.`).
        hidden=(".", "_") if hexo is not None else (".",),
        given=tuple(sorted(given)),
        hexo=hexo,
        hexo_permalink=hexo is not None and "content.permalink" not in given,
        ids=values["content.ids"] or ("permalink" if hexo is not None else "front_matter"),
        publish_future=hexo is not None and hexo.future,
        hexo_notes=notes,
    )


SITE_CONFIG = "_config.yml"
POSTS_DIR = Path("source") / "_posts"
FEED_LIMIT_ALL = 10_000  # hexo-generator-feed's `limit: 0` (every post), as far as feeds.limit goes


def load_site(site_dir: Path) -> HexoSite:
    """Read a Hexo site's `_config.yml` with the safe YAML loader.

    Raises:
        ConfigError: the file is missing, not YAML, or holds a value feedsvc cannot use.
    """
    path = site_dir / SITE_CONFIG
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ConfigError(
            f"{path}: cannot be read: {error.strerror or error} (expected a Hexo site folder, for content.hexo)"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text (expected Hexo's YAML config)") from None
    try:
        return parse_site_config(load_yaml(text))
    except (YamlError, SiteConfigError) as error:
        raise ConfigError(f"{path}: {error}") from None


def _overlay(site: HexoSite, site_dir: Path, values: dict[str, Any], source: str) -> tuple[str, ...]:
    """Fill the settings this file leaves out from the Hexo site; return what was taken, one line each.

    Raises:
        ConfigError: a site value that is no value of the setting it fills, naming `_config.yml`.
    """
    path = site_dir / SITE_CONFIG
    offered: list[tuple[str, str, Any]] = [  # (Hexo's key, feedsvc's setting, the value)
        ("url", "site.link", site.url + "/"),
        ("title", "site.title", site.title),
        ("author", "site.author", site.author),
        ("language", "site.language", site.language),
        ("timezone", "site.timezone", site.timezone or None),
        ("feed.hub", "websub.hub", site.feed_hub),
        ("feed.content", "feeds.content", None if site.feed_content is None else FEED_CONTENT[site.feed_content]),
        (
            "feed.limit",
            "feeds.limit",
            None if site.feed_limit is None else min(site.feed_limit or FEED_LIMIT_ALL, FEED_LIMIT_ALL),
        ),
    ]
    notes = [f"{path}: source/_posts -> content.dir"]
    if "content.dir" in values:
        notes[0] += f" (not used: {source} sets content.dir)"
    else:
        values["content.dir"] = site_dir / POSTS_DIR
    # Hexo renders Markdown posts; other files under _posts (a `.txt` beside a post) are assets,
    # and with post_asset_folder only files named like new_post_name are posts.
    if "content.extensions" not in values:
        post_type = PurePosixPath(site.new_post_name).suffix.lower() or ".md"
        extensions = (post_type,) if site.post_asset_folder else tuple(dict.fromkeys((".md", ".markdown", post_type)))
        values["content.extensions"] = _BY_KEY["content.extensions"].check(list(extensions))
        notes.append(f"{path}: posts are {', '.join('*' + e for e in extensions)} files -> content.extensions")
    for key, target, value in offered:
        if value is None:
            continue
        shown = dict(site.read).get(key, repr(value))
        if target in values:
            notes.append(f"{path}: {key}: {shown} (not used: {source} sets {target})")
            continue
        try:
            values[target] = _BY_KEY[target].check(value)
        except _Invalid as error:
            if key == "language":  # Hexo takes names such as `default`: the feeds keep feedsvc's default
                notes.append(f"{path}: {key}: {shown} (not used: {error})")
                continue
            raise ConfigError(f"{path}: {key}: {error}") from None
        notes.append(f"{path}: {key}: {shown} -> {target}")
    permalink_target = "content.permalink"
    uses = {
        "root": "links inside articles",
        "permalink": permalink_target,
        "permalink_defaults": permalink_target,
        "pretty_urls": permalink_target,
        "post_asset_folder": permalink_target,
        "default_category": "the permalink's :category",
        "category_map": "the permalink's :category",
        "tag_map": "nothing (tags have no URLs in feeds)",
        "new_post_name": "dates and :title from file names",
        "future": "future-dated posts are published at once" if site.future else "future-dated posts wait",
        "feed.order_by": "nothing (feeds are ordered by date)",
    }
    for key, shown in site.read:
        use = uses.get(key)
        if use is None:
            continue
        if use == permalink_target and permalink_target in values:
            notes.append(f"{path}: {key}: {shown} (not used: {source} sets {permalink_target})")
        else:
            notes.append(f"{path}: {key}: {shown} -> {use}")
    return tuple(notes)


def config_path(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> Path:
    """Choose the config file: `--config`, else $FEEDSVC_CONFIG, else config/feedsvc.yaml."""
    environ = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR])
    return DEFAULT_PATH


def listening_url(host: str, port: int) -> str:
    """Return the base URL of a service listening on `host`:`port`, as a client on this machine reaches it.

    The wildcard addresses name no host a client can ask: 0.0.0.0 is shown as
    127.0.0.1 and :: as [::1].
    """
    bare = host.strip("[]")
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(bare, bare)  # noqa: S104 - compared, not bound
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def is_local_host(host: str) -> bool:
    """Tell whether a listening address is reachable only from this machine (loopback)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return bare.lower() == "localhost"


def load_settings(path: str | os.PathLike[str], *, feed_url: str | None = None) -> Settings:
    """Read and validate the YAML config file at `path`; `feed_url` as in `parse_settings`.

    Raises:
        ConfigError: the file is missing, unreadable, not YAML, or not valid settings.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read: {error.strerror or error} (expected a YAML config file)") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text (expected a YAML config file)") from None
    try:
        data = load_yaml(text)
    except YamlError as error:
        raise ConfigError(f"{path}: {error}") from None
    return parse_settings(data, source=str(path), base_dir=path.resolve().parent, feed_url=feed_url)
