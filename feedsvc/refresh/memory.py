"""What a refresh does with memory: freed memory given back to the system, and the garbage collector kept off the index.

The one use of libc, and of `gc`. A service holding a million articles holds millions
of objects that live as long as it does; Python's collector would walk all of them
again and again while a first refresh makes them (each time the heap grows by a
quarter), and then at every full collection, holding the GIL for seconds while no
request is answered. A process that serves (`serve`, `build --watch`) asks, with
`freeze_after_refreshes`, that every refresh runs without collecting, then collects
once what it made and moves what survives out of the collector's sight (`gc.freeze`).
Nothing of the index is in a reference cycle: what a later refresh lets go of is
freed by its reference count, frozen or not.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
from collections.abc import Iterator

_freezing = [False]  # set once by the process that serves; tests and one-off commands leave it


def release_memory() -> None:
    """Give the memory freed by a large scan or a rendered page back to the system (glibc keeps it otherwise)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to do
        return
    libc.malloc_trim(0)


def freeze_after_refreshes() -> None:
    """Have every refresh of this process settle its objects as `settled_objects` says (for serving processes)."""
    _freezing[0] = True


@contextlib.contextmanager
def settled_objects() -> Iterator[None]:
    """Run a refresh without collecting garbage; then collect what it made, once, and freeze what survives.

    Does nothing unless `freeze_after_refreshes` was called, or when the collector was
    off already (a refresh running meanwhile settles the objects of both).
    """
    if not _freezing[0] or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        # What the refresh made is young (no collection ran since): collect it, once, then
        # take what survives, the index with the rest, out of every later collection.
        gc.collect(1)
        gc.freeze()
        gc.enable()
