"""Give memory freed by a large piece of work back to the system; the one use of libc."""

from __future__ import annotations

import ctypes


def release_memory() -> None:
    """Give the memory freed by a large scan or a rendered page back to the system (glibc keeps it otherwise)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to do
        return
    libc.malloc_trim(0)
