"""A Hexo site as feedsvc reads it: the settings of its `_config.yml`, its permalinks, its file-name dates.

Pure: the caller reads `_config.yml`; nothing here touches the disk or the clock. The rules
follow Hexo's own (post processor, post_permalink filter, full_url_for, hexo-generator-feed),
so that a site's feeds keep the links and ids its readers already have.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedsvc.errors import SiteConfigError as SiteConfigError  # noqa: PLC0414 - re-exported for the config readers

# The token of a permalink or new_post_name rule: `:year`, `:title`, `:lang` (never ending in `_`).
_TOKEN = re.compile(r":(\w*[^_\W])", re.ASCII)
# What Hexo's slugize turns into the separator, and the controls it removes.
_SPECIAL = re.compile(r"[\s~`!@#$%^&*()\-_+=\[\]{}|\\;:\"'<>,.?/]+")
_CONTROL = re.compile(r"[\x00-\x1f]")
# The parts of a file name new_post_name's date tokens match (others match any text).
_SEGMENTS = {
    "year": r"(\d{4})",
    "month": r"(\d{2})",
    "day": r"(\d{2})",
    "i_month": r"(\d{1,2})",
    "i_day": r"(\d{1,2})",
    "hash": r"([0-9a-f]{12})",
}
_DATE_TOKENS = frozenset({"year", "month", "day", "i_month", "i_day", "hour", "minute", "second", "timestamp", "hash"})
# Letters Unicode does not decompose into a base letter and marks, written as Hexo's slugs write them.
_LETTERS = {"æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "s", "đ": "d", "Đ": "D"}
_LETTERS |= {"œ": "oe", "Œ": "OE", "ħ": "h", "Ħ": "H", "ı": "i", "ŀ": "l", "Ŀ": "L", "ŧ": "t", "Ŧ": "T"}
# encodeURI keeps these as they are; everything else is percent-encoded (UTF-8).
_URI_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789;,/?:@&=+$-_.!~*'()#"
# decodeURI leaves the escapes of these as they are.
_URI_RESERVED = frozenset(";/?:@&=+$,#")
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
FEED_CONTENT = {True: "full", False: "summary"}


@dataclass(frozen=True, slots=True)
class HexoSite:
    """What feedsvc takes from a Hexo site's `_config.yml` (Hexo's defaults where it says nothing).

    `read` lists, in the file's words, every key that was read and what became of it,
    for `feedsvc check` to show.
    """

    url: str = "http://example.com"  # no trailing '/', as Hexo keeps it (Hexo's defaults below)
    root: str = "/"
    permalink: str = ":year/:month/:day/:title/"
    permalink_defaults: tuple[tuple[str, str], ...] = ()
    trailing_index: bool = True
    trailing_html: bool = True
    new_post_name: str = ":title.md"
    timezone: str = ""
    future: bool = True
    default_category: str = "uncategorized"
    category_map: tuple[tuple[str, str], ...] = ()
    tag_map: tuple[tuple[str, str], ...] = ()
    filename_case: int = 0
    post_asset_folder: bool = False
    title: str | None = None
    author: str | None = None
    language: str | None = None
    feed_limit: int | None = None  # 0: every post
    feed_content: bool | None = None
    feed_order_by: str = "-date"
    feed_hub: str | None = None
    read: tuple[tuple[str, str], ...] = ()


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _scalar(value: object) -> str | None:
    """Write a YAML scalar as JavaScript's String() would; None for lists, mappings and null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return None


