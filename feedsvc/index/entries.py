"""The index's files by path, shared between one scan and the next: a change costs what it changed.

A scan that events point at changes a few files of, say, a million. Copying the million
entries into a new dict for each such scan would cost tens of milliseconds of every
refresh; instead the new index is a `Layered` mapping, the last one's base shared as it
is with a small layer of changes on top. The layer is folded into a new base once it
holds a sixty-fourth of the base (and at least `MIN_FOLD` changes), so lookups stay one
or two dict look-ups and the folding costs a sixty-fourth of a copy per change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Final, TypeVar

V = TypeVar("V")

MIN_FOLD: Final = 4096  # changes a layer may hold before it is folded into its base, whatever the base's size
FOLD_SHARE: Final = 64  # ... or this share of the base, if that is more


class _Gone:
    """Marks, in a layer, a path the base has and the layered mapping has not (a file deleted)."""

    __slots__ = ()


_GONE: Final = _Gone()


class Layered(Mapping[str, V]):
    """A mapping read through a small layer of changes over a base shared with other mappings; never changed."""

    __slots__ = ("_base", "_size", "_top")

    def __init__(self, base: Mapping[str, V], top: Mapping[str, V | _Gone], size: int) -> None:
        self._base = base
        self._top = top
        self._size = size

    def __getitem__(self, key: str) -> V:
        found = self._top.get(key, None)
        if found is None:
            return self._base[key]
        if isinstance(found, _Gone):
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        found = self._top.get(key, None)  # type: ignore[call-overload]
        if found is None:
            return key in self._base
        return not isinstance(found, _Gone)

    def __iter__(self) -> Iterator[str]:
        top = self._top
        for key in self._base:
            if key not in top:
                yield key
        for key, value in top.items():
            if not isinstance(value, _Gone):
                yield key

    def __len__(self) -> int:
        return self._size

    @property
    def layer_size(self) -> int:
        """Return how many changes the layer holds over the base."""
        return len(self._top)


class Changes(MutableMapping[str, V]):
    """A scan's entries being made from the last index's: changes go to a layer; `settled()` gives the new index's.

    The last index's entries are never changed: they still serve until the new index replaces them.
    """

    def __init__(self, previous: Mapping[str, V]) -> None:
        if isinstance(previous, Layered):
            self._base: Mapping[str, V] = previous._base
            self._top: dict[str, V | _Gone] = dict(previous._top)
        else:
            self._base = previous
            self._top = {}
        self._size = len(previous)

    def __getitem__(self, key: str) -> V:
        found = self._top.get(key, None)
        if found is None:
            return self._base[key]
        if isinstance(found, _Gone):
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        found = self._top.get(key, None)  # type: ignore[call-overload]
        if found is None:
            return key in self._base
        return not isinstance(found, _Gone)

    def __setitem__(self, key: str, value: V) -> None:
        if key not in self:
            self._size += 1
        self._top[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._size -= 1
        if key in self._base:
            self._top[key] = _GONE
        else:
            del self._top[key]

    def __iter__(self) -> Iterator[str]:
        return iter(Layered(self._base, self._top, self._size))

    def __len__(self) -> int:
        return self._size

    def settled(self) -> Mapping[str, V]:
        """Return the entries as the new index holds them: layered over the shared base, or folded into a new dict."""
        if len(self._top) < max(MIN_FOLD, len(self._base) // FOLD_SHARE):
            return Layered(self._base, self._top, self._size)
        return dict(Layered(self._base, self._top, self._size).items())
