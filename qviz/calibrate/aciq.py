"""ACIQ: analytic clipping from a Laplace or Gaussian fit (Banner, Nahshan & Soudry, 2019).

Fit the block's distribution (from the histogram: mean ``μ``, ``σ``, ``b = E|x − μ|``)
and clip at ``μ ± α*``, the ``α`` minimising the model's expected MSE for a grid
of ``n_steps`` steps over ``2α`` (``Δ = 2α / n_steps``)::

    MSE(α) = clip(α) + Δ²/12 · P(|x − μ| < α)
    Laplace(b):   clip = 2 b² e^{−α/b},                     P = 1 − e^{−α/b}
    Gaussian(σ):  clip = (α² + σ²) erfc(α/√2σ) − √(2/π) α σ e^{−α²/2σ²},  P = 1 − erfc(α/√2σ)

For 4 bits this gives Banner's ``α* ≈ 5.03 b`` (Laplace) and ``≈ 2.55 σ``
(Gaussian). ``distribution="auto"`` picks Laplace when the excess kurtosis
exceeds 1.5 (Gaussian 0, Laplace 3). The range is then intersected with the data
range; symmetric specs use ``±min(|μ| + α*, absmax)``. Neither torch, ONNX Runtime
nor Model Optimizer has it; it needs only moments, so it is stable on small
blocks (per-group) where a histogram search overfits, and its curve (the model's
MSE) next to the ``mse`` curve (the measured one) shows how well the fit holds.

Example
-------
>>> import numpy as np
>>> from qviz.spec import QuantSpec
>>> from qviz.calibrate import calibrate
>>> x = np.random.default_rng(0).laplace(size=200_000).astype(np.float32)
>>> c = calibrate(x, QuantSpec(bits=4), "aciq", distribution="laplace")
>>> 4.5 < float(c.clip_max.item()) < 5.5
True
"""

from __future__ import annotations

from numpy.typing import ArrayLike

import numpy as np
import pandas as pd

from .percentile import signed_bins
from .histogram import Stats
from ..spec import QuantSpec

DISTRIBUTIONS = ("auto", "laplace", "gaussian")


def _erfc(a: np.ndarray) -> np.ndarray:
    import torch  # lazily: `import qviz` stays free of torch

    return torch.special.erfc(torch.from_numpy(np.asarray(a, np.float64))).numpy()


def fit(stats: Stats) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(μ, σ, b, excess_kurtosis)`` per block from the histogram (bin centres, zeros exact)."""
    left, right, counts = signed_bins(stats)
    c = (left + right) / 2
    n = np.maximum(counts.sum(1), 1)
    mu = (counts * c).sum(1) / n
    dev = c - mu[:, None]
    var = (counts * dev**2).sum(1) / n
    b = (counts * np.abs(dev)).sum(1) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        kurt = np.where(var > 0, (counts * dev**4).sum(1) / n / var**2 - 3, 0.0)
    return mu, np.sqrt(var), b, kurt


def model_mse(alpha: np.ndarray, sigma: np.ndarray, b: np.ndarray, laplace: np.ndarray, n_steps: int) -> np.ndarray:
    """Expected MSE of the fitted model for clipping at ``±alpha`` (arrays broadcast per row)."""
    delta2 = (2 * alpha / n_steps) ** 2 / 12
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bb = np.where(b > 0, b, 1)[:, None]
        e = np.exp(-alpha / bb)
        lap = 2 * bb**2 * e + delta2 * (1 - e)
        s = np.where(sigma > 0, sigma, 1)[:, None]
        ec = _erfc(alpha / (np.sqrt(2) * s))
        gau = (alpha**2 + s**2) * ec - np.sqrt(2 / np.pi) * alpha * s * np.exp(-(alpha**2) / (2 * s**2))
        gau = gau + delta2 * (1 - ec)
    return np.where(laplace[:, None], lap, gau)


def aciq(stats: Stats, spec: QuantSpec, curve_block: int, distribution: str = "auto") -> tuple[np.ndarray, np.ndarray, pd.DataFrame, str]:
    """Analytic clipping (see module docstring); curve = the fitted model's MSE."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    mu, sigma, b, kurt = fit(stats)
    laplace = np.full(len(mu), distribution == "laplace") if distribution != "auto" else kurt > 1.5
    lo, hi = stats.lo.astype(np.float64), stats.hi.astype(np.float64)
    reach = np.maximum(np.abs(lo - mu), np.abs(hi - mu))
    B = stats.hist.shape[-1]
    alpha = np.arange(1, B + 1)[None, :] / B * reach[:, None]
    err = model_mse(alpha, sigma, b, laplace, spec.n_steps)
    rows = np.arange(len(mu))
    best = alpha[rows, np.argmin(err, 1)]
    if spec.symmetric:
        a = np.minimum(np.abs(mu) + best, np.maximum(-lo, hi))
        cmin, cmax = -a, a
        thr = np.abs(mu[curve_block]) + alpha[curve_block]
    else:
        cmin, cmax = np.maximum(mu - best, lo), np.minimum(mu + best, hi)
        thr = mu[curve_block] + alpha[curve_block]
    curve = pd.DataFrame({"threshold": thr, "value": err[curve_block]})
    return cmin.astype(np.float32), cmax.astype(np.float32), curve, "model MSE"
