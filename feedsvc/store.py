"""Hold the current snapshot; a refresh replaces it whole, requests read it without locks."""

from __future__ import annotations

import logging
from collections.abc import Callable

from feedsvc.model import Snapshot

log = logging.getLogger("feedsvc.store")


class Store:
    """The one reference to the snapshot being served."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self._snapshot = snapshot if snapshot is not None else Snapshot(documents={}, redirects={}, max_age=0)
        self._listeners: list[Callable[[Snapshot], None]] = []

    @property
    def snapshot(self) -> Snapshot:
        """Return the snapshot to serve (one read of one reference)."""
        return self._snapshot

    def replace(self, snapshot: Snapshot) -> None:
        """Swap in a new snapshot in one step, then tell the listeners (a failing one is only logged)."""
        self._snapshot = snapshot
        for listener in self._listeners:
            try:
                listener(snapshot)
            except Exception:
                log.exception("a snapshot listener failed")

    def subscribe(self, listener: Callable[[Snapshot], None]) -> None:
        """Call `listener` with each new snapshot (metrics count refreshes this way)."""
        self._listeners.append(listener)
