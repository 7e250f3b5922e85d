"""Bin a tensor before anything is drawn, so a figure's size never grows with the tensor.

Example
-------
>>> import numpy as np
>>> h = histogram(np.array([0.0, 0.5, 1.0, np.nan]), bins=2)
>>> h.counts.tolist(), h.nonfinite
([1, 2], 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import as_float32


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


def histogram(x, bins: int = 200, range: tuple[float, float] | None = None) -> Histogram:
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
