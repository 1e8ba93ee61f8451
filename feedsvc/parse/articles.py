"""Parse one content file (bytes) into an Article, or into a Problem that says why not.

Pure: the caller reads the file; nothing here touches the disk or the clock.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import json
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, NamedTuple
from urllib.parse import quote

from feedsvc.config import Settings, fold_name, front_matter_text
from feedsvc.errors import NotADate, NotText
from feedsvc.hexo.site import date_from_name, hexo_wall_clock, post_link, post_slug, uses_id
from feedsvc.model import Article, Author, Entity, Problem, shared_author, shared_names
from feedsvc.parse.body import body_warnings
from feedsvc.parse.dates import parse_date
from feedsvc.parse.entities import entities_of
from feedsvc.parse.plainyaml import quick_load
from feedsvc.parse.urls import web_url
from feedsvc.safeyaml import MAX_INTEGER_CHARS, load_yaml
from feedsvc.text import count_controls, one_line, remove_controls, shorten, xml_safe

MAX_TITLE_CHARS = 300
MAX_EMAIL_CHARS = 254  # the longest address SMTP carries (RFC 5321)
# `photos` (Hexo's gallery posts) is a list: its first entry is the image.
IMAGE_FIELDS = ("thumbnail", "headimg", "cover", "image", "photos")
SUMMARY_FIELDS = ("description", "summary", "excerpt")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Problems read `field: what is wrong (expected …)`; for undecodable bytes the field is "encoding".
_EXPECTED_TEXT = "expected UTF-8, UTF-16 with a BOM or GB18030"
# The C0 controls remove_controls takes (tab, LF and CR stay), and the C1 ones as UTF-8 writes them.
_C0_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
# Stray NUL bytes a UTF-8 file may hold and still be text (or one in a hundred bytes, if more).
MAX_STRAY_NULS = 16


# A slug of one path segment that quote() leaves as it is.
_PLAIN_SLUG = re.compile(r"[A-Za-z0-9._~-]+")

# A BCP 47 language tag as front matter gives it (`en`, `zh-CN`, `zh-Hans-CN`): letters, then subtags.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")


# An address as feeds may carry it (RSS <author>, Atom <email>): an ASCII local part and a
# dotted ASCII domain name. Anything else is kept out, with a warning.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)


def decode_text(raw: bytes) -> str:
    """Decode a content file: UTF-8 (BOM dropped), UTF-16 with a BOM, or GB18030; CRLF to LF; controls removed.

    A few NUL bytes in otherwise valid UTF-8 are removed with the other controls.

    Raises:
        NotText: binary data, or bytes valid in none of those encodings.
    """
    return remove_controls(_decode(raw))


def _decode(raw: bytes) -> str:
    """Decode and turn CRLF into LF, leaving control characters (the body's are removed when it is rendered)."""
    return _decoded(raw)[0]


def _decoded(raw: bytes) -> tuple[str, bool]:
    """Decode as `_decode` does; also tell whether the bytes were UTF-8."""
    utf8 = False
    if raw.startswith(_UTF16_BOMS):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise NotText(f"encoding: bytes are not text, invalid UTF-16 ({_EXPECTED_TEXT})") from None
        if "\x00" in text:
            # Only UTF-16 gives a NUL character here; removed with the other controls, and warned about.
            text = text.replace("\x00", "\ufffe")
    elif b"\x00" in raw:
        text, utf8 = _decode_with_nuls(raw), True
    else:
        try:
            text, utf8 = _utf8(raw), True
        except UnicodeDecodeError:
            try:
                text = raw.decode("gb18030")
            except UnicodeDecodeError:
                raise NotText(f"encoding: bytes are not text ({_EXPECTED_TEXT})") from None
    return (text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text), utf8


def _utf8(raw: bytes) -> str:
    """Decode UTF-8 as "utf-8-sig" does (one BOM dropped), without that codec's Python wrapper: a third faster."""
    return raw[3:].decode() if raw.startswith(codecs.BOM_UTF8) else raw.decode()


def _controls(raw: bytes, text: str, *, utf8: bool) -> int:
    """Count the control characters `remove_controls` takes from a file (read in its UTF-8 bytes: faster)."""
    if not utf8:
        return count_controls(text)
    count = len(raw) - len(raw.translate(None, _C0_BYTES))
    if b"\xc2" in raw:
        count += len(_C1_UTF8.findall(raw))
    return count


def _decode_with_nuls(raw: bytes) -> str:
    """Decode UTF-8 that holds a few stray NUL bytes (scraped text does), each made a character later removed.

    Many NULs mean binary data or UTF-16 without a BOM (where every other byte of
    Latin text is NUL), which must stay a problem rather than publish as garbage.

    Raises:
        NotText: more than a few NULs, or bytes that are not UTF-8 once they are removed.
    """
    nuls = raw.count(b"\x00")
    if nuls > max(MAX_STRAY_NULS, len(raw) // 100):
        raise NotText(
            f"encoding: bytes are not text, the file holds {nuls} NUL bytes "
            f"(binary data or UTF-16 without a BOM?) ({_EXPECTED_TEXT})"
        )
    try:
        # U+FFFE is not a character: remove_controls drops it with the other controls,
        # so that the body's NULs go where its other controls go, and are counted with them.
        return raw.replace(b"\x00", "\ufffe".encode()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotText(f"encoding: bytes are not text, the file holds NUL bytes ({_EXPECTED_TEXT})") from None


# Blank lines (spaces and tabs on them too) before the opening fence: scraped archives start with one.
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t\ufeff]*\n)*\ufeff?")
_BLANK_LINE_START = frozenset(" \t\ufeff\n")


class _Parts(NamedTuple):
    """A file split at its front matter fences: the fields' text, the body, and how the fields were given."""

    fields: str
    body: str
    first_line: int  # the line of the file the fields start on
    json: bool  # JSON between `;;;` fences (Hexo's other form), else YAML
    opened: bool  # False for Hexo's form without the opening fence


# The fence of YAML front matter: three or more hyphens alone on a line. `\s*` may run on over
# blank lines after it: they are not part of the fields (line numbers are counted past them).
_YAML_FENCE = re.compile(r"^-{3,}\s*$", re.MULTILINE)
# The fence of Hexo's JSON front matter (hexo-front-matter): three or more semicolons.
_JSON_FENCE = re.compile(r"^;{3,}[ \t]*$", re.MULTILINE)
# The first fence line, of either kind, ends front matter given without its opening fence.
_ANY_FENCE = re.compile(r"^(?:-{3,}|;{3,})[ \t]*$", re.MULTILINE)
# Such front matter starts with a field (`title: x` or `"title": "x"`): a body that merely holds
# a `---` rule further down is not read as YAML.
_FIELD_LINE = re.compile(r"""(?:\w[^:\n]*|"[^"\n]*")[ \t]*:(?:[ \t\n]|$)""")


def _closing_fence(text: str, start: int) -> re.Match[str] | None:
    """Find the closing `---` from `start` on, as `_YAML_FENCE.search` does: only at lines that start with `---`."""
    line = text.find("\n---", start - 1)
    while line >= 0:
        fence = _YAML_FENCE.match(text, line + 1)
        if fence is not None:
            return fence
        line = text.find("\n---", line + 1)
    return None


def _split(text: str) -> _Parts:
    """Split text at its front matter fences, in every form Hexo accepts.

    `---` YAML `---`; `;;;` JSON `;;;`; and either without the opening fence
    (`title: x`, then `---`), which `split_front_matter` accepts only when it reads as fields.

    Raises:
        ValueError: no front matter or no closing fence.
    """
    if text[:1] in _BLANK_LINE_START:
        stripped = _LEADING_BLANK_LINES.sub("", text, count=1)
        skipped_lines = text[: len(text) - len(stripped)].count("\n")
    else:  # nearly every file: nothing to skip, and no copy of the whole text
        stripped, skipped_lines = text, 0
    if not stripped or stripped.isspace():  # (not stripped.strip(), without the copy)
        raise ValueError("front matter: the file is empty (expected '---', YAML fields, '---', then the body)")
    opening = _YAML_FENCE.match(stripped)
    if opening is None:
        opening = _JSON_FENCE.match(stripped)
        if opening is not None:
            closing = _JSON_FENCE.search(stripped, opening.end())
            if closing is None:
                raise ValueError("front matter: no closing ';;;' (expected ';;;' after the JSON fields)")
            fields = stripped[opening.end() : closing.start()]
            first_line = skipped_lines + stripped[: opening.end()].count("\n") + 1
            return _Parts(fields, stripped[closing.end() :].lstrip("\n"), first_line, json=True, opened=True)
        fence = _ANY_FENCE.search(stripped) if _FIELD_LINE.match(stripped) else None
        if fence is None:
            raise ValueError("front matter: missing (expected '---' on the first line)")
        body = stripped[fence.end() :].lstrip("\n")
        is_json = fence.group().startswith(";")
        return _Parts(stripped[: fence.start()], body, skipped_lines + 1, json=is_json, opened=False)
    closing = _closing_fence(stripped, opening.end())
    if closing is None:
        raise ValueError("front matter: no closing '---' (expected '---' after the YAML fields)")
    # Blank lines the opening fence took count too, so that YAML errors name the line of the file.
    first_line = skipped_lines + stripped[: opening.end()].count("\n") + 1
    fields = stripped[opening.end() : closing.start()]
    return _Parts(fields, stripped[closing.end() :].lstrip("\n"), first_line, json=False, opened=True)


# JSON front matter nests no deeper than this: a fixed bound, so that whether a file is an article
# never depends on how deep the parser's stack already is (json raises RecursionError near 1,000).
MAX_JSON_DEPTH = 200
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")
_JSON_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _json_depth(text: str) -> int:
    """Return how deep JSON text nests its arrays and objects (brackets in strings do not count)."""
    brackets = _JSON_BRACKET.findall(_JSON_STRING.sub('""', text))
    return max(accumulate(map(_JSON_STEP.__getitem__, brackets)), default=0)


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing a key given twice (as YAML front matter does)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"invalid JSON: duplicate key {key!r} (expected each key once)")
        result[key] = value
    return result


