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

Every metric is built from additive pieces (:class:`ErrorSums`), so a tensor
measured in parts gives exactly the whole tensor's metrics:
``error_sums(part1, …).merge(error_sums(part2, …), same_blocks).metrics()``.

Example
-------
>>> import numpy as np
>>> x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
>>> error_metrics(x, x).sqnr_db
inf
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from . import blocks
from .affine import QParams, rounded
from .arrays import as_float32
from .spec import PerTensor

_PER_TENSOR = PerTensor()


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

    @property
    def clip_share(self) -> float:
        """Share of the MSE that clipping causes: ``clip_mse / mse`` (0 when there is no error)."""
        return self.clip_mse / self.mse if self.mse else 0.0

    @property
    def round_share(self) -> float:
        """Share of the MSE that rounding causes: ``round_mse / mse`` (0 when there is no error)."""
        return self.round_mse / self.mse if self.mse else 0.0

    def as_dict(self) -> dict:
        """The fields as a dict (the derived shares are properties, not fields)."""
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


@dataclass(frozen=True, eq=False)
class ErrorSums:
    """The additive pieces of :func:`error_metrics` over (part of) a tensor.

    Sums and maxima over the finite values; with qparams, per block the lowest and
    highest code reached (``code_lo``/``code_hi``, NaN for a block with no finite
    value) and the codes used (``used``: sorted flat indices ``block·n_levels + q − qmin``).
    """

    n: int
    nonfinite: int
    sse: float
    se: float
    signal: float
    nh: float
    dot: float
    peak: float
    maxerr: float
    lsb_sse: float = math.nan
    clip_sse: float = math.nan
    spec: object = None
    code_lo: np.ndarray | None = None
    code_hi: np.ndarray | None = None
    used: np.ndarray | None = None

    def merge(self, other: "ErrorSums", same_blocks: bool) -> "ErrorSums":
        """Both parts together. ``same_blocks``: the parts hold values of the same blocks
        (a per-tensor range over row chunks); otherwise each part has its own blocks, in order."""
        out = dict(
            n=self.n + other.n, nonfinite=self.nonfinite + other.nonfinite, sse=self.sse + other.sse, se=self.se + other.se,
            signal=self.signal + other.signal, nh=self.nh + other.nh, dot=self.dot + other.dot,
            peak=max(self.peak, other.peak), maxerr=max(self.maxerr, other.maxerr),
            lsb_sse=self.lsb_sse + other.lsb_sse, clip_sse=self.clip_sse + other.clip_sse,
        )
        if self.code_lo is None or other.code_lo is None:
            return replace(self, **out, code_lo=None, code_hi=None, used=None)
        if same_blocks:
            lo, hi = np.fmin(self.code_lo, other.code_lo), np.fmax(self.code_hi, other.code_hi)
            used = np.union1d(self.used, other.used)
        else:
            lo, hi = np.concatenate([self.code_lo, other.code_lo]), np.concatenate([self.code_hi, other.code_hi])
            used = np.concatenate([self.used, other.used + self.code_lo.size * self.spec.n_levels])
        return replace(self, **out, code_lo=lo, code_hi=hi, used=used)

    def metrics(self) -> "Metrics":
        """The :class:`Metrics` these sums make."""
        nan, n = math.nan, self.n
        if n == 0:
            return Metrics(nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, 0, self.nonfinite)
        if self.signal == 0 and self.nh == 0:
            cosine = 1.0
        elif self.signal == 0 or self.nh == 0:
            cosine = 0.0
        else:
            cosine = min(1.0, max(-1.0, self.dot / math.sqrt(self.signal * self.nh)))  # float64 rounding can pass ±1
        usage = wasted = nan
        if self.code_lo is not None:
            spec = self.spec
            nb = self.code_lo.size
            span = np.where(np.isnan(self.code_lo), 0.0, self.code_hi - self.code_lo)
            wasted = float(np.mean(1.0 - span / (spec.qmax - spec.qmin)))
            usage = float(np.mean(np.bincount(self.used // spec.n_levels, minlength=nb) / spec.n_levels))
        return Metrics(
            mse=self.sse / n,
            sqnr_db=_db(self.signal, self.sse),
            psnr_db=_db(self.peak**2, self.sse / n) if self.sse else math.inf,
            max_abs_error=self.maxerr,
            mean_error=self.se / n,
            cosine=cosine,
            rmse_over_scale=math.sqrt(self.lsb_sse / n),
            clip_mse=self.clip_sse / n,
            round_mse=(self.sse - self.clip_sse) / n,
            code_usage=usage,
            wasted_range=wasted,
            n=n,
            nonfinite=self.nonfinite,
        )


def _codes_used(codes: np.ndarray, finite: np.ndarray | None, qparams: QParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per block: lowest and highest code (NaN if none) and the flat indices of the codes used."""
    spec = qparams.spec
    g = spec.granularity
    flat = blocks.to_blocks(codes, g)
    nb, n_codes = flat.shape[0], spec.n_levels
    if finite is None:
        lo, hi = flat.min(axis=1).astype(np.float64), flat.max(axis=1).astype(np.float64)
    else:
        fin = blocks.to_blocks(finite, g)
        lo = np.where(fin, flat, np.inf).min(axis=1).astype(np.float64)
        hi = np.where(fin, flat, -np.inf).max(axis=1).astype(np.float64)
        lo[np.isinf(lo)] = np.nan
        hi[np.isinf(hi)] = np.nan
    idx = (flat.astype(np.int64) - spec.qmin) + (np.arange(nb, dtype=np.int64) * n_codes)[:, None]
    idx = idx.ravel() if finite is None else idx[blocks.to_blocks(finite, g)]
    if nb * n_codes <= 1 << 24:
        used = np.flatnonzero(np.bincount(idx, minlength=nb * n_codes))
    else:
        used = np.unique(idx)
    return lo, hi, used


def error_sums(x, x_hat, qparams: QParams | None = None) -> ErrorSums:
    """The additive pieces of :func:`error_metrics` (see :class:`ErrorSums`).

    Tensors over :data:`qviz.chunking.CHUNK` values are summed row chunk by row chunk
    (:mod:`qviz.chunking`), so the float64 temporaries stay a chunk's size.
    """
    from .chunking import chunk_qparams, is_chunked, row_chunks

    x32, _ = as_float32(x)
    xh32, _ = as_float32(x_hat)
    if x32.shape != xh32.shape:
        raise ValueError(f"x has shape {x32.shape} but x_hat has shape {xh32.shape}: pass the same tensor's reconstruction")
    if qparams is not None and not isinstance(qparams, QParams):
        raise ValueError(f"qparams must be qviz.QParams, got {type(qparams).__name__}")
    g = qparams.spec.granularity if qparams is not None else None
    if not is_chunked(x32.shape, g if g is not None else _PER_TENSOR):
        return _error_sums(x32, xh32, qparams)
    total = None
    for rows, grid_rows in row_chunks(x32.shape, g if g is not None else _PER_TENSOR):
        qp = None if qparams is None else chunk_qparams(qparams, x32.shape, grid_rows)
        part = _error_sums(x32[rows], xh32[rows], qp)
        total = part if total is None else total.merge(part, same_blocks=grid_rows is None)
    return total


def _error_sums(x32: np.ndarray, xh32: np.ndarray, qparams: QParams | None) -> ErrorSums:
    finite = np.isfinite(x32) & np.isfinite(xh32)
    n = int(finite.sum())
    all_finite = n == x32.size
    if not all_finite:
        x32, xh32 = np.where(finite, x32, np.float32(0)), np.where(finite, xh32, np.float32(0))
    xf, xhf = x32.ravel(), xh32.ravel()
    e = np.subtract(xhf, xf, dtype=np.float64)  # the one float64 array: sums below accumulate in float64
    sse = float(np.einsum("i,i->", e, e))
    sums = dict(
        n=n, nonfinite=int(x32.size - n), sse=sse, se=float(e.sum()),
        signal=float(np.einsum("i,i->", xf, xf, dtype=np.float64)),
        nh=float(np.einsum("i,i->", xhf, xhf, dtype=np.float64)),
        dot=float(np.einsum("i,i->", xf, xhf, dtype=np.float64)),
        peak=float(max(xf.max(), -xf.min())) if xf.size else 0.0,
        maxerr=float(max(e.max(), -e.min())) if e.size else 0.0,
    )
    if qparams is None:
        return ErrorSums(**sums)
    spec, g = qparams.spec, qparams.spec.granularity
    scale = qparams.scale.astype(np.float64)
    if scale.size == 1:
        lsb_sse = sse / float(scale.reshape(-1)[0]) ** 2
    else:  # Σ_blocks (Σ e² in the block) / Δ_block²
        ev = blocks.split(e.reshape(x32.shape), g)
        per_block = np.square(ev).sum(axis=tuple(range(1, ev.ndim, 2)), keepdims=True)
        lsb_sse = float((per_block / np.square(blocks.expand(scale, x32.shape, g))).sum())
    t = rounded(x32, qparams)  # non-finite positions hold 0 here and are left out below
    clipped = ((t < spec.qmin) | (t > spec.qmax)).reshape(-1)
    if not all_finite:
        clipped &= finite.reshape(-1)
    clip_e = e[clipped]
    np.clip(t, np.float32(spec.qmin), np.float32(spec.qmax), out=t)
    lo, hi, used = _codes_used(t.reshape(x32.shape), None if all_finite else finite, qparams)
    return ErrorSums(**sums, lsb_sse=lsb_sse, clip_sse=float(np.einsum("i,i->", clip_e, clip_e)), spec=spec,
                     code_lo=lo, code_hi=hi, used=used)


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
    if x32.size == 0:
        raise ValueError("x is empty: there is nothing to measure")
    return error_sums(x32, x_hat, qparams).metrics()
