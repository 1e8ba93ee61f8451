"""Find the entities a body names (the stocks a financial news article links), as `entities:` configures them.

Pure. Each kind gives a CSS selector and where an element's key and title come from; the
selector runs over the raw body (HTML, or Markdown with HTML inside) once, when the file is
parsed, so the entities are cached with the article and no body is held for them. A body
that cannot hold a match (the selector's class or attribute name is nowhere in it) is not
parsed at all: most bodies of a site name few kinds.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from feedsvc.config import EntitySettings
from feedsvc.model import Entity, shared_entities
from feedsvc.parse.html import select
from feedsvc.selectors import css_to_xpath
from feedsvc.text import one_line, xml_safe

# A selector of type, class, id and attribute names with combinators only: every name in it must be in a body
# it matches. Others (`:not(.x)`, a list `a, b`) give no hint.
_PLAIN_SELECTOR = re.compile(r"[\w\s.#>+~\[\]=^$*|\"'-]+")
_NAMES = re.compile(r"[.#\[]\s*([A-Za-z_][\w-]*)")


@functools.lru_cache(maxsize=64)
def hint(selector: str) -> str | None:
    """Return a text, in lower case, that every body the selector matches in holds (None when there is none).

    It is the longest class, id or attribute name of a plain selector. Character
    references could spell a name out (`&#72;`): bodies with `&#` are always parsed.
    """
    if not _PLAIN_SELECTOR.fullmatch(selector):
        return None
    names = _NAMES.findall(selector)
    longest = max(names, key=len, default="")
    return longest.lower() if len(longest) >= 3 else None


def _value(source: tuple[str, str], attributes: dict[str, str], text: str) -> str:
    how, name = source
    if how == "text":
        value = text
    elif how == "attribute":
        value = attributes.get(name, "")
    else:  # a query parameter of the element's link
        url = attributes.get("href") or attributes.get("src") or ""
        try:
            value = parse_qs(urlsplit(url.strip()).query).get(name, [""])[0]
        except ValueError:  # a malformed URL (http://[x)
            value = ""
    return one_line(xml_safe(value))


def might_name(body: str, lowered: str | None, kind: EntitySettings) -> bool:
    """Tell whether a body may hold an element the kind's selector matches (False: it cannot)."""
    needed = hint(kind.selector)
    if needed is None or "&#" in body or ("_" in needed and "&" in body):
        return True
    return needed in (lowered if lowered is not None else body.lower())


def entities_of(
    body: str, kinds: Sequence[EntitySettings], *, max_entities: int, max_chars: int
) -> tuple[tuple[Entity, ...], tuple[str, ...]]:
    """Return the entities a body names, in the order it names them (each key once per kind), and warnings.

    An element without a key is passed over; a key longer than `max_chars` is left out
    with a warning, and so are the entities of a kind after the first `max_entities`.
    """
    found: dict[tuple[str, str], Entity] = {}
    warnings: list[str] = []
    lowered: str | None = None
    for kind in kinds:
        if hint(kind.selector) is not None and lowered is None:
            lowered = body.lower()
        if not might_name(body, lowered, kind):
            continue
        count = 0
        too_long = 0
        for attributes, text in select(body, css_to_xpath(kind.selector)):
            key = _value(kind.key, attributes, text)
            if not key or (kind.name, key) in found:
                continue
            if len(key) > max_chars:
                too_long += 1
                continue
            if count == max_entities:
                warnings.append(
                    f"entities: more than {max_entities} {kind.name} named, the rest left out "
                    f"(expected at most {max_entities}, content.max_categories)"
                )
                break
            title = _value(kind.title, attributes, text)[:max_chars] or key
            found[(kind.name, key)] = Entity(kind.name, key, title)
            count += 1
        if too_long:
            warnings.append(
                f"entities: {too_long} {kind.name} key{'s' if too_long > 1 else ''} over {max_chars} characters "
                f"left out (expected at most {max_chars}, content.max_name_chars)"
            )
    return shared_entities(found.values()), tuple(warnings)