def _json_integer(text: str) -> int | str:
    """Read a JSON integer; one of over MAX_INTEGER_CHARS digits stays text, as in YAML front matter."""
    return int(text) if len(text) <= MAX_INTEGER_CHARS else text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON: {name} is not a JSON value (expected strict JSON)")


def load_json_fields(text: str, *, first_line: int = 1) -> Any:
    """Load Hexo's JSON front matter: `"key": value` lines, with or without the enclosing braces.

    hexo-front-matter reads the text between the fences as the inside of an object;
    an object written whole (`{…}`) is read as well.

    Raises:
        ValueError: not strict JSON, a key given twice, or nesting too deep to read.
    """
    # Not stripped: lines keep their numbers in the file for error messages.
    document = text if text.lstrip().startswith("{") else "{" + text + "}"
    if ("[" in document or document.count("{") > 1) and _json_depth(document) > MAX_JSON_DEPTH:
        raise ValueError(f"invalid JSON: nested too deep (expected at most {MAX_JSON_DEPTH} levels)")
    try:
        return json.loads(
            document, object_pairs_hook=_unique_fields, parse_int=_json_integer, parse_constant=_refuse_constant
        )
    except RecursionError:  # not reached within MAX_JSON_DEPTH; kept as a guard
        raise ValueError(f"invalid JSON: nested too deep (expected at most {MAX_JSON_DEPTH} levels)") from None
    except json.JSONDecodeError as error:
        line = first_line + error.lineno - 1
        raise ValueError(f"invalid JSON: {error.msg} at line {line} (expected '\"key\": value' lines)") from None


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split text into its front matter mapping and its body.

    Raises:
        ValueError: no front matter, no closing fence, YAML or JSON that does not parse
            or is not a mapping; the message names the part and the reason.
    """
    parts = _split(text)
    try:
        if parts.json:
            data = load_json_fields(remove_controls(parts.fields), first_line=parts.first_line)
        else:
            fields = remove_controls(parts.fields)
            quick = quick_load(fields)  # the plain front matter of nearly every article, read several times faster
            if quick is not None:
                return quick, parts.body  # a new, non-empty mapping of text keys: the checks below pass it as it is
            data = load_yaml(fields, first_line=parts.first_line)
    except ValueError as error:  # YamlError is one
        if not parts.opened:
            raise ValueError("front matter: missing (expected '---' on the first line)") from None
        raise ValueError(f"front matter: {error}") from None
    if not parts.opened and not (isinstance(data, dict) and data):
        # Hexo reads the text before the first fence as fields only when it is a mapping.
        raise ValueError("front matter: missing (expected '---' on the first line)")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"front matter: is {_kind(data)} (expected a mapping of fields such as 'title: …')")
    return {str(key): value for key, value in data.items()}, parts.body


def read_body(raw: bytes) -> str | None:
    """Return the Markdown body of a content file, or None when the file is not an article.

    Only the fences are found: the front matter is not parsed again.
    """
    try:
        return _split(decode_text(raw)).body
    except ValueError:
        return None


def digest(raw: bytes) -> str:
    """Return 16 hex digits of the SHA-1 of a file's bytes: the part of a fingerprint that names its content.

    64 bits tell versions of one file apart with room to spare, in less memory than 160.
    """
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:16]


def _kind(value: object) -> str:
    names = {list: "a list", dict: "a mapping", str: "text", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def _scalar_text(value: object) -> str | None:
    """Text of a scalar as the author wrote it; None for lists, mappings and null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _flatten(value: object) -> Iterator[object]:
    """Yield the scalars of a value, flattening nested lists (null yields nothing)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(reversed(item))
        elif item is not None:
            yield item


def _one_line(text: str) -> str:
    """Return `one_line(text)`, at once for text already on one line (printable, no run of spaces): most fields.

    Printable text holds no character xml_safe removes, and no white space but the plain space.
    """
    if text.isprintable() and "  " not in text:
        return text.strip(" ")
    return one_line(text)


# Category and tag names on one line and folded, by name as written: the same few hundred names
# come in file after file, and NFKC with casefold costs more than the look-up.
_NAMES_MAX = 4096
_names: dict[str, tuple[str, str]] = {}


def _name(text: str) -> tuple[str, str]:
    """Return a category or tag name on one line, and the form `fold_name` gives it."""
    try:
        return _names[text]
    except KeyError:
        pass
    line = _one_line(text)
    if len(_names) >= _NAMES_MAX:
        _names.clear()
    found = _names[text] = (line, fold_name(line))
    return found


@dataclass
class _Reader:
    """Reads the fields of one front matter mapping, collecting problems and warnings."""

    data: dict[str, Any]
    settings: Settings
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, name: str, text: str) -> None:
        self.problems.append(f"{name}: {text}")

    def warn(self, name: str, text: str) -> None:
        self.warnings.append(f"{name}: {text}")

    def title(self) -> str | None:
        """Read the title; None when it is missing or empty (the caller then titles the article by its date)."""
        value = self.data.get("title")
        if value is None:
            return None
        text = _scalar_text(value)
        if text is None:
            self.problem("title", f"is {_kind(value)} (expected text)")
            return ""
        title = _one_line(text)
        return shorten(title, MAX_TITLE_CHARS) if title else None

    def flag(self, name: str) -> bool | None:
        value = self.data.get(name)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return value.strip().lower() in ("true", "yes")
        self.problem(name, f"{_shown(value)} is not a boolean (expected true or false)")
        return None

    def date(self, name: str) -> dt.datetime | None:
        value = self.data.get(name)
        if value is None:
            return None
        try:
            return parse_date(value, self.settings.timezone)
        except NotADate as error:
            self.problem(name, str(error))
            return None

    def names(self, *fields: str) -> tuple[str, ...]:
        """Read categories or tags: a name or a list of names, nested lists flattened.

        Names that differ only by case, width or spacing are one (the first spelling is
        kept). At most `content.max_categories` names, each at most `content.max_name_chars`
        long: the rest are left out with a warning, so that one file cannot make thousands of
        feeds, each carrying its thousands of terms.
        """
        limit, longest = self.settings.max_categories, self.settings.max_name_chars
        result: dict[str, str] = {}
        for name in fields:
            value = self.data.get(name)
            if value is None:
                continue
            if isinstance(value, dict):
                self.problem(name, "is a mapping (expected a name or a list of names)")
                continue
            extra = too_long = 0
            for item in _flatten(value):
                text = _scalar_text(item)
                if text is None:
                    self.problem(name, f"holds {_kind(item)} (expected names)")
                    continue
                if len(result) >= limit:
                    extra += 1  # counted, not read: a list of 20,000 names costs no more than its YAML
                    continue
                if len(text) > longest * 4:
                    too_long += 1
                    continue
                text, folded = _name(text)
                if len(text) > longest:
                    too_long += 1
                    continue
                if text:
                    result.setdefault(folded, text)
            if too_long:
                shown = _count(too_long, "name")
                self.warn(name, f"{shown} over {longest:,} characters left out (expected shorter names)")
            if extra:
                shown = _count(extra, "name")
                self.warn(name, f"{shown} past the first {limit:,} left out (expected at most {limit:,} an article)")
        return tuple(result.values())

    def text(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        text = _scalar_text(value)
        if text is None:
            self.warn(name, f"is {_kind(value)}, ignored (expected text)")
            return None
        # Printable text holds nothing xml_safe removes (the usual case, told without a regex).
        return (text if text.isprintable() else xml_safe(text)).strip() or None

    def author(self) -> Author | None:
        value = self.data.get("author")
        if isinstance(value, list):
            value = next((item for item in value if item is not None), None)
        if value is None:
            return None
        if isinstance(value, dict):
            name = self._author_name(_scalar_text(value.get("name")) or "")
            email = _one_line(_scalar_text(value.get("email")) or "")
            if len(email) > MAX_EMAIL_CHARS or (email and not _EMAIL.fullmatch(email)):
                self.warn("author", f"email {_shown(email)} is not an address, ignored (expected name@host)")
                email = ""
            if not name and not email:
                self.warn("author", "has no name or email, ignored (expected 'name' and optional 'email')")
                return None
            return Author(name=name or email, email=email or None)
        text = _scalar_text(value)
        if text is None or not _one_line(text):
            self.warn("author", f"{_shown(value)} is not a name, ignored (expected text or name/email)")
            return None
        return Author(name=self._author_name(text))

    def _author_name(self, text: str) -> str:
        """Return an author's name on one line, cut (with a warning) at `content.max_name_chars`."""
        longest = self.settings.max_name_chars
        name = _one_line(text[: longest * 4 + 1])  # enough to fill the limit after spaces collapse
        if len(name) > longest:
            self.warn("author", f"name of {len(text):,} characters cut to {longest:,} (expected a shorter name)")
            name = shorten(name, longest)
        return name

    def image(self) -> str | None:
        for name in IMAGE_FIELDS:
            value = self.data.get(name)
            if name == "photos" and isinstance(value, list):
                value = next((item for item in _flatten(value) if item != ""), None)
            if value is None or value == "":
                continue
            # Only text can be a URL: `true` or `2022` would otherwise resolve to site.link + "true".
            url = web_url(value, self.settings.site_link) if isinstance(value, str) else None
            if url is None:
                self.warn(name, f"{_shown(value)} is not a safe http(s) URL, skipped (expected an image URL)")
                continue
            return url
        return None

    def language(self) -> str | None:
        """Read `lang` (Hexo's field, also `language`): a language tag such as `zh-CN`, or None."""
        for name in ("lang", "language"):
            text = self.text(name)
            if text is None:
                continue
            tag = text.replace("_", "-")
            if _LANGUAGE_TAG.fullmatch(tag):
                return tag
            self.warn(name, f"{_shown(text)} is not a language tag, ignored (expected a tag such as 'en' or 'zh-CN')")
        return None

    def excluded(self) -> bool:
        """Tell whether a `content.exclude_when` pair matches the front matter (a list matches by any item)."""
        for name, values in self.settings.exclude_when:
            value = self.data.get(name)
            items = value if isinstance(value, list) else [value]
            if any(front_matter_text(item) in values for item in items if item is not None):
                return True
        return False

    def summary(self) -> str | None:
        for name in SUMMARY_FIELDS:
            text = self.text(name)
            if text:
                return text
        return None


