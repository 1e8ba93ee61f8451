"""Hold the current snapshot; a refresh replaces it whole, requests read it without locks."""

from __future__ import annotations

from feedsvc.model import Snapshot


class Store:
    """The one reference to the snapshot being served."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self._snapshot = snapshot if snapshot is not None else Snapshot(documents={}, redirects={}, max_age=0)

    @property
    def snapshot(self) -> Snapshot:
        """Return the snapshot to serve (one read of one reference)."""
        return self._snapshot

    def replace(self, snapshot: Snapshot) -> None:
        """Swap in a new snapshot in one step."""
        self._snapshot = snapshot
