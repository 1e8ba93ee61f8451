"""Scans in tests: the real scan with a parser that records the files it was handed, a hand-filled change source,
and a batch large enough to be parsed in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from feedsvc.config import Settings
from feedsvc.index.cache import Cache, open_cache
from feedsvc.index.scan import CHUNK_FILES, EMPTY_INDEX, PARALLEL_MIN_FILES, ContentIndex, ScanResult, scan_content
from feedsvc.model import Article, Problem
from feedsvc.parse.articles import parse_file
from feedsvc.refresh.scanner import Scanner
from tests.corpus import write_article, write_corpus

DATE = "Wed, 04 May 2022 10:33:00 GMT"


class RecordingParse:
    """The real parser, recording the source of every file it is handed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.calls: list[str] = []

    def __call__(self, raw: bytes, source: str, mtime: float) -> tuple[Article | Problem, str]:
        self.calls.append(source)
        return parse_file(raw, source=source, mtime=mtime, settings=self.settings)


def scan(
    settings: Settings,
    previous: ContentIndex = EMPTY_INDEX,
    changed: set[str] | None = None,
    **options: Any,
) -> tuple[ScanResult, list[str]]:
    """Scan the settings' content directory after `previous`; return the result and the files parsed."""
    parse = RecordingParse(settings)
    result = scan_content(
        settings.content_dir, previous, parse, max_bytes=settings.max_file_bytes, changed=changed, **options
    )
    return result, parse.calls


def write(directory: Path, name: str, **fields: Any) -> Path:
    """Write an article titled after its name, with a fixed date unless given."""
    return write_article(directory, name, {"title": name, "date": DATE, **fields})


class FakeChanges:
    """A change source filled by hand: `take` hands over the paths noted since it was last called."""

    def __init__(self) -> None:
        self.pending: set[str] | None = set()
        self.taken = 0

    def note(self, *paths: str) -> None:
        """Record paths as filesystem events would."""
        if self.pending is not None:
            self.pending.update(paths)

    def lose(self) -> None:
        """Make the next `take` say that events were lost."""
        self.pending = None

    def take(self) -> set[str] | None:
        """Return what was noted since the last call, or None when events were lost."""
        self.taken += 1
        pending, self.pending = self.pending, set()
        return pending


def parallel_corpus(directory: Path) -> int:
    """Write more than PARALLEL_MIN_FILES articles and a few problem files; return how many files there are."""
    write_corpus(directory, PARALLEL_MIN_FILES + CHUNK_FILES // 2)
    (directory / "bad-yaml.md").write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")
    (directory / "bad-date.md").write_text("---\ntitle: x\ndate: 2022-02-30\n---\nbody\n", encoding="utf-8")
    return PARALLEL_MIN_FILES + CHUNK_FILES // 2 + 2


def entries_summary(index: ContentIndex) -> dict[str, Any]:
    """Return what an index holds, comparable across processes: each entry's stamp, result and last good article."""
    return {source: (e.stamp, e.result, e.last_good, e.path) for source, e in index.entries.items()}


def assert_progress(calls: list[tuple[int, int | None]], total: int) -> None:
    """Assert progress calls count up, never down, to the total, each giving that total once the walk has ended."""
    assert calls
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert calls[-1] == (total, total)
    totals = [of for _, of in calls]
    walking = totals.index(total)  # before it, the walk went on: no total yet
    assert set(totals[:walking]) <= {None}
    assert set(totals[walking:]) == {total}


def indexed(settings: Settings, index: ContentIndex = EMPTY_INDEX) -> ContentIndex:
    """Scan the content directory into a new index, as a refresh's scanner does."""
    return Scanner(settings).scan(index, 0.0).index


def article_of(index: ContentIndex, source: str) -> Article:
    """Return the article the index holds for a source."""
    article = index.entries[source].article
    assert article is not None
    return article


def opened_cache(settings: Settings) -> Iterator[Cache]:
    """The persistent cache of the settings, closed afterwards (the body of a fixture: `yield from`)."""
    opened = open_cache(settings)
    assert opened is not None
    yield opened
    opened.close()
