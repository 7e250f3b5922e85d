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

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .. import blocks
from ..arrays import as_float32
from ..spec import Granularity, PerGroup, PerTensor

FAMILIES = ("uniform", "non-uniform", "floating point", "block-scaled (MX)", "binary / ternary")


class Format:
    """A number format: what ``x`` becomes, and the values it can take.

    Every family is a frozen dataclass whose fields are its parameters (so ``==``,
    ``hash`` and ``repr`` see all of them); what follows from them is a property.

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
        Values sharing one scale, as the group size of ``PerGroup(block_size, axis=-1)``
        (0: one scale for the whole tensor); see :attr:`granularity` and :func:`group_rows`.
    scale_bits : int
        Bits of that scale (32 for float32, 8 for E8M0, 0 for none).
    tensor_overhead_bits : int
        Bits stored once per tensor (a float32 scale, a codebook).
    """

    name: str
    title: str

    @property
    def family(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def element_bits(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def block_size(self) -> int:
        return 0

    @property
    def scale_bits(self) -> int:
        return 0

    @property
    def tensor_overhead_bits(self) -> int:
        return 0

    @property
    def granularity(self) -> Granularity:
        """The :mod:`qviz.blocks` granularity of the scales: ``PerGroup(block_size, axis=-1)`` or ``PerTensor()``."""
        return PerGroup(self.block_size, axis=-1) if self.block_size else PerTensor()

    @property
    def bits_per_value(self) -> float:
        """``element_bits + scale_bits / block_size`` (per-tensor overhead left out)."""
        return float(self.element_bits) + (self.scale_bits / self.block_size if self.block_size else 0.0)

    def bits_per_value_for(self, shape: tuple[int, ...]) -> float:
        """Storage per value of a tensor of ``shape``, the per-tensor overhead included.

        A row whose length the block size does not divide ends in a partial block,
        which still stores a whole scale (see :func:`group_rows`).
        """
        shape = tuple(int(s) for s in shape)
        n = max(int(np.prod(shape, dtype=np.int64)), 1)
        per_block = 0.0
        if self.block_size:
            per_block = blocks.n_blocks(padded_shape(shape, self.block_size), self.granularity) * self.scale_bits / n
        return float(self.element_bits) + per_block + self.tensor_overhead_bits / n

    def fake_quantize(self, x: ArrayLike) -> np.ndarray:
        """``x`` as this format stores it, float32, same shape; NaN stays NaN."""
        x32 = _finite_input(x)
        return self._fake_quantize(x32)

    def levels(self, x: ArrayLike) -> np.ndarray:
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


@dataclass(frozen=True)
class CodebookFields(Format):
    """The fields of a non-uniform format set by its bits alone: ``bits`` per code and ``name``.

    Subclasses (:class:`~qviz.formats.log2.Log2Format`, :class:`~qviz.formats.kmeans.KMeansFormat`)
    give ``name`` a default from ``bits`` in their ``__init__``, which calls this dataclass's.
    """

    bits: int
    name: str

    @property
    def family(self) -> str:
        return "non-uniform"

    @property
    def element_bits(self) -> float:
        return self.bits

    @staticmethod
    def check_bits(bits: int, lo: int, hi: int, what: str) -> int:
        """``bits`` if it is an int in ``[lo, hi]``; a ``ValueError`` saying ``what`` otherwise."""
        if not isinstance(bits, int) or isinstance(bits, bool) or not lo <= bits <= hi:
            raise ValueError(f"{what} needs {lo} to {hi} bits, got {bits!r}")
        return bits


def _finite_input(x: ArrayLike) -> np.ndarray:
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


def padded_shape(shape: tuple[int, ...], group_size: int) -> tuple[int, ...]:
    """``shape`` with its last axis rounded up to a multiple of ``group_size`` (a scalar counts as ``(1,)``)."""
    shape = tuple(int(s) for s in shape) or (1,)
    return shape[:-1] + (-(-shape[-1] // group_size) * group_size,)


def group_rows(x32: np.ndarray, group_size: int) -> np.ndarray:
    """The blocks of ``PerGroup(group_size, axis=-1)`` (:func:`qviz.blocks.to_blocks`): shape ``(n_blocks, group_size)``.

    Every block format groups this way, as ``QuantSpec(granularity=PerGroup(g))``
    does: runs of ``g`` values along the last axis, a block never spanning two rows.
    When ``g`` does not divide the last axis, that axis is padded with NaN up to the
    next multiple (as the OCP MX reference, microsoft/microxcaling, pads the block
    axis), so each row ends in a partial block. NaN, not 0, because every range
    statistic ignores it: the partial block's scale comes from its real values only
    (a 0 would widen an asymmetric min-max range and bias a percentile or MSE
    search). The partial block still stores a whole scale
    (:meth:`Format.bits_per_value_for`), and :func:`from_group_rows` drops the
    padding. A scalar is a row of one value.

    Example
    -------
    >>> group_rows(np.arange(6, dtype=np.float32).reshape(2, 3), 2).tolist()
    [[0.0, 1.0], [2.0, nan], [3.0, 4.0], [5.0, nan]]
    """
    shape = padded_shape(x32.shape, group_size)
    x = x32.reshape(shape[:-1] + (-1,))
    pad = shape[-1] - x.shape[-1]
    if pad:
        x = np.concatenate([x, np.full(x.shape[:-1] + (pad,), np.nan, dtype=np.float32)], axis=-1)
    return blocks.to_blocks(np.ascontiguousarray(x, dtype=np.float32), PerGroup(group_size, axis=-1))


def from_group_rows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`group_rows`: the rows back in a tensor of ``shape``, padding dropped (float32)."""
    shape = tuple(int(s) for s in shape)
    full = rows.reshape(padded_shape(shape, rows.shape[-1]))
    return np.ascontiguousarray(full[..., : (shape[-1] if shape else 1)]).reshape(shape).astype(np.float32)


def block_absmax(rows: np.ndarray) -> np.ndarray:
    """max |x| per row, NaN/Inf (and so the padding of :func:`group_rows`) ignored (0 for a row with none)."""
    a = np.abs(rows)
    return np.where(np.isfinite(a), a, 0).max(axis=1).astype(np.float32)
