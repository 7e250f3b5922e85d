"""What quantizing a Linear layer costs at its output, with or without a transform.

``Y = X·Wᵀ`` (``X``: tokens × in, ``W``: out × in). A transform ``T`` acts on the
input channels so that the fp32 product is unchanged, and the quantizers see the
transformed operands::

    Y  = X·Wᵀ = (X·T⁻¹)·(W·Tᵀ)ᵀ
    Ŷ  = Q_x(X·T⁻¹) · Q_w(W·Tᵀ)ᵀ
    smoothing  T = diag(s):   X' = X / s,   W' = W · s        (SmoothQuant)
    rotation   T = Rᵀ:        X' = X · R,   W' = W · R        (R orthonormal, Hadamard)
    both       smoothing first, then the rotation

and the error is measured on ``Y`` (float64 sums):
``SQNR = 10·log10(ΣY² / Σ(Y − Ŷ)²)``, ``MSE``, ``cosine``. Activation granularity is
the x spec's :mod:`qviz.blocks` granularity on ``X`` (tokens × channels):
``PerTensor()`` static per-tensor, ``PerChannel(0)`` per-token (one scale per row,
dynamic), ``PerChannel(1)`` per input channel, ``PerGroup(g, -1)`` groups of ``g``
channels within a token.

Example
-------
>>> import numpy as np
>>> from qviz.spec import QuantSpec, PerChannel
>>> rng = np.random.default_rng(0)
>>> x, w = rng.standard_normal((64, 32)).astype(np.float32), rng.standard_normal((16, 32)).astype(np.float32)
>>> e = layer_output_error(x, w, QuantSpec(granularity=PerChannel(0)), QuantSpec(granularity=PerChannel(0)))
>>> 30 < e.sqnr_db < 45
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..arrays import as_float32
from ..calibrate import calibrate
from ..metrics import Metrics, error_metrics
from ..spec import QuantSpec
from .hadamard import _mm, block_structure, rotate

#: names of the activation granularities on X (tokens × channels), expressed as qviz.blocks granularities
ACTIVATION_GRANULARITIES = ("per-tensor", "per-token", "per-channel", "per-group 16", "per-group 32", "per-group 128")


@dataclass(frozen=True)
class Transform:
    """A parsed transform: optional smoothing scales, then an optional rotation (with its block size)."""

    scales: np.ndarray | None = None
    rotation: np.ndarray | None = None
    block: int = 0

    def describe(self) -> str:
        parts = []
        if self.scales is not None:
            parts.append("smoothing")
        if self.rotation is not None:
            n = self.rotation.shape[0]
            parts.append("rotation" + (f" (block {self.block})" if self.block < n else ""))
        return " + ".join(parts) or "none"

    def apply(self, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(X·T⁻¹, W·Tᵀ)``: smoothing ``(X/s, W·s)``, then rotation ``(X·R, W·R)``."""
        if self.scales is not None:
            x, w = x / self.scales, w * self.scales
        if self.rotation is not None:
            x, w = rotate(x, self.rotation, self.block), rotate(w, self.rotation, self.block)
        return x, w


def as_transform(transform, n: int) -> Transform:
    """``None``, a smoothing vector (n,), a rotation matrix (n, n), or a sequence of them (smoothing first)."""
    if transform is None:
        return Transform()
    if isinstance(transform, Transform):
        return transform
    parts = list(transform) if isinstance(transform, (tuple, list)) else [transform]
    scales = rotation = None
    block = 0
    for p in parts:
        if p is None:
            continue
        a, _ = as_float32(p)
        if a.ndim == 1:
            if scales is not None or rotation is not None:
                raise ValueError("transform: give the smoothing vector once, before the rotation (smoothing, then rotation)")
            if a.shape != (n,):
                raise ValueError(f"transform: the smoothing vector has {a.size} entries but the layer has {n} input channels")
            if not (np.isfinite(a).all() and (a > 0).all()):
                raise ValueError("transform: smoothing scales must be finite and positive (use qviz.smooth_scales)")
            scales = np.ascontiguousarray(a)
        elif a.ndim == 2:
            if rotation is not None:
                raise ValueError("transform: give at most one rotation matrix (multiply them first)")
            if a.shape != (n, n):
                raise ValueError(f"transform: the rotation is {a.shape[0]}×{a.shape[1]} but the layer has {n} input channels; use qviz.hadamard({n})")
            if not np.isfinite(a).all():
                raise ValueError("transform: the rotation matrix holds NaN or Inf")
            probe = np.random.default_rng(0).standard_normal((2, n)).astype(np.float32)
            norms = np.linalg.norm(probe @ a, axis=1) / np.linalg.norm(probe, axis=1)
            if not np.allclose(norms, 1.0, atol=1e-3):
                raise ValueError("transform: the matrix is not orthonormal (R·Rᵀ ≠ I), so the product would change; use qviz.hadamard(n)")
            rotation = np.ascontiguousarray(a)
            block = block_structure(rotation)
        else:
            raise ValueError(f"transform: expected a smoothing vector (1-D) or a rotation matrix (2-D), got {a.ndim}-D")
    return Transform(scales, rotation, block)


