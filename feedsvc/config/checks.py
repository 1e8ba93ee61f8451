"""Read one value of the config file: each check returns it as its setting's type, or raises `Invalid`.

The messages say what is wrong and what was expected; `file` adds the file and the key. A
check knows no other setting. Also how category names are written and compared, as articles do.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import string
import unicodedata
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedsvc.errors import InvalidValue
from feedsvc.selectors import css_to_xpath
from feedsvc.text import one_line, xml_safe

Invalid = InvalidValue  # what each check raises; the config's readers catch it

ID_CHOICES = ("permalink", "front_matter")
RESERVED_SLUGS = frozenset({"all"})
# An entity kind's name: the folder of its feeds under `feeds/`.
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_ATTRIBUTE = re.compile(r"[A-Za-z_:][-A-Za-z0-9_:.]*")
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,78}[a-z0-9])?")
PERMALINK_FIELDS = ("year", "month", "day", "hour", "minute", "second", "slug")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_BLANK = re.compile(r"[\s\x00-\x1f\x7f]")
# An article file's extension: a dot, then letters, digits, `_`, `+`, `-` (more dots inside: `.md.txt`).
_EXTENSION = re.compile(r"\.[\w+-]+(?:\.[\w+-]+)*")
# Filled in for {slug} when a permalink pattern is checked: it must come out whole.
_SLUG_PROBE = "slug-probe-7f3a"


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def plain_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Invalid(f"{shown(value)} is not text (expected a string)")
    return str(value).strip()


def prose(value: Any) -> str:
    """Read text that feeds show (titles, descriptions, names).

    YAML escapes ("\x01") can put characters XML forbids into it: they are removed
    here, where the text enters, so that every feed built from it is well-formed.
    """
    return xml_safe(plain_text(value)).strip()


def http_url(value: Any) -> str:
    text = plain_text(value)
    try:
        parts = urlsplit(text)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # urlsplit and .port raise on a malformed host (http://[x) or port (:99999)
        usable = False
    if not usable or _BLANK.search(text):
        raise Invalid(f"{shown(value)} is not a URL (expected an absolute http(s) URL)")
    return text


def base_url(value: Any) -> str:
    text = http_url(value)
    parts = urlsplit(text)
    if parts.query or parts.fragment or "?" in text or "#" in text:
        # Paths are appended to it: a query or fragment would swallow them.
        raise Invalid(f"{shown(value)} has a query or fragment (expected a base URL such as https://example.com/)")
    return text if text.endswith("/") else text + "/"


def title(value: Any) -> str:
    text = prose(value)
    if not any(ch.isprintable() and not ch.isspace() for ch in text):
        raise Invalid(f"{shown(value)} is empty (expected a title that feed readers can show)")
    return text


def language(value: Any) -> str:
    text = plain_text(value)
    if not _LANGUAGE.fullmatch(text):
        raise Invalid(f"{shown(value)} is not a language tag (expected an RFC 5646 tag such as en or zh-CN)")
    return text


def optional_base_url(value: Any) -> str:
    return "" if value is None or value == "" else base_url(value)


def optional_http_url(value: Any) -> str:
    """Read an http(s) URL used as it is written, or nothing."""
    return "" if value is None or value == "" else http_url(value)


def hub_url(value: Any) -> str:
    """Read a WebSub hub's URL: used as it is written (no slash added), a query allowed, no fragment."""
    if value is None or value == "":
        return ""
    text = http_url(value)
    if "#" in text:
        raise Invalid(f"{shown(value)} has a fragment (expected a hub URL such as https://hub.example.com/)")
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


