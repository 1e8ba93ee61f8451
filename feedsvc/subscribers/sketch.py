"""A HyperLogLog sketch: how many distinct 64-bit hashes were added, in 4 KiB whatever their number.

Pure. Two sketches of the same precision merge by taking each register's maximum,
so sketches made by several processes (or replicas sharing the day key) combine
without counting a client twice. The standard error is 1.04 / sqrt(4096), about 1.6 %.
"""

from __future__ import annotations

import math

PRECISION = 12
REGISTERS = 1 << PRECISION
_ALPHA = 0.7213 / (1 + 1.079 / REGISTERS)
_MASK64 = (1 << 64) - 1


def new_sketch() -> bytearray:
    """Return an empty sketch."""
    return bytearray(REGISTERS)


def add(sketch: bytearray, value: int) -> None:
    """Add one 64-bit hash (signed or not) to a sketch."""
    value &= _MASK64
    index = value >> (64 - PRECISION)
    rest = value & ((1 << (64 - PRECISION)) - 1)
    rank = (64 - PRECISION) - rest.bit_length() + 1
    sketch[index] = max(sketch[index], rank)


def merge(into: bytearray, other: bytes | bytearray) -> None:
    """Merge `other` into `into` (register by register, the maximum); a sketch of another size is ignored."""
    if len(other) != len(into):
        return
    into[:] = bytes(map(max, into, other))


def estimate(sketch: bytes | bytearray) -> int:
    """Return the estimated number of distinct hashes added (exact in practice for a few dozen)."""
    if len(sketch) != REGISTERS:
        return 0
    zeros = sketch.count(0)
    if zeros == REGISTERS:
        return 0
    raw = _ALPHA * REGISTERS * REGISTERS / sum(2.0**-rank for rank in sketch)
    if raw <= 2.5 * REGISTERS and zeros:
        return round(REGISTERS * math.log(REGISTERS / zeros))  # linear counting: small numbers
    return round(raw)
