"""Bound the shape of article HTML before it is sanitized: how deep it nests, how often formatting repeats.

An HTML5 parser (nh3's) takes time quadratic in the depth of nesting, and re-opens
every unclosed formatting element (`<b>`, `<font>`…) in each paragraph after it, so a
small body can grow a hundredfold. One linear pass here follows the parser's stack
closely enough to measure both: HTML within the limits passes unchanged (real articles
always do); other HTML is rewritten balanced, flattened beyond the depth limit, its
formatting closed where its block ends. Standard library only; pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A tag as the HTML5 tokenizer reads it: quotes count only in a value after `=`, and a tag
# that never ends takes the rest of the text with it (the parser drops it at the end).
_ATTRIBUTE = (
    r"[^\t\n\f\r />][^\t\n\f\r />=]*+"
    r"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"[^\"]*+\"?+|'[^']*+'?+|[^\t\n\f\r >]++)?+)?+"
)
_TOKEN = re.compile(
    r"<(?:"
    r"!--(?:-?>|.*?(?:--!?>|\Z))"  # a comment; `<!-->` and `<!--->` are whole (empty) ones
    r"|[!?][^>]*+>?+"  # a doctype, CDATA (outside SVG and MathML) or another bogus comment
    r"|/(?![A-Za-z])[^>]*+>?+"  # `</>` or `</3…>`: ignored
    rf"|(?P<end>/)?(?P<name>[A-Za-z][^\t\n\f\r />]*+)(?P<attrs>(?:[\t\n\f\r /]++|{_ATTRIBUTE})*+)>"
    r"|(?P<open>/?[A-Za-z]).*"  # a tag that never ends
    r")",
    re.DOTALL,
)
_ATTRIBUTE_PARTS = re.compile(
    r"(?P<name>[^\t\n\f\r />][^\t\n\f\r />=]*+)"
    r"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"(?P<dq>[^\"]*+)\"?+|'(?P<sq>[^']*+)'?+|(?P<uq>[^\t\n\f\r >]++))?+)?+"
)
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_:][-A-Za-z0-9_:.]*")


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


VOID = _names(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta param source track wbr"
)
FORMATTING = _names("a b big code em font i nobr s small strike strong tt u")
# Elements whose text the tokenizer reads raw, up to their end tag (noscript is not one: nh3 parses without scripting).
RAW_TEXT = _names("script style xmp iframe noembed noframes textarea title")
_RAW_TEXT_END = {name: re.compile(rf"</{name}(?=[\t\n\f\r />])", re.IGNORECASE) for name in RAW_TEXT}
# The HTML5 "special" elements: an end tag of another element never closes past one.
SPECIAL = _names(
    "address applet area article aside base basefont bgsound blockquote body br button caption center col "
    "colgroup dd details dir div dl dt embed fieldset figcaption figure footer form frame frameset h1 h2 "
    "h3 h4 h5 h6 head header hgroup hr html iframe img input keygen li link listing main marquee menu "
    "meta nav noembed noframes noscript object ol p param plaintext pre script search section select "
    "source style summary table tbody td template textarea tfoot th thead title tr track ul wbr xmp"
)
# Where a search for an open element stops (the parser's "scope"; select: its end tags are ignored inside it).
_BOUNDARY = _names("applet caption html table td th marquee object template select")
_CLOSES_P = _names(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption figure footer "
    "header hgroup main menu nav ol p search section summary ul h1 h2 h3 h4 h5 h6 pre listing form "
    "plaintext table hr xmp li dd dt"
)
_HEADINGS = _names("h1 h2 h3 h4 h5 h6")
# Special elements before which the parser still re-opens formatting (they go inside it).
_REOPENS = _names("applet area br button embed image img input keygen marquee object select wbr xmp")
# A table part's start closes the last open one of these, if it is in the same table.
_TABLE_PARTS = {
    "td": ("td", "th"),
    "th": ("td", "th"),
    "tr": ("tr",),
    "tbody": ("tbody", "thead", "tfoot", "caption", "colgroup"),
    "thead": ("tbody", "thead", "tfoot", "caption", "colgroup"),
    "tfoot": ("tbody", "thead", "tfoot", "caption", "colgroup"),
    "caption": ("tbody", "thead", "tfoot", "caption", "colgroup"),
    "colgroup": ("tbody", "thead", "tfoot", "caption", "colgroup"),
}
_MARKERS = _names("applet marquee object td th caption template")
# Ignored by the parser inside a body, or parsed as foreign content that nh3 drops anyway.
_IGNORED = _names("html head body frameset svg math")
# Dropped by the sanitizer with everything inside; a rewrite drops them too.
_DROPPED_WITH_TEXT = _names("script style iframe noembed noframes textarea xmp")
# More unclosed formatting elements than this at once is no real article (the parser keeps at most 3 alike).
MAX_ACTIVE_FORMATTING = 64


@dataclass(slots=True)
class _Formatting:
    """An element of the list of active formatting elements; `at` is its place on the stack, -1 once closed."""

    name: str
    key: str
    at: int = -1


_MARKER = _Formatting("", "")


@dataclass
class _Tree:
    """The parser's stack of open elements, enough of it to measure depth and re-opened formatting.

    In rewrite mode it writes balanced HTML instead: beyond `max_depth` tags are dropped
    (their text kept), formatting closes where its block ends and is never re-opened.
    """

    max_depth: int
    rewrite: bool = False
    names: list[str] = field(default_factory=list)
    entries: list[_Formatting | None] = field(default_factory=list)  # per open element, its formatting entry
    positions: dict[str, list[int]] = field(default_factory=dict)  # per name (and class), where it is open
    active: list[_Formatting] = field(default_factory=list)
    deepest: int = 0
    reopened: int = 0
    dropped: int = 0  # rewrite mode: tags beyond the depth limit
    tags: int = 0
    foreign: bool = False  # SVG or MathML seen: parsed by other rules, which this does not follow
    out: list[str] = field(default_factory=list)

    def _classes(self, name: str) -> tuple[str, ...]:
        classes: tuple[str, ...] = (name,)
        if name in SPECIAL:
            classes += ("#special",)
            if name not in ("address", "div", "p"):
                classes += ("#li-barrier",)
        if name in _BOUNDARY:
            classes += ("#boundary",)
        if name in _HEADINGS:
            classes += ("#heading",)
        return classes

    def last(self, key: str) -> int:
        found = self.positions.get(key)
        return found[-1] if found else -1

    def push(self, name: str, entry: _Formatting | None = None) -> None:
        at = len(self.names)
        self.names.append(name)
        self.entries.append(entry)
        for key in self._classes(name):
            self.positions.setdefault(key, []).append(at)
        if entry is not None:
            entry.at = at
        if name in _MARKERS and not self.rewrite:
            self.active.append(_MARKER)
        self.deepest = max(self.deepest, len(self.names))

    def pop(self) -> None:
        name = self.names.pop()
        entry = self.entries.pop()
        for key in self._classes(name):
            self.positions[key].pop()
        if entry is not None:
            entry.at = -1
        if name in _MARKERS and not self.rewrite:
            while self.active and self.active.pop() is not _MARKER:
                pass
        if self.rewrite:
            self.out.append(f"</{name}>")

    def pop_to(self, at: int) -> None:
        """Close the element at `at` and every element opened after it."""
        while len(self.names) > at:
            self.pop()

    def in_scope(self, key: str, *barriers: str) -> int:
        """Where the element is open, if no boundary (or barrier) was opened after it; else -1."""
        at = self.last(key)
        if at < 0 or any(self.last(barrier) > at for barrier in ("#boundary", *barriers) if barrier != key):
            return -1
        return at

    def reopen(self) -> None:
        """Re-open the formatting elements a closed block closed, as the parser does before text."""
        if self.rewrite or not self.active or self.active[-1] is _MARKER or self.active[-1].at >= 0:
            return
        first = len(self.active) - 1
        while first > 0 and self.active[first - 1] is not _MARKER and self.active[first - 1].at < 0:
            first -= 1
        for entry in self.active[first:]:
            self.push(entry.name, entry)
            self.reopened += 1

    def text(self, text: str) -> None:
        if self.rewrite:
            self.out.append(text.replace("<", "&lt;"))
        elif text:
            self.reopen()

    def start(self, name: str, attributes: str) -> None:
        """Open an element as the parser would, closing what its start closes."""
        self.tags += 1
        if name in _IGNORED or (name in _TABLE_PARTS and self.last("table") < 0):
            # Outside a table the parser ignores the start of a cell or row: it must not close anything here.
            if name in ("svg", "math"):
                self.foreign = True
            return
        self._close_before(name)
        if name in ("td", "th", "tr"):
            # The parser adds the tbody and tr a cell needs: they count in the depth too.
            table = self.last("table")
            if max(self.last("tbody"), self.last("thead"), self.last("tfoot")) < table:
                self._implied("tbody")
            if name != "tr" and self.last("tr") < table:
                self._implied("tr")
        if name not in SPECIAL or name in _REOPENS:
            self.reopen()
        elif self.rewrite:
            while self.names and self.names[-1] in FORMATTING:
                self.pop()
        if self.rewrite:
            self._write_start(name, attributes)
            return
        if name in VOID:
            return
        entry = None
        if name in FORMATTING:
            entry = _Formatting(name, name + attributes)
            self._add_active(entry)
        self.push(name, entry)

    def _implied(self, name: str) -> None:
        if self.rewrite:
            if len(self.names) >= self.max_depth:
                return
            self.out.append(f"<{name}>")
        self.push(name)

    def _close_before(self, name: str) -> None:
        """Close what the start of `name` closes: an open paragraph, list item, cell, heading, link…"""
        at = -1
        if name in _CLOSES_P:
            at = self.in_scope("p", "button")
            if at >= 0:
                self.pop_to(at)
        if name in ("li", "dd", "dt"):
            at = max(self.last(key) for key in (("li",) if name == "li" else ("dd", "dt")))
            if at >= 0 and at >= self.last("#li-barrier"):  # itself a barrier: no other one opened after it
                self.pop_to(at)
        elif name in _HEADINGS or name == "option":
            if self.names and (self.names[-1] in _HEADINGS if name in _HEADINGS else self.names[-1] == name):
                self.pop()
        elif name in _TABLE_PARTS:
            at = max(self.last(key) for key in _TABLE_PARTS[name])
            if at > self.last("table"):
                self.pop_to(at)
        elif name in ("a", "nobr", "button"):
            at = self.in_scope(name)
            if at >= 0 and (at > self.last("#special") or name == "button"):
                self.pop_to(at)
            elif name != "button":
                self._forget(name)

    def _forget(self, name: str) -> None:
        """Take the last formatting element of a name off the active list (the parser's adoption agency)."""
        for index in range(len(self.active) - 1, -1, -1):
            if self.active[index] is _MARKER:
                return
            if self.active[index].name == name:
                if not self.rewrite:
                    del self.active[index]
                return

    def _add_active(self, entry: _Formatting) -> None:
        alike = [
            index
            for index in range(len(self.active) - 1, -1, -1)
            if self.active[index] is not _MARKER and self.active[index].key == entry.key
        ]
        if len(alike) >= 3:  # the parser's "Noah's Ark" clause: at most three alike
            del self.active[alike[-1]]
        self.active.append(entry)

    def _write_start(self, name: str, attributes: str) -> None:
        if name not in VOID:
            if len(self.names) >= self.max_depth:
                self.dropped += 1
                return
            self.push(name)
        self.out.append(f"<{name}{_attributes(attributes)}>")

    def end(self, name: str) -> None:
        """Close an element as the parser would, if its end tag closes anything."""
        if name in _HEADINGS:
            at = self.in_scope("#heading")
        elif name == "p":
            at = self.in_scope("p", "button")
        elif name == "li":
            at = self.in_scope("li", "ol", "ul")
        elif name in _TABLE_PARTS or name == "table":
            at = self.last(name)
            if name != "table" and at < self.last("table"):
                at = -1
        elif name in FORMATTING:
            at = self.in_scope(name)
            if at < 0:
                if self.last(name) < 0:
                    self._forget(name)
                return
            self._forget(name)
            if at < self.last("#special"):
                return  # the parser moves the elements after it instead: as deep as before
        elif name in SPECIAL:
            at = self.in_scope(name)
        else:
            at = self.last(name)
            if at < self.last("#special"):
                at = -1
        if at >= 0:
            self.pop_to(at)

    def finish(self) -> str:
        if self.rewrite:
            self.pop_to(0)
        return "".join(self.out)


def _attributes(text: str) -> str:
    """Write attributes again, each value quoted (only names XML allows: the rest nh3 drops anyway)."""
    parts = []
    for match in _ATTRIBUTE_PARTS.finditer(text):
        name = match["name"].lower()
        if not _ATTRIBUTE_NAME.fullmatch(name):
            continue
        value = match["dq"] if match["dq"] is not None else match["sq"] if match["sq"] is not None else match["uq"]
        value = (value or "").replace('"', "&quot;").replace("<", "&lt;")
        parts.append(f' {name}="{value}"')
    return "".join(parts)


class _TooMuch(Exception):  # a signal inside _walk, never seen outside this module
    """The HTML went past a limit: measuring stops, the rewrite follows."""


def _walk(html: str, tree: _Tree, budget: int) -> None:
    """Feed the tokens of `html` to `tree`, in one pass; raise _TooMuch once a measure passes its limit."""
    position = 0
    length = len(html)
    while position < length:
        match = _TOKEN.search(html, position)
        if match is None:
            tree.text(html[position:])
            return
        if match.start() > position:
            tree.text(html[position : match.start()])
        position = match.end()
        name = match["name"]
        if match["open"] is not None or name is None:
            continue  # comments, doctypes, CDATA, a tag never closed: nothing on the stack
        name = name.lower()
        if match["end"]:
            tree.end(name)
        elif name == "plaintext":
            tree.start(name, "")
            tree.text(html[position:])
            return
        else:
            tree.start(name, match["attrs"])
            if name in RAW_TEXT:
                # Raw text runs to the element's end tag, which then closes it as any end tag does.
                closing = _RAW_TEXT_END[name].search(html, position)
                stop = length if closing is None else closing.start()
                if not (tree.rewrite and name in _DROPPED_WITH_TEXT):
                    tree.text(html[position:stop])
                position = stop
        if not tree.rewrite and (
            tree.deepest > tree.max_depth
            or tree.reopened > budget
            or len(tree.active) > MAX_ACTIVE_FORMATTING
            or (tree.foreign and tree.tags > tree.max_depth)
        ):
            raise _TooMuch


@dataclass(frozen=True, slots=True)
class Shape:
    """What bounding did to a body's HTML: the HTML to sanitize, and why it was rewritten (None: unchanged)."""

    html: str
    reason: str | None = None


def bound_html(html: str, max_depth: int) -> Shape:
    """Return HTML whose nesting and re-opened formatting are bounded; unchanged when already within the limits.

    The work is linear in the length of `html`, and so is the sanitizer's on the result.
    """
    if html.count("<") <= min(max_depth // 2, 256):
        # Few tags cannot nest deep: at most one level each, and one for each formatting one re-opened.
        return Shape(html)
    # Every re-opened element adds at least `<b></b>`: a budget of one per 8 characters keeps
    # the growth under the body's size. A stray <b> in a real article re-opens once a paragraph.
    budget = len(html) // 8 + 256
    measure = _Tree(max_depth)
    try:
        _walk(html, measure, budget)
    except _TooMuch:
        pass
    else:
        return Shape(html)
    rewrite = _Tree(max_depth, rewrite=True)
    _walk(html, rewrite, budget)
    if measure.reopened <= budget and len(measure.active) <= MAX_ACTIVE_FORMATTING:
        reason = (
            f"body: HTML nests more than {max_depth} elements deep, flattened beyond that "
            f"(expected at most {max_depth} levels)"
        )
    else:
        reason = (
            "body: unclosed formatting tags would be repeated in every paragraph after them, "
            "closed where their paragraph ends (expected each <b>, <i>, <font>… closed)"
        )
    return Shape(rewrite.finish(), reason)
