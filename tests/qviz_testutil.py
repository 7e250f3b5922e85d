"""Helpers shared by the core tests (a plain module, so tests import it by name)."""

from __future__ import annotations

import numpy as np


def bits_of(a) -> np.ndarray:
    """float32 values as their int32 bit patterns, so ``array_equal`` is bit-for-bit (and NaN == NaN)."""
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    return a.view(np.int32)


def assert_bitwise_equal(actual, expected, msg: str = "") -> None:
    """Assert two float32 arrays are identical bit for bit; on failure show the first differences."""
    a = np.asarray(actual, dtype=np.float32)
    e = np.asarray(expected, dtype=np.float32)
    assert a.shape == e.shape, f"{msg} shape {a.shape} != {e.shape}"
    diff = bits_of(a) != bits_of(e)
    if diff.any():
        idx = np.argwhere(diff)[:5]
        rows = [f"  at {tuple(i)}: got {a[tuple(i)]!r}, expected {e[tuple(i)]!r}" for i in idx]
        raise AssertionError(f"{msg} {int(diff.sum())} of {a.size} elements differ\n" + "\n".join(rows))
