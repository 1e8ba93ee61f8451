"""Render Hexo's tag plugins in a Markdown body, and remove the template syntax nothing else would render.

Hexo runs every post through its template engine (Nunjucks): `{% img … %}`, `{{ … }}` and
`{# … #}` never reach its readers as text, and they must not reach feedsvc's either. One
forward scan finds them outside code (fenced code, inline code, HTML comments and
`{% raw %}` are copied as they are). A tag that gives HTML becomes a placeholder, an HTML
comment that Markdown passes through untouched, which `restore` replaces in the rendered
HTML; a tag that gives a URL (`asset_path`, `post_path`) is written in place, so that it
works inside a Markdown link or an HTML attribute. Embeds (iframe, YouTube, Vimeo,
JSFiddle, gist) become links: no feed carries frames or scripts. Other tags lose their
markers and keep their text, with a warning naming them.

Pure and standard library only; every search moves forward, so the work is linear in the
body, whatever it holds.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin, urlsplit

from feedsvc.hexo.plugins import (
    FILE_LIKE,
    URL_SAFE,
    asset_url,
    blockquote_footer,
    code_block,
    embed_link,
    escape_attribute,
    escape_text,
    image_tag,
    link_tag,
    split_arguments,
    titled_link,
)

# Placeholders hold a noncharacter that no body holds (bodies are cleaned of it first);
# Markdown escapes them inside code, where `restore` puts back the tag as it was written.
_MARK = "\ufffe"
# Invisible, and neither Markdown punctuation nor a backtick: keeps a marker's neighbours apart.
_SEPARATOR = "\u200b"
# Pairs of characters that removing a marker between them must not join: the end of a
# marker (a `{{` or `{#` left as text would close), a longer backtick run, an escaped backtick.
_JOINING = frozenset({"%}", "#}", "}}", "``", "\\`"})
# Two forms: an element, which Markdown keeps inline (a line it starts stays a paragraph),
# and a comment, a block of its own that may end a paragraph (a blockquote's edges).
_PLACEHOLDER = re.compile(
    f'(?:<|&lt;)(?:x-hexo n=(?:"|&quot;){_MARK}([0-9]+)(?:"|&quot;)|!--{_MARK}([0-9]+)--)(?:>|&gt;)'
)

# Where something starts that the scan must look at: a code fence at the start of a line,
# a run of `{`, a run of backticks, an escaped backtick or backslash, an HTML comment.
_START = re.compile(r"(?P<fence>^[ \t>]*+(?:`{3,}+|~{3,}+))|\{++|`++|\\[\\`]|<!--", re.MULTILINE)
_BACKTICKS = re.compile(r"`++")
# Code spans are read on one line: Markdown lets one go on in its paragraph, but the next
# line may start a quote, list item or indented code, and what the scan takes for code
# must be code. (Code it leaves is still safe: a tag there is put back as it was written.)
_PARAGRAPH_END = re.compile(r"\n")
_BLANK_LINE = re.compile(r"\n[ \t]*+\n")
_NAME = re.compile(r"\s*+([A-Za-z_][A-Za-z0-9_-]*+)")
MAX_MARKER_CHARS = 2_000  # a longer `{% … %}` is removed, not read: no real tag is that long
MAX_NAMES_SHOWN = 10

# Block tags whose content is code or raw HTML, and the end tag that closes each.
_END_OF = {
    name: re.compile(rf"\{{%-?\s*end{name}\s*-?%\}}")
    for name in ("raw", "verbatim", "code", "codeblock", "blockquote", "quote", "pullquote")
}
_QUOTES = frozenset({"blockquote", "quote", "pullquote"})
_EMBEDS = frozenset({"iframe", "youtube", "vimeo", "jsfiddle", "gist"})
_INLINE = frozenset(
    {"img", "image", "asset_img", "asset_image", "asset_link", "asset_path", "link", "a", "anchor"}
    | {"post_link", "post_path", "url_for", "full_url_for"}
    | _EMBEDS
)
KNOWN_TAGS = frozenset({"raw", "verbatim", "code", "codeblock"} | _QUOTES | _INLINE)

FindPost = Callable[[str], "tuple[str, str] | None"]


@dataclass(frozen=True, slots=True)
class Tagged:
    """A body with its tags rendered: Markdown with placeholders, the HTML of each, and what was removed."""

    text: str
    snippets: tuple[tuple[str, str], ...] = ()  # per placeholder: its HTML, and the tag as written
    warnings: tuple[str, ...] = ()


def restore(rendered: str, tagged: Tagged) -> str:
    """Put each tag's HTML in place of its placeholder in rendered HTML (in code: the tag as written)."""
    if not tagged.snippets:
        return rendered
    snippets = tagged.snippets

    def replace(match: re.Match[str]) -> str:
        number = int(match[1] or match[2])
        if number >= len(snippets):
            return ""
        snippet, written = snippets[number]
        return snippet if match[0][0] == "<" else html.escape(written, quote=False)

    return _PLACEHOLDER.sub(replace, rendered)


