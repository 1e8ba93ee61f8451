"""The request log: one line per answered request, as a proxy operator knows it from nginx or Apache.

A WSGI middleware around the whole app (feeds, pages, health, metrics). The text
line is the Combined Log Format plus the time taken:

    127.0.0.1 - - [29/Nov/2026:12:00:00 +0000] "GET /feeds/all.rss HTTP/1.1" 304 0 "-" "Reader/1.0" 0.2ms

and the same fields are attached to the record, so the JSON log carries them
as `remote`, `method`, `path`, `protocol`, `status`, `bytes`, `referer`,
`user_agent` and `duration_ms`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("feedsvc.access")


def _quoted(value: str) -> str:
    """A header value inside double quotes: quotes, backslashes and control characters escaped."""
    out = value.replace("\\", "\\\\").replace('"', '\\"')
    if out.isprintable():
        return out
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in out)


class RequestLog:
    """Log each request once its answer is complete."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status: list[str] = []

        def record_status(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[:] = [code]
            return start_response(code, headers, exc_info)

        body = self.app(environ, record_status)
        if not log.isEnabledFor(logging.INFO):
            return body
        if isinstance(body, list):  # the common case: one answer already in memory
            self._log(environ, status, sum(len(part) for part in body), started)
            return body
        return self._streamed(body, environ, status, started)

    def _streamed(
        self, body: Iterable[bytes], environ: WSGIEnvironment, status: list[str], started: float
    ) -> Iterator[bytes]:
        size = 0
        try:
            for part in body:
                size += len(part)
                yield part
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            self._log(environ, status, size, started)

    def _log(self, environ: WSGIEnvironment, status: list[str], size: int, started: float) -> None:
        code = int(status[0].split(" ", 1)[0]) if status else 0
        if environ.get("REQUEST_METHOD") == "HEAD":
            size = 0
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        target = _quoted(path + ("?" + query if query else ""))
        fields = {
            "remote": environ.get("REMOTE_ADDR", "-") or "-",
            "method": _quoted(environ.get("REQUEST_METHOD", "-")),
            "path": target,
            "protocol": environ.get("SERVER_PROTOCOL", "-"),
            "status": code,
            "bytes": size,
            "referer": _quoted(environ.get("HTTP_REFERER", "-")),
            "user_agent": _quoted(environ.get("HTTP_USER_AGENT", "-")),
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        log.info(
            '%s - - [%s] "%s %s %s" %d %d "%s" "%s" %.1fms',
            fields["remote"],
            when,
            fields["method"],
            target,
            fields["protocol"],
            code,
            size,
            fields["referer"],
            fields["user_agent"],
            fields["duration_ms"],
            extra=fields,
        )