def _slug_path(slug: str) -> str:
    """Percent-encode a slug for a URL path; '/' separates segments, '.' and '..' are dropped."""
    if slug not in (".", "..") and _PLAIN_SLUG.fullmatch(slug):
        return slug  # one segment, all of it characters that quote() keeps: most file names
    segments = [s for s in slug.split("/") if s.strip() and s not in (".", "..")]
    return "/".join(quote(s.strip(), safe="-._~") for s in segments)


def _stem(source: str) -> str:
    """Return a path's file name without its extension, as `PurePosixPath(source).stem` does (without pathlib)."""
    name = source.rpartition("/")[2]
    if name in ("", "."):  # the path ends in "/" or "/.": the name is its last part that is neither
        name = next((part for part in reversed(source.split("/")) if part not in ("", ".")), "")
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def article_link(slug: str, published: dt.datetime | None, settings: Settings) -> str:
    """Fill `content.permalink` for an article and resolve it under `site.link`.

    `published` is None when the article's date is only its file's modification time:
    the date fields are then left out (and their slashes folded), so that touching a
    file never moves its link or id.
    """
    if published is None:
        slug_path = _slug_path(slug) or "article"
        # Literal text and {slug} as the pattern has them; the date fields left out.
        path = "".join(
            literal + (format(slug_path, spec or "") if name == "slug" else "")
            for literal, name, spec, _ in string.Formatter().parse(settings.permalink)
        )
        return settings.site_link + re.sub(r"/{2,}", "/", path).lstrip("/")
    local = published.astimezone(settings.timezone)
    # The pattern was checked when the settings were read (only these fields, no attribute
    # or index lookups), so plain str.format is safe here, and several times faster.
    path = settings.permalink.format(
        year=local.year,
        month=local.month,
        day=local.day,
        hour=local.hour,
        minute=local.minute,
        second=local.second,
        slug=_slug_path(slug) or "article",
    )
    return settings.site_link + path.lstrip("/")


