"""Serve the current snapshot over HTTP: feeds, index, OPML, the feeds' stylesheet, health, metrics and stats.

The only module that imports Flask. It never parses content and opens no file:
every answer comes from the snapshot in the store. Only an archive page is made
when first asked for, by the snapshot's `archives`: `serve` renders it in a
thread of its own, which may read article files; `serve --from` reads its file.
A browser asking for a feed gets the feed's HTML view, made from the feed's bytes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Flask, Response, request
from werkzeug.datastructures import Accept, MIMEAccept
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date, parse_accept_header, parse_date, parse_etags

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication

from feedsvc.config import RESERVED_SLUGS, fold_name
from feedsvc.errors import PageNotReady
from feedsvc.feeds.views import FeedViews
from feedsvc.http.accesslog import Answered, RequestLog
from feedsvc.http.metrics import CONTENT_TYPE as METRICS_TYPE
from feedsvc.http.metrics import Metrics
from feedsvc.model import (
    FORMAT_OF,
    INDEX_PATH,
    OPML_PATH,
    STYLESHEET_PATH,
    Document,
    Format,
    Snapshot,
    cache_control,
)
from feedsvc.model import IMMUTABLE_CACHE_CONTROL as IMMUTABLE_CACHE_CONTROL  # noqa: PLC0414 - tests read it here
from feedsvc.store import Store
from feedsvc.subscribers.recorder import Recorder

log = logging.getLogger("feedsvc.web")

MAX_PROBLEMS = 100
# Feeds answer in two variants, the feed and its HTML view (for browsers), and both in two encodings.
FEED_VARY = "Accept, Accept-Encoding"


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(text + "\n", status=status, mimetype="text/plain")
    response.headers.update(headers or {})
    return response


_NOT_READY_BODY = b"this archive page is being made; ask again shortly\n"


def not_ready_headers(busy: PageNotReady) -> list[tuple[str, str]]:
    """The headers of a 503 for an archive page being made: when to ask again; kept by no cache."""
    return [
        ("Retry-After", str(busy.retry_after)),
        ("Cache-Control", "no-store"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(_NOT_READY_BODY))),
    ]


def _accepts_gzip(value: str) -> bool:
    """Tell from Accept-Encoding whether gzip is acceptable (`q=0` refuses; `*` accepts).

    Clients send a few values over and over: each is decided once (see _GZIP_DECIDED).
    """
    known = _GZIP_DECIDED.get(value)
    if known is None:
        known = _gzip_acceptable(value)
        if len(value) <= _GZIP_DECIDED_LENGTH:
            if len(_GZIP_DECIDED) >= _GZIP_DECIDED_VALUES:
                _GZIP_DECIDED.clear()
            _GZIP_DECIDED[value] = known
    return known


def _gzip_acceptable(value: str) -> bool:
    if not value:
        return False
    lowered = value.lower()
    if "gzip" not in lowered and "*" not in lowered:
        return False
    if ";" not in lowered:  # the common case, e.g. "gzip, deflate, br": no weights to read
        return any(token.strip() in ("gzip", "*") for token in lowered.split(","))
    return parse_accept_header(value, Accept).quality("gzip") > 0


# Accept-Encoding values already decided, and how many (of what length at most) are kept: any
# client may send any value, so the memory stays bounded (it starts again when full).
_GZIP_DECIDED: dict[str, bool] = {}
_GZIP_DECIDED_VALUES = 256
_GZIP_DECIDED_LENGTH = 200


def _prefers_html(value: str, media_type: str) -> bool:
    """Tell a browser from a feed reader: its Accept ranks text/html above the feed's own type."""
    if "html" not in value:
        return False
    accept = parse_accept_header(value, MIMEAccept)
    return accept.quality("text/html") > accept.quality(media_type.split(";", maxsplit=1)[0])


def browser_view(views: FeedViews, key: str, document: Document, environ: Mapping[str, Any]) -> Document | None:
    """Return the HTML view to answer instead of a feed document when the request is a browser's, else None."""
    if not _prefers_html(environ.get("HTTP_ACCEPT", ""), document.media_type):
        return None
    return views.document(key, document)