def _string(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    text = _scalar(value)
    if text is None:
        raise SiteConfigError(f"{key}: {_shown(value)} is not text (expected a string)")
    return text


def _flag(data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise SiteConfigError(f"{key}: {_shown(value)} is not a boolean (expected true or false)")
    return value


def _pairs(data: Mapping[str, Any], key: str) -> tuple[tuple[str, str], ...]:
    value = data.get(key)
    if value is None or value == "":
        return ()
    if not isinstance(value, dict):
        raise SiteConfigError(f"{key}: {_shown(value)} is not a mapping (expected names and what they become)")
    pairs = []
    for name, mapped in value.items():
        name_text, mapped_text = _scalar(name), _scalar(mapped)
        if name_text is None or mapped_text is None:
            raise SiteConfigError(f"{key}: {_shown(name)}: {_shown(mapped)} is not text (expected text)")
        pairs.append((name_text, mapped_text))
    return tuple(pairs)


def parse_site_config(data: Any) -> HexoSite:
    """Read a Hexo `_config.yml` mapping (already loaded) into the settings feedsvc takes from it.

    Raises:
        SiteConfigError: a value Hexo would refuse or feedsvc cannot use; the message names the key.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SiteConfigError(f"the file is {type(data).__name__} (expected a mapping such as 'url: https://…')")
    read: list[tuple[str, str]] = []
    url = _string(data, "url") or "http://example.com"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SiteConfigError(f"url: {_shown(url)} is not a URL (expected an absolute http(s) URL, as Hexo does)")
    url = url.rstrip("/")
    root = _string(data, "root")
    if root is None:
        # Hexo: "If root is not set, it is made from config.url".
        root = parts.path if parts.path.endswith("/") else parts.path + "/"
    root = root.rstrip("/") + "/"
    permalink = _string(data, "permalink") or ":year/:month/:day/:title/"
    defaults = _pairs(data, "permalink_defaults")
    pretty = data.get("pretty_urls") or {}
    if not isinstance(pretty, dict):
        expected = "expected trailing_index and trailing_html"
        raise SiteConfigError(f"pretty_urls: {_shown(pretty)} is not a mapping ({expected})")
    trailing_index = _flag(pretty, "trailing_index", True)
    trailing_html = _flag(pretty, "trailing_html", True)
    new_post_name = _string(data, "new_post_name") or ":title.md"
    timezone = _string(data, "timezone") or ""
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise SiteConfigError(f"timezone: {_shown(timezone)} is not a time zone (expected an IANA name)") from None
    case = data.get("filename_case", 0)
    if case not in (0, 1, 2) or isinstance(case, bool):
        raise SiteConfigError(f"filename_case: {_shown(case)} is not allowed (expected 0, 1 or 2)")
    feed = data.get("feed") or {}
    if not isinstance(feed, dict):
        raise SiteConfigError(f"feed: {_shown(feed)} is not a mapping (expected hexo-generator-feed's settings)")
    limit = feed.get("limit")
    if limit is False or ("limit" in feed and limit is None):  # hexo-generator-feed: a falsy limit is every post
        limit = 0
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise SiteConfigError(f"feed.limit: {_shown(limit)} is not a number of posts (expected a whole number)")
    language = data.get("language")
    if isinstance(language, list):  # Hexo takes a list of languages: the first is the site's
        language = next((item for item in language if item), None)
    site = HexoSite(
        url=url,
        root=root,
        permalink=permalink,
        permalink_defaults=defaults,
        trailing_index=trailing_index,
        trailing_html=trailing_html,
        new_post_name=new_post_name,
        timezone=timezone,
        future=_flag(data, "future", True),
        default_category=_string(data, "default_category") or "uncategorized",
        category_map=_pairs(data, "category_map"),
        tag_map=_pairs(data, "tag_map"),
        filename_case=case,
        post_asset_folder=_flag(data, "post_asset_folder", False),
        title=_string(data, "title"),
        author=_string(data, "author"),
        language=_scalar(language) if language is not None else None,
        feed_limit=limit,
        # `content:` left empty is null, which hexo-generator-feed takes as false.
        feed_content=(feed["content"] is not None and _flag(feed, "content", True)) if "content" in feed else None,
        feed_order_by=_string(feed, "order_by") or "-date",
        feed_hub=_string(feed, "hub"),
    )
    for key, value in (
        ("url", url),
        ("root", root),
        ("permalink", permalink),
        ("permalink_defaults", dict(defaults) if defaults else None),
        ("pretty_urls", {"trailing_index": trailing_index, "trailing_html": trailing_html} if pretty else None),
        ("new_post_name", new_post_name),
        ("timezone", timezone or None),
        ("future", site.future),
        ("default_category", site.default_category),
        ("category_map", dict(site.category_map) if site.category_map else None),
        ("tag_map", dict(site.tag_map) if site.tag_map else None),
        ("post_asset_folder", site.post_asset_folder if "post_asset_folder" in data else None),
        ("title", site.title),
        ("author", site.author),
        ("language", site.language),
        ("feed.limit", limit),
        ("feed.content", site.feed_content),
        ("feed.order_by", site.feed_order_by if "order_by" in feed else None),
        ("feed.hub", site.feed_hub),
    ):
        if value is not None:
            read.append((key, _shown(value)))
    return replace(site, read=tuple(read))


def hexo_wall_clock(value: object) -> object:
    """Return a YAML timestamp as Hexo reads it: its UTC time of day, without its zone, taken in the site's zone.

    (hexo-front-matter shifts every timestamp js-yaml gives by the offset of the machine's zone,
    so `2020-05-05T08:00:00+02:00` is 06:00 in the site's zone.) Other values are returned as they are.
    """
    if isinstance(value, dt.datetime) and value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def slugize(text: str, *, transform: int = 0) -> str:
    """Make a slug as Hexo's slugize does: accents dropped, punctuation and spaces to '-', CJK kept.

    transform 1 lowers the case, 2 raises it (Hexo's filename_case).
    """
    text = "".join(_plain_letter(ch) if not ch.isascii() else ch for ch in text)
    text = _SPECIAL.sub("-", _CONTROL.sub("", text))
    text = re.sub("-{2,}", "-", text).strip("-")
    return text.lower() if transform == 1 else text.upper() if transform == 2 else text


def _plain_letter(char: str) -> str:
    """Return a Latin letter without its accents (é → e, Ａ → A); any other character as it is."""
    if char in _LETTERS:
        return _LETTERS[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if len(base) == 1 and base.isascii() and base.isalpha() else char


def post_slug(site: HexoSite, source: str) -> tuple[str, dict[str, str]]:
    """Return a post's slug (Hexo's `:title`) and the tokens its file name gives, as Hexo reads new_post_name.

    `source` is the path under `source/_posts`: a post in a sub-folder keeps the folder in its slug
    when new_post_name is `:title.md`; a name that does not fit the rule is slugized whole.
    """
    rule = site.new_post_name
    rule = rule[: len(rule) - len(PurePosixPath(rule).suffix)] if PurePosixPath(rule).suffix else rule
    path = source[: len(source) - len(PurePosixPath(source).suffix)]
    names: list[str] = []

    def segment(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return _SEGMENTS.get(match.group(1), "(.+?)")

    pattern = _TOKEN.sub(segment, re.escape(rule))
    found = re.fullmatch(pattern, path, re.DOTALL)
    if found is None:
        return slugize(path), {}
    tokens = dict(zip(names, found.groups(), strict=True))
    return tokens.get("title", slugize(path)), tokens


def date_from_name(tokens: Mapping[str, str], zone: ZoneInfo) -> dt.datetime | None:
    """Return midnight of the date a post's file name gives (`2019-03-05-hello.md`), in `zone`, as UTC."""
    year = tokens.get("year")
    month = tokens.get("month") or tokens.get("i_month")
    day = tokens.get("day") or tokens.get("i_day")
    if not (year and month and day):
        return None
    try:
        local = dt.datetime(int(year), 1, 1, tzinfo=zone)
        # JavaScript's Date rolls over (month 13 is January next year): so does Hexo's date.
        local = _add_months(local, int(month) - 1) + dt.timedelta(days=int(day) - 1)
        return local.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def _add_months(value: dt.datetime, months: int) -> dt.datetime:
    years, month = divmod(value.month - 1 + months, 12)
    return value.replace(year=value.year + years, month=month + 1)


def _category_chain(value: object) -> list[str]:
    """Return the category whose slug `:category` takes, as its chain of names from the top.

    `[A, B]` is one hierarchy (B under A); a list holding lists is several, and the last counts.
    """
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else [value]
    hierarchies = [item for item in items if isinstance(item, list)]
    if not hierarchies:
        return [t for t in (_scalar(item) for item in items) if t]
    last = items[-1]
    chain_items = last if isinstance(last, list) else [last]
    return [t for t in (_scalar(item) for item in chain_items) if t]


def category_slug(site: HexoSite, value: object) -> str:
    """Return Hexo's `:category` for a post's categories: the last one's slug with its parents', or the default."""
    chain = _category_chain(value)
    if not chain:
        return site.default_category
    mapping = dict(site.category_map)
    return "/".join(slugize(mapping.get(name, name), transform=site.filename_case) for name in chain)


def encode_url(url: str) -> str:
    """Percent-encode a URL's path as Hexo's encodeURL does (UTF-8, upper-case hex); the host stays as written."""
    parts = urlsplit(url)
    path = _encode_uri(_decode_uri(quote(parts.path, safe="/%!$&'()*+,;=:@[]^|\\~")))
    head = f"{parts.scheme}://{parts.netloc}" if parts.scheme else ""
    return head + path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def _decode_uri(text: str) -> str:
    """Decode escapes as JavaScript's decodeURI: those of reserved characters stay escaped."""

    def decode(match: re.Match[str]) -> str:
        escapes = match.group(0)
        try:
            decoded = unquote_to_bytes(escapes).decode("utf-8")
        except UnicodeDecodeError:
            return escapes
        out, at = [], 0
        for char in decoded:
            size = len(char.encode("utf-8")) * 3
            out.append(escapes[at : at + size] if char in _URI_RESERVED else char)
            at += size
        return "".join(out)

    return _ESCAPES.sub(decode, text)


def _encode_uri(text: str) -> str:
    return quote(text, safe=_URI_SAFE)


def full_url(site: HexoSite, path: str) -> str:
    """Return a site path's public URL as Hexo's full_url_for gives it (url, encoding, pretty_urls)."""
    if re.match(r"(//|https?:)", path):
        return path
    url = encode_url(site.url + re.sub(r"/{2,}", "/", "/" + path))
    if not site.trailing_index:
        url = re.sub(r"index\.html$", "", url)
    if not site.trailing_html and not url.endswith("index.html"):
        url = re.sub(r"\.html$", "", url)
    return url


def post_path(
    site: HexoSite,
    *,
    source: str,
    title: str,
    date: dt.datetime | None,
    zone: ZoneInfo,
    front_matter: Mapping[str, Any],
) -> str:
    """Fill Hexo's permalink for a post: its path under the site's URL.

    `date` is None when the post's date is only its file's modification time: the date
    tokens are then left empty (their slashes fold), so that touching a file never moves it.
    A front-matter `permalink:` is used as Hexo uses it.
    """
    given = front_matter.get("permalink")
    if isinstance(given, str) and given:
        path = given
        if site.post_asset_folder and not path.endswith(("/", ".html")):
            path += "/"
        return path if path.startswith("/") else "/" + path
    slug, _ = post_slug(site, source)
    meta: dict[str, str] = {
        "title": slug,
        "name": PurePosixPath(slug).name if slug else "",
        "post_title": slugize(title, transform=1),
        "category": category_slug(site, _categories(front_matter)),
        "id": _scalar(front_matter.get("id")) or "",
    }
    if date is not None:
        local = date.astimezone(zone)
        meta |= {
            "year": f"{local.year:04d}",
            "month": f"{local.month:02d}",
            "day": f"{local.day:02d}",
            "i_month": str(local.month),
            "i_day": str(local.day),
            "hour": f"{local.hour:02d}",
            "minute": f"{local.minute:02d}",
            "second": f"{local.second:02d}",
            "timestamp": str(int(date.timestamp())),
            "hash": hashlib.sha1(f"{slug}{int(date.timestamp())}".encode(), usedforsecurity=False).hexdigest()[:12],
        }
    else:
        meta |= dict.fromkeys(_DATE_TOKENS, "")
    if not meta["id"]:
        # Hexo fills in its database's own id, which no other tool can know: the slug stands in.
        meta["id"] = slug
    defaults = dict(site.permalink_defaults)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in meta:
            return meta[name]
        value = _scalar(front_matter.get(name)) if name in front_matter else None
        if value is None and isinstance(front_matter.get(name), list):
            value = ",".join(t for t in (_scalar(item) for item in front_matter[name]) if t is not None)
        if value is None:
            value = defaults.get(name, "undefined")  # what JavaScript writes for a missing value
        return value

    path = _TOKEN.sub(fill, site.permalink)
    if date is None:  # the empty date tokens' slashes fold: `:year/:month/:day/:title/` is `hello/`
        path = re.sub(r"/{2,}", "/", path).lstrip("/")
    if site.post_asset_folder and not path.endswith(("/", ".html")):
        path += "/"
    return path


def _categories(front_matter: Mapping[str, Any]) -> object:
    value = front_matter.get("categories")
    return front_matter.get("category") if value is None else value


def post_link(
    site: HexoSite,
    *,
    source: str,
    title: str,
    date: dt.datetime | None,
    zone: ZoneInfo,
    front_matter: Mapping[str, Any],
) -> str:
    """Return a post's full permalink, as hexo-generator-feed publishes it for link and id."""
    path = post_path(site, source=source, title=title, date=date, zone=zone, front_matter=front_matter)
    return encode_url(full_url(site, path))


def uses_id(site: HexoSite) -> bool:
    """Tell whether the permalink has `:id`, which Hexo fills from its own database when a post has no `id:`."""
    return any(match.group(1) == "id" for match in _TOKEN.finditer(site.permalink))
