"""Where a serving process counts subscribers: its recorder, from the settings, in the state directory."""

from __future__ import annotations

from pathlib import Path

from feedsvc.config import Settings
from feedsvc.index.cache import default_cache_dir
from feedsvc.subscribers.ledger import ledger_name
from feedsvc.subscribers.recorder import Options, Recorder
from feedsvc.subscribers.tally import trusted_networks


def counts_file(settings: Settings, served: Path | str | None = None) -> Path:
    """Return the counts file of a service: in `cache.dir`, named after its content (or build) directory."""
    directory = settings.cache_dir or default_cache_dir()
    return directory / ledger_name(served if served is not None else settings.content_dir)


def counting_options(settings: Settings) -> Options:
    """Return how the settings ask to count."""
    return Options(
        trusted=trusted_networks(settings.trusted_proxies),
        max_clients=settings.stats_max_clients,
        report_days=settings.stats_report_days,
        flush_seconds=settings.stats_flush_seconds,
    )


def open_recorder(settings: Settings, served: Path | str | None = None) -> Recorder | None:
    """Return a recorder for the settings (not started), or None when `stats.enabled` is false."""
    if not settings.stats_enabled:
        return None
    return Recorder(counts_file(settings, served), counting_options(settings))