@dataclass(frozen=True, eq=False)
class LayerError:
    """Output error of a quantized Linear layer, and its operands' error after the transform.

    Attributes
    ----------
    sqnr_db, mse, cosine : float
        Of ``Ŷ`` against the fp32 ``Y = X·Wᵀ``.
    weight, activation : Metrics
        :func:`qviz.error_metrics` of ``W·Tᵀ`` and ``X·T⁻¹`` under their specs.
    w_spec, x_spec : QuantSpec
    transform : str
        ``"none"``, ``"smoothing"``, ``"rotation (block 128)"``, ``"smoothing + rotation"``.
    x_stats, w_stats : dict
        max|·|, excess kurtosis and the largest/smallest per-input-channel max|·| ratio of the transformed operands.
    """

    sqnr_db: float
    mse: float
    cosine: float
    weight: Metrics
    activation: Metrics
    w_spec: QuantSpec
    x_spec: QuantSpec
    transform: str
    x_stats: dict = field(default_factory=dict)
    w_stats: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "transform": self.transform, "sqnr_db": self.sqnr_db, "mse": self.mse, "cosine": self.cosine,
            "w_spec": self.w_spec.describe(), "x_spec": self.x_spec.describe(),
            "weight": self.weight.as_dict(), "activation": self.activation.as_dict(),
            "x_stats": dict(self.x_stats), "w_stats": dict(self.w_stats),
        }


def operand_stats(a: np.ndarray) -> dict:
    """max|a|, excess kurtosis, and the ratio of the largest to the smallest per-input-channel max|a| (columns)."""
    v = a.ravel()
    d = v - np.float32(v.mean(dtype=np.float64))
    d2 = d * d
    var = float(d2.sum(dtype=np.float64)) / v.size
    kurt = float(np.dot(d2, d2)) / v.size / var**2 - 3 if var > 0 else math.nan
    col = np.abs(a).max(axis=0)
    ratio = float(col.max() / col.min()) if col.min() > 0 else math.inf
    return {"max_abs": float(np.abs(a).max()), "kurtosis": kurt, "channel_absmax_ratio": ratio}


def _check(x, w) -> tuple[np.ndarray, np.ndarray]:
    x32, _ = as_float32(x)
    w32, _ = as_float32(w)
    if x32.ndim != 2 or w32.ndim != 2:
        raise ValueError(f"layer_output_error: X must be tokens × in and W out × in (2-D); got {x32.shape} and {w32.shape}")
    if x32.shape[1] != w32.shape[1]:
        raise ValueError(f"layer_output_error: X has {x32.shape[1]} input channels but W has {w32.shape[1]} (W is out × in, as torch's Linear.weight)")
    if x32.size == 0 or w32.size == 0:
        raise ValueError("layer_output_error: X or W is empty; there is no product to measure")
    if not (np.isfinite(x32).all() and np.isfinite(w32).all()):
        raise ValueError("layer_output_error: X or W holds NaN or Inf; the output error is undefined (drop those tokens first)")
    return x32, w32


def output_metrics(y: np.ndarray, y_hat: np.ndarray) -> tuple[float, float, float]:
    """(SQNR dB, MSE, cosine) of ``y_hat`` against ``y`` (float64 sums; :func:`qviz.error_metrics`)."""
    m = error_metrics(y, y_hat)
    return m.sqnr_db, m.mse, m.cosine


def quantize_operand(a: np.ndarray, spec: QuantSpec, method: str, detail: bool = True) -> tuple[np.ndarray, Metrics]:
    """Fake-quantize ``a`` with its calibrated range; return ``(â, error metrics)`` (without the
    clipping split and code usage when ``detail`` is False: they need a pass over the codes)."""
    from ..affine import fake_quantize

    cal = calibrate(a, spec, method)
    a_hat = fake_quantize(a, cal.qparams)
    return a_hat, error_metrics(a, a_hat, cal.qparams if detail else None)


def layer_output_error(x, w, w_spec: QuantSpec, x_spec: QuantSpec, transform=None, w_method: str = "minmax",
                       x_method: str = "minmax", *, y=None, detail: bool = True) -> LayerError:
    """Output SQNR, MSE and cosine of a Linear layer with quantized weights and inputs.

    Parameters
    ----------
    x : array_like, shape (tokens, in)
        The layer's input activations.
    w : array_like, shape (out, in)
        Its weight (torch ``Linear.weight`` layout).
    w_spec, x_spec : QuantSpec
        Quantizers of ``W·Tᵀ`` (``PerChannel(0)``: per output channel) and of ``X·T⁻¹``
        (``PerChannel(0)``: per token; ``PerChannel(1)``: per input channel; ``PerGroup(g)``).
    transform : None, ndarray or sequence
        A smoothing vector ``s`` (:func:`qviz.smooth_scales`), an orthonormal rotation
        ``R`` (:func:`qviz.hadamard`), or ``(s, R)`` (smoothing, then rotation).
    w_method, x_method : str
        Calibrators of the weight and activation ranges.
    y : ndarray, optional
        The fp32 output ``X·Wᵀ`` when already computed (a sweep reuses it).
    detail : bool
        Also measure max|·|, kurtosis and the channel ratio of the transformed operands, and
        the operands' clipping/rounding split and code usage (sweeps turn it off).

    Returns
    -------
    LayerError
    """
    x32, w32 = _check(x, w)
    t = as_transform(transform, x32.shape[1])
    if y is None:
        y = _mm(x32, w32.T)
    xt, wt = t.apply(x32, w32)
    x_hat, xm = quantize_operand(xt, x_spec, x_method, detail)
    w_hat, wm = quantize_operand(wt, w_spec, w_method, detail)
    sqnr, mse, cos = output_metrics(y, _mm(x_hat, w_hat.T))
    return LayerError(sqnr, mse, cos, wm, xm, w_spec, x_spec, t.describe(),
                      operand_stats(xt) if detail else {}, operand_stats(wt) if detail else {})
