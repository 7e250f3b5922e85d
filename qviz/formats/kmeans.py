"""A codebook fitted to the tensor: k-means in one dimension (Lloyd–Max: Lloyd, IEEE Trans. IT 1982; Max, IRE Trans. IT 1960).

The ``k = 2**bits`` levels ``p_1 < … < p_k`` minimise Σ (x - nearest p)²; Lloyd's
iteration alternates the two conditions of an optimal quantizer::

    thresholds  t_i = (p_i + p_{i+1}) / 2           (nearest-neighbour cells)
    levels      p_i = mean of x in [t_{i-1}, t_i)   (centroid of each cell)

starting from the quantiles ``(i + 1/2) / k`` and stopping when no level moves.
On sorted data each step is a ``searchsorted`` plus a cumulative sum, so it costs
O(k log n). Tensors above 2**20 values are fitted on an evenly strided subsample.
Storage: ``bits`` per value plus the codebook (k float32) once per tensor.

Example
-------
>>> x = np.array([0.0, 0.1, 0.9, 1.0, 5.0, 5.2], dtype=np.float32)
>>> [round(float(v), 3) for v in fit_codebook(x, 3)]
[0.05, 0.95, 5.1]
"""

from __future__ import annotations

import numpy as np

from .base import Format, round_to_levels

MAX_FIT = 1 << 20


def fit_codebook(x, k: int, iters: int = 100) -> np.ndarray:
    """Lloyd–Max levels (float32, ascending, at most ``k``, fewer if ``x`` has fewer distinct values)."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    v = np.asarray(x, dtype=np.float32).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("x has no finite values: there is nothing to fit a codebook to")
    if v.size > MAX_FIT:
        v = v[:: int(np.ceil(v.size / MAX_FIT))]
    v = np.sort(v.astype(np.float64))
    distinct = np.unique(v)
    if distinct.size <= k:
        return distinct.astype(np.float32)
    cs = np.concatenate([[0.0], np.cumsum(v)])
    p = np.quantile(v, (np.arange(k) + 0.5) / k)
    for _ in range(iters):
        edges = np.concatenate([[0], np.searchsorted(v, (p[:-1] + p[1:]) / 2), [v.size]])
        count = np.diff(edges)
        total = cs[edges[1:]] - cs[edges[:-1]]
        new = np.where(count > 0, total / np.maximum(count, 1), p)
        new = np.sort(new)
        if np.array_equal(new, p):
            break
        p = new
    return np.unique(p.astype(np.float32))


class KMeansFormat(Format):
    """``2**bits`` levels fitted to each tensor by Lloyd–Max."""

    def __init__(self, bits: int = 4, name: str | None = None):
        if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 8:
            raise ValueError(f"a k-means codebook needs 1 to 8 bits (2 to 256 levels), got {bits!r}")
        super().__init__(
            name=name or f"kmeans_{bits}", title=f"k-means codebook, {2 ** bits} levels", family="non-uniform",
            element_bits=bits, tensor_overhead_bits=32 * 2**bits,
        )
        object.__setattr__(self, "bits", bits)

    def _fake_quantize(self, x32):
        return round_to_levels(x32, fit_codebook(x32, 2**self.bits))

    def _levels(self, x32):
        return fit_codebook(x32, 2**self.bits)
