"""Entropy (KL divergence) calibration: TensorRT's search, as NVIDIA Model Optimizer implements it.

Follows ``modelopt.torch.quantization.calib.histogram._compute_amax_entropy``
(0.47) on a histogram ``b`` of ``|x|`` with ``B`` bins (2048) over ``[0, absmax]``:

* ``b[0] ← b[1]`` (the zero bin is ignored), ``T = Σ b``;
* for every candidate ``i = start_bin … B`` (stride 1): ``P`` = ``b[:i]`` with the
  outliers ``Σ b[i:]`` added to its last bin; ``Q`` = ``b[:i]`` merged into
  ``n = 2**(bits-1)`` levels (``2**bits`` unsigned) — bin ``j`` goes to level
  ``floor(j·n / i)`` — and spread back evenly over the non-empty bins of each level;
* ``KL_i = Σ_j (p_j/T) log((p_j/T)/(q_j/C_i))`` with ``C_i = Σ b[:i]``;
* the threshold is the bin edge ``i·w`` of the *last* minimum.

Instead of Model Optimizer's Python loop (``O(B²)`` per candidate set), qviz
evaluates every candidate at once from prefix sums::

    KL_i = (Σ_{j<i} p_j log p_j − Σ_g S_g log(S_g/m_g) − t_i log q_{i−1}) / T + log(C_i / T)

``S_g``, ``m_g`` the count and non-empty bins of level ``g`` (differences of
cumulative sums at the level boundaries ``ceil(g·i/n)``), ``t_i = T − C_i``. On
the same histogram this picks the same bin as Model Optimizer (up to float
ties); on the same data within one bin (its ``torch.histc`` bins ``|x|``, qviz
the signed values).

Asymmetric specs search each tail on its own histogram over ``[0, |tail|]``, with
the levels a tail gets under the min-max range, ``round(2**bits · |tail| / (max − min))``.

Example
-------
>>> import numpy as np
>>> from qviz.spec import QuantSpec
>>> from qviz.calibrate import calibrate
>>> x = np.random.default_rng(0).laplace(size=100_000).astype(np.float32)
>>> c = calibrate(x, QuantSpec(), "entropy")
>>> bool(c.clip_max.item() < np.abs(x).max())
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from .histogram import Stats
from ..spec import QuantSpec

#: Work (rows × candidates × levels) per vectorised chunk.
CHUNK = 1 << 22


def _xlogx(a):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, a * np.log(np.where(a > 0, a, 1)), 0.0)


def kl_curves(bins: np.ndarray, levels: np.ndarray, start_bin: int = 128, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """KL divergence of every candidate for each row of ``bins`` (``(r, B)`` counts).

    ``levels`` gives the target level count per row. Returns ``(candidates, kl)``
    with ``candidates`` the bin indices ``i`` (threshold ``i·w``) and ``kl`` of shape
    ``(r, len(candidates))`` (``inf`` where Q misses mass P has).
    """
    bins = np.array(bins, dtype=np.float64)
    r, B = bins.shape
    bins[:, 0] = bins[:, 1]
    cand = np.arange(start_bin, B + 1, stride)
    out = np.full((r, len(cand)), np.inf)
    for n in np.unique(levels):
        rows = np.flatnonzero(levels == n)
        g = np.arange(n + 1)
        bounds = (g[None, :] * cand[:, None] + n - 1) // n  # (c, n+1) level boundaries ceil(g·i/n)
        step = max(1, CHUNK // max(1, len(cand) * n))
        for s in range(0, len(rows), step):
            sel = rows[s : s + step]
            out[sel] = _kl_rows(bins[sel], cand, bounds)
    return cand, out


def _kl_rows(b, cand, bounds):
    r = b.shape[0]
    zero = np.zeros((r, 1))
    cb = np.concatenate([zero, np.cumsum(b, 1)], 1)
    nz = np.concatenate([zero, np.cumsum(b > 0, 1)], 1)
    pl = np.concatenate([zero, np.cumsum(_xlogx(b), 1)], 1)
    T = cb[:, -1:]
    S = np.diff(cb[:, bounds], axis=-1)  # (r, c, n)
    m = np.diff(nz[:, bounds], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogq = np.where(S > 0, S * np.log(np.where(S > 0, S, 1) / np.where(m > 0, m, 1)), 0).sum(-1)
        q_last = np.where(m[..., -1] > 0, S[..., -1] / np.where(m[..., -1] > 0, m[..., -1], 1), 0)
        C = cb[:, cand]
        tail = T - C
        b_last = b[:, cand - 1]
        p_last = b_last + tail
        plogp = pl[:, cand - 1] + _xlogx(p_last)
        extra = np.where(tail > 0, tail * np.log(np.where(q_last > 0, q_last, 1)), 0)
        kl = (plogp - plogq - extra) / T + np.log(np.where(C > 0, C, 1) / T)
    bad = ((tail > 0) & (b_last <= 0)) | (C <= 0)
    return np.where(bad, np.inf, kl)


def last_argmin(values: np.ndarray) -> np.ndarray:
    """Index of the last minimum per row (Model Optimizer's tie rule), tolerant to float noise."""
    best = values.min(1, keepdims=True)
    tol = 1e-12 * np.maximum(np.abs(best), 1e-300)
    ok = values <= best + tol
    return values.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)


