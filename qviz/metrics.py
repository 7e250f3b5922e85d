"""How much a quantizer hurt a tensor: :func:`error_metrics`.

With e = x̂ - x over the N finite values (sums in float64)::

    mse            = Σe² / N
    sqnr_db        = 10·log10(Σx² / Σe²)            (inf when e = 0)
    psnr_db        = 10·log10(max|x|² / mse)        (inf when e = 0)
    mean_error     = Σe / N                          (bias)
    cosine         = Σx·x̂ / (‖x‖·‖x̂‖)
    rmse_over_scale= sqrt(mean((e / Δ_block)²))     (≈ 1/√12 ≈ 0.29 for pure rounding noise)

With ``qparams``, a value is *clipped* when the clamp changed its code (its
rounded code fell outside ``[qmin, qmax]``)::

    clip_mse  = Σ_clipped e² / N,   round_mse = Σ_inside e² / N,   clip_mse + round_mse = mse
    code_usage   = mean over blocks of (#distinct codes used / #codes)
    wasted_range = mean over blocks of 1 - (q(max x) - q(min x)) / (qmax - qmin)

``wasted_range`` is the share of the integer range that no value between the
block's own min and max can reach: [40, 1000] in uint8 (range widened to
[0, 1000]) reaches codes 10…255 only, wasting 10/255 ≈ 3.92%.

Example
-------
>>> import numpy as np
>>> x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
>>> error_metrics(x, x).sqnr_db
inf
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from . import blocks
from .affine import QParams, rounded
from .arrays import as_float32


@dataclass(frozen=True)
class Metrics:
    """Error of ``x̂`` against ``x``; fields that need qparams are NaN without them."""

    mse: float
    sqnr_db: float
    psnr_db: float
    max_abs_error: float
    mean_error: float
    cosine: float
    rmse_over_scale: float
    clip_mse: float
    round_mse: float
    code_usage: float
    wasted_range: float
    n: int
    nonfinite: int

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def _db(num: float, den: float) -> float:
    if den == 0:
        return math.inf if num > 0 or num == 0 else math.nan
    if num == 0:
        return -math.inf
    return 10.0 * math.log10(num / den)


def _code_stats(codes: np.ndarray, finite: np.ndarray, qparams: QParams) -> tuple[float, float]:
    """(code_usage, wasted_range) averaged over blocks, from clamped codes in block view."""
    spec = qparams.spec
    g = spec.granularity
    shape = finite.shape
    n_codes = spec.n_levels
    axes = tuple(range(1, codes.ndim, 2))
    every = bool(finite.all())
    if every:
        hi, lo = codes.max(axis=axes), codes.min(axis=axes)
    else:
        fin = blocks.split(finite, g)
        hi = np.where(fin, codes, -np.inf).max(axis=axes)
        lo = np.where(fin, codes, np.inf).min(axis=axes)
    span = np.where(np.isfinite(hi), hi - lo, 0.0).astype(np.float64)  # codes are float32; report in float64
    wasted = float(np.mean(1.0 - span / (spec.qmax - spec.qmin)))
    flat = blocks.to_blocks(codes.reshape(shape), g)
    nb = flat.shape[0]
    idx = (flat.astype(np.int64) - spec.qmin) + (np.arange(nb, dtype=np.int64) * n_codes)[:, None]
    idx = idx.ravel() if every else idx[blocks.to_blocks(finite, g)]
    if nb * n_codes <= 1 << 24:
        used = (np.bincount(idx, minlength=nb * n_codes).reshape(nb, n_codes) > 0).sum(axis=1)
    else:
        used = np.bincount(np.unique(idx) // n_codes, minlength=nb)
    return float(np.mean(used / n_codes)), wasted


def error_metrics(x, x_hat, qparams: QParams | None = None) -> Metrics:
    """Error metrics of ``x_hat`` against ``x`` (see the module docstring for formulas).

    Parameters
    ----------
    x, x_hat : array_like or torch.Tensor
        Same shape. Positions where either is NaN/±Inf are left out and counted
        in ``nonfinite``.
    qparams : QParams, optional
        The parameters ``x_hat`` came from; enables ``rmse_over_scale``,
        ``clip_mse``/``round_mse``, ``code_usage`` and ``wasted_range``.

    Examples
    --------
    >>> import numpy as np
    >>> from qviz import QuantSpec, choose_qparams, fake_quantize
    >>> x = np.linspace(-1, 1, 1001, dtype=np.float32)
    >>> qp = choose_qparams(-1, 1, QuantSpec(bits=8))
    >>> m = error_metrics(x, fake_quantize(x, qp), qp)
    >>> round(m.sqnr_db), m.clip_mse == 0.0
    (48, True)
    """
    x32, _ = as_float32(x)
    xh32, _ = as_float32(x_hat)
    if x32.shape != xh32.shape:
        raise ValueError(f"x has shape {x32.shape} but x_hat has shape {xh32.shape}: pass the same tensor's reconstruction")
    if x32.size == 0:
        raise ValueError("x is empty: there is nothing to measure")
    finite = np.isfinite(x32) & np.isfinite(xh32)
    n = int(finite.sum())
    nonfinite = int(x32.size - n)
    nan = math.nan
    if n == 0:
        return Metrics(nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, 0, nonfinite)
    all_finite = n == x32.size
    if not all_finite:
        x32, xh32 = np.where(finite, x32, np.float32(0)), np.where(finite, xh32, np.float32(0))
    xf, xhf = x32.ravel(), xh32.ravel()
    e = np.subtract(xhf, xf, dtype=np.float64)  # the one float64 array: sums below accumulate in float64
    sse = float(np.einsum("i,i->", e, e))
    mse = sse / n
    signal = float(np.einsum("i,i->", xf, xf, dtype=np.float64))
    nh = float(np.einsum("i,i->", xhf, xhf, dtype=np.float64))
    peak = float(max(xf.max(), -xf.min()))
    if signal == 0 and nh == 0:
        cosine = 1.0
    elif signal == 0 or nh == 0:
        cosine = 0.0
    else:
        cosine = float(np.einsum("i,i->", xf, xhf, dtype=np.float64) / math.sqrt(signal * nh))
    sqnr = _db(signal, sse)
    psnr = _db(peak * peak, mse) if sse else math.inf
    r_over_s = clip_mse = round_mse = usage = wasted = nan
    if qparams is not None:
        if not isinstance(qparams, QParams):
            raise ValueError(f"qparams must be qviz.QParams, got {type(qparams).__name__}")
        g = qparams.spec.granularity
        scale = qparams.scale.astype(np.float64)
        if scale.size == 1:
            lsb_sse = sse / float(scale.reshape(-1)[0]) ** 2
        else:  # Σ_blocks (Σ e² in the block) / Δ_block²
            ev = blocks.split(e.reshape(x32.shape), g)
            axes = tuple(range(1, ev.ndim, 2))
            per_block = np.square(ev).sum(axis=axes, keepdims=True)
            lsb_sse = float((per_block / np.square(blocks.expand(scale, x32.shape, g))).sum())
        r_over_s = math.sqrt(lsb_sse / n)
        t = rounded(x32, qparams)
        s = qparams.spec
        clipped = ((t < s.qmin) | (t > s.qmax)).reshape(-1)
        if not all_finite:
            clipped &= finite.reshape(-1)
        clip_e = e[clipped] if clipped.any() else e[:0]
        clip_sse = float(np.einsum("i,i->", clip_e, clip_e))
        clip_mse = clip_sse / n
        round_mse = (sse - clip_sse) / n
        np.clip(t, np.float32(s.qmin), np.float32(s.qmax), out=t)  # non-finite positions hold 0 here; _code_stats skips them
        usage, wasted = _code_stats(t, finite, qparams)
    return Metrics(
        mse=mse,
        sqnr_db=sqnr,
        psnr_db=psnr,
        max_abs_error=float(max(e.max(), -e.min())),
        mean_error=float(e.sum() / n),
        cosine=cosine,
        rmse_over_scale=r_over_s,
        clip_mse=clip_mse,
        round_mse=round_mse,
        code_usage=usage,
        wasted_range=wasted,
        n=n,
        nonfinite=nonfinite,
    )
