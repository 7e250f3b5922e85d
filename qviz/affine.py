"""Uniform (affine) quantization: a range becomes ``QParams``; values become codes and back.

Formulas (Δ = scale, z = zero point, o = 0 for mid-tread, 1/2 for mid-rise)::

    quantize     q  = clamp(R(x · fl(1/Δ) - o) + z, qmin, qmax)
    dequantize   x̂  = (q - z + o) · Δ
    fake_quantize = dequantize ∘ quantize

``R`` is round-half-to-even (``nearest``) or ``floor(v + u)``, ``u ~ U[0, 1)``
(``stochastic``). As :func:`torch.fake_quantize_per_tensor_affine`, x is
multiplied by the float32 reciprocal of the scale and the zero point is added
*after* rounding; all in float32. (Dividing by the scale instead, or adding z
before rounding as ``torch.quantize_per_tensor`` does for quint8, disagrees
with torch's fake-quant on a few elements per million.)

:func:`choose_qparams` is the one place a range becomes scale and zero point::

    symmetric     Δ = max(|min|, |max|) / (n_steps / 2),      z = (qmin + qmax + 1) // 2
    asymmetric    Δ = (max⁺ - min⁻) / n_steps,                 z = qmin - round(min⁻ / Δ)
                  with min⁻ = min(min, 0), max⁺ = max(max, 0)  (the range always holds 0)
    Δ is at least float32 eps (torch's MinMaxObserver floor), so it is never 0.

``n_steps`` is ``qmax - qmin`` (mid-tread) or ``qmax - qmin + 1`` (mid-rise); with
8 bits that is /127.5 for symmetric int8 as torch, /127 with narrow_range as
TensorRT and ONNX Runtime. For asymmetric mid-rise, Δ is then widened just
enough that the integer zero point still lets the cells cover the whole range.

Example
-------
>>> from qviz.spec import QuantSpec
>>> qp = choose_qparams(-20.0, 1000.0, QuantSpec(signed=False, symmetric=False))
>>> float(qp.scale), int(qp.zero_point)
(4.0, 5)
>>> quantize(np.array([-20.0, 0.0, 500.0], dtype=np.float32), qp)
array([  0,   5, 130], dtype=int32)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import blocks
from .arrays import as_float32, wrap
from .spec import QuantSpec

EPS = np.finfo(np.float32).eps


@dataclass(frozen=True, eq=False)
class QParams:
    """Scale and zero point per block, and the spec they are for.

    Attributes
    ----------
    scale : ndarray of float32
        Δ per block (shape of the block grid, or a scalar for per-tensor).
    zero_point : ndarray of int64
        z per block.
    spec : QuantSpec
    """

    scale: np.ndarray
    zero_point: np.ndarray
    spec: QuantSpec

    @property
    def level_min(self) -> np.ndarray:
        """Lowest output level per block, ``(qmin - z + o)·Δ``."""
        s = self.spec
        return ((s.qmin - self.zero_point + s.level_offset) * self.scale).astype(np.float32)

    @property
    def level_max(self) -> np.ndarray:
        """Highest output level per block, ``(qmax - z + o)·Δ``."""
        s = self.spec
        return ((s.qmax - self.zero_point + s.level_offset) * self.scale).astype(np.float32)

    def levels(self, block: int = 0) -> np.ndarray:
        """Every output level of one block, lowest first (float32)."""
        s = self.spec
        z = int(np.ravel(self.zero_point)[block])
        q = np.arange(s.qmin, s.qmax + 1, dtype=np.float32)
        return ((q - z + s.level_offset) * np.ravel(self.scale)[block]).astype(np.float32)

    def describe(self, block: int = 0) -> str:
        return (
            f"scale={float(np.ravel(self.scale)[block]):.6g}, zero_point={int(np.ravel(self.zero_point)[block])}, "
            f"codes [{self.spec.qmin}, {self.spec.qmax}]"
        )


def choose_qparams(min_val, max_val, spec: QuantSpec) -> QParams:
    """Turn a clipping range into scale and zero point (see the module docstring).

    Parameters
    ----------
    min_val, max_val : float or array_like
        Range per block; arrays give per-block parameters of the same shape.
    spec : QuantSpec

    Returns
    -------
    QParams
        Equal to torch's ``MinMaxObserver`` / ``PerChannelMinMaxObserver`` for their
        8-bit configurations (zero point 128 for symmetric quint8, ``eps`` floor).

    Examples
    --------
    >>> from qviz.spec import QuantSpec
    >>> round(float(choose_qparams(0.0, 1000.0, QuantSpec(signed=False, symmetric=False)).scale), 4)
    3.9216
    """
    if not isinstance(spec, QuantSpec):
        raise ValueError(f"spec must be a qviz.QuantSpec, got {type(spec).__name__}")
    lo = np.asarray(as_float32(min_val)[0], dtype=np.float32)
    hi = np.asarray(as_float32(max_val)[0], dtype=np.float32)
    lo, hi = np.broadcast_arrays(lo, hi)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise ValueError("the clipping range must be finite: drop NaN/Inf values before computing it")
    if (lo > hi).any():
        raise ValueError("min_val is greater than max_val: pass the range as (min, max)")
    lo_neg = np.minimum(lo, np.float32(0))
    hi_pos = np.maximum(hi, np.float32(0))
    qmin, qmax, steps = spec.qmin, spec.qmax, spec.n_steps
    if spec.symmetric:
        absmax = np.maximum(-lo_neg, hi_pos)
        scale = np.maximum(absmax / np.float32(steps / 2), EPS).astype(np.float32)
        zero_point = np.full(scale.shape, (qmin + qmax + 1) // 2, dtype=np.int64)
        return QParams(scale, zero_point, spec)
    with np.errstate(over="ignore"):
        scale = np.maximum((hi_pos - lo_neg) / np.float32(steps), EPS).astype(np.float32)
    if not np.isfinite(scale).all():
        i = np.flatnonzero(~np.isfinite(scale.ravel()))[0]
        raise ValueError(
            f"the range [{float(lo_neg.ravel()[i]):.4g}, {float(hi_pos.ravel()[i]):.4g}] is wider than float32 can hold: "
            f"its step (max - min)/{steps} overflows to inf; use a symmetric spec, clip the range "
            "(percentile or mse calibrator) or rescale the tensor"
        )
    zmax = qmax if spec.quantizer == "midtread" else qmax + 1
    zero_point = np.clip(qmin - np.rint(lo_neg / scale), qmin, zmax).astype(np.int64)
    if spec.quantizer == "midrise":
        below = (zero_point - qmin).astype(np.float32)
        above = (zmax - zero_point).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            low = np.where(below > 0, -lo_neg / below, 0).astype(np.float32)
            high = np.where(above > 0, hi_pos / above, 0).astype(np.float32)
        low = np.where(below * low < -lo_neg, np.nextafter(low, np.float32(np.inf)), low)
        high = np.where(above * high < hi_pos, np.nextafter(high, np.float32(np.inf)), high)
        scale = np.maximum(scale, np.maximum(low, high)).astype(np.float32)
    return QParams(scale, zero_point, spec)


def _check(qparams) -> QuantSpec:
    if not isinstance(qparams, QParams):
        raise ValueError(f"qparams must be qviz.QParams (from qviz.choose_qparams), got {type(qparams).__name__}")
    return qparams.spec


def _params(shape, qparams: QParams):
    g = qparams.spec.granularity
    scale = blocks.expand(qparams.scale.astype(np.float32), shape, g)
    zp = blocks.expand(qparams.zero_point, shape, g).astype(np.float32)
    return scale, zp


def rounded(x32: np.ndarray, qparams: QParams) -> np.ndarray:
    """Codes before the clamp, as float32 in the block view ``(g0, b0, g1, b1, …)``.

    The shared first half of :func:`quantize` and :func:`fake_quantize`; values
    whose rounded code lies outside ``[qmin, qmax]`` are the clipped ones.
    """
    spec = qparams.spec
    scale, zp = _params(x32.shape, qparams)
    v = blocks.split(x32, spec.granularity)
    inv = (np.float32(1) / scale).astype(np.float32)
    with np.errstate(over="ignore"):  # |x| near float32 max: x·(1/Δ) becomes ±inf and saturates, as torch
        t = np.asarray(v * inv)  # a 0-d input gives a numpy scalar here; the in-place ops below need an array
    if spec.level_offset:
        t -= np.float32(spec.level_offset)
    if spec.rounding == "nearest":
        np.rint(t, out=t)
    else:
        t += np.random.default_rng(spec.seed).random(t.shape, dtype=np.float32)
        np.floor(t, out=t)
    t += zp
    return t


def _clamped(x32: np.ndarray, qparams: QParams) -> np.ndarray:
    s = qparams.spec
    t = rounded(x32, qparams)
    np.clip(t, np.float32(s.qmin), np.float32(s.qmax), out=t)
    return t


def quantize(x, qparams: QParams):
    """Integer codes of ``x`` (int32, same shape; a torch tensor for torch input).

    NaN maps to the zero point (clamped to the code range); ±Inf saturate.

    Examples
    --------
    >>> from qviz.spec import QuantSpec
    >>> qp = choose_qparams(-1.0, 1.0, QuantSpec(bits=2, symmetric=True))
    >>> quantize(np.array([-1.0, -0.2, 0.2, 1.0]), qp).tolist()
    [-2, 0, 0, 1]
    """
    _check(qparams)
    x32, is_torch = as_float32(x)
    return wrap(_by_chunks(_quantize, x32, qparams, np.int32), is_torch)


def _quantize(x32: np.ndarray, qparams: QParams) -> np.ndarray:
    spec = qparams.spec
    t = _clamped(x32, qparams)
    nan = np.isnan(t)
    if nan.any():
        zp = np.broadcast_to(_params(x32.shape, qparams)[1], t.shape)
        t[nan] = np.clip(zp[nan], spec.qmin, spec.qmax)
    return t.astype(np.int32).reshape(x32.shape)


def _by_chunks(fn, x32: np.ndarray, qparams: QParams, dtype) -> np.ndarray:
    """``fn(x32, qparams)`` row chunk by row chunk into one output: the same values, temporaries of one chunk.

    Stochastic rounding draws its noise for the whole tensor at once, so it is never chunked.
    """
    from .chunking import chunk_qparams, is_chunked, row_chunks

    g = qparams.spec.granularity
    if qparams.spec.rounding != "nearest" or not is_chunked(x32.shape, g):
        return fn(x32, qparams)
    out = np.empty(x32.shape, dtype)
    for rows, grid_rows in row_chunks(x32.shape, g):
        out[rows] = fn(x32[rows], chunk_qparams(qparams, x32.shape, grid_rows))
    return out


def dequantize(q, qparams: QParams):
    """``x̂ = (q - z + o)·Δ`` in float32, same shape as ``q``."""
    spec = _check(qparams)
    q32, is_torch = as_float32(q)
    scale, zp = _params(q32.shape, qparams)
    v = blocks.split(q32, spec.granularity) - zp
    if spec.level_offset:
        v += np.float32(spec.level_offset)
    v *= scale
    return wrap(v.reshape(q32.shape), is_torch)


def fake_quantize(x, qparams: QParams):
    """``dequantize(quantize(x))`` in one pass, float32, same shape; NaN stays NaN.

    Bit-for-bit equal to ``torch.fake_quantize_per_tensor_affine`` /
    ``torch.fake_quantize_per_channel_affine`` for the configurations they cover.

    Examples
    --------
    >>> from qviz.spec import QuantSpec
    >>> qp = choose_qparams(0.0, 1.0, QuantSpec(bits=2, signed=False, symmetric=False))
    >>> [round(float(v), 4) for v in fake_quantize(np.array([0.1, 0.2, 0.9]), qp)]
    [0.0, 0.3333, 1.0]
    """
    _check(qparams)
    x32, is_torch = as_float32(x)
    return wrap(_by_chunks(_fake_quantize, x32, qparams, np.float32), is_torch)


def _fake_quantize(x32: np.ndarray, qparams: QParams) -> np.ndarray:
    spec = qparams.spec
    scale, zp = _params(x32.shape, qparams)
    t = _clamped(x32, qparams)
    t -= zp
    if spec.level_offset:
        t += np.float32(spec.level_offset)
    t *= scale
    return t.reshape(x32.shape)