def _mtime_date(mtime: float, settings: Settings) -> dt.datetime | None:
    """Return a file's modification time as an article date, or None when no calendar holds it.

    Any stat value reaches here: a clock gone wrong or tmpfs gives years past 9999 or before 1.
    The permalink takes the date in the site's zone, so it must exist there too (as in parse_date).
    """
    try:
        published = dt.datetime.fromtimestamp(mtime, dt.UTC).replace(microsecond=0)
        published.astimezone(settings.timezone)
    except (ValueError, OverflowError, OSError):
        return None
    return published


def _link(reader: _Reader, *, source: str, title: str, published: dt.datetime | None) -> str:
    """Return an article's link: Hexo's permalink for a Hexo site, else a `link:` field or content.permalink."""
    settings = reader.settings
    if settings.hexo is not None and settings.hexo_permalink:
        if uses_id(settings.hexo) and reader.text("id") is None:
            reader.warn("id", "missing: the permalink's :id takes the file name (expected the id Hexo published)")
        return post_link(
            settings.hexo,
            source=source,
            title=title,
            date=published,
            zone=settings.timezone,
            front_matter=reader.data,
        )
    link = article_link(reader.text("slug") or _stem(source), published, settings)
    given_link = reader.text("link") or reader.text("permalink")
    if given_link:
        resolved = web_url(given_link, settings.site_link)
        if resolved is None:
            reader.warn("link", f"{_shown(given_link)} is not an http(s) URL, using the permalink (expected a URL)")
        else:
            link = resolved
    return link


