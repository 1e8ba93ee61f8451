"""Resolve the URLs articles give (links, images) into absolute, usable ones. Standard library only."""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin, urlsplit

_UNSAFE_IN_URL = re.compile(r"[\x00-\x1f\x7f<>\"`]")
_WHITESPACE = re.compile(r"\s+")
# An absolute http(s) URL made only of characters a URI allows as they are: nothing to resolve or encode.
_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


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
    # Non-ASCII characters are percent-encoded so the URL is a URI, not an IRI.
    return quote(resolved, safe=":/?#[]@!$&'()*+,;=%~")


def web_url(value: str, base: str) -> str | None:
    """Resolve a URL and keep it only if it is an absolute http(s) URL with a host."""
    if _WHITESPACE.search(value.strip()):
        return None
    url = absolute_url(value, base)
    if url is None:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.hostname else None
