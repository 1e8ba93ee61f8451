"""The request log: one line per answered request, as a proxy operator knows it from nginx or Apache.

A WSGI middleware around the whole app (feeds, pages, health, metrics). The text
line is the Combined Log Format plus the time taken:

    127.0.0.1 - - [29/Nov/2026:12:00:00 +0000] "GET /feeds/all.rss HTTP/1.1" 304 0 "-" "Reader/1.0" 0.2ms

and the same fields go with the line, so the JSON log carries them as
`remote`, `method`, `path`, `protocol`, `status`, `bytes`, `referer`,
`user_agent` and `duration_ms`.

The middleware only notes what a line needs, as one small tuple (`Answered`), and
hands it to a writer (runtime/logs.py's LineWriter), whose thread makes the lines
of a batch with `request_lines`. A request never formats or writes its line.
The web app's fast path for built documents notes its own answers through
`RequestLog.note`, and puts the middleware behind it for the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("feedsvc.access")

# What a request's line needs, as the request thread notes it: remote address, method, path,
# query string, protocol, Referer, User-Agent (each None when absent), the status line ("" when
# none was sent), the body bytes sent, the seconds taken, and when it was answered (ns since the epoch).
Answered = tuple[
    str | None, str | None, str | None, str | None, str | None, str | None, str | None, str, int, float, int
]


def _quoted(value: str) -> str:
    """A header value inside double quotes: quotes, backslashes and control characters escaped."""
    out = value.replace("\\", "\\\\").replace('"', '\\"')
    if out.isprintable():
        return out
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in out)


class RequestLog:
    """Note each request once its answer is complete, for `add` (a writer's) to log."""

    def __init__(self, app: WSGIApplication, add: Callable[[Answered], None]) -> None:
        self.app = app
        self.add = add

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status: list[str] = []

        def record_status(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[:] = [code]
            return start_response(code, headers, exc_info)

        body = self.app(environ, record_status)
        if isinstance(body, list):  # the common case: one answer already in memory
            self.note(environ, status[0] if status else "", sum(map(len, body)), started)
            return body
        return _Streamed(body, lambda size: self.note(environ, status[0] if status else "", size, started))

    def note(self, environ: WSGIEnvironment, status: str, size: int, started: float) -> None:
        """Note an answer: its status line ("" when none was sent), the body bytes sent, when it began (perf_counter).

        A server's fast path that answers without this middleware notes its answers here too.
        """
        if not log.isEnabledFor(logging.INFO):
            return
        get = environ.get
        self.add(
            (
                get("REMOTE_ADDR"),
                get("REQUEST_METHOD"),
                get("PATH_INFO"),
                get("QUERY_STRING"),
                get("SERVER_PROTOCOL"),
                get("HTTP_REFERER"),
                get("HTTP_USER_AGENT"),
                status,
                size,
                time.perf_counter() - started,
                time.time_ns(),
            )
        )


class _Streamed:
    """An app's streamed answer, its bytes counted as the server takes them, noted once when the server closes it.

    A server closes every answer (PEP 3333), also one it never read, as for a HEAD or
    a client gone: the line is noted then, with the bytes taken so far.
    """

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self._done: Callable[[int], None] | None = done
        self._size = 0
        self._body = body
        self._parts = iter(body)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        part = next(self._parts)
        self._size += len(part)
        return part

    def close(self) -> None:
        """Close the app's answer, then note the line; once, however often the server calls it."""
        if self._done is None:
            return
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._noted()

    def __del__(self) -> None:  # a server that never closed it (PEP 3333 says it must): noted all the same
        self._noted()

    def _noted(self) -> None:
        done, self._done = self._done, None
        if done is not None:
            done(self._size)


_NO_FIELDS: dict[str, Any] = {}  # the fields of every line made without them: nothing reads it


def request_lines(batch: list[Answered], with_fields: bool = True) -> list[tuple[int, str, dict[str, Any]]]:
    """Make the lines of answered requests: when, the Combined Log Format text, and the fields for JSON.

    Without `with_fields` (the text format only writes the text) every line's fields are one empty dict.
    """
    lines = []
    # Under load most answers of a batch are alike (the same readers polling the same feeds): the text
    # and fields of an answer, but for its time and duration, are made once per batch.
    alike: dict[tuple[Any, ...], tuple[str, str, dict[str, Any]]] = {}
    second, when = -1, ""
    for entry in batch:
        answer = entry[:9]
        parts = alike.get(answer)
        if parts is None:
            parts = alike[answer] = _line_parts(*answer, with_fields=with_fields)
        head, tail, fields = parts
        when_ns = entry[10]
        if when_ns // 1_000_000_000 != second:  # one time text per second
            second = when_ns // 1_000_000_000
            when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))
        duration_ms = round(entry[9] * 1000, 3)
        message = f"{head}{when}{tail}{duration_ms:.1f}ms"
        lines.append((when_ns, message, {**fields, "duration_ms": duration_ms} if with_fields else _NO_FIELDS))
    return lines


def _line_parts(  # noqa: PLR0917 - an Answered's fields, as it holds them
    remote: str | None,
    method: str | None,
    path: str | None,
    query: str | None,
    protocol: str | None,
    referer: str | None,
    agent: str | None,
    status: str,
    sent: int,
    *,
    with_fields: bool,
) -> tuple[str, str, dict[str, Any]]:
    """An answer's line but for its time and duration: the text before the time, the text after it, the fields."""
    code = int(status.split(" ", 1)[0]) if status else 0
    size = 0 if method == "HEAD" else sent
    address = remote or "-"
    verb = _quoted("-" if method is None else method)
    target = _quoted((path or "") + ("?" + query if query else ""))
    version = "-" if protocol is None else protocol
    came_from = _quoted("-" if referer is None else referer)
    user_agent = _quoted("-" if agent is None else agent)
    # The text '%s - - [%s] "%s %s %s" %d %d "%s" "%s" %.1fms' % (...), made in parts.
    tail = f'] "{verb} {target} {version}" {code} {size} "{came_from}" "{user_agent}" '
    fields = _NO_FIELDS
    if with_fields:
        fields = {
            "remote": address,
            "method": verb,
            "path": target,
            "protocol": version,
            "status": code,
            "bytes": size,
            "referer": came_from,
            "user_agent": user_agent,
        }
    return f"{address} - - [", tail, fields
