"""Prometheus metrics: request counters, and gauges read from the snapshot when scraped.

The only module that imports prometheus-client. Each app has its own registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from feedsvc.model import RefreshStats, Snapshot
from feedsvc.subscribers.tally import Counts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# From a rescan that events narrowed to one file (milliseconds) to a cold start of 100,000 files.
REFRESH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
FEED_ROUTE = "feed"
# Aggregators reported one by one per feed in /metrics; the others are summed as `other`.
MAX_AGGREGATOR_SERIES = 20

# The *_created series double every counter's output and mean nothing for a scrape.
disable_created_metrics()  # type: ignore[no-untyped-call]


class _SnapshotCollector(Collector):
    """Reports what the current snapshot says about content and the last refresh, and the 304 ratio."""

    def __init__(self, snapshot: Callable[[], Snapshot], clock: Callable[[], float], metrics: Metrics) -> None:
        self._snapshot = snapshot
        self._clock = clock
        self._metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        answered, not_modified = self._metrics.feed_answers()
        yield GaugeMetricFamily(
            "feedsvc_http_not_modified_ratio",
            "Share of feed GET/HEAD answers (200 or 304) that were 304 Not Modified, since start.",
            value=not_modified / answered if answered else 0.0,
        )
        snapshot = self._snapshot()
        yield GaugeMetricFamily("feedsvc_articles", "Articles published.", value=snapshot.articles)
        yield GaugeMetricFamily(
            "feedsvc_feeds", "Feed documents served (feeds times formats).", value=snapshot.feed_documents
        )
        yield GaugeMetricFamily(
            "feedsvc_problems", "Content files (and folders) with a problem.", value=len(snapshot.problems)
        )
        yield GaugeMetricFamily(
            "feedsvc_degraded", "1 when the last refresh could not do its work.", value=1 if snapshot.degraded else 0
        )
        yield CounterMetricFamily("feedsvc_refresh_failures", "Refreshes that raised.", value=snapshot.refreshes_failed)
        yield CounterMetricFamily(
            "feedsvc_request_log_dropped_lines",
            "Request log lines dropped because requests came faster than their lines could be written.",
            value=self._metrics.request_log_dropped(),
        )
        yield CounterMetricFamily(
            "feedsvc_subscriber_polls_dropped",
            "Feed polls not counted for subscribers because they came faster than the counts were flushed.",
            value=self._metrics.subscriber_polls_dropped(),
        )
        yield from _subscriber_metrics(self._metrics.subscribers())
        scan = snapshot.last_refresh
        if scan is None:
            return
        yield GaugeMetricFamily(
            "feedsvc_last_refresh_duration_seconds", "Duration of the last refresh.", value=scan.duration_s
        )
        yield GaugeMetricFamily(
            "feedsvc_last_refresh_files_seen", "Article files seen by the last refresh.", value=scan.files_seen
        )
        yield GaugeMetricFamily(
            "feedsvc_last_refresh_files_parsed", "Files the last refresh re-read.", value=scan.files_parsed
        )
        yield GaugeMetricFamily(
            "feedsvc_last_refresh_files_failed", "Re-read files that had a problem.", value=scan.files_failed
        )
        yield GaugeMetricFamily(
            "feedsvc_last_refresh_feeds_rebuilt",
            "Feed documents the last refresh re-rendered.",
            value=scan.feeds_rebuilt,
        )
        yield GaugeMetricFamily(
            "feedsvc_snapshot_age_seconds",
            "Seconds since the served snapshot's refresh started.",
            value=max(0.0, self._clock() - scan.started.timestamp()),
        )


def _subscriber_metrics(counts: Counts | None) -> Iterator[GaugeMetricFamily]:
    """The subscribers of each feed, by kind, and what each aggregator reports (see README, Subscribers)."""
    if counts is None:
        return
    by_kind = GaugeMetricFamily(
        "feedsvc_subscribers",
        "Estimated subscribers of a feed (all formats): `aggregator` as aggregators report them, `direct` the "
        "distinct direct clients of the last 24 hours.",
        labels=["feed", "kind"],
    )
    reported = GaugeMetricFamily(
        "feedsvc_subscribers_reported",
        "Subscribers an aggregator reports for a feed (its latest reports, formats summed); across replicas take "
        "the max per feed and aggregator.",
        labels=["feed", "aggregator"],
    )
    for name, count in counts.feeds.items():
        by_kind.add_metric([name, "aggregator"], count.reported)
        by_kind.add_metric([name, "direct"], count.direct)
        # Any User-Agent may name an aggregator: past the largest few, one series holds the rest.
        ranked = sorted(count.aggregators.items(), key=lambda item: (-item[1], item[0]))
        for aggregator, subscribers in ranked[:MAX_AGGREGATOR_SERIES]:
            reported.add_metric([name, aggregator], subscribers)
        if len(ranked) > MAX_AGGREGATOR_SERIES:
            reported.add_metric([name, "other"], sum(n for _, n in ranked[MAX_AGGREGATOR_SERIES:]))
    yield by_kind
    yield reported


Key = TypeVar("Key", bound=Hashable)


class _Tallies(Generic[Key]):
    """Counts each thread keeps without a lock, added up when read: counting costs a request two dict operations.

    A thread's counts outlive it: once it has ended, they join those of the threads ended before.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()  # taken once per thread, and by readers
        self._threads: list[tuple[threading.Thread, dict[Key, int]]] = []
        self._ended: dict[Key, int] = {}

    def add(self, key: Key, amount: int = 1) -> None:
        """Add to a count; only the calling thread writes its counts."""
        try:
            counts: dict[Key, int] = self._local.counts
        except AttributeError:
            counts = self._local.counts = {}
            with self._lock:
                self._fold_ended()  # a server's threads come and go: those gone hold nothing of their own
                self._threads.append((threading.current_thread(), counts))
        counts[key] = counts.get(key, 0) + amount

    def totals(self) -> dict[Key, int]:
        """Return every count, summed over the threads."""
        with self._lock:
            self._fold_ended()
            total = dict(self._ended)
            for _, counts in self._threads:
                for key, value in counts.copy().items():  # copy(): one step, while its thread may add a key
                    total[key] = total.get(key, 0) + value
        return total

    def _fold_ended(self) -> None:
        """Add the counts of the threads that have ended to the ended threads', and forget those threads."""
        live = []
        for thread, counts in self._threads:
            if thread.is_alive():
                live.append((thread, counts))
            else:  # it writes no more
                for key, value in counts.items():
                    self._ended[key] = self._ended.get(key, 0) + value
        self._threads = live


