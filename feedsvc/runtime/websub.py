"""WebSub publishing: tell a hub which feeds changed, from a thread of its own; a refresh never waits for it.

Feeds name the hub (`websub.hub`) beside their self link (feeds/render.py). `ChangedFeeds`
sees each new snapshot, compares every feed document's ETag with the one before it,
and hands the URLs of the feeds that changed or appeared to a `HubNotifier`. The
notifier POSTs them to the hub in the background: `hub.mode=publish` and
`hub.url=<feed URL>`, form-encoded, the publish request of PubSubHubbub 0.4 that
WebSub hubs accept (WebSub leaves how publishers ping a hub to the hub). One URL
per request: some hubs take several `hub.url` values in one POST, but not all, and a
refused URL then fails alone.

A URL queued again while it waits is sent once; a failed request is tried again
after a back-off that doubles up to a cap, and a URL is given up (logged once, with
the hub's answer) after the last retry. Each request has a deadline for the whole of
it (connecting, TLS, the answer's headers and body): a hub that answers a byte at a
time is cut off there, and a few requests go out at once, so one slow request never
holds the others back. Standard library only.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from feedsvc import __version__
from feedsvc.config import Settings
from feedsvc.model import Format, Snapshot
from feedsvc.text import one_line

log = logging.getLogger("feedsvc.websub")

RETRIES = 8
FIRST_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 60.0
REQUEST_TIMEOUT = 10.0  # for the whole request: connecting, TLS, the answer's headers and body
SENDERS = 4  # requests under way at once: a slow one holds no other back
STOP_WAIT = 2.0  # longest stop() waits for requests under way; their threads are left to end by their deadline
MAX_PENDING = 100_000  # distinct URLs waiting: far more than any site has feeds
ANSWER_BYTES = 300  # of the hub's answer, for the log
FEED_SUFFIXES = tuple(f".{fmt.value}" for fmt in Format)
USER_AGENT = f"feedsvc/{__version__} (WebSub publisher)"


def backoff(
    first: float = FIRST_RETRY_SECONDS, cap: float = MAX_RETRY_SECONDS, retries: int = RETRIES
) -> tuple[float, ...]:
    """Return the waits before each retry: `first`, doubling each time, never more than `cap`."""
    return tuple(min(cap, first * 2**n) for n in range(retries))


RETRY_DELAYS = backoff()  # 2, 4, 8, 16, 32, 60, 60, 60: nine attempts over about four minutes


class _Failed(Exception):
    """One attempt that did not succeed: the hub's answer, and whether trying again could help."""

    def __init__(self, answer: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(answer)
        self.answer = answer
        self.permanent = permanent
        self.retry_after = retry_after


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirected POST would arrive as a GET without its form: report the redirect instead."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class _Deadline:
    """The deadline of one request: when it passes, the request's connections are shut, whatever it waits for.

    A socket timeout bounds each read only: a hub that sends a header line every few
    seconds would hold a request forever. A watchdog thread shuts the sockets down,
    which ends any read or write under way, and keeps doing so until the request ends
    (a connection still connecting when the deadline passes gets its socket later).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.passed = False
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="feedsvc-websub-deadline", daemon=True)

    def __enter__(self) -> _Deadline:
        self._watchdog.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._done.set()

    def track(self, factory: Callable[..., http.client.HTTPConnection]) -> Callable[..., http.client.HTTPConnection]:
        """Return a connection factory like `factory` whose connections this deadline shuts."""

        def make(host: str, **options: Any) -> http.client.HTTPConnection:
            connection = factory(host, **options)
            with self._lock:
                self._connections.append(connection)
            return connection

        return make

    def _watch(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.passed = True
        while True:
            with self._lock:
                sockets = [c.sock for c in self._connections if c.sock is not None]
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            if self._done.wait(0.05):
                return


class _HTTPHandler(urllib.request.HTTPHandler):
    """Plain HTTP whose connections a deadline shuts."""

    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self.deadline.track(http.client.HTTPConnection), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    """HTTPS (certificates checked as by default) whose connections a deadline shuts."""

    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self.deadline.track(http.client.HTTPSConnection), req)


@dataclass(slots=True)
class _PendingPing:
    """A URL waiting to be sent: when, which attempt it is, and a later send a newer change still needs."""

    due: float
    seq: int
    attempt: int = 0
    then: float | None = None


class HubNotifier:
    """A queue of feed URLs to tell one hub about, emptied by `senders` background threads.

    `publish()` only queues (it never waits for the hub); `stop()` waits at most
    `stop_wait` seconds for requests under way. `timeout` is each request's deadline,
    for the whole of it. `delay` postpones each first attempt; `retry_delays` are the
    waits before each retry (tests make them short).
    """

    def __init__(
        self,
        hub: str,
        *,
        delay: float = 0.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        timeout: float = REQUEST_TIMEOUT,
        stop_wait: float = STOP_WAIT,
        senders: int = SENDERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hub = hub
        self.delay = delay
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self.stop_wait = stop_wait
        self._clock = clock
        self.senders = max(1, senders)
        self._cond = threading.Condition()
        self._pending: dict[str, _PendingPing] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._stopping = False
        self._full_reported = False
        self._threads: list[threading.Thread] = []
        self.sent = 0  # URLs the hub accepted
        self.given_up = 0  # URLs that failed for good

    def start(self) -> HubNotifier:
        """Start the threads that send; returns the notifier."""
        with self._cond:
            if not self._threads:
                for number in range(self.senders):
                    thread = threading.Thread(target=self._run, name=f"feedsvc-websub-{number}", daemon=True)
                    self._threads.append(thread)
                    thread.start()
        return self

    @property
    def pending(self) -> list[str]:
        """Return the URLs waiting to be sent, in no particular order."""
        with self._cond:
            return list(self._pending)

    def publish(self, urls: Iterable[str]) -> None:
        """Queue feed URLs to tell the hub about; a URL already waiting is not queued twice."""
        with self._cond:
            if self._stopping:
                return
            ready = self._clock() + self.delay
            for url in urls:
                entry = self._pending.get(url)
                if entry is None:
                    self._add(url, ready)
                elif self.delay and entry.due < ready:
                    # Sent before the new change's delay is over (a cache in front may still hold the
                    # copy before it): sent once more when it is.
                    entry.then = ready

    def stop(self) -> list[str]:
        """Stop sending; return the URLs that were still waiting (they are not sent)."""
        with self._cond:
            self._stopping = True
            left = list(self._pending)
            self._pending.clear()
            self._heap.clear()
            self._cond.notify_all()
        until = time.monotonic() + self.stop_wait
        for thread in self._threads:
            thread.join(max(0.0, until - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            log.debug("WebSub: a request to %s is still under way; it ends by its deadline", self.hub)
        if left:
            log.info("WebSub: stopping with %d feed(s) not yet notified to %s", len(left), self.hub)
        return left

    # --- the thread ---------------------------------------------------------------------------------------------

    def _add(self, url: str, due: float, *, attempt: int = 0, then: float | None = None) -> None:
        """Queue one URL (the lock is held and it is not pending)."""
        if len(self._pending) >= MAX_PENDING:
            if not self._full_reported:
                log.warning("WebSub: %d feeds already wait for %s; more are dropped", MAX_PENDING, self.hub)
                self._full_reported = True
            return
        self._full_reported = False
        self._seq += 1
        self._pending[url] = _PendingPing(due, self._seq, attempt, then)
        heapq.heappush(self._heap, (due, self._seq, url))
        self._cond.notify()

    def _take(self) -> tuple[str, _PendingPing] | None:
        """Wait for the next URL that is due; None when stopping."""
        with self._cond:
            while not self._stopping:
                if self._heap:
                    due, seq, url = self._heap[0]
                    entry = self._pending.get(url)
                    if entry is None or entry.seq != seq:
                        heapq.heappop(self._heap)
                        continue
                    wait = due - self._clock()
                    if wait <= 0:
                        heapq.heappop(self._heap)
                        del self._pending[url]
                        return url, entry
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _run(self) -> None:
        while (job := self._take()) is not None:
            url, entry = job
            try:
                self._post(url)
            except _Failed as failure:
                self._failed(url, entry, failure)
            except Exception:  # a bug: logged, and the thread goes on with the next URL
                log.exception("WebSub: notifying %s of %s failed", self.hub, url)
            else:
                log.debug("WebSub: %s notified of %s", self.hub, url)
                with self._cond:
                    self.sent += 1
                    if entry.then is not None and url not in self._pending and not self._stopping:
                        self._add(url, entry.then)

    def _failed(self, url: str, entry: _PendingPing, failure: _Failed) -> None:
        attempts = entry.attempt + 1
        with self._cond:
            if self._stopping:
                return
            if url in self._pending:  # queued again meanwhile: that send covers this one
                log.debug("WebSub: %s: %s (queued again)", url, failure.answer)
                return
            if not failure.permanent and entry.attempt < len(self.retry_delays):
                wait = self.retry_delays[entry.attempt]
                if failure.retry_after is not None:
                    wait = min(max(wait, failure.retry_after), max(self.retry_delays))
                due = self._clock() + wait
                then = entry.then if entry.then is not None and entry.then > due else None
                self._add(url, due, attempt=attempts, then=then)
                log.debug("WebSub: %s: %s; attempt %d, trying again in %.3g s", url, failure.answer, attempts, wait)
                return
            self.given_up += 1
            if failure.permanent:
                log.warning("WebSub: hub %s refused %s: %s (not tried again)", self.hub, url, failure.answer)
            else:
                log.warning(
                    "WebSub: hub %s not notified of %s after %d attempts: %s", self.hub, url, attempts, failure.answer
                )
            if entry.then is not None:
                self._add(url, max(entry.then, self._clock()))

    def _post(self, url: str) -> None:
        """Send one publish request; raises _Failed unless the hub answers 2xx."""
        form = urlencode({"hub.mode": "publish", "hub.url": url}).encode("ascii")
        request = urllib.request.Request(  # noqa: S310 - the http(s) hub the config names (config/checks.py checks the scheme)
            self.hub,
            data=form,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
        )
        late = _Failed(f"no whole answer within {self.timeout:g} s")
        with _Deadline(self.timeout) as deadline:
            opener = urllib.request.build_opener(_NoRedirects, _HTTPHandler(deadline), _HTTPSHandler(deadline))
            try:
                with opener.open(request, timeout=self.timeout) as response:
                    response.read(ANSWER_BYTES)
            except urllib.error.HTTPError as error:
                failure = _answer(error)
                raise (late if deadline.passed else failure) from None
            except (OSError, ValueError, http.client.HTTPException) as error:  # refused, timed out, reset, bad answer
                reason = error.reason if isinstance(error, urllib.error.URLError) else error
                raise (late if deadline.passed else _Failed(f"no answer ({_describe(reason)})")) from None
            if deadline.passed:  # an answer cut off: its headers may look whole, its status cannot be trusted
                raise late


def _describe(reason: object) -> str:
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
    return str(reason)


def _answer(error: urllib.error.HTTPError) -> _Failed:
    """What a hub's error answer says: its status, reason and the start of its body."""
    try:
        text = error.read(ANSWER_BYTES).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        text = ""
    finally:
        error.close()
    answer = f"HTTP {error.code} {error.reason}" + (f": {one_line(text)}" if text.strip() else "")
    code = error.code
    if 300 <= code < 400:
        location = error.headers.get("Location")
        return _Failed(f"{answer} (redirected to {location}: set websub.hub to it)", permanent=True)
    retry_after: float | None = None
    value = error.headers.get("Retry-After")
    if value is not None and value.strip().isdigit():
        retry_after = float(value.strip())
    # A 4xx other than these would come again: the request itself is refused.
    permanent = 400 <= code < 500 and code not in (408, 425, 429)
    return _Failed(answer, permanent=permanent, retry_after=retry_after)


def start_notifier(settings: Settings, *, min_delay: float = 0.0) -> HubNotifier | None:
    """Start a notifier for the configured hub; None when there is no hub."""
    if not settings.websub_hub:
        return None
    delay = max(float(settings.websub_delay_seconds), min_delay)
    return HubNotifier(settings.websub_hub, delay=delay).start()


def feed_etags(snapshot: Snapshot) -> dict[str, str]:
    """Return the ETag of each feed document of a snapshot (`feeds/{slug}.{fmt}`), by path."""
    return {
        path: document.etag
        for path, document in snapshot.documents.items()
        if path.startswith("feeds/") and path.endswith(FEED_SUFFIXES)
    }


class ChangedFeeds:
    """Given each new snapshot, queue the URLs of the feed documents whose ETag changed or that appeared.

    The first snapshot it sees only sets what later ones are compared with (after a
    start, nothing changed for subscribers), unless `previous` says what was published
    before (a build directory's manifest). Feeds that went away are not notified.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        previous: Mapping[str, str] | None = None,
        min_delay: float = 0.0,
    ) -> None:
        self._lock = threading.Lock()
        self._etags: dict[str, str] | None = dict(previous) if previous is not None else None
        self._min_delay = min_delay
        self.feed_url = settings.feed_url
        self.notifier = start_notifier(settings, min_delay=min_delay)

    def __call__(self, snapshot: Snapshot) -> None:
        """Compare a new snapshot's feeds with the last one's; queue the changed ones' URLs."""
        etags = feed_etags(snapshot)
        with self._lock:
            before, self._etags = self._etags, etags
            notifier = self.notifier
            if before is None or notifier is None:
                return
            changed = sorted(path for path, etag in etags.items() if before.get(path) != etag)
            if changed:
                log.debug("WebSub: %d changed feed(s) queued for %s", len(changed), notifier.hub)
                # The URL of `feeds/{slug}.{fmt}` is render.feed_url(): site.feed_url, then the path.
                notifier.publish(self.feed_url + path for path in changed)

    def reconfigure(self, settings: Settings) -> None:
        """Use new settings' hub and feed URL; a notifier whose hub and delay are unchanged keeps running."""
        with self._lock:
            self.feed_url = settings.feed_url
            old = self.notifier
            delay = max(float(settings.websub_delay_seconds), self._min_delay)
            if old is not None and old.hub == settings.websub_hub and old.delay == delay:
                return
            left = old.stop() if old is not None else []
            self.notifier = start_notifier(settings, min_delay=self._min_delay)
            if self.notifier is not None and left:
                self.notifier.publish(left)

    def stop(self) -> None:
        """Stop notifying; what was still waiting is not sent."""
        with self._lock:
            notifier, self.notifier = self.notifier, None
        if notifier is not None:
            notifier.stop()
