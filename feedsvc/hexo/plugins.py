"""The HTML each of Hexo's tag plugins gives, from its arguments, as hexo/lib/plugins/tag reads them.

Embeds give links (feeds carry no frames or scripts); code is not highlighted. Pure and
standard library only; every pattern here runs on one tag's arguments, bounded in length.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Callable
from urllib.parse import quote, urlsplit, urlunsplit

_ARGUMENT = re.compile(r"""(?:"[^"]*+"|'[^']*+'|[^\s"']++|["'])++""")
_QUOTED = re.compile(r""""([^"]*+)"|'([^']*+)'""")
# What Hexo's img and link tags take for a URL (hexo/lib/plugins/tag/img.ts, the host part).
_URL_LIKE = re.compile(
    r"[A-Za-z]{3,9}:(?://)?(?:[-;:&=+$,\w]+@)?[A-Za-z0-9.-]+|(?:www.|[-;:&=+$,\w]+@)[A-Za-z0-9.-]+", re.ASCII
)
FILE_LIKE = re.compile(r"\.[A-Za-z0-9]{1,8}$")
_DIGITS = re.compile(r"[0-9]*")
_META_DOUBLE = r'"?([^"]+)?"?'
_META_SINGLE = r"'?([^']+)?'?"
_HTTP = re.compile(r"https?://\S", re.IGNORECASE)
# Template syntax that must not form again from what a tag writes as text.
_BRACES = re.compile(r"\{+(?=[%#]|\Z)|\{\{+")
_PAGE_EXTENSION = re.compile(r"\.html?$")
URL_SAFE = "/:@!$&*+,;=%~?#[]-._"

MAX_URL_TEST_CHARS = 500  # longer arguments are never taken for URLs (the URL test is quadratic)


def asset_url(page: str, name: str) -> str:
    """Return the URL of a post's asset as Hexo's post_asset_folder lays it out: under the post's own URL."""
    parts = urlsplit(page)
    path = _PAGE_EXTENSION.sub("", parts.path)
    if not path.endswith("/"):
        path += "/"
    folder = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return folder + quote(name.strip().lstrip("/"), safe=URL_SAFE)


def split_arguments(text: str) -> list[str]:
    """Split a tag's arguments as Hexo does: at white space, a quoted part being one (its quotes dropped)."""
    return [_QUOTED.sub(lambda m: m[1] if m[1] is not None else m[2], item) for item in _ARGUMENT.findall(text)]


def escape_text(text: str) -> str:
    """Escape text for HTML, keeping no template syntax that could form with what follows it."""
    return html.escape(_BRACES.sub("", text), quote=False)


def escape_attribute(text: str) -> str:
    return html.escape(text, quote=True)


def _is_url(item: str) -> bool:
    return len(item) <= MAX_URL_TEST_CHARS and _URL_LIKE.search(item) is not None


def image_tag(arguments: list[str], url_for: Callable[[str], str], src_at: int | None = None) -> str:
    """Return Hexo's img tag: `[class names] /path/to/image [width] [height] [title text [alt text]]`."""
    at = src_at
    if at is None:
        at = next((i for i, item in enumerate(arguments) if _is_url(item) or item.startswith("/")), None)
    if at is None:  # Hexo would give no src; a file name is what the writer meant
        at = next((i for i, item in enumerate(arguments) if FILE_LIKE.search(item)), None)
        if at is None:
            return ""
    src = arguments[at] if src_at is not None else url_for(arguments[at])
    rest = arguments[at + 1 :]
    attributes = [f'src="{escape_attribute(src)}"']
    for dimension in ("width", "height"):
        if rest and _DIGITS.fullmatch(rest[0]):
            attributes.append(f'{dimension}="{escape_attribute(rest.pop(0))}"')
        else:
            break
    title = alt = None
    meta = " ".join(rest)
    if meta:
        first = _META_DOUBLE if meta.startswith('"') else _META_SINGLE
        last = _META_DOUBLE if meta.endswith('"') else _META_SINGLE
        match = re.search(rf"{first}\s*{last}", meta)
        if match is not None:
            title, alt = match[1], match[2]
    if title:
        attributes.append(f'title="{escape_attribute(title)}"')
    if alt or title:
        attributes.append(f'alt="{escape_attribute(alt or title or "")}"')
    return f"<img {' '.join(attributes)}>"


def link_tag(arguments: list[str]) -> str:
    """Return Hexo's link tag: `text url [external] [title]`."""
    at = next((i for i, item in enumerate(arguments) if _is_url(item)), None)
    if at is None:
        return escape_text(" ".join(arguments))
    rest = arguments[at + 1 :]
    if rest and rest[0] in ("true", "false"):
        rest.pop(0)
    title = " ".join(rest)
    title_attribute = f' title="{escape_attribute(title)}"' if title else ""
    text = " ".join(arguments[:at]) or arguments[at]
    return f'<a href="{escape_attribute(arguments[at])}"{title_attribute}>{escape_text(text)}</a>'