def parse_article(raw: bytes, *, source: str, mtime: float, settings: Settings) -> Article | Problem:
    """Parse a content file's bytes into an Article, or a Problem naming every field that is wrong.

    `source` is the path relative to the content directory, `mtime` the file's
    modification time (used, with a warning, when the article has no date).
    """
    return parse_file(raw, source=source, mtime=mtime, settings=settings)[0]


def parse_for_scan(raw: bytes, source: str, mtime: float, *, settings: Settings) -> tuple[Article | Problem, str]:
    """Call `parse_file` as the scanner does (positionally); picklable with functools.partial for workers."""
    return parse_file(raw, source=source, mtime=mtime, settings=settings)


def parse_file(raw: bytes, *, source: str, mtime: float, settings: Settings) -> tuple[Article | Problem, str]:
    """Parse a content file into its Article (or Problem) and its Markdown body ("" for a problem).

    The Article holds no body: bodies are kept out of memory and read again only
    for the articles a feed shows.
    """
    try:
        # Only the front matter is cleaned of control characters here: the body's 6 KB are
        # cleaned when (and if) it is rendered, by render_content.
        text, utf8 = _decoded(raw)
        data, body = split_front_matter(text)
    except ValueError as error:
        return Problem(source, str(error)), ""

    reader = _Reader(data, settings)
    controls = _controls(raw, text, utf8=utf8)
    if controls:
        reader.warn(
            "encoding",
            f"{controls} control character{'s' if controls > 1 else ''} (such as NUL) removed "
            "(expected text without control characters)",
        )
    if settings.hexo is not None:
        for name in ("date", "updated"):  # as Hexo reads them, so that published dates stay the same
            if name in data:
                data[name] = hexo_wall_clock(data[name])
    title = reader.title()
    draft = reader.flag("draft")
    published_flag = reader.flag("published")
    published = reader.date("date")
    updated = reader.date("updated")
    categories = reader.names("categories", "category")
    tags = reader.names("tags", "tag")  # Hexo reads `tag:` as `tags:`
    if reader.problems:
        return Problem(source, "; ".join(reader.problems)), ""

    reader.warnings.extend(
        body_warnings(
            body, max_depth=settings.max_depth, max_html_bytes=settings.max_html_bytes, hexo_tags=settings.hexo_tags
        )
    )
    entities: tuple[Entity, ...] = ()
    if settings.entities:
        entities, notes = entities_of(
            body, settings.entities, max_entities=settings.max_categories, max_chars=settings.max_name_chars
        )
        reader.warnings.extend(notes)
    fingerprint = digest(raw)
    if published is None and settings.hexo is not None:
        # As Hexo does: a name such as 2019-03-05-hello.md dates the post (new_post_name).
        published = date_from_name(post_slug(settings.hexo, source)[1], settings.timezone)
    dated = published is not None
    if published is None:
        published = _mtime_date(mtime, settings)
        if published is None:
            reason = (
                f"date: missing, and the file's modification time ({mtime:.0f}) is no date either (expected a date)"
            )
            return Problem(source, reason), ""
        reader.warn(
            "date",
            "missing, using the file's modification time; the link and id leave the date out (expected a date)",
        )
        fingerprint += f":{published.timestamp():.0f}"
    updated = max(updated or published, published)

    if title is None:
        # Hexo publishes a post without a title; a feed item needs one: its date, in the site's zone.
        title = published.astimezone(settings.timezone).date().isoformat()
        reader.warn("title", f"missing, the article is titled by its date {title} (expected the article's title)")

    link = _link(reader, source=source, title=title, published=published if dated else None)
    identity = link
    if settings.ids == "front_matter":
        identity = _one_line(reader.text("id") or "") or link

    article = Article(
        source=source,
        title=title,
        link=link,
        id=identity,
        published=published,
        updated=updated,
        categories=shared_names(categories),
        tags=shared_names(tags),
        author=shared_author(reader.author()),
        summary=reader.summary(),
        image=reader.image(),
        language=reader.language(),
        # Held like a draft: Hexo's `published: false`, and what `content.exclude_when` names (`hidden: true`).
        draft=bool(draft) or published_flag is False or reader.excluded(),
        fingerprint=fingerprint,
        warnings=tuple(reader.warnings),
        entities=entities,
    )
    return article, body
