"""Plain statistics of a tensor: what the inspector's table and the per-layer analysis show.

Over the finite values (NaN/±Inf counted in ``nonfinite``), in float64::

    kurtosis             = E[(x - μ)⁴] / σ⁴ - 3        (excess: 0 for a Gaussian, 3 for Laplace)
    channel_range_ratio  = max_c (max_c - min_c) / min_c (max_c - min_c)   over channels on ``axis``

Example
-------
>>> import numpy as np
>>> s = tensor_stats(np.array([[1.0, 2.0], [3.0, 10.0]], dtype=np.float32))
>>> s["min"], s["max"], s["channel_range_ratio"]
(1.0, 10.0, 7.0)
"""

from __future__ import annotations

import math

import numpy as np

from .arrays import as_float32
from .blocks import block_min_max
from .chunking import CHUNK
from .spec import PerChannel


def channel_ranges(x, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (min, max) of the finite values along ``axis`` (1-D arrays, one entry per channel)."""
    x32, _ = as_float32(x)
    lo, hi = block_min_max(x32, PerChannel(axis))
    return lo.ravel(), hi.ravel()


def range_ratio(lo: np.ndarray, hi: np.ndarray) -> float:
    """Largest over smallest per-channel range; inf when some channel is constant and another is not."""
    r = (hi.astype(np.float64) - lo.astype(np.float64))
    if r.size == 0:
        return math.nan
    big, small = float(r.max()), float(r.min())
    if big == 0:
        return 1.0
    return math.inf if small == 0 else big / small


def tensor_stats(x, axis: int = 0) -> dict:
    """numel, min, max, mean, std, kurtosis, nonfinite and channel_range_ratio of ``x``.

    ``channel_range_ratio`` is over channels on ``axis`` (NaN for 0-d, 1-d and 1-channel tensors).
    """
    x32, _ = as_float32(x)
    n_all = int(x32.size)
    nan = math.nan
    out = dict(numel=n_all, min=nan, max=nan, mean=nan, std=nan, kurtosis=nan, nonfinite=0, channel_range_ratio=nan)
    if n_all == 0:
        return out
    flat = x32.reshape(-1)
    parts = [flat[i : i + CHUNK] for i in range(0, flat.size, CHUNK)]  # views: float64 temporaries of one chunk

    def finite_values(c: np.ndarray) -> np.ndarray:
        f = np.isfinite(c)
        return (c if f.all() else c[f]).astype(np.float64)

    n = lo = hi = total = 0.0
    for c in parts:
        v = finite_values(c)
        if v.size:
            lo, hi = (float(v.min()), float(v.max())) if n == 0 else (min(lo, float(v.min())), max(hi, float(v.max())))
            n, total = n + v.size, total + float(v.sum())
    out["nonfinite"] = n_all - int(n)
    if n == 0:
        return out
    mean = total / n
    ss = s4 = 0.0
    for c in parts:
        d = finite_values(c)
        d -= mean
        d2 = d * d
        ss += float(np.einsum("i,i->", d, d))
        s4 += float(np.einsum("i,i->", d2, d2))
    var = ss / n
    out.update(min=lo, max=hi, mean=mean, std=math.sqrt(var))
    if var > 0:
        out["kurtosis"] = float(s4 / n / (var * var) - 3.0)
    if x32.ndim >= 2 and x32.shape[axis % x32.ndim] > 1:  # a 1-d tensor has values, not channels
        out["channel_range_ratio"] = range_ratio(*channel_ranges(x32, axis))
    return out


def outlier_channels(x, axis: int = -1, *, threshold: float = 6.0, k: float = 6.0):
    """Channels on ``axis`` whose max |x| over every other axis is an outlier, with that magnitude.

    Two rules, both reported: ``|x| > threshold`` (6.0: LLM.int8's outlier features, Dettmers et al. 2022)
    and ``max|x|_c > k × median_c(max|x|_c)`` (relative to the tensor's typical channel). NaN/Inf are left out.

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``max_abs``, ``over_threshold``, ``over_k_median`` for the flagged channels, largest first;
        ``attrs`` holds ``median_max``, ``threshold``, ``k`` and ``channels``.

    Example
    -------
    >>> x = np.ones((4, 5), np.float32); x[2, 3] = -9.0; x[:, 1] = 0.5
    >>> df = outlier_channels(x, axis=1)
    >>> df[["channel", "max_abs", "over_threshold", "over_k_median"]].values.tolist()
    [[3, 9.0, True, True]]
    """
    import pandas as pd

    x32, _ = as_float32(x)
    if x32.ndim == 0:
        raise ValueError("outlier_channels needs a tensor with a channel axis, got a 0-d value")
    if not -x32.ndim <= axis < x32.ndim:
        raise ValueError(f"axis {axis} is out of range for a {x32.ndim}-d tensor")
    if threshold <= 0 or k <= 0:
        raise ValueError("threshold and k must be positive")
    a = np.moveaxis(np.abs(x32), axis, 0).reshape(x32.shape[axis], -1)
    a = np.where(np.isfinite(a), a, -np.inf)
    mx = a.max(axis=1, initial=-np.inf) if a.size else np.full(a.shape[0], -np.inf)
    seen = np.isfinite(mx)
    median = float(np.median(mx[seen])) if seen.any() else math.nan
    over_t = seen & (mx > threshold)
    over_k = seen & (mx > k * median) if median == median else np.zeros_like(seen)
    idx = np.flatnonzero(over_t | over_k)
    idx = idx[np.argsort(-mx[idx], kind="stable")]
    df = pd.DataFrame({"channel": idx.astype(int), "max_abs": mx[idx].astype(float), "over_threshold": over_t[idx],
                       "over_k_median": over_k[idx]})
    df.attrs.update(median_max=median, threshold=float(threshold), k=float(k), channels=int(x32.shape[axis]))
    return df