def titled_link(url: str, arguments: list[str], default: str, tooltip: str) -> str:
    """Return an asset_link or post_link: `[title] [escape]`, the title defaulting to `default`."""
    escape = arguments.pop() if arguments and arguments[-1] in ("true", "false") else "true"
    title = " ".join(arguments) or default
    shown = escape_text(title) if escape == "true" else title
    return f'<a href="{escape_attribute(url)}" title="{escape_attribute(tooltip)}">{shown}</a>'


def embed_link(name: str, arguments: list[str]) -> str:
    """Return an embed as a link to what it shows: feeds carry no frames or scripts."""
    if not arguments:
        return ""
    first = arguments[0]
    ident = quote(first, safe="-_.~/")
    if name == "youtube":
        kind = arguments[1] if len(arguments) > 1 else "video"
        url = (
            f"https://www.youtube.com/playlist?list={ident}"
            if kind == "playlist"
            else f"https://www.youtube.com/watch?v={ident}"
        )
    elif name == "vimeo":
        url = f"https://vimeo.com/{ident}"
    elif name == "jsfiddle":
        url = f"https://jsfiddle.net/{ident}/"
    elif name == "gist":
        url = f"https://gist.github.com/{ident}"
    else:  # iframe
        url = first
    shown = url if name != "gist" or len(arguments) < 2 else f"{url} ({arguments[1]})"
    return f'<a href="{escape_attribute(url)}">{escape_text(shown)}</a>'


def blockquote_footer(arguments: list[str]) -> str:
    """Return the footer of Hexo's blockquote: `[author[, source]] [link] [source_link_title]`."""
    if not arguments:
        return ""
    author = source = title = ""
    urls = [i for i, item in enumerate(arguments) if i > 0 and _HTTP.match(item)]
    with_title = [i for i in urls if i < len(arguments) - 1]
    if with_title:
        at = with_title[-1]
        author, source, title = " ".join(arguments[:at]), arguments[at], " ".join(arguments[at + 1 :])
    elif urls:
        at = urls[-1]
        author, source = " ".join(arguments[:at]), arguments[at]
    else:
        parts = " ".join(arguments).split(",")
        pair = next((i for i in range(len(parts) - 1) if parts[i] and parts[i + 1].strip()), None)
        if pair is None:
            author = " ".join(arguments)
        else:
            author, title = parts[pair], parts[pair + 1].strip()
    footer = f"<strong>{escape_text(author)}</strong>" if author else ""
    if source:
        shown = title or re.sub(r"^https?://|/(index.html?)?$", "", source)
        footer += f'<cite><a href="{escape_attribute(source)}">{escape_text(shown)}</a></cite>'
    elif title:
        footer += f"<cite>{escape_text(title)}</cite>"
    return f"<footer>{footer}</footer>" if footer else ""


def code_block(arguments: list[str], content: str) -> str:
    """Return Hexo's codeblock: `[title] [lang:language] [url] [link text] [option:value …]`, as plain code."""
    language = ""
    caption_words = []
    for item in arguments:
        key, colon, value = item.partition(":")
        if colon and key == "lang":
            language = value
        elif colon and key in (
            "line_number",
            "line_threshold",
            "first_line",
            "mark",
            "wrap",
            "highlight",
            "language_attr",
        ):
            continue
        else:
            caption_words.append(item)
    code = textwrap.dedent(content)
    code = code.removeprefix("\n").removesuffix("\n")
    language_class = f' class="language-{escape_attribute(language)}"' if language else ""
    block = f"<pre><code{language_class}>{html.escape(code, quote=False)}</code></pre>"
    caption = _caption(caption_words)
    return f"<figure><figcaption>{caption}</figcaption>{block}</figure>" if caption else block


def _caption(words: list[str]) -> str:
    if not words:
        return ""
    urls = [i for i, item in enumerate(words) if i > 0 and _HTTP.match(item)]
    with_title = [i for i in urls if i < len(words) - 1]
    if with_title:
        at = with_title[-1]
        link_text = " ".join(words[at + 1 :])
    elif urls:
        at, link_text = urls[-1], "link"
    else:
        return f"<span>{escape_text(' '.join(words))}</span>"
    link = f'<a href="{escape_attribute(words[at])}">{escape_text(link_text)}</a>'
    return f"<span>{escape_text(' '.join(words[:at]))}</span>{link}"