class _RequestCollector(Collector):
    """Reports the requests answered and the body bytes sent, from the tallies the request threads keep."""

    def __init__(self, requests: _Tallies[tuple[str, str, int]], sent: _Tallies[str]) -> None:
        self._requests = requests
        self._sent = sent

    def collect(self) -> Iterator[CounterMetricFamily]:
        answered = CounterMetricFamily(
            "feedsvc_http_requests", "HTTP requests answered.", labels=["route", "format", "status"]
        )
        for (route, fmt, status), count in sorted(self._requests.totals().items()):
            answered.add_metric([route, fmt, str(status)], count)
        yield answered
        sent = CounterMetricFamily("feedsvc_http_response_bytes", "Body bytes sent.", labels=["route"])
        for route, size in sorted(self._sent.totals().items()):
            sent.add_metric([route], size)
        yield sent


class Metrics:
    """The metrics of one web app."""

    def __init__(self, snapshot: Callable[[], Snapshot], clock: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        # Counted by each request thread in its own tallies (a Counter takes a lock at every count).
        self._requests: _Tallies[tuple[str, str, int]] = _Tallies()
        self._bytes: _Tallies[str] = _Tallies()
        self.registry.register(_RequestCollector(self._requests, self._bytes))
        self._refresh_seconds = Histogram(
            "feedsvc_refresh_duration_seconds",
            "Duration of each refresh.",
            buckets=REFRESH_BUCKETS,
            registry=self.registry,
        )
        self._refresh_files = Counter(
            "feedsvc_refresh_files",
            "Files refreshes re-read (parsed) and of those, failed.",
            ["outcome"],
            registry=self.registry,
        )
        self._refresh_feeds = Counter(
            "feedsvc_refresh_feeds_rebuilt", "Feed documents refreshes re-rendered.", registry=self.registry
        )
        self._lock = threading.Lock()
        self._last_refresh: RefreshStats | None = None
        self.request_log_dropped: Callable[[], int] = lambda: 0  # the request log's writer, when there is one
        self.subscribers: Callable[[], Counts | None] = lambda: None  # the subscriber counts, when kept
        self.subscriber_polls_dropped: Callable[[], int] = lambda: 0  # polls those counts left out
        self.registry.register(_SnapshotCollector(snapshot, clock, self))

    def observe(self, route: str, fmt: str, status: int, size: int) -> None:
        """Count one answered request."""
        self._requests.add((route, fmt, status))
        if size:
            self._bytes.add(route, size)

    def feed_answers(self) -> tuple[int, int]:
        """Return how many feed requests were answered 200 or 304, and how many of them 304."""
        answered = not_modified = 0
        for (route, _, status), count in self._requests.totals().items():
            if route == FEED_ROUTE and status in (200, 304):
                answered += count
                not_modified += count if status == 304 else 0
        return answered, not_modified

    def observe_snapshot(self, snapshot: Snapshot) -> None:
        """Count the refresh that made a snapshot, once (a snapshot only marked degraded is no new refresh)."""
        scan = snapshot.last_refresh
        with self._lock:
            if scan is None or scan == self._last_refresh:
                return
            self._last_refresh = scan
        self._refresh_seconds.observe(scan.duration_s)
        self._refresh_files.labels("parsed").inc(scan.files_parsed)
        self._refresh_files.labels("failed").inc(scan.files_failed)
        self._refresh_feeds.inc(scan.feeds_rebuilt)

    def exposition(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)
