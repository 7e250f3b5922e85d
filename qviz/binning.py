"""Bin a tensor before anything is drawn, so a figure's size never grows with the tensor.

Example
-------
>>> import numpy as np
>>> h = histogram(np.array([0.0, 0.5, 1.0, np.nan]), bins=2)
>>> h.counts.tolist(), h.nonfinite
([1, 2], 1)
"""

from __future__ import annotations

from numpy.typing import ArrayLike
from typing import Any

from dataclasses import dataclass

import numpy as np

from .affine import rounded
from .arrays import as_float32
from .chunking import CHUNK, chunk_qparams, is_chunked, row_chunks

builtins_range = range  # histogram() takes a `range` argument, as numpy's does


@dataclass(frozen=True, eq=False)
class Histogram:
    """Counts of the finite values in ``bins`` equal bins over ``[edges[0], edges[-1]]``."""

    edges: np.ndarray
    counts: np.ndarray
    nonfinite: int

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2

    @property
    def widths(self) -> np.ndarray:
        return np.diff(self.edges)

    @property
    def total(self) -> int:
        return int(self.counts.sum())


def histogram(x: ArrayLike, bins: int = 200, range: tuple[float, float] | None = None) -> Histogram:
    """Histogram of the finite values of ``x`` (NaN/±Inf counted apart).

    Parameters
    ----------
    x : array_like or torch.Tensor
    bins : int
        Number of equal-width bins (1 to 100 000).
    range : (float, float), optional
        Span to bin; defaults to the finite min and max (widened a little when
        they are equal). Values outside are not counted.
    """
    if not isinstance(bins, (int, np.integer)) or not 1 <= bins <= 100_000:
        raise ValueError(f"bins must be an integer from 1 to 100000, got {bins!r}")
    a, _ = as_float32(x)
    a = a.reshape(-1)  # a view for contiguous input; everything below walks it in chunks of CHUNK values
    if range is None:
        lo, hi, nonfinite = finite_min_max(a)
        if nonfinite == a.size:
            lo, hi = 0.0, 1.0
    else:
        lo, hi = float(range[0]), float(range[1])
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
            raise ValueError(f"range must be two finite numbers (low, high) with low <= high, got {range!r}")
    if hi <= lo:
        pad = max(abs(lo) * 1e-3, 1e-6)
        lo, hi = lo - pad, hi + pad
    edges = np.linspace(lo, hi, int(bins) + 1)
    counts = np.zeros(bins, np.int64)
    nonfinite = 0
    for c, dropped in finite_chunks(a):
        nonfinite += dropped
        counts += _bin(c, lo, hi, bins)
    return Histogram(edges=edges, counts=counts.astype(np.int64), nonfinite=nonfinite)


def finite_chunks(a: np.ndarray):
    """``(finite values, count of NaN/±Inf left out)`` of a flat array, :data:`CHUNK` values at a time."""
    for i in builtins_range(0, a.size, CHUNK):
        c = a[i : i + CHUNK]
        finite = np.isfinite(c)
        yield (c, 0) if finite.all() else (c[finite], int(c.size - finite.sum()))


def finite_min_max(a: np.ndarray) -> tuple[float, float, int]:
    """``(min, max, nonfinite count)`` of the finite values of a flat array, chunk by chunk (NaN, NaN when none)."""
    lo, hi, nonfinite = np.inf, -np.inf, 0
    for c, dropped in finite_chunks(a):
        nonfinite += dropped
        if c.size:
            lo, hi = min(lo, float(c.min())), max(hi, float(c.max()))
    return (lo, hi, nonfinite) if lo <= hi else (float("nan"), float("nan"), nonfinite)


def _bin(c: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """Counts of the finite values ``c`` in ``bins`` equal bins over [lo, hi] (the right edge in the last bin)."""
    idx = np.floor((c.astype(np.float64) - lo) * (bins / (hi - lo))).astype(np.int64)
    idx[idx == bins] = bins - 1
    keep = (idx >= 0) & (idx < bins)
    return np.bincount(idx[keep] if not keep.all() else idx, minlength=bins)[:bins]


@dataclass(frozen=True, eq=False)
class ErrorHistogram:
    """Histogram of ``e = x̂ - x`` split by cause: values inside the clip range (rounding) and beyond it (clipping)."""

    edges: np.ndarray
    rounding: np.ndarray
    clipping: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2


def error_histogram(x: ArrayLike, x_hat: ArrayLike, qparams: Any, bins: int = 120) -> ErrorHistogram:
    """Bin the error ``x̂ - x`` of the finite values, rounding and clipping apart.

    A value is clipped when the clamp changed its code (as in :func:`qviz.error_metrics`).
    The bins span the whole error range, so clipping errors far out stay visible.

    Example
    -------
    >>> import numpy as np, qviz
    >>> x = np.array([-3.0, -0.4, 0.1, 0.5], dtype=np.float32)
    >>> qp = qviz.choose_qparams(-1, 1, qviz.QuantSpec(bits=4))
    >>> h = error_histogram(x, qviz.fake_quantize(x, qp), qp, bins=4)
    >>> int(h.rounding.sum()), int(h.clipping.sum())
    (3, 1)
    """
    x32, _ = as_float32(x)
    xh32, _ = as_float32(x_hat)
    spec = qparams.spec
    g = spec.granularity
    parts = list(row_chunks(x32.shape, g)) if is_chunked(x32.shape, g) else [(Ellipsis, None)]

    def errors(rows, grid_rows):
        xc, xhc = x32[rows], xh32[rows]
        t = rounded(xc, chunk_qparams(qparams, x32.shape, grid_rows)).reshape(xc.shape)
        finite = np.isfinite(xc) & np.isfinite(xhc)
        clipped = ((t < spec.qmin) | (t > spec.qmax))[finite]
        return (xhc.astype(np.float64) - xc)[finite], clipped

    lo, hi = np.inf, -np.inf
    for part in parts:  # first pass: the error range, so the bins span every error (clipping ones far out too)
        e, _ = errors(*part)
        if e.size:
            lo, hi = min(lo, float(e.min())), max(hi, float(e.max()))
    edges = histogram(np.array([lo, hi] if lo <= hi else [], np.float64), bins=bins).edges
    lo, hi = float(edges[0]), float(edges[-1])
    rounding, clipping = np.zeros(bins, np.int64), np.zeros(bins, np.int64)
    for part in parts:
        e, clipped = errors(*part)
        idx = np.clip(np.floor((e - lo) * (bins / (hi - lo))).astype(np.int64), 0, bins - 1)
        rounding += np.bincount(idx[~clipped], minlength=bins)
        clipping += np.bincount(idx[clipped], minlength=bins)
    return ErrorHistogram(edges=edges, rounding=rounding, clipping=clipping)
