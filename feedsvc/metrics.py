"""Prometheus metrics: request counters, and gauges read from the snapshot when scraped.

The only module that imports prometheus-client. Each app has its own registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from feedsvc.model import Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# The *_created series double every counter's output and mean nothing for a scrape.
disable_created_metrics()  # type: ignore[no-untyped-call]


class _SnapshotCollector(Collector):
    """Reports what the current snapshot says about content and the last refresh."""

    def __init__(self, snapshot: Callable[[], Snapshot], clock: Callable[[], float]) -> None:
        self._snapshot = snapshot
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        snapshot = self._snapshot()
        yield GaugeMetricFamily("feedsvc_articles", "Articles published.", value=snapshot.articles)
        yield GaugeMetricFamily("feedsvc_feeds", "Feed documents served (feeds times formats).", value=snapshot.feeds)
        yield GaugeMetricFamily(
            "feedsvc_problems", "Content files (and folders) with a problem.", value=len(snapshot.problems)
        )
        yield GaugeMetricFamily(
            "feedsvc_degraded", "1 when the last refresh could not do its work.", value=1 if snapshot.degraded else 0
        )
        yield CounterMetricFamily("feedsvc_refresh_failures", "Refreshes that raised.", value=snapshot.refreshes_failed)
        scan = snapshot.last_scan
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


class Metrics:
    """The metrics of one web app."""

    def __init__(self, snapshot: Callable[[], Snapshot], clock: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "feedsvc_http_requests", "HTTP requests answered.", ["route", "format", "status"], registry=self.registry
        )
        self._bytes = Counter("feedsvc_http_response_bytes", "Body bytes sent.", ["route"], registry=self.registry)
        self.registry.register(_SnapshotCollector(snapshot, clock))

    def observe(self, route: str, fmt: str, status: int, size: int) -> None:
        """Count one answered request."""
        self._requests.labels(route, fmt, str(status)).inc()
        if size:
            self._bytes.labels(route).inc(size)

    def exposition(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)