def entropy(stats: Stats, spec: QuantSpec, curve_block: int, num_levels: int | None = None, start_bin: int = 128, stride: int = 1) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, str]:
    """TensorRT / Model Optimizer entropy calibration (see module docstring)."""
    B = stats.hist.shape[-1]
    if not isinstance(start_bin, (int, np.integer)) or not 1 <= start_bin <= B:
        raise ValueError(f"start_bin must be an int from 1 to num_bins ({B}), got {start_bin!r}")
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    if num_levels is not None and (not isinstance(num_levels, (int, np.integer)) or num_levels < 1):
        raise ValueError(f"num_levels must be a positive int (None: 2**(bits-1) signed, 2**bits unsigned), got {num_levels!r}")
    if spec.symmetric:
        n = num_levels or (1 << (spec.bits - 1 + (0 if spec.signed else 1)))
        rows_bins, rows_w = stats.abs_hist()
        levels = np.full(len(rows_bins), n, np.int64)
    else:
        full = num_levels or (1 << spec.bits)
        lo64, hi64 = np.minimum(stats.lo, 0).astype(np.float64), np.maximum(stats.hi, 0).astype(np.float64)
        span = hi64 - lo64
        tails = np.stack([-lo64, hi64], 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(span[:, None] > 0, tails / np.where(span > 0, span, 1)[:, None], 0)
        levels = np.maximum(np.rint(full * share), 1).astype(np.int64).reshape(-1)
        rows_bins = stats.hist.reshape(-1, B)
        rows_w = stats.width.reshape(-1)
    cand, kl = kl_curves(rows_bins, levels, start_bin, stride)
    pick = last_argmin(kl)
    thr = cand[pick] * rows_w
    if spec.symmetric:
        lo, hi = -thr, thr
        b = curve_block
        curve = pd.DataFrame({"threshold": cand * rows_w[b], "value": kl[b]})
    else:
        thr = thr.reshape(-1, 2)
        lo, hi = -thr[:, 0], thr[:, 1]
        b = curve_block
        neg = pd.DataFrame({"threshold": -(cand * rows_w[2 * b])[::-1], "value": kl[2 * b][::-1]})
        pos = pd.DataFrame({"threshold": cand * rows_w[2 * b + 1], "value": kl[2 * b + 1]})
        curve = pd.concat([neg[neg.threshold < 0], pos[pos.threshold > 0]], ignore_index=True)
    return lo.astype(np.float32), hi.astype(np.float32), curve, "KL divergence"
