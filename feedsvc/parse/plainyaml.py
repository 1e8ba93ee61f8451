"""Read the plain YAML most front matter is written in, giving exactly what the safe loader gives.

Front matter is nearly always a flat mapping of keys to one-line scalars and
short lists. For that subset this reader is several times faster than libyaml
with PyYAML's constructors (`benchmarks/front_matter.py`), which is most of a
cold start's work. It gives the very values `safeyaml.load_yaml` gives — the
same types, the same resolution of `yes`, `2024-01-02`, `007` — and answers
`None` ("not mine") for anything outside the subset: nesting, anchors, tags,
block or multi-line scalars, escapes, comments after a value, duplicate keys,
characters YAML refuses. The caller then uses the full loader, which also makes
every error message. A property test holds the two readers equal.

The subset, line by line: `key: value`, `key:` followed by `- item` lines,
`key: [a, 'b', "c"]`; a value is a plain scalar, a single-quoted scalar or a
double-quoted one without backslashes; blank lines and whole-line comments.
Plain scalars are resolved by PyYAML's own resolver: text, booleans, null,
decimal integers and timestamps are made here, any other type (floats, octal
and sexagesimal numbers, `=`, `<<`) goes to the full loader.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from feedsvc.errors import UnusualScalar
from feedsvc.safeyaml import PLAIN_TYPED_START, plain_value

# Characters YAML refuses, or treats as line breaks of its own (the reader splits on "\n" only).
_REFUSED = re.compile("[^\x0a\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
# A plain key of one word or several, nothing YAML would read as an indicator: what comes before
# the colon of a `key: value` or `key:` line.
_KEY = re.compile(r"[A-Za-z0-9_\u00a0-\U0010ffff](?:[^:#'\"\[\]{},&*!|>%@`]*[^ :#'\"\[\]{},&*!|>%@`])?")
# A plain scalar in the shapes of timestamp front matter mostly gives: `2024-01-02 03:04:05`,
# `2024-01-02T03:04:05+08:00`.
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:([+-])([0-9]{2}):([0-9]{2}))?"
)
# A plain scalar cannot start with an indicator, and `- `, `? `, `: ` start structure.
_INDICATORS = frozenset(",[]{}#&*!|>'\"%@`")


_KNOWN_MAX = 4096
_known: dict[str, Any] = {}
_keys: dict[str, bool] = {}


class _NotMine(Exception):
    """The text is outside the subset: the full loader reads it."""


def quick_load(text: str) -> dict[str, Any] | None:
    """Return the mapping the safe loader would give for `text`, or None when the text is outside the subset."""
    if not text or _REFUSED.search(text) is not None:
        return None
    try:
        return _mapping(text.split("\n"))
    except _NotMine:
        return None


def _mapping(lines: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    count = len(lines)
    number = 0
    while number < count:
        line = lines[number]
        number += 1
        if not line or line[0] == "#" or not line.strip(" "):
            continue
        # `key: value` or `key:`; plain string operations, as each line's key repeats from file to file.
        key, colon, rest = line.partition(":")
        if not colon or (rest and rest[0] != " "):
            raise _NotMine  # no `key:`, or a colon inside a plain key (`a:b`)
        if key in result or not _text_key(key):
            raise _NotMine  # a duplicate (the full loader names it), an unusual key, or one of another type (`yes:`)
        value = rest.strip(" ")
        if value:
            result[key] = _flow_sequence(value) if value[0] == "[" else _scalar(value, flow=False)
            continue
        number, result[key] = _block_sequence(lines, number)
    if not result:
        raise _NotMine  # comments only, or nothing: the full loader gives None
    return result


def _block_sequence(lines: list[str], number: int) -> tuple[int, list[Any] | None]:
    """Read the `- item` lines from line `number` on: the line after them, and the items (None for no items)."""
    items: list[Any] = []
    indent = -1
    count = len(lines)
    while number < count:
        line = lines[number]
        stripped = line.lstrip(" ")
        if stripped[:1] != "-" or stripped[1:2] not in ("", " "):  # not `- item`, nor `-` alone (an empty item)
            if not stripped or stripped[0] == "#":
                number += 1
                continue
            if line[0] == " ":
                raise _NotMine  # a nested mapping, or a line that continues something
            break
        margin = len(line) - len(stripped)
        if indent == -1:
            indent = margin
        elif margin != indent:
            raise _NotMine
        items.append(_scalar(stripped[1:].strip(" "), flow=False))
        number += 1
    return number, items if indent != -1 else None


def _text_key(key: str) -> bool:
    """Tell whether a key is plain and reads as text (not `yes`, `1.5` or `~`), remembering the answer."""
    try:
        return _keys[key]
    except KeyError:
        pass
    try:
        plain = _KEY.fullmatch(key) is not None and (key[0] not in PLAIN_TYPED_START or _plain(key) == key)
    except _NotMine:
        plain = False
    if len(_keys) >= _KNOWN_MAX:
        _keys.clear()
    _keys[key] = plain
    return plain


def _flow_sequence(value: str) -> list[Any]:
    if not value.endswith("]"):
        raise _NotMine
    inner = value[1:-1].strip(" ")
    if not inner:
        return []
    if any(char in inner for char in "[]{}") or "''" in inner:
        raise _NotMine
    items: list[Any] = []
    for part in inner.split(","):
        item = part.strip(" ")
        if not item:
            raise _NotMine  # `[a, , b]`, `[a,]`: the full loader decides
        items.append(_scalar(item, flow=True))
    return items


def _scalar(text: str, *, flow: bool) -> Any:
    """One scalar on one line: quoted, or plain and resolved as PyYAML resolves it."""
    if not text:
        return None
    first = text[0]
    if first == "'":
        if len(text) < 2 or text[-1] != "'":
            raise _NotMine
        inner = text[1:-1]
        if "'" not in inner:
            return inner  # the usual title or URL: no quote to undouble
        if "'" in inner.replace("''", ""):
            raise _NotMine
        return inner.replace("''", "'")
    if first == '"':
        inner = text[1:-1]
        if len(text) < 2 or text[-1] != '"' or '"' in inner or "\\" in inner:
            raise _NotMine
        return inner
    if first in _INDICATORS or (first in "-?:" and (len(text) == 1 or text[1] == " ")):
        raise _NotMine
    if ": " in text or text.endswith(":") or " #" in text:
        raise _NotMine
    if flow and (":" in text or "#" in text or first == "?"):  # `?` starts a key in a flow collection
        raise _NotMine
    return _plain(text)


def _plain(text: str) -> Any:
    """Resolve a plain scalar, remembering the result: keys and categories repeat from file to file."""
    try:
        return _known[text]
    except KeyError:
        pass
    timestamp = _timestamp(text)
    if timestamp is not None:
        return timestamp  # not remembered: each article's date is its own
    try:
        value = plain_value(text)
    except UnusualScalar:
        raise _NotMine from None
    if len(_known) >= _KNOWN_MAX:
        _known.clear()
    _known[text] = value  # text, booleans, None, integers, timestamps: immutable, safe to share
    return value


def _timestamp(text: str) -> dt.datetime | None:
    """Read a timestamp of the usual shapes as PyYAML does, without its resolver; None for other text or times."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    *numbers, sign, zone_hours, zone_minutes = match.groups()
    year, month, day, hour, minute, second = map(int, numbers)
    try:
        zone = None
        if sign is not None:
            offset = dt.timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
            zone = dt.timezone(-offset if sign == "-" else offset)
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:  # 2024-02-30, an offset of a day: the loader keeps such text as it is
        return None
