"""Note each feed poll on the request thread, and count them in a thread of its own.

A request only appends four values it already has to a bounded queue (no hashing,
no parsing, no lock, nothing the garbage collector looks at); every `flush_seconds`
the recorder's thread classifies the polls, hashes the direct clients, adds them to
the ledger and reads back the counts of every process of the service. The
addresses exist only in that queue, in memory.
"""

from __future__ import annotations

import collections
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedsvc.subscribers.ledger import Ledger, read_secret
from feedsvc.subscribers.tally import Counts, DayKeys, Network, Poll, tally

log = logging.getLogger("feedsvc.subscribers")

# Polls waiting for the next flush: past this, a poll is not counted (and is counted as dropped).
# A few hundred bytes each (the header values a server made for the request): at most about 15 MB.
QUEUE_LIMIT = 50_000
# How often the thread looks at the queue: it flushes early once it is half full.
_LOOK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Options:
    """How a service counts: the `server.trusted_proxies` and `stats.*` settings, read."""

    trusted: tuple[Network, ...] = ()
    max_clients: int = 100_000
    report_days: int = 7
    flush_seconds: float = 10.0


class Recorder:
    """The subscriber counts of one serving process, combined with its service's other processes."""

    def __init__(
        self,
        location: Path,
        options: Options,
        *,
        clock: Callable[[], float] = time.time,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self.location = location
        self.options = options
        self._clock = clock
        # Four values a poll, side by side: strings, which the garbage collector never visits. A tuple a
        # poll, kept until the flush, is one more object each of its passes walks (benchmarks/polls.py).
        self._queue: collections.deque[str | None] = collections.deque()
        self._limit = queue_limit * 4
        self.dropped = 0  # polls not counted: the queue was full
        self._counts = Counts()
        self._ledger: Ledger | None = None
        self._keys: DayKeys | None = None
        self._broken = False
        self._lock = threading.Lock()  # one flush at a time (the thread's, a test's, the last one at stop)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def counts(self) -> Counts:
        """Return the counts as of the last flush (one read of one reference)."""
        return self._counts

    def note(self, key: str, environ: Mapping[str, Any]) -> None:
        """Note a poll of a feed document: on the request thread, so only an append."""
        queue = self._queue
        if len(queue) < self._limit:
            # One extend: atomic under the GIL, so a poll's four values stay together.
            queue.extend(
                (key, environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"), environ.get("HTTP_USER_AGENT"))
            )
        else:
            self.dropped += 1

    def start(self) -> None:
        """Open the ledger, read the counts it holds, and flush every `flush_seconds` in a thread of its own."""
        self.flush()
        self._thread = threading.Thread(target=self._run, name="feedsvc-subscribers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, count what is queued, and close the ledger."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()
        with self._lock:
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None
            self._broken = True  # stopped: a later flush does nothing

    def _run(self) -> None:
        # Signals are the main thread's (the HTTP server's): this thread takes none, as the request log's writer.
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
        waited = 0.0
        while not self._stopping.wait(min(_LOOK_SECONDS, self.options.flush_seconds)):
            waited += _LOOK_SECONDS
            if waited >= self.options.flush_seconds or len(self._queue) > self._limit // 2:
                waited = 0.0
                self.flush()

    def flush(self) -> None:
        """Count the queued polls into the ledger and read the counts back; a failure is logged once."""
        with self._lock:
            queue = self._queue
            values = [queue.popleft() for _ in range(len(queue) // 4 * 4)]
            columns = zip(values[0::4], values[1::4], values[2::4], values[3::4], strict=True)
            polls: list[Poll] = [(key or "", remote, forwarded, agent) for key, remote, forwarded, agent in columns]
            if self._broken:
                return
            now = int(self._clock())
            try:
                ledger, keys = self._open()
                if polls:
                    batch = tally(polls, keys=keys, now=now, trusted=self.options.trusted)
                    ledger.record(batch, max_clients=self.options.max_clients, report_days=self.options.report_days)
                self._counts = ledger.counts(now, report_days=self.options.report_days)
            except Exception:
                self._broken = True
                log.exception(
                    "subscriber counts: %s cannot be used; polls are not counted until a restart", self.location
                )

    def _open(self) -> tuple[Ledger, DayKeys]:
        if self._ledger is None or self._keys is None:
            self._keys = DayKeys(read_secret(self.location.parent))
            self._ledger = Ledger.open(self.location)
        return self._ledger, self._keys
