"""Learn from filesystem events which paths of the content directory changed (watchdog, inotify on Linux).

The only module that imports watchdog. It reads no file: it only collects the
paths events name, for the next refresh to look at. When events may have been
lost (the kernel's queue overflowed, or the watcher stopped), `take` says so,
and the refresh walks the whole directory instead. watchdog tells of an overflow
with an EventsLostEvent, sent once it has repaired its watches: a refresh that
runs in between sees only the events read before, and the one after it walks.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirAttribEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    EventsLostEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

log = logging.getLogger("feedsvc.watch")

# Opening and reading (ours included) must not count as a change, or every refresh would cause the next.
# A change of attributes does count: `touch` moves the date of an article dated by its file, and
# `chmod` makes a file or folder readable or not. (Reading updates no attribute that inotify reports.)
_CHANGES = (
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    FileAttribEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    DirAttribEvent,
)


class Watcher(FileSystemEventHandler):
    """Collects changed paths (relative to the content directory) between two refreshes."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self._path = os.fspath(root)  # as configured: perhaps a link that a deployment points elsewhere
        self.root = os.path.realpath(root)  # the directory watched
        self._lock = threading.Lock()
        self._changed: set[str] = set()
        self._complete = False  # False until started, and after events were lost
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._identity: tuple[int, int] | None = None  # device and inode of the directory being watched
        self._wanted = False
        self._on_change: Callable[[], None] | None = None

    def notify(self, on_change: Callable[[], None] | None) -> None:
        """Call `on_change` (in the observer's thread; it must return at once) after each change or loss of events."""
        self._on_change = on_change

    def start(self, *, quiet: bool = False) -> bool:
        """Start watching; when that cannot be done now (limits, a missing directory), warn and let `take` retry."""
        self._wanted = True
        try:
            self.root = os.path.realpath(self._path)
            # Taken before the watch: a directory swapped in meanwhile is then noticed by `take`.
            identity = _identity(self.root)
            observer = Observer()
            # Only the events that mean a change: opening and reading (ours: 100,000 files in a cold
            # scan) would otherwise reach this process as events, to be decoded and thrown away.
            # A watch gets watchdog's word that events were lost only if its filter names it.
            observer.schedule(self, self.root, recursive=True, event_filter=[*_CHANGES, EventsLostEvent])
            observer.daemon = True
            observer.start()
        except (OSError, RuntimeError) as error:
            if not quiet:
                log.warning("cannot watch %s (%s); rescans walk the whole directory until it can", self.root, error)
            return True  # still wanted: `take` tries again
        with self._lock:
            self._observer = observer
            self._identity = identity
        return True

    def _stop_observer(self) -> None:
        with self._lock:
            observer, self._observer = self._observer, None
            self._complete = False
        if observer is not None:
            observer.stop()
            if observer.is_alive():
                observer.join(timeout=10)

    def stop(self) -> None:
        """Stop watching for good."""
        self._wanted = False
        self._stop_observer()

    def lost(self) -> None:
        """Note that events were lost: the next refresh must walk everything."""
        with self._lock:
            self._complete = False

    def take(self) -> set[str] | None:
        """Return the paths changed since the last call, or None when changes may have been missed.

        The first call after `start` returns None: only a full walk knows the state events start from.
        """
        with self._lock:
            alive = self._watching()
            changed, self._changed = self._changed, set()
            complete, self._complete = self._complete and alive, alive
        if not alive and self._wanted:
            # The directory may have been away (unmounted) when watching started or stopped: try again.
            self._stop_observer()
            self._wanted = self.start(quiet=True)
        return changed if complete else None

    def _watching(self) -> bool:
        """Tell whether events still come from the content directory as it is now (called with the lock held).

        The observer thread outlives its watch: when the directory is deleted the watch
        ends, and when another directory is moved into its place, or the configured link
        is pointed at another, the watch stays on the old one. Either way no event would
        tell what changes in the content directory any more.
        """
        observer = self._observer
        if observer is None or not observer.is_alive():
            return False
        if not all(emitter.is_alive() for emitter in observer.emitters):
            return False
        try:
            return _identity(self._path) == self._identity
        except OSError:
            return False

    def on_events_lost(self, event: EventsLostEvent) -> None:
        """Hear from watchdog that events were lost (the kernel's queue overflowed)."""
        self.lost()
        self._changed_now()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not isinstance(event, _CHANGES):
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        noted = False
        with self._lock:
            for path in paths:
                if path:
                    relative = self._relative(os.fsdecode(path))
                    if relative is not None:
                        self._changed.add(relative)
                        noted = True
        if noted:
            self._changed_now()

    def _changed_now(self) -> None:
        on_change = self._on_change
        if on_change is not None:
            on_change()

    def _relative(self, path: str) -> str | None:
        if path == self.root or not path.startswith(self.root + os.sep):
            return None
        return path[len(self.root) + 1 :].replace(os.sep, "/")


def _identity(path: str) -> tuple[int, int]:
    """Return the device and inode of a directory: what tells it from another put in its place."""
    info = os.stat(path)
    return info.st_dev, info.st_ino
