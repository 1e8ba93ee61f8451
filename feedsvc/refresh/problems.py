"""The log of what scans find wrong: each problem and warning once, when it appears, and the directory's state.

It only logs (to `feedsvc.refresh`, which `feedsvc check` quiets to print them itself);
it changes nothing a refresh publishes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from feedsvc.index.scan import ContentIndex, ScanResult
from feedsvc.model import Article, Problem

log = logging.getLogger("feedsvc.refresh")


class ProblemLog:
    """Logs each problem and warning once, when a scan first finds it; and the content directory lost or back."""

    def __init__(self, content_dir: Path) -> None:
        self.content_dir = content_dir
        self._folder_problems: frozenset[Problem] = frozenset()
        self._content_error: str | None = None  # why the last scan could not read the directory

    def note(self, scan: ScanResult, previous: ContentIndex) -> None:
        """Log what `scan` found that `previous` (the index before it) did not have."""
        if scan.error != self._content_error:
            if scan.error is not None:
                log.error("%s; the last good feeds keep serving", scan.error)
            else:
                log.info("content directory %s is readable again", self.content_dir)
            self._content_error = scan.error
        if scan.error is not None:
            return
        for source in scan.reread:
            entry = scan.index.entries[source]
            old = previous.entries.get(source)
            if entry.problem is not None:
                if old is None or old.result != entry.result:
                    kept = " (its last good version keeps publishing)" if entry.last_good is not None else ""
                    log.warning("%s%s", entry.problem, kept)
            elif isinstance(entry.result, Article):
                old_warnings = old.result.warnings if old is not None and isinstance(old.result, Article) else ()
                for warning in entry.result.warnings:
                    if warning not in old_warnings:
                        log.warning("%s: %s", source, warning)
        if scan.full:
            folder_problems = frozenset(scan.index.folder_problems)
            for problem in sorted(folder_problems - self._folder_problems, key=str):
                log.warning("%s", problem)
            self._folder_problems = folder_problems
