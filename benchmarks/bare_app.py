"""The least a WSGI app can do to serve a cached feed: what granian itself allows, with no feedsvc in it.

benchmarks/scale.py runs it under granian, configured as `feedsvc serve` runs it, on the
same feed bytes as feedsvc and nginx: the request rate it reaches is the ceiling of any
app that granian serves. It answers every request for any path with the feed: 304 when
If-None-Match is either ETag as sent, else 200, gzip when Accept-Encoding names it,
with the headers feedsvc sends. FEED_BODY and FEED_GZIP name the files holding the
two forms, FEED_ETAG the ETag of the plain one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_BODY = Path(os.environ["FEED_BODY"]).read_bytes()
_GZIP = Path(os.environ["FEED_GZIP"]).read_bytes()
_ETAG = os.environ["FEED_ETAG"]
_GZIP_ETAG = _ETAG[:-1] + '-gz"'
_COMMON = [("Cache-Control", "public, max-age=60"), ("Vary", "Accept, Accept-Encoding")]
_PLAIN = [("ETag", _ETAG), *_COMMON]
_GZIPPED = [("ETag", _GZIP_ETAG), *_COMMON]
_TYPE = ("Content-Type", "application/rss+xml; charset=utf-8")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer with the feed: 304, 200 gzip or 200."""
    gzip = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
    headers = _GZIPPED if gzip else _PLAIN
    if environ.get("HTTP_IF_NONE_MATCH") in (_ETAG, _GZIP_ETAG):
        start_response("304 Not Modified", list(headers))
        return [b""]
    body = _GZIP if gzip else _BODY
    extra = [_TYPE, ("Content-Length", str(len(body)))]
    start_response("200 OK", [*headers, *extra, ("Content-Encoding", "gzip")] if gzip else [*headers, *extra])
    return [body]