def exclude_when(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Read `content.exclude_when`: a mapping of front matter fields to a value or a list of values."""
    expected = "expected a mapping such as {hidden: true, layout: [page, draft]}"
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise Invalid(f"{shown(value)} is not a mapping ({expected})")
    pairs = []
    for key, item in value.items():
        items = item if isinstance(item, list) else [item]
        texts = tuple(front_matter_text(one) for one in items)
        if not isinstance(key, str) or not key.strip() or any(text is None for text in texts):
            raise Invalid(f"{shown({key: item})} is not a field and its values ({expected})")
        pairs.append((key.strip(), tuple(text for text in texts if text is not None)))
    return tuple(pairs)


def integer(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        expected = f"expected a whole number from {low:,} to {high:,}"
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"{shown(value)} is not a whole number ({expected})")
        if not low <= value <= high:
            raise Invalid(f"{shown(value)} is out of range ({expected})")
        return value

    return check


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{shown(value)} is not a boolean (expected true or false)")
    return value


def networks(value: Any) -> tuple[str, ...]:
    """Read a list of addresses or networks (`10.0.0.0/8`, `::1`), each as its network's text."""
    items = value if isinstance(value, list) else [value]
    expected = "expected a list of IP addresses or networks such as [127.0.0.1, 10.0.0.0/8]"
    found: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str):
            raise Invalid(f"{shown(item)} is not an address ({expected})")
        try:
            network = str(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise Invalid(f"{shown(item)} is not an IP address or network ({expected})") from None
        if network not in found:
            found.append(network)
    return tuple(found)


def choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise Invalid(f"{shown(value)} is not allowed (expected one of: {', '.join(choices)})")
        return str(value)

    return check


def optional_choice(*choices: str) -> Callable[[Any], str]:
    """Read one of `choices`, or nothing (an empty text)."""
    one_of = choice(*choices)

    def check(value: Any) -> str:
        return "" if value is None or value == "" else one_of(value)

    return check


def timezone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(plain_text(value))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, such as "Asia"
        raise Invalid(f"{shown(value)} is not a time zone (expected an IANA name such as Asia/Shanghai)") from None


def path(value: Any) -> Path:
    text = plain_text(value)
    if not text:
        raise Invalid("is empty (expected a directory path)")
    return Path(text)


def optional_path(value: Any) -> Path | None:
    text = plain_text(value)
    return Path(text) if text else None


def ids(value: Any) -> str:
    """Read content.ids; empty means the default of the content (permalink for a Hexo site)."""
    return "" if value == "" else choice(*ID_CHOICES)(value)


class _PermalinkFormatter(string.Formatter):
    """Fill `{year}`… only: no attribute or index lookups reach the values."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if field_name not in PERMALINK_FIELDS:
            raise KeyError(field_name)
        return kwargs[field_name], field_name


PERMALINK_FORMATTER = _PermalinkFormatter()


def permalink(value: Any) -> str:
    text = plain_text(value).lstrip("/")
    try:
        sample = PERMALINK_FORMATTER.format(
            text, year=2024, month=1, day=2, hour=3, minute=4, second=5, slug=_SLUG_PROBE
        )
    except (KeyError, ValueError, IndexError) as error:
        raise Invalid(
            f"{shown(value)} is not a permalink pattern: {error} (expected fields among "
            f"{', '.join('{' + f + '}' for f in PERMALINK_FIELDS)})"
        ) from None
    # Not a text search for "{slug": "{{slug}}" is a literal, "{slug:.3}" cuts the slug.
    if _SLUG_PROBE not in sample:
        raise Invalid(f"{shown(value)} has no {{slug}} (expected it, so that articles get distinct URLs)")
    return text


def extensions(value: Any) -> tuple[str, ...]:
    """Read `content.extensions`: a list of extensions such as `.md` (or one), compared in lower case."""
    items = value if isinstance(value, list) else [value]
    expected = "expected a list of extensions such as [.md, .markdown, .txt]"
    found: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise Invalid(f"{shown(item)} is not an extension ({expected})")
        extension = item.strip().lower()
        if not _EXTENSION.fullmatch(extension):
            raise Invalid(f"{shown(item)} is not an extension: a dot, then a name without separators ({expected})")
        if extension not in found:
            found.append(extension)
    if not found:
        raise Invalid(f"is empty ({expected})")
    return tuple(found)


def category_name(value: Any) -> str:
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


def category_names(value: Any) -> tuple[str, ...]:
    """Read `aliases`: a name or a list of names."""
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if item is None or isinstance(item, dict | list):
            raise Invalid(f"{shown(value)} is not a list of names (expected text)")
        names.append(category_name(item))
    return tuple(name for name in names if name)


def slug(value: Any) -> str:
    text = plain_text(value)
    if not _SLUG.fullmatch(text) or text in RESERVED_SLUGS:
        raise Invalid(
            f"{shown(value)} is not a usable slug (expected lower-case ASCII letters, digits, "
            "'-' and '_', at most 80, not 'all')"
        )
    return text


def selector(value: Any) -> str:
    """Read a CSS selector (`a.trsHotWords`): one that lxml can run, through cssselect."""
    text = plain_text(value)
    if not text:
        raise Invalid("is empty (expected a CSS selector such as a.trsHotWords)")
    css_to_xpath(text)
    return text


def entity_source(value: Any) -> tuple[str, str]:
    """Read where an entity's key or title comes from: `text`, `attribute:NAME` or `query:NAME`."""
    text = plain_text(value)
    how, _, name = text.partition(":")
    how, name = how.strip(), name.strip()
    if how == "text" and not name:
        return ("text", "")
    if how == "attribute" and _ATTRIBUTE.fullmatch(name):
        return ("attribute", name.lower())
    if how == "query" and name and not _BLANK.search(name):
        return ("query", name)
    raise Invalid(f"{shown(value)} is not a source (expected text, attribute:NAME or query:NAME)")


def entity_title(value: Any) -> str:
    """Read an entity feed's title pattern: text with `{title}` and `{key}` in it, nothing else in braces."""
    text = prose(value)
    try:
        fields = [
            (name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text) if name is not None
        ]
    except ValueError:
        fields = [("", "", "")]
    if any(name not in ("title", "key") or spec or conversion for name, spec, conversion in fields):
        raise Invalid(f"{shown(value)} is not a title pattern (expected text with {{title}} and {{key}})")
    if not text:
        raise Invalid("is empty (expected text with {title} and {key})")
    return text


def kind_name(value: Any) -> str:
    """Read an entity kind's name, the folder of its feeds: `stocks`."""
    text = plain_text(value)
    if not _KIND.fullmatch(text):
        raise Invalid(
            f"{shown(value)} is not a usable name (expected lower-case ASCII letters, digits, '-' and '_', at most 40, "
            "starting with a letter)"
        )
    return text