def _not_modified(environ: Mapping[str, Any], document: Document, etags: tuple[str, str]) -> bool:
    """Apply If-None-Match (either ETag, weak comparison, or *), else If-Modified-Since."""
    match = environ.get("HTTP_IF_NONE_MATCH")
    if match is not None:
        if match in etags:  # what a client sends back, as it was sent
            return True
        tags = parse_etags(match)
        return tags.star_tag or any(tags.contains_weak(etag[1:-1]) for etag in etags)
    since = parse_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
    last_modified = document.last_modified
    return since is not None and last_modified is not None and last_modified.replace(microsecond=0) <= since


@dataclass(frozen=True, slots=True)
class _Answer:
    """A document's answer in one encoding, under one snapshot's settings: worked out once, sent many times."""

    fresh: tuple[tuple[str, str], ...]  # the headers of a 200
    not_modified: tuple[tuple[str, str], ...]  # the headers of a 304
    body: bytes
    etags: tuple[str, str]  # both of the document's ETags, either of which a client may send back


# The answers a document keeps (encodings times settings); more come only from reloads that
# changed max_age, Vary or the hub, and then it starts again.
_ANSWERS_KEPT = 8


def _answer(document: Document, gzip: bool, max_age: int, vary: str, links: str | None) -> _Answer:
    """Return the document's answer for an encoding and the settings, made on first use and kept with it."""
    key = (gzip, max_age, vary, links)
    answer = document.answers.get(key)
    if isinstance(answer, _Answer):
        return answer
    headers = [
        ("ETag", document.gzip_etag if gzip else document.etag),
        ("Cache-Control", cache_control(document, max_age)),
        ("Vary", vary),
    ]
    if document.last_modified is not None:
        headers.append(("Last-Modified", http_date(document.last_modified)))
    if links is not None:
        headers.append(("Link", links))
    body = document.gzip_body if gzip else document.body
    fresh = [*headers, ("Content-Type", document.media_type), ("Content-Length", str(len(body)))]
    if gzip:
        fresh.append(("Content-Encoding", "gzip"))
    answer = _Answer(tuple(fresh), tuple(headers), body, (document.etag, document.gzip_etag))
    if len(document.answers) >= _ANSWERS_KEPT:
        document.answers.clear()
    document.answers[key] = answer  # two threads may both make it: the same answer, either kept
    return answer


