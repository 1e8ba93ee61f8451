"""A feed's articles in order, newest first, kept so that a copy of them costs almost nothing.

A snapshot's archive pages read each feed's whole list as it stood at that refresh,
while the next refresh changes the lists. A copy of the list of every article
(a million references, each touching its article) took a tenth of a second per
refresh, and as much again for the garbage collector to look through it. A
`Shelf` holds its articles in chunks (tuples of about CHUNK articles) that are
never changed, only replaced: an insertion or removal makes one new chunk, and a
`view` copies the list of chunks, a thousand references at a million articles.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Iterator, Sequence
from typing import overload

from feedsvc.model import Article

SortKey = tuple[float, str]
# Articles a chunk is cut into when a list is made whole; a chunk that grows to twice this is split,
# one that shrinks below a quarter joins a neighbour.
CHUNK = 512


def sort_key(article: Article) -> SortKey:
    """Newest first (latest date), ties broken by file path."""
    return (-article.published.timestamp(), article.source)


def sort_newest_first(articles: list[Article]) -> None:
    """Sort a list in place as `sort_key` orders it, without a key object for each article.

    Sorted by path, then (stably) by date, newest first: both keys are the articles' own
    objects. `sort(key=sort_key)` would make a tuple and a float for each article at once:
    80 MB of keys for a million articles, at the peak of a first refresh.
    """
    articles.sort(key=_SOURCE)
    articles.sort(key=_PUBLISHED, reverse=True)  # reverse keeps equal dates in path order


_SOURCE = operator.attrgetter("source")
_PUBLISHED = operator.attrgetter("published")  # always aware: compared as instants, as their timestamps are


def _last_key(chunk: tuple[Article, ...]) -> SortKey:
    return sort_key(chunk[-1])


class ShelfView(Sequence[Article]):
    """A shelf as it stood when the view was taken: read-only, unchanged by later changes to the shelf."""

    __slots__ = ("_chunks", "_ends", "_length")

    def __init__(self, chunks: tuple[tuple[Article, ...], ...], length: int) -> None:
        self._chunks = chunks
        self._length = length
        self._ends: list[int] | None = None  # each chunk's end position, worked out when first needed

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Article: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Article, ...]: ...

    def __getitem__(self, index: int | slice) -> Article | tuple[Article, ...]:
        return _get(self._chunks, self._positions(), self._length, index)

    def __iter__(self) -> Iterator[Article]:
        return itertools.chain.from_iterable(self._chunks)

    def _positions(self) -> list[int]:
        if self._ends is None:
            self._ends = list(itertools.accumulate(len(chunk) for chunk in self._chunks))
        return self._ends


def _get(
    chunks: Sequence[tuple[Article, ...]], ends: list[int], length: int, index: int | slice
) -> Article | tuple[Article, ...]:
    """Return an article, or a slice of articles as a tuple, by position across chunks ending at `ends`."""
    if isinstance(index, slice):
        start, stop, step = index.indices(length)
        if step != 1:
            return tuple(_get(chunks, ends, length, i) for i in range(start, stop, step))  # type: ignore[misc]
        if start >= stop:
            return ()
        first = bisect.bisect_right(ends, start)
        last = bisect.bisect_right(ends, stop - 1)
        offset = ends[first - 1] if first else 0
        if first == last:
            return chunks[first][start - offset : stop - offset]
        parts: list[Article] = list(chunks[first][start - offset :])
        for i in range(first + 1, last):
            parts.extend(chunks[i])
        parts.extend(chunks[last][: stop - ends[last - 1]])
        return tuple(parts)
    position = index + length if index < 0 else index
    if not 0 <= position < length:
        raise IndexError("shelf index out of range")
    number = bisect.bisect_right(ends, position)
    return chunks[number][position - (ends[number - 1] if number else 0)]


class Shelf:
    """The articles of one list, newest first by `sort_key`; each added once (by its source)."""

    __slots__ = ("_chunks", "_ends", "_length")

    def __init__(self, ordered: Sequence[Article] = ()) -> None:
        """Make a shelf of articles already in order, newest first (cut into chunks: no copy of the whole)."""
        self._chunks: list[tuple[Article, ...]] = [
            tuple(ordered[start : start + CHUNK]) for start in range(0, len(ordered), CHUNK)
        ]
        self._length = len(ordered)
        self._ends: list[int] | None = None

    def __len__(self) -> int:
        return self._length

    def __bool__(self) -> bool:
        return self._length > 0

    def __iter__(self) -> Iterator[Article]:
        return itertools.chain.from_iterable(self._chunks)

    @overload
    def __getitem__(self, index: int) -> Article: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Article, ...]: ...

    def __getitem__(self, index: int | slice) -> Article | tuple[Article, ...]:
        if index == -1 and self._chunks:
            return self._chunks[-1][-1]  # the oldest: it names a found category's seniority
        if (
            isinstance(index, slice)
            and index.start is None
            and index.step is None
            and self._chunks
            and index.stop is not None
            and 0 <= index.stop <= len(self._chunks[0])
        ):
            return self._chunks[0][: index.stop]  # the newest few, as a feed shows them: no positions needed
        if self._ends is None:
            self._ends = list(itertools.accumulate(len(chunk) for chunk in self._chunks))
        return _get(self._chunks, self._ends, self._length, index)

    def view(self) -> ShelfView:
        """Return the shelf as it stands now, for readers in other threads: a copy of its chunk list only."""
        return ShelfView(tuple(self._chunks), self._length)

    def insert(self, article: Article) -> None:
        """Add an article in its place."""
        key = sort_key(article)
        chunks = self._chunks
        self._length += 1
        self._ends = None
        if not chunks:
            chunks.append((article,))
            return
        number = min(bisect.bisect_left(chunks, key, key=_last_key), len(chunks) - 1)
        chunk = chunks[number]
        at = bisect.bisect_left(chunk, key, key=sort_key)
        grown = (*chunk[:at], article, *chunk[at:])
        if len(grown) >= 2 * CHUNK:
            half = len(grown) // 2
            chunks[number : number + 1] = [grown[:half], grown[half:]]
        else:
            chunks[number] = grown

    def remove(self, article: Article) -> None:
        """Take out an article that is on the shelf (found by its sort key).

        Raises:
            ValueError: it is not on the shelf.
        """
        key = sort_key(article)
        chunks = self._chunks
        number = bisect.bisect_left(chunks, key, key=_last_key)
        if number == len(chunks):
            raise ValueError(f"{article.source} is not on the shelf")
        chunk = chunks[number]
        at = bisect.bisect_left(chunk, key, key=sort_key)
        if at == len(chunk) or sort_key(chunk[at]) != key:
            raise ValueError(f"{article.source} is not on the shelf")
        shrunk = chunk[:at] + chunk[at + 1 :]
        self._length -= 1
        self._ends = None
        if not shrunk:
            del chunks[number]
            return
        chunks[number] = shrunk
        if len(shrunk) < CHUNK // 4:
            self._join(number)

    def _join(self, number: int) -> None:
        """Join a small chunk to its smaller neighbour, when the two make less than a full split."""
        chunks = self._chunks
        neighbours = [n for n in (number - 1, number + 1) if 0 <= n < len(chunks)]
        if not neighbours:
            return
        other = min(neighbours, key=lambda n: len(chunks[n]))
        low, high = sorted((number, other))
        if len(chunks[low]) + len(chunks[high]) < 2 * CHUNK:
            chunks[low : high + 1] = [chunks[low] + chunks[high]]
