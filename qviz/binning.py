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

from .arrays import as_float32
from .affine import rounded


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
    a = a.ravel()
    finite = np.isfinite(a)
    nonfinite = int(a.size - finite.sum())
    if nonfinite:
        a = a[finite]
    if range is None:
        if a.size == 0:
            lo, hi = 0.0, 1.0
        else:
            lo, hi = float(a.min()), float(a.max())
    else:
        lo, hi = float(range[0]), float(range[1])
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
            raise ValueError(f"range must be two finite numbers (low, high) with low <= high, got {range!r}")
    if hi <= lo:
        pad = max(abs(lo) * 1e-3, 1e-6)
        lo, hi = lo - pad, hi + pad
    edges = np.linspace(lo, hi, int(bins) + 1)
    idx = np.floor((a.astype(np.float64) - lo) * (bins / (hi - lo))).astype(np.int64)
    idx[idx == bins] = bins - 1  # the right edge belongs to the last bin
    keep = (idx >= 0) & (idx < bins)
    counts = np.bincount(idx[keep] if not keep.all() else idx, minlength=bins)[:bins]
    return Histogram(edges=edges, counts=counts.astype(np.int64), nonfinite=nonfinite)


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
    t = rounded(x32, qparams).reshape(x32.shape)
    clipped = (t < spec.qmin) | (t > spec.qmax)
    finite = np.isfinite(x32) & np.isfinite(xh32)
    e = (xh32.astype(np.float64) - x32)[finite]
    clipped = clipped[finite]
    h = histogram(e, bins=bins)
    lo, hi = float(h.edges[0]), float(h.edges[-1])
    idx = np.clip(np.floor((e - lo) * (bins / (hi - lo))).astype(np.int64), 0, bins - 1)
    return ErrorHistogram(
        edges=h.edges,
        rounding=np.bincount(idx[~clipped], minlength=bins),
        clipping=np.bincount(idx[clipped], minlength=bins),
    )
