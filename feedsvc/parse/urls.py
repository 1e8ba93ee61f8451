"""Resolve the URLs articles give (links, images) into absolute, usable ones. Standard library only."""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin, urlsplit

_UNSAFE_IN_URL = re.compile(r"[\x00-\x1f\x7f<>\"`]")
_WHITESPACE = re.compile(r"\s+")
# An absolute http(s) URL made only of characters a URI allows as they are: nothing to resolve or encode.
# (Square brackets are allowed only around an IPv6 host: such URLs take the longer way.)
_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]+")
# What a URI keeps as it is in each part; everything else is percent-encoded (UTF-8).
_SAFE_IN_PATH = "/:@!$&'()*+,;=%~"
_SAFE_IN_QUERY = _SAFE_IN_PATH + "?"


def absolute_url(value: str, base: str) -> str | None:
    """Resolve a URL against `base`; protocol-relative URLs get https. None when unusable."""
    value = value.strip(" \t\n\r\f")
    if not value or _UNSAFE_IN_URL.search(value):
        return None
    if _PLAIN_ABSOLUTE.fullmatch(value):
        try:
            urlsplit(value)  # raises on a malformed host such as http://[x
        except ValueError:
            return None
        return value
    if value.startswith("//"):
        value = "https:" + value
    try:
        resolved = urljoin(base, value)
        urlsplit(resolved)  # raises on a malformed host such as http://[x
    except ValueError:
        return None
    return _as_uri(resolved)


def _as_uri(url: str) -> str | None:
    """Write a URL as a URI: a non-ASCII host name in IDNA (xn--), other characters percent-encoded.

    Square brackets stay only around an IPv6 host; in a path or query they are encoded.
    None when the host cannot be written in IDNA.

    Our own, as no URL library writes the same URIs (benchmarks/urls.py, 14 cases): yarl,
    the one faster (0.51 to 0.66 s of CPU for 100,000 links, against 0.81 to 0.93 s),
    normalises what an article gives (host case, `..`, default ports, an empty query, a
    space in a query as `+`: 7 cases differ, and one test fails); rfc3986 and hyperlink
    differ on 2 and 5, and take 4 and 10 times as long.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if not netloc.isascii():
        userinfo, at, hostport = netloc.rpartition("@")
        host, colon, port = hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
        if not colon or not port.isdigit():
            host, colon, port = hostport, "", ""
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
        netloc = quote(userinfo, safe="!$&'()*+,;=%:~") + at + ascii_host + colon + port
    path = quote(parts.path, safe=_SAFE_IN_PATH)
    query = quote(parts.query, safe=_SAFE_IN_QUERY)
    fragment = quote(parts.fragment, safe=_SAFE_IN_QUERY)
    return (
        (f"{parts.scheme}:" if parts.scheme else "")
        + (f"//{netloc}" if netloc or url.startswith(f"{parts.scheme}://") else "")
        + path
        + (f"?{query}" if query or "?" in url.partition("#")[0] else "")
        + (f"#{fragment}" if fragment or "#" in url else "")
    )


def web_url(value: str, base: str) -> str | None:
    """Resolve a URL and keep it only if it is an absolute http(s) URL with a host."""
    if _PLAIN_ABSOLUTE.fullmatch(value):
        # Most images and links: absolute_url gives such a URL back as it is (no space to strip, nothing
        # to resolve or encode, no bracket urlsplit could refuse), so only its host is left to check.
        return value if _has_host(value) else None
    if _WHITESPACE.search(value.strip()):
        return None
    url = absolute_url(value, base)
    if url is None:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def _has_host(url: str) -> bool:
    """Tell whether a URL that `_PLAIN_ABSOLUTE` takes has a host, as `urlsplit(url).hostname` finds it."""
    netloc = url[url.index("//") + 2 :]
    for delimiter in "/?#":
        netloc = netloc.partition(delimiter)[0]
    return bool(netloc.rpartition("@")[2].partition(":")[0])
