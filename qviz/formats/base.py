"""What a number format is, for qviz: :class:`Format`, and the helpers every family shares.

A format turns a tensor into the values it can represent (``fake_quantize``) and
says which values those are (``levels``). Every format counts its storage the same
way, so formats compare on one footing::

    bits_per_value = element bits + (bits of a per-block scale) / (block size)

so NF4 (4-bit codes, one float32 absmax per 64 values) is 4 + 32/64 = 4.5 and MXFP4
(4-bit elements, one 8-bit E8M0 scale per 32) is 4 + 8/32 = 4.25. A scale (or
codebook) shared by the whole tensor is not in ``bits_per_value``; it is in
:meth:`Format.bits_per_value_for`, which knows the tensor's size.

Rounding onto a set of levels is :func:`round_to_levels`: nearest level, ties to
the level with the even index (round-half-to-even when the levels are a floating
point format's values, lowest first).

Example
-------
>>> round_to_levels(np.array([0.25, 0.75, 5.0, 7.0], dtype=np.float32),
...                 np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], dtype=np.float32)).tolist()
[0.0, 1.0, 4.0, 6.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..arrays import as_float32

FAMILIES = ("uniform", "non-uniform", "floating point", "block-scaled (MX)", "binary / ternary")


@dataclass(frozen=True)
class Format:
    """A number format: what ``x`` becomes, and the values it can take.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"nf4"``.
    title : str
        What a person reads, e.g. ``"NF4 (QLoRA), blocks of 64"``.
    family : str
        One of :data:`FAMILIES`.
    element_bits : float
        Bits of one stored code.
    block_size : int
        Values sharing one scale (0: one scale for the whole tensor).
    scale_bits : int
        Bits of that scale (32 for float32, 8 for E8M0, 0 for none).
    tensor_overhead_bits : int
        Bits stored once per tensor (a float32 scale, a codebook).
    """

    name: str
    title: str
    family: str
    element_bits: float
    block_size: int = 0
    scale_bits: int = 0
    tensor_overhead_bits: int = 0

    @property
    def bits_per_value(self) -> float:
        """``element_bits + scale_bits / block_size`` (per-tensor overhead left out)."""
        return float(self.element_bits) + (self.scale_bits / self.block_size if self.block_size else 0.0)

    def bits_per_value_for(self, shape) -> float:
        """Storage per value of a tensor of ``shape``, the per-tensor overhead included."""
        n = max(int(np.prod(shape, dtype=np.int64)), 1)
        per_block = 0.0
        if self.block_size:
            per_block = math.ceil(n / self.block_size) * self.scale_bits / n
        return float(self.element_bits) + per_block + self.tensor_overhead_bits / n

    def fake_quantize(self, x) -> np.ndarray:
        """``x`` as this format stores it, float32, same shape; NaN stays NaN."""
        x32 = _finite_input(x)
        return self._fake_quantize(x32)

    def levels(self, x) -> np.ndarray:
        """The values this format can output for ``x``, sorted (for block formats: those of the block with the largest |x|)."""
        x32 = _finite_input(x)
        return np.unique(self._levels(x32).astype(np.float32))

    def describe(self) -> str:
        return f"{self.title}: {self.bits_per_value:g} bits per value"

    # subclasses implement these on a float32 array
    def _fake_quantize(self, x32: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _levels(self, x32: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def _finite_input(x) -> np.ndarray:
    x32, _ = as_float32(x)
    if x32.size == 0:
        raise ValueError("x is empty: there is nothing to quantize")
    if not np.isfinite(x32).any():
        raise ValueError("x has no finite values: there is nothing to quantize")
    return x32


def absmax(x32: np.ndarray) -> np.float32:
    """max |x| over the finite values (NaN/Inf ignored)."""
    a = np.abs(x32)
    return np.float32(a[np.isfinite(a)].max())


def round_to_levels(v: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Nearest of the sorted ``levels`` for every value of ``v``, ties to the even index; NaN stays NaN.

    Values beyond the ends saturate to the end levels.
    """
    levels = np.asarray(levels, dtype=np.float32)
    if levels.size == 1:
        return np.where(np.isnan(v), np.float32(np.nan), levels[0]).astype(np.float32)
    mid = ((levels[:-1].astype(np.float64) + levels[1:]) / 2).astype(np.float32)
    idx = np.searchsorted(mid, v, side="left")  # v == mid[i] gives i (the lower level)
    top = idx < mid.size
    tie = np.zeros(v.shape, dtype=bool)
    tie[top] = v[top] == mid[idx[top]]
    idx = np.where(tie & (idx % 2 == 1), idx + 1, idx)
    out = levels[np.minimum(idx, levels.size - 1)]
    return np.where(np.isnan(v), np.float32(np.nan), out).astype(np.float32)


def round_symmetric(v: np.ndarray, magnitudes: np.ndarray) -> np.ndarray:
    """Round ``|v|`` onto the sorted non-negative ``magnitudes`` and put the sign back (sign-magnitude formats)."""
    return (np.sign(v) * round_to_levels(np.abs(v), magnitudes)).astype(np.float32)


def to_blocks(x32: np.ndarray, block_size: int) -> tuple[np.ndarray, int]:
    """``x`` flattened (C order: runs of the last axis) into rows of ``block_size``; the last row padded with 0.

    Returns ``(rows, pad)``. Padding with 0 never changes a block's max |x|.
    """
    flat = x32.ravel()
    pad = (-flat.size) % block_size
    if pad:
        flat = np.concatenate([flat, np.zeros(pad, dtype=np.float32)])
    return flat.reshape(-1, block_size), pad


def from_blocks(rows: np.ndarray, pad: int, shape) -> np.ndarray:
    flat = rows.ravel()
    if pad:
        flat = flat[:-pad]
    return flat.reshape(shape).astype(np.float32)


def block_absmax(rows: np.ndarray) -> np.ndarray:
    """max |x| per row, NaN/Inf ignored (0 for a row with none)."""
    a = np.abs(rows)
    return np.where(np.isfinite(a), a, 0).max(axis=1).astype(np.float32)
