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

import re
from typing import Any

from feedsvc.errors import UnusualScalar
from feedsvc.safeyaml import PLAIN_TYPED_START, plain_value

# Characters YAML refuses, or treats as line breaks of its own (the reader splits on "\n" only).
_REFUSED = re.compile("[^\x0a\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
# `key: value` or `key:`: a plain key of one word or several, nothing YAML would read as an indicator.
_KEY_LINE = re.compile(
    r"([A-Za-z0-9_\u00a0-\U0010ffff](?:[^:#'\"\[\]{},&*!|>%@`]*[^ :#'\"\[\]{},&*!|>%@`])?)"  # the key
    r":(?: +(.*?))? *"  # the colon, and the value if there is one
)
# `- item`, or `-` alone (an empty item).
_ITEM_LINE = re.compile(r"( *)-(?: +(.*?))? *")
# A plain scalar cannot start with an indicator, and `- `, `? `, `: ` start structure.
_INDICATORS = frozenset(",[]{}#&*!|>'\"%@`")


_KNOWN_MAX = 4096
_known: dict[str, Any] = {}


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
        match = _KEY_LINE.fullmatch(line)
        if match is None:
            raise _NotMine  # indented where a key was due, no `key:`, or an unusual key
        key, value = match.group(1, 2)
        if key in result or (key[0] in PLAIN_TYPED_START and _plain(key) != key):
            raise _NotMine  # a duplicate (the full loader names it), or a key of another type (`yes:`)
        if value:
            result[key] = _flow_sequence(value) if value[0] == "[" else _scalar(value, flow=False)
            continue
        items: list[Any] = []
        indent = -1
        while number < count:
            line = lines[number]
            item = _ITEM_LINE.fullmatch(line)
            if item is None:
                stripped = line.lstrip(" ")
                if not stripped or stripped[0] == "#":
                    number += 1
                    continue
                if line[0] == " ":
                    raise _NotMine  # a nested mapping, or a line that continues something
                break
            margin = len(item.group(1))
            if indent == -1:
                indent = margin
            elif margin != indent:
                raise _NotMine
            items.append(_scalar(item.group(2), flow=False))
            number += 1
        result[key] = items if indent != -1 else None
    if not result:
        raise _NotMine  # comments only, or nothing: the full loader gives None
    return result


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
    try:
        value = plain_value(text)
    except UnusualScalar:
        raise _NotMine from None
    if len(_known) >= _KNOWN_MAX:
        _known.clear()
    _known[text] = value  # text, booleans, None, integers, timestamps: immutable, safe to share
    return value