def answer_document(
    document: Document,
    environ: Mapping[str, Any],
    *,
    max_age: int,
    vary: str,
    links: str | None = None,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Decide the answer to a GET or HEAD of a built document: 200 (gzip when accepted) or 304, with validators.

    Returns the status, the headers (a list of the caller's own) and the body.
    """
    answer = _answer(document, _accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", "")), max_age, vary, links)
    if _not_modified(environ, document, answer.etags):
        return 304, list(answer.not_modified), b""
    return 200, list(answer.fresh), answer.body


def serve_document(document: Document, *, max_age: int, vary: str, links: str | None = None) -> Response:
    """Answer a Flask request with a built document (see `answer_document`)."""
    status, headers, body = answer_document(document, request.environ, max_age=max_age, vary=vary, links=links)
    return Response(body, status=status, headers=headers)


def find_feed(snapshot: Snapshot, key: str) -> tuple[Document | None, bool]:
    """Return the document of a `feeds/…` path: a current feed, or an archive page (made when first asked for).

    The flag tells an archive page.
    """
    document, archived = _document(snapshot, key)
    if document is None:
        senior = _senior_key(snapshot, key)
        if senior is not None:
            document, archived = _document(snapshot, senior)
    return document, archived


def _document(snapshot: Snapshot, key: str) -> tuple[Document | None, bool]:
    document = snapshot.documents.get(key)
    if document is not None or snapshot.archives is None or "/archive/" not in key:
        return document, False
    return snapshot.archives.document(key), True


# A slug with a category's 6 hex digits appended: what a category gets while an older one holds its slug.
_SUFFIXED = re.compile(r"feeds/(?P<slug>.+)-(?P<digits>[0-9a-f]{6})(?P<rest>(?:/archive/[0-9]+)?\.[a-z]+)")
_digests: list[tuple[Mapping[str, str], dict[str, set[str]]]] = []  # of the latest snapshot's redirects


def _senior_key(snapshot: Snapshot, key: str) -> str | None:
    """Return the key a suffixed feed URL answers from once its category holds the plain slug.

    `news-3c6bdc` was the feed of a category while an older one held `news`; when that one
    is gone the category's feed is `news`, and the URL readers stored keeps answering it.
    """
    match = _SUFFIXED.fullmatch(key)
    if match is None or match["slug"] in RESERVED_SLUGS:
        return None
    slug, digits = match["slug"], match["digits"]
    if f"feeds/{slug}.{Format.RSS.value}" not in snapshot.documents:
        return None
    redirects = snapshot.redirects
    cached = _digests[-1] if _digests else None
    if cached is None or cached[0] is not redirects:
        by_slug: dict[str, set[str]] = {}
        for name, target in redirects.items():
            by_slug.setdefault(target, set()).add(_hash6(name))
        cached = (redirects, by_slug)
        _digests[:] = [cached]  # one snapshot's worth, built on the first such request after a refresh
    if digits != _hash6(slug) and digits not in cached[1].get(slug, ()):
        return None
    return f"feeds/{slug}{match['rest']}"


def _hash6(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:6]


def find_redirect(snapshot: Snapshot, stem: str) -> tuple[str, bool] | None:
    """Return where a category's name or alias (percent-decoded) is found, and whether for good.

    The target is `/feeds/{slug}` or its archive page. Names are looked up as written,
    then folded (case, width and spacing ignored). A name that is itself a feed's slug is
    never sent elsewhere, nor are that feed's archive pages. Only a configured category's
    names are sent on for good: the config holds them to their slug, while the slug of a
    category found in content may go to another (its articles deleted, an older one back).
    """
    redirects = snapshot.redirects
    name, page = stem, ""
    if stem not in redirects and "/archive/" in stem:
        name, number = stem.rsplit("/archive/", 1)
        page = f"/archive/{number}"
    key = name if name in redirects else fold_name(name)
    slug = redirects.get(key)
    if slug is None and key != name and name.isprintable() and f"feeds/{key}.{Format.RSS.value}" in snapshot.documents:
        slug = key  # another spelling of a name that is its feed's slug (`ＮＥＷＳ`, `News` for `news`)
    if slug is None or slug == name or any(f"feeds/{name}.{fmt.value}" in snapshot.documents for fmt in Format):
        return None
    return f"/feeds/{slug}{page}", key in snapshot.permanent_redirects


def feed_links(snapshot: Snapshot, key: str) -> str | None:
    """The WebSub Link header of a feed answer: its hub and its own URL (None without a hub)."""
    if snapshot.hub is None:
        return None
    return f'<{snapshot.hub}>; rel="hub", <{snapshot.feed_url}{key}>; rel="self"'


# The paths of built documents, as WSGI gives them, and how the fast path labels them.
_PAGE_PATHS = {"/": INDEX_PATH, "/index.html": INDEX_PATH, "/feeds.opml": OPML_PATH, "/feed.xsl": STYLESHEET_PATH}
_STATUS_LINES = {200: "200 OK", 304: "304 Not Modified"}
_NOT_READY_STATUS = "503 Service Unavailable"
_METRICS = "feedsvc.metrics"  # where create_app keeps the app's metrics, in app.extensions
_FAST_PATH = "feedsvc.fast_path"  # and its fast path for built documents


class DocumentFastPath:
    """Answer GET and HEAD of built documents straight from the snapshot, in front of Flask.

    Polling aggregators ask for the same few feeds many times a minute; answering
    them without routing, request objects or response objects makes a cached feed
    several times cheaper. Everything else (other methods, redirects, errors,
    /healthz, /metrics) goes on to the Flask app, which follows the same rules
    through `answer_document`.
    """

    def __init__(
        self, app: WSGIApplication, store: Store, metrics: Metrics, views: FeedViews, subscribers: Recorder | None
    ) -> None:
        self._app = app
        self._store = store
        self._metrics = metrics
        self._views = views
        self._polled = subscribers.note if subscribers is not None else None
        self._logged: Callable[[dict[str, Any], str, int, float], None] | None = None

    def log_requests(self, add: Callable[[Answered], None]) -> None:
        """Note every answer for the request log: its own here, the app's behind it through a RequestLog."""
        request_log = RequestLog(self._app, add)
        self._app = request_log
        self._logged = request_log.note

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method in ("GET", "HEAD"):
            started = time.perf_counter() if self._logged is not None else 0.0
            path = environ.get("PATH_INFO", "")
            page = _PAGE_PATHS.get(path)
            key = page or (path[1:] if path.startswith("/feeds/") else None)
            snapshot = self._store.snapshot
            try:
                document, archived = (None, False) if key is None else find_feed(snapshot, key)
            except PageNotReady as busy:  # made in the render thread meanwhile: the retry finds it
                start_response(_NOT_READY_STATUS, not_ready_headers(busy))
                sent = b"" if method == "HEAD" else _NOT_READY_BODY
                self._metrics.observe("archive", path.rsplit(".", 1)[-1], 503, len(sent))
                if self._logged is not None:
                    self._logged(environ, _NOT_READY_STATUS, len(sent), started)
                return [sent]
            if document is not None and key is not None:
                is_feed = page is None
                view = browser_view(self._views, key, document, environ) if is_feed else None
                status, headers, body = answer_document(
                    document if view is None else view,
                    environ,
                    max_age=snapshot.max_age,
                    vary=FEED_VARY if is_feed else "Accept-Encoding",
                    links=feed_links(snapshot, key) if is_feed and not archived and view is None else None,
                )
                status_line = _STATUS_LINES[status]
                start_response(status_line, headers)
                sent = b"" if method == "HEAD" else body
                if is_feed:
                    route = VIEW_ROUTE if view is not None else "archive" if archived else "feed"
                    fmt = key.rsplit(".", 1)[1]
                else:
                    route, fmt = _PAGE_ROUTES[key]
                self._metrics.observe(route, fmt, status, len(sent))
                if is_feed and not archived and self._polled is not None:
                    self._polled(key, environ)  # a poll of a current feed: who subscribes (subscribers/)
                if self._logged is not None:
                    self._logged(environ, status_line, len(sent), started)
                return [sent]
        return self._app(environ, start_response)


def log_requests(app: Flask, add: Callable[[Answered], None]) -> None:
    """Note every request an app that create_app made answers, for `add` (the request log's writer)."""
    fast_path: DocumentFastPath = app.extensions[_FAST_PATH]
    fast_path.log_requests(add)


VIEW_ROUTE = "view"  # a feed or an archive page answered with its HTML view
_PAGE_ROUTES = {INDEX_PATH: ("index", "html"), OPML_PATH: ("opml", "opml"), STYLESHEET_PATH: ("stylesheet", "xsl")}


def health(snapshot: Snapshot) -> dict[str, Any]:
    """Return what `/healthz` reports about a snapshot."""
    scan = snapshot.last_refresh
    degraded = snapshot.degraded or (None if scan is not None or snapshot.restored else "no refresh has finished yet")
    report: dict[str, Any] = {
        "status": "degraded" if degraded else "ok",
        "articles": snapshot.articles,
        "feeds": snapshot.feed_documents,
        "errors": sum(1 for p in snapshot.problems if not p.source.endswith("/")),
        "problems": [{"path": p.source, "message": str(p)} for p in snapshot.problems[:MAX_PROBLEMS]],
        "last_scan": None,
        # Serving what the last run served (from the cache) while the first refresh runs.
        "restored": snapshot.restored,
    }
    if degraded:
        report["reason"] = degraded
    if scan is not None:
        report["last_scan"] = scan.report()
    return report


def create_app(store: Store, subscribers: Recorder | None = None) -> Flask:
    """Build the web app over a store (and what counts subscribers); it starts no threads and touches no disk."""
    app = Flask("feedsvc", static_folder=None)
    # `/feeds//all.rss` is not a feed URL: answer 404, not a redirect to a guessed one.
    app.url_map.merge_slashes = False
    metrics = Metrics(lambda: store.snapshot, time.time)
    if subscribers is not None:
        metrics.subscribers = lambda: subscribers.counts
        metrics.subscriber_polls_dropped = lambda: subscribers.dropped
    views = FeedViews()
    metrics.observe_snapshot(store.snapshot)  # the first refresh, done before the app existed
    store.subscribe(metrics.observe_snapshot)

    def page(key: str) -> Response:
        snapshot = store.snapshot
        document = snapshot.documents.get(key)
        if document is None:
            return _plain("feeds are not built yet", 503, {"Retry-After": "5"})
        request.environ["feedsvc.route"] = _PAGE_ROUTES[key]
        return serve_document(document, max_age=snapshot.max_age, vary="Accept-Encoding")

    # The index, the OPML and the stylesheet (the fast path answers them first, when built).
    for url, key in _PAGE_PATHS.items():
        app.add_url_rule(url, endpoint=f"page:{url}", view_func=functools.partial(page, key), methods=["GET"])

    @app.get("/feeds/<path:name>")
    def feed(name: str) -> Response:
        snapshot = store.snapshot
        stem, dot, extension = name.rpartition(".")
        fmt = FORMAT_OF.get(extension.lower()) if dot else None
        if fmt is None:
            return _plain("not found", 404)
        key = f"feeds/{stem}.{fmt.value}"
        document, archived = find_feed(snapshot, key)
        request.environ["feedsvc.route"] = ("archive" if archived else "feed", fmt.value)
        if document is not None:
            view = browser_view(views, key, document, request.environ)
            if view is not None:
                request.environ["feedsvc.route"] = (VIEW_ROUTE, fmt.value)
            return serve_document(
                document if view is None else view,
                max_age=snapshot.max_age,
                vary=FEED_VARY,
                links=None if archived or view is not None else feed_links(snapshot, key),
            )
        found = find_redirect(snapshot, stem)
        if found is not None:
            request.environ["feedsvc.route"] = ("redirect", fmt.value)
            target, permanent = f"{found[0]}.{fmt.value}", found[1]
            # A found category's name is found, not moved for good: it may come to mean another
            # feed (its articles deleted), and a reader keeps asking by the name it was given.
            status, reason = (301, "moved to") if permanent else (302, "found at")
            response = _plain(f"{reason} {target}", status, {"Location": quote(target, safe="/")})
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

    reported: list[tuple[object, str]] = []  # the counts last reported and their JSON: the same until a flush

    @app.get("/stats.json")
    def stats() -> Response:
        request.environ["feedsvc.route"] = ("stats", "json")
        if subscribers is None:
            return _plain("subscribers are not counted (stats.enabled: false)", 404)
        counts = subscribers.counts
        if not reported or reported[0][0] is not counts:
            reported[:] = [(counts, json.dumps(counts.report(), ensure_ascii=False, indent=2) + "\n")]
        body = reported[0][1]
        # Shared caches may keep it as long as the counts stay: until the next flush.
        max_age = int(subscribers.options.flush_seconds)
        return Response(body, mimetype="application/json", headers={"Cache-Control": f"public, max-age={max_age}"})

    @app.errorhandler(PageNotReady)
    def not_ready(busy: PageNotReady) -> Response:
        request.environ["feedsvc.route"] = ("archive", request.path.rsplit(".", 1)[-1])
        return Response(_NOT_READY_BODY, status=503, headers=not_ready_headers(busy))

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

    app.wsgi_app = fast_path = DocumentFastPath(app.wsgi_app, store, metrics, views, subscribers)  # type: ignore[method-assign]
    app.extensions[_METRICS] = metrics
    app.extensions[_FAST_PATH] = fast_path
    return app


def metrics_of(app: Flask) -> Metrics:
    """Return the metrics of an app that create_app made."""
    metrics: Metrics = app.extensions[_METRICS]
    return metrics