def has_template_syntax(body: str) -> bool:
    """Tell quickly whether a body may hold anything `render_tags` changes."""
    # Most bodies hold no brace at all: one scan for it (as fast as memchr) spares the three for the markers.
    return "{" in body and ("{%" in body or "{{" in body or "{#" in body)


class _Forward:
    """Searches one pattern in one text from positions that only grow, each part of the text read once."""

    def __init__(self, text: str, pattern: re.Pattern[str]) -> None:
        self.text = text
        self.pattern = pattern
        self.start = -1
        self.found: re.Match[str] | None = None
        self.none = False

    def search(self, position: int) -> re.Match[str] | None:
        if self.start <= position and (self.none or (self.found is not None and position <= self.found.start())):
            return self.found
        self.start = position
        self.found = self.pattern.search(self.text, position)
        self.none = self.found is None
        return self.found


@dataclass
class _Scan:
    """One pass over a body: the text it writes, the HTML of each placeholder, and what it noticed."""

    text: str
    page: str
    root: str
    find_post: FindPost | None
    budget: int
    out: list[str] = field(default_factory=list)
    snippets: list[tuple[str, str]] = field(default_factory=list)
    unknown: dict[str, None] = field(default_factory=dict)
    expressions: int = 0
    unclosed_markers: int = 0
    unclosed_blocks: dict[str, None] = field(default_factory=dict)
    stray_ends: dict[str, None] = field(default_factory=dict)
    over_budget: bool = False
    too_long: int = 0
    spent: int = 0
    open_quotes: list[tuple[str, str]] = field(default_factory=list)  # (name, the HTML that closes it)
    finders: dict[str, _Forward] = field(default_factory=dict)
    paragraph_end: int = -1
    # Up to where no backtick run is taken for code: one earlier in the paragraph was left open on its
    # line, and Markdown may close its span on a later line, where this scan would see code begin.
    unpaired_until: int = -1
    runs: dict[int, list[int]] = field(default_factory=dict)
    run_next: dict[int, int] = field(default_factory=dict)

    def finder(self, key: str, pattern: re.Pattern[str] | None = None) -> _Forward:
        found = self.finders.get(key)
        if found is None:
            found = self.finders[key] = _Forward(self.text, pattern or re.compile(re.escape(key)))
        return found

    def snippet(self, markup: str, written: str, *, block: bool = False) -> str:
        """Return the placeholder of a piece of HTML (nothing once the tags' HTML is over its budget)."""
        if self.spent + len(markup) > self.budget:
            self.over_budget = True
            markup = ""
        self.spent += len(markup)
        self.snippets.append((markup, written))
        number = len(self.snippets) - 1
        return f"<!--{_MARK}{number}-->" if block else f'<x-hexo n="{_MARK}{number}">'

    def run(self) -> None:
        text, position = self.text, 0
        while True:
            match = _START.search(text, position)
            if match is None:
                self.out.append(text[position:])
                break
            start = match.start()
            if start > position:
                self.out.append(text[position:start])
            token = match[0]
            if match["fence"] is not None:
                position = self.fence(match)
            elif token[0] == "{":
                before = len(self.out)
                position = self.brace(start, len(token))
                joined = self.out[-1][-1:] + text[position : position + 1] if self.out else ""
                if len(self.out) == before and joined in _JOINING:
                    # A marker removed must not let its neighbours form another one (`{#{%x%}#}`).
                    self.out.append(_SEPARATOR)
            elif token[0] == "`":
                position = self.code_span(start, len(token))
            elif token[0] == "\\":
                self.out.append(token)
                position = match.end()
            else:  # an HTML comment: copied whole (`<!-- more -->` among them)
                end = self.finder("-->").search(start + 4)
                position = start + 4 if end is None else end.end()
                self.out.append(text[start:position])
        while self.open_quotes:
            name, closing = self.open_quotes.pop()
            self.unclosed_blocks[name] = None
            self.out.append("\n" + self.snippet(closing, "", block=True))

    def fence(self, match: re.Match[str]) -> int:
        """Copy a fenced code block whole; return where the scan goes on."""
        text, start = self.text, match.start()
        run = match[0].lstrip(" \t>")
        line_end = text.find("\n", match.end())
        line_end = len(text) if line_end < 0 else line_end
        if run[0] == "`" and "`" in text[match.end() : line_end]:
            # Not a fence (its info string holds a backtick): the backticks open a code span, perhaps.
            ticks = match.end() - len(run)
            self.out.append(text[start:ticks])
            return self.code_span(ticks, len(run))
        prefix = match[0][: -len(run)]
        # The code also ends where its container does (fenced code has no lazy lines): at a line
        # without `>` in a quote, at a line indented less than the fence (perhaps a list item's).
        if ">" in prefix:
            leaves = r"(?![ \t]*+>)"
        elif prefix:
            leaves = rf"(?![ \t]{{{len(prefix)}}})(?=[ \t]*+[^ \t\n])"
        else:
            leaves = r"(?!)"
        closing = self.finder(
            f"fence{run[0]}{len(run)}{leaves}",
            re.compile(rf"^(?:[ \t>]*+{re.escape(run[0])}{{{len(run)},}}+[ \t]*+$|(?P<leaves>{leaves}))", re.M),
        ).search(line_end)
        end = len(text)
        if closing is not None:
            end = closing.start() if closing["leaves"] is not None else closing.end()
        self.out.append(text[start:end])
        return end

    def code_span(self, start: int, length: int) -> int:
        """Copy a code span whole, or its opening backticks when none closes it on its line.

        After backticks left open, the rest of their paragraph holds no code for this scan:
        Markdown may close them on a later line, and what the scan takes for code must be
        code. (What it takes for text may be code: a tag there is put back as written.)
        """
        text = self.text
        if start < self.unpaired_until:
            self.out.append(text[start : start + length])
            return start + length
        if start >= self.paragraph_end:
            paragraph = _PARAGRAPH_END.search(text, start)
            self.paragraph_end = len(text) if paragraph is None else paragraph.start()
            self.runs, self.run_next = {}, {}
            for run in _BACKTICKS.finditer(text, start, self.paragraph_end):
                self.runs.setdefault(len(run[0]), []).append(run.start())
        runs = self.runs.get(length, [])
        index = self.run_next.get(length, 0)
        while index < len(runs) and runs[index] <= start:
            index += 1
        self.run_next[length] = index
        if index == len(runs):
            blank = self.finder("blank", _BLANK_LINE).search(start)
            self.unpaired_until = len(text) if blank is None else blank.start()
            self.out.append(text[start : start + length])
            return start + length
        end = runs[index] + length
        self.out.append(text[start:end])
        return end

    def brace(self, start: int, run: int) -> int:
        """Handle a run of `{` (which, before `%` or `#`, belongs to the marker it opens); return where to go on."""
        text = self.text
        after = start + run
        kind = text[after : after + 1]
        if self.out and self.out[-1][-1:] in ("`", "\\") and kind in ("%", "#", "{"):
            # What replaces a marker must not join what comes before it: a backtick run
            # longer than written, or a backslash escaping a placeholder's `<`.
            self.out.append(_SEPARATOR)
        if kind == "%":
            return self.tag(start, after + 1)
        if kind == "#":
            end = self.closing("#}", after + 1)
            if end is not None:
                return end + 2
        if run >= 2:
            end = self.closing("}}", after)
            if end is not None:
                self.expressions += 1
                return end + 2
        if kind == "#" or run >= 2:  # never closed: not template syntax, it stays text
            inner = after + 1 if kind == "#" else after
            self.out.append(text[start:inner])
            return inner
        self.out.append("{")
        return after

    def closing(self, closer: str, position: int) -> int | None:
        """Return where a marker's closer is, if it comes before the paragraph ends."""
        found = self.finder(closer).search(position)
        if found is None:
            return None
        blank = self.finder("blank", _BLANK_LINE).search(position)
        if blank is not None and blank.start() < found.start():
            return None
        return found.start()

    def tag(self, start: int, inner: int) -> int:
        """Render or remove one `{% … %}` marker; return where the scan goes on."""
        text = self.text
        close = self.closing("%}", inner)
        if close is None:
            self.unclosed_markers += 1
            return inner
        end = close + 2
        if close - inner > MAX_MARKER_CHARS:
            self.too_long += 1
            return end
        body = text[inner:close].strip()
        body = body.removeprefix("-").removesuffix("-")
        name_match = _NAME.match(body)
        if name_match is None:
            self.unknown["?"] = None
            return end
        name = name_match[1]
        arguments = split_arguments(body[name_match.end() :])
        written = text[start:end]
        if name in ("raw", "verbatim", "code", "codeblock"):
            return self.block(name, arguments, written, end)
        if name in _QUOTES:
            self.open_quote(name, arguments, written, end)
            return end
        if name.startswith("end") and name[3:] in _QUOTES:
            self.close_quote(name[3:], written, end)
            return end
        if name in _INLINE:
            self.inline(name, arguments, written)
            return end
        if name.startswith("end") and name[3:] in KNOWN_TAGS:
            self.stray_ends[name] = None
            return end
        self.unknown[name[3:] if name.startswith("end") and len(name) > 3 else name] = None
        return end

    def block(self, name: str, arguments: list[str], written: str, end: int) -> int:
        """Render a block whose content is not scanned (raw HTML or code); return where it ends."""
        closing = self.finder(f"end{name}", _END_OF[name]).search(end)
        if closing is None:
            self.unclosed_blocks[name] = None
            content, after = self.text[end:], len(self.text)
        else:
            content, after = self.text[end : closing.start()], closing.end()
        markup = content if name in ("raw", "verbatim") else code_block(arguments, content)
        self.out.append(self.snippet(markup, self.text[end - len(written) : after]))
        return after

    def open_quote(self, name: str, arguments: list[str], written: str, end: int) -> None:
        if name == "pullquote":
            opening, closing = "<blockquote>", "</blockquote>"
        else:
            opening, closing = "<blockquote>", blockquote_footer(arguments) + "</blockquote>"
        self.open_quotes.append((name, closing))
        self.out.append(self.snippet(opening, written, block=True))
        if self.text[end : end + 1] not in ("\n", ""):
            self.out.append("\n")  # the content starts a block of its own, as in Hexo

    def close_quote(self, name: str, written: str, end: int) -> None:
        if not any(open_name == name for open_name, _ in self.open_quotes):
            self.stray_ends["end" + name] = None
            return
        closings = []
        while True:
            open_name, closing = self.open_quotes.pop()
            closings.append(closing)
            if open_name == name:
                break
            self.unclosed_blocks[open_name] = None
        if self.out and not self.out[-1].endswith("\n"):
            self.out.append("\n")
        self.out.append(self.snippet("".join(closings), written, block=True))
        if self.text[end : end + 1] not in ("\n", ""):
            self.out.append("\n")  # what follows is not part of the placeholder's block

    def inline(self, name: str, arguments: list[str], written: str) -> None:
        if name == "asset_path":
            self.out.append(asset_url(self.page, arguments[0]) if arguments else "")
        elif name == "post_path":
            found = self.find_post(arguments[0]) if arguments and self.find_post else None
            self.out.append(quote(found[0], safe=URL_SAFE) if found else "")
        else:
            self.out.append(self.snippet(self.markup(name, arguments), written))

    def markup(self, name: str, arguments: list[str]) -> str:
        """Return the HTML of an inline tag."""
        if name in ("img", "image"):
            return image_tag(arguments, self.url_for)
        if name in ("asset_img", "asset_image"):
            if not arguments:
                return ""
            at = next((i for i, item in enumerate(arguments) if FILE_LIKE.search(item)), 0)
            arguments[at] = asset_url(self.page, arguments[at])
            return image_tag(arguments, self.url_for, src_at=at)
        if name == "asset_link":
            if not arguments:
                return ""
            slug = arguments.pop(0)
            return titled_link(asset_url(self.page, slug), arguments, slug, slug)
        if name in ("link", "a", "anchor"):
            return link_tag(arguments)
        if name == "post_link":
            return self.post_link(arguments)
        if name in ("url_for", "full_url_for"):
            if len(arguments) < 2:
                return escape_text(" ".join(arguments))
            return f'<a href="{escape_attribute(self.url_for(arguments[1]))}">{escape_text(arguments[0])}</a>'
        return embed_link(name, arguments)

    def post_link(self, arguments: list[str]) -> str:
        if not arguments:
            return ""
        slug, _, fragment = arguments.pop(0).partition("#")
        found = self.find_post(slug) if self.find_post else None
        if found is None:
            # Another post's URL is not known here: its title (or slug) is shown as text.
            escape = arguments.pop() if arguments and arguments[-1] in ("true", "false") else "true"
            given = " ".join(arguments)
            return escape_text(given or slug) if escape == "true" else given or escape_text(slug)
        url, title = found
        return titled_link(url + (f"#{fragment}" if fragment else ""), arguments, title or slug, title or slug)

    def url_for(self, path: str) -> str:
        """Resolve a path as Hexo's url_for does: `/x` under the site's root, `x` beside the article."""
        path = quote(path.strip(), safe=URL_SAFE)
        if urlsplit(path).scheme or path.startswith("//"):
            return path
        if path.startswith("/"):
            return self.root + path.lstrip("/")
        return urljoin(self.page, path)

    def warnings(self) -> tuple[str, ...]:
        found: list[str] = []
        if self.unknown:
            names = list(self.unknown)
            shown = ", ".join(f"{{% {name} %}}" for name in names[:MAX_NAMES_SHOWN])
            if len(names) > MAX_NAMES_SHOWN:
                shown += f" and {len(names) - MAX_NAMES_SHOWN} more"
            found.append(
                f"body: {shown}: not a tag feedsvc renders, its markers removed and its text kept "
                "(expected one of Hexo's built-in tag plugins)"
            )
        if self.expressions:
            found.append(
                f"body: {_count(self.expressions, 'template expression')} {{{{ … }}}} removed "
                "(expected text: only Hexo's template engine could fill it in)"
            )
        if self.unclosed_markers:
            found.append(f"body: {_count(self.unclosed_markers, 'tag')} '{{%' never closed, removed (expected '%}}')")
        for name in self.unclosed_blocks:
            found.append(f"body: {{% {name} %}} not closed, closed at the end (expected {{% end{name} %}})")
        for name in self.stray_ends:
            found.append(f"body: {{% {name} %}} closes no open tag, removed (expected it after {{% {name[3:]} %}})")
        if self.too_long:
            found.append(
                f"body: {_count(self.too_long, 'tag')} over {MAX_MARKER_CHARS:,} characters removed "
                f"(expected at most {MAX_MARKER_CHARS:,})"
            )
        if self.over_budget:
            found.append(f"body: tags past {self.budget:,} characters of HTML left out (expected fewer tags)")
        return tuple(found)


def render_tags(
    body: str, *, page: str, root: str, find_post: FindPost | None = None, budget: int = 10_000_000
) -> Tagged:
    """Render the Hexo tags of a Markdown body outside code; remove other template syntax.

    `page` is the article's own URL (assets live under it), `root` the site's (where `/x`
    resolves), `find_post` gives another post's URL and title from its slug or title,
    when known. At most `budget` characters of HTML are made from tags.
    """
    body = body.replace(_MARK, "")
    if not has_template_syntax(body):
        return Tagged(body)
    scan = _Scan(body, page=page, root=root, find_post=find_post, budget=budget)
    scan.run()
    return Tagged("".join(scan.out), tuple(scan.snippets), scan.warnings())


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
