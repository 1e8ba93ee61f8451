"""The one wiring point: store, first refresh, scheduler, web app, and the production server.

The only module that imports waitress.
"""

from __future__ import annotations

import logging
import signal
import types
from dataclasses import dataclass

from flask import Flask
from waitress.server import create_server

from feedsvc.config import Settings
from feedsvc.refresh import Refresher
from feedsvc.schedule import Schedule, start_scheduler
from feedsvc.store import Store
from feedsvc.web import create_app

log = logging.getLogger("feedsvc")
# waitress warns on every queued request under load; the queue is expected to fill in bursts.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)

DEFAULT_THREADS = 8


@dataclass
class Service:
    """A running feedsvc: its store, refresher, scheduler and web app."""

    settings: Settings
    store: Store
    refresher: Refresher
    app: Flask
    schedule: Schedule | None

    def stop(self) -> None:
        """Stop the scheduler; a refresh under way finishes first."""
        if self.schedule is not None:
            self.schedule.stop()
            self.schedule = None


def start_service(settings: Settings, *, scheduled: bool = True) -> Service:
    """Build the first snapshot, then start the scheduler; the app is ready when this returns."""
    store = Store()
    refresher = Refresher(settings, store)
    refresher.refresh_safely()
    snapshot = store.snapshot
    log.info(
        "first refresh: %d articles in %d feed documents, %d problems%s",
        snapshot.articles,
        snapshot.feeds,
        len(snapshot.problems),
        f"; degraded: {snapshot.degraded}" if snapshot.degraded else "",
    )
    schedule = start_scheduler(refresher.refresh_safely, every=settings.interval_seconds) if scheduled else None
    return Service(settings=settings, store=store, refresher=refresher, app=create_app(store), schedule=schedule)


def _stop_on_signal(signum: int, frame: types.FrameType | None) -> None:
    raise SystemExit(0)


def serve(settings: Settings, *, host: str, port: int, threads: int = DEFAULT_THREADS) -> None:
    """Run the service under waitress until SIGTERM or Ctrl-C.

    Raises:
        OSError: the address cannot be bound.
    """
    service = start_service(settings)
    try:
        server = create_server(
            service.app,
            host=host,
            port=port,
            threads=threads,
            ident="feedsvc",
            asyncore_use_poll=True,
            connection_limit=1000,
        )
    except OSError:
        service.stop()
        raise
    previous = signal.signal(signal.SIGTERM, _stop_on_signal)
    bound = getattr(server, "effective_port", port)
    log.info("serving on http://%s:%s/ (scan every %d s)", host, bound, settings.interval_seconds)
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        log.info("stopping")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
        service.stop()
