"""WebSub publishing: tell a hub which feeds changed, from a thread of its own; a refresh never waits for it.

Feeds name the hub (`websub.hub`) beside their self link (render.py). `ChangedFeeds`
sees each new snapshot, compares every feed document's ETag with the one before it,
and hands the URLs of the feeds that changed or appeared to a `HubNotifier`. The
notifier POSTs them to the hub in the background: `hub.mode=publish` and
`hub.url=<feed URL>`, form-encoded, the publish request of PubSubHubbub 0.4 that
WebSub hubs accept (WebSub leaves how publishers ping a hub to the hub). One URL
per request: some hubs take several `hub.url` values in one POST, but not all, and a
refused URL then fails alone.

A URL queued again while it waits is sent once; a failed request is tried again
after a back-off that doubles up to a cap, and a URL is given up (logged once, with
the hub's answer) after the last retry. Standard library only.
"""

from __future__ import annotations

import heapq
import http.client
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from feedsvc import __version__
from feedsvc.config import Settings
from feedsvc.model import Format, Snapshot
from feedsvc.text import one_line

log = logging.getLogger("feedsvc.websub")

RETRIES = 8
FIRST_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 60.0
REQUEST_TIMEOUT = 10.0
STOP_WAIT = 2.0  # longest stop() waits for a request under way; the thread is left to end with its timeout
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


@dataclass(slots=True)
class _Entry:
    """A URL waiting to be sent: when, which attempt it is, and a later send a newer change still needs."""

    due: float
    seq: int
    attempt: int = 0
    then: float | None = None


class HubNotifier:
    """A queue of feed URLs to tell one hub about, emptied by a background thread.

    `publish()` only queues (it never waits for the hub); `stop()` waits at most
    `stop_wait` seconds for a request under way. `delay` postpones each first
    attempt; `retry_delays` are the waits before each retry (tests make them short).
    """

    def __init__(
        self,
        hub: str,
        *,
        delay: float = 0.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        timeout: float = REQUEST_TIMEOUT,
        stop_wait: float = STOP_WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hub = hub
        self.delay = delay
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self.stop_wait = stop_wait
        self._clock = clock
        self._opener = urllib.request.build_opener(_NoRedirects)
        self._cond = threading.Condition()
        self._pending: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._stopping = False
        self._full_reported = False
        self._thread: threading.Thread | None = None
        self.sent = 0  # URLs the hub accepted
        self.given_up = 0  # URLs that failed for good

    def start(self) -> HubNotifier:
        """Start the thread that sends; returns the notifier."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="feedsvc-websub", daemon=True)
                self._thread.start()
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
        if self._thread is not None:
            self._thread.join(self.stop_wait)
            if self._thread.is_alive():
                log.debug("WebSub: a request to %s is still under way; it ends with its timeout", self.hub)
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
        self._pending[url] = _Entry(due, self._seq, attempt, then)
        heapq.heappush(self._heap, (due, self._seq, url))
        self._cond.notify()

    def _take(self) -> tuple[str, _Entry] | None:
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
                self.sent += 1
                log.debug("WebSub: %s notified of %s", self.hub, url)
                if entry.then is not None:
                    with self._cond:
                        if url not in self._pending and not self._stopping:
                            self._add(url, entry.then)

    def _failed(self, url: str, entry: _Entry, failure: _Failed) -> None:
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
        request = urllib.request.Request(  # noqa: S310 - the http(s) hub the config names (config.py checks the scheme)
            self.hub,
            data=form,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(ANSWER_BYTES)
        except urllib.error.HTTPError as error:
            raise _answer(error) from None
        except (OSError, ValueError, http.client.HTTPException) as error:  # refused, timed out, reset, bad answer
            reason = error.reason if isinstance(error, urllib.error.URLError) else error
            raise _Failed(f"no answer ({_describe(reason)})") from None


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
