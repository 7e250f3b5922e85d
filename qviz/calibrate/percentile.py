"""Percentile clipping from the histogram.

Symmetric specs clip at the ``p``-th percentile of ``|x|``; asymmetric specs at
the ``(100 − p)``-th and ``p``-th percentiles of ``x`` (one per tail)::

    a = left_k + (p/100 · N − C_{k−1}) / n_k · w      k: first bin with C_k ≥ p/100 · N

``C`` the cumulative count, zeros a point mass at 0. Model Optimizer and ONNX
Runtime return the left edge of bin ``k`` (up to one bin low); qviz interpolates
inside it, so the result is within one histogram bin of the exact percentile
(``numpy.percentile``) — closer for smooth data.

Example
-------
>>> import numpy as np
>>> from qviz.spec import QuantSpec
>>> from qviz.calibrate import calibrate
>>> x = np.linspace(-1, 1, 100001, dtype=np.float32)
>>> round(float(calibrate(x, QuantSpec(), "percentile", percentile=90).clip_max.item()), 3)
0.9
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def check_percentile(percentile) -> float:
    """``percentile`` as a float, or ``ValueError`` when it is not in (0, 100]."""
    p = float(percentile)
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], e.g. 99.99; got {percentile!r}")
    return p


def signed_bins(stats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(left, right, counts)`` of x's distribution in ascending order: neg tail, zero mass, pos tail."""
    nb, _, B = stats.hist.shape
    j = np.arange(B)
    wn, wp = stats.width[:, :1], stats.width[:, 1:]
    left = np.concatenate([-(j[::-1] + 1) * wn, np.zeros((nb, 1)), j * wp], 1)
    right = np.concatenate([-j[::-1] * wn, np.zeros((nb, 1)), (j + 1) * wp], 1)
    counts = np.concatenate([stats.hist[:, 0, ::-1], stats.zeros[:, None].astype(np.float64), stats.hist[:, 1]], 1)
    return left, right, counts


def abs_bins(stats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(left, right, counts)`` of |x|: zero mass, then the summed tails (symmetric specs share widths)."""
    nb, _, B = stats.hist.shape
    j = np.arange(B)
    w = stats.width[:, 1:]
    left = np.concatenate([np.zeros((nb, 1)), j * w], 1)
    right = np.concatenate([np.zeros((nb, 1)), (j + 1) * w], 1)
    counts = np.concatenate([stats.zeros[:, None].astype(np.float64), stats.hist[:, 0] + stats.hist[:, 1]], 1)
    return left, right, counts


def quantile(left, right, counts, q) -> np.ndarray:
    """Per row, the value below which a fraction ``q`` of the counts lies (linear inside a bin)."""
    cum = np.cumsum(counts, 1)
    total = cum[:, -1]
    target = np.asarray(q, np.float64) * total
    k = np.minimum((cum < target[:, None] * (1 - 1e-12)).sum(1), counts.shape[1] - 1)
    rows = np.arange(len(k))
    before = cum[rows, k] - counts[rows, k]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.clip(np.where(counts[rows, k] > 0, (target - before) / counts[rows, k], 0.0), 0, 1)
    return left[rows, k] + frac * (right[rows, k] - left[rows, k])


def percentile(stats, spec, curve_block, percentile=99.99):
    """Clip at the percentile (see module docstring); curve = CDF at the bin edges of ``curve_block``."""
    p = check_percentile(percentile)
    if spec.symmetric:
        left, right, counts = abs_bins(stats)
        a = quantile(left, right, counts, p / 100)
        lo, hi = -a, a
    else:
        left, right, counts = signed_bins(stats)
        lo = quantile(left, right, counts, 1 - p / 100)
        hi = quantile(left, right, counts, p / 100)
        # interpolation inside the end bins may step past the data: keep the range inside it
        lo = np.clip(lo, stats.lo, stats.hi)
        hi = np.clip(hi, stats.lo, stats.hi)
    b = curve_block
    cdf = np.cumsum(counts[b]) / max(counts[b].sum(), 1)
    keep = right[b] > left[b]
    curve = pd.DataFrame({"threshold": right[b][keep], "value": cdf[keep]})
    if spec.symmetric:
        curve = pd.concat([pd.DataFrame({"threshold": [0.0], "value": [cdf[0]]}), curve], ignore_index=True)
    return lo.astype(np.float32), hi.astype(np.float32), curve, "CDF"
