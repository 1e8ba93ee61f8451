"""Serve the current snapshot over HTTP: feeds, index, OPML, health and metrics.

The only module that imports Flask. It never parses content and never touches
the disk: every answer comes from the snapshot in the store.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date, parse_date

from feedsvc.metrics import CONTENT_TYPE as METRICS_TYPE
from feedsvc.metrics import Metrics
from feedsvc.model import INDEX_PATH, OPML_PATH, Document, Format, Snapshot, feed_path
from feedsvc.store import Store

log = logging.getLogger("feedsvc.web")

MAX_PROBLEMS = 100
BROWSER_XML_TYPE = "application/xml; charset=utf-8"
_FORMATS = {fmt.value: fmt for fmt in Format}


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(text + "\n", status=status, mimetype="text/plain")
    response.headers.update(headers or {})
    return response


def _accepts_gzip() -> bool:
    return request.accept_encodings.quality("gzip") > 0


def _prefers_html(media_type: str) -> bool:
    """Tell a browser from a feed reader: it ranks text/html above the feed's own type."""
    accept = request.accept_mimetypes
    return accept.quality("text/html") > accept.quality(media_type.split(";", maxsplit=1)[0])


def _not_modified(document: Document) -> bool:
    """Apply If-None-Match (either ETag, weak comparison, or *), else If-Modified-Since."""
    if "If-None-Match" in request.headers:
        tags = request.if_none_match
        return tags.star_tag or tags.contains_weak(document.etag[1:-1]) or tags.contains_weak(document.gzip_etag[1:-1])
    since = parse_date(request.headers.get("If-Modified-Since"))
    last_modified = document.last_modified
    return since is not None and last_modified is not None and last_modified.replace(microsecond=0) <= since


def serve_document(document: Document, *, max_age: int, vary: str, media_type: str | None = None) -> Response:
    """Answer with a built document: 200 with gzip when accepted, or 304, with validators."""
    gzip = _accepts_gzip()
    headers = {
        "ETag": document.gzip_etag if gzip else document.etag,
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": vary,
    }
    if document.last_modified is not None:
        headers["Last-Modified"] = http_date(document.last_modified)
    if _not_modified(document):
        return Response(status=304, headers=headers)
    response = Response(document.gzip_body if gzip else document.body, status=200, headers=headers)
    response.headers["Content-Type"] = media_type or document.media_type
    if gzip:
        response.headers["Content-Encoding"] = "gzip"
    return response


def health(snapshot: Snapshot) -> dict[str, Any]:
    """Return what `/healthz` reports about a snapshot."""
    scan = snapshot.last_scan
    degraded = snapshot.degraded or (None if scan is not None else "no refresh has finished yet")
    report: dict[str, Any] = {
        "status": "degraded" if degraded else "ok",
        "articles": snapshot.articles,
        "feeds": snapshot.feeds,
        "errors": sum(1 for p in snapshot.problems if not p.source.endswith("/")),
        "problems": [{"path": p.source, "message": str(p)} for p in snapshot.problems[:MAX_PROBLEMS]],
        "last_scan": None,
    }
    if degraded:
        report["reason"] = degraded
    if scan is not None:
        report["last_scan"] = {
            "started": scan.started.isoformat(),
            "duration_s": scan.duration_s,
            "files_seen": scan.files_seen,
            "files_parsed": scan.files_parsed,
            "files_failed": scan.files_failed,
            "feeds_rebuilt": scan.feeds_rebuilt,
        }
    return report


def create_app(store: Store) -> Flask:
    """Build the web app over a store; it starts no threads and touches no disk."""
    app = Flask("feedsvc", static_folder=None)
    # `/feeds//all.rss` is not a feed URL: answer 404, not a redirect to a guessed one.
    app.url_map.merge_slashes = False
    metrics = Metrics(lambda: store.snapshot, time.time)

    @app.get("/")
    @app.get("/index.html")
    def index() -> Response:
        snapshot = store.snapshot
        document = snapshot.documents.get(INDEX_PATH)
        if document is None:
            return _plain("feeds are not built yet", 503, {"Retry-After": "5"})
        request.environ["feedsvc.route"] = ("index", "html")
        return serve_document(document, max_age=snapshot.max_age, vary="Accept-Encoding")

    @app.get("/feeds.opml")
    def opml() -> Response:
        snapshot = store.snapshot
        document = snapshot.documents.get(OPML_PATH)
        if document is None:
            return _plain("feeds are not built yet", 503, {"Retry-After": "5"})
        request.environ["feedsvc.route"] = ("opml", "opml")
        return serve_document(document, max_age=snapshot.max_age, vary="Accept-Encoding")

    @app.get("/feeds/<path:name>")
    def feed(name: str) -> Response:
        snapshot = store.snapshot
        stem, dot, extension = name.rpartition(".")
        fmt = _FORMATS.get(extension.lower()) if dot else None
        if fmt is None:
            return _plain("not found", 404)
        request.environ["feedsvc.route"] = ("feed", fmt.value)
        document = snapshot.documents.get(feed_path(stem, fmt))
        if document is not None:
            browser = fmt is not Format.JSON and _prefers_html(fmt.media_type)
            return serve_document(
                document,
                max_age=snapshot.max_age,
                vary="Accept, Accept-Encoding",
                media_type=BROWSER_XML_TYPE if browser else None,
            )
        slug = snapshot.redirects.get(stem)
        if slug is not None:
            request.environ["feedsvc.route"] = ("redirect", fmt.value)
            response = _plain(f"moved to /{feed_path(slug, fmt)}", 301, {"Location": f"/{feed_path(slug, fmt)}"})
            response.headers["Cache-Control"] = f"public, max-age={snapshot.max_age}"
            return response
        return _plain("not found", 404)

    @app.get("/healthz")
    def healthz() -> Response:
        request.environ["feedsvc.route"] = ("healthz", "json")
        body = json.dumps(health(store.snapshot), ensure_ascii=False, indent=2) + "\n"
        return Response(body, mimetype="application/json", headers={"Cache-Control": "no-store"})

    @app.get("/metrics")
    def prometheus() -> Response:
        request.environ["feedsvc.route"] = ("metrics", "text")
        return Response(metrics.exposition(), headers={"Content-Type": METRICS_TYPE, "Cache-Control": "no-store"})

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
        return _plain((error.name or "error").lower(), error.code or 500, headers)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:  # pragma: no cover - a bug; logged with its traceback
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return _plain("internal error", 500)

    @app.after_request
    def count(response: Response) -> Response:
        route, fmt = request.environ.get("feedsvc.route", ("other", ""))
        size = 0 if request.method == "HEAD" else (response.content_length or 0)
        metrics.observe(route, fmt, response.status_code, size)
        return response

    return app
