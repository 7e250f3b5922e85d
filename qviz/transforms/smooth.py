"""SmoothQuant's per-input-channel scales (Xiao et al., ICML 2023).

A Linear layer ``Y = X·Wᵀ`` (``X``: tokens × in, ``W``: out × in) is unchanged when
input channel ``j`` of ``X`` is divided by ``s_j`` and column ``j`` of ``W`` multiplied
by it; SmoothQuant picks ``s`` to move the activations' outlier channels into the
weights::

    s_j = max|X_j|^α / max|W_j|^(1−α)          (α = migration strength, 0 … 1)
    (X · diag(s)⁻¹) · (W · diag(s))ᵀ = X·Wᵀ

Guards as the reference (``smooth_ln_fcs`` in mit-han-lab/smoothquant): the weight
maxima are clamped to at least 1e-5, and so are the scales (a channel whose
activations are all zero gets ``s = 1e-5`` rather than 0, so nothing divides by 0).

Example
-------
>>> import numpy as np
>>> s = smooth_scales(np.array([100.0, 1.0]), np.array([1.0, 1.0]), 0.5)
>>> s.round(3).tolist()
[10.0, 1.0]
"""

from __future__ import annotations

import numpy as np

from ..arrays import as_float32

#: the reference's floor on weight maxima and on the scales
CLAMP = 1e-5


def _absmax(v, what: str) -> np.ndarray:
    a, _ = as_float32(v)
    a = np.abs(np.asarray(a, dtype=np.float64)).ravel()
    if a.size == 0:
        raise ValueError(f"smooth_scales: {what} is empty; pass one max|value| per input channel")
    if not np.isfinite(a).all():
        raise ValueError(f"smooth_scales: {what} holds NaN or Inf; compute the per-channel maxima over the finite values")
    return a


def smooth_scales(x_absmax, w_absmax, alpha: float = 0.5) -> np.ndarray:
    """Per-input-channel smoothing scales ``s = max|X|^α / max|W|^(1−α)``.

    Parameters
    ----------
    x_absmax : array_like, shape (in,)
        max |X_j| over the calibration tokens, per input channel.
    w_absmax : array_like, shape (in,)
        max |W_:,j| over the output channels, per input channel.
    alpha : float
        Migration strength in [0, 1]: 0 leaves the activations alone (``s = 1/max|W|``),
        1 flattens them completely (``s = max|X|``); SmoothQuant uses 0.5 for most models.

    Returns
    -------
    ndarray of float32, shape (in,)
        Divide ``X``'s channels by it, multiply ``W``'s columns by it.

    Examples
    --------
    >>> smooth_scales([4.0, 0.0], [1.0, 0.0], 0.5).tolist()  # zero channels: clamped, never 0
    [2.0, 9.999999747378752e-06]
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating, np.integer)) or not 0 <= float(alpha) <= 1:
        raise ValueError(f"smooth_scales: alpha must be a number from 0 to 1 (SmoothQuant uses 0.5), got {alpha!r}")
    xa, wa = _absmax(x_absmax, "x_absmax"), _absmax(w_absmax, "w_absmax")
    if xa.shape != wa.shape:
        raise ValueError(
            f"smooth_scales: x_absmax has {xa.size} channels but w_absmax has {wa.size}; both need one entry per input channel"
        )
    a = float(alpha)
    s = np.power(xa, a) / np.power(np.maximum(wa, CLAMP), 1.0 - a)
    return np.maximum(s, CLAMP).astype(np.float32)


def channel_absmax(x, axis: int = 0) -> np.ndarray:
    """max |x| over ``axis`` (the finite values), one entry per remaining index: per input channel of X (axis 0) or W (axis 0)."""
    a, _ = as_float32(x)
    if a.ndim != 2:
        raise ValueError(f"channel_absmax needs a 2-D tensor (tokens × channels or out × in), got shape {a.shape}")
    a = np.abs(a)
    if not np.isfinite(a).all():
        a = np.where(np.isfinite(a), a, 0)
    return a.max(axis=axis) if a.shape[axis] else np.zeros(a.shape[1 - axis], np.float32)
