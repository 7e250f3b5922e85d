"""Multiply int32 values by a real number with integers only (TFLite / gemmlowp reference semantics).

A real multiplier ``M`` (e.g. ``S1 / S2``) is stored as an int32 ``M0`` in Q0.31
and a power-of-two exponent ``shift`` (Jacob et al., CVPR 2018, §2.2)::

    M = M0 · 2**(shift - 31),   M0 in [2**30, 2**31)   (M0 / 2**31 in [0.5, 1))

and ``x · M`` is computed as TFLite's ``MultiplyByQuantizedMultiplier``::

    left  = max(shift, 0),  right = max(-shift, 0)
    y = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x · 2**left, M0), right)

``SaturatingRoundingDoublingHighMul(a, b)`` is the high 32 bits of ``2·a·b``,
rounded (nudge ``2**30``, or ``1 - 2**30`` when ``a·b < 0``, then a division by
``2**31`` that truncates toward zero), saturated to ``INT32_MAX`` in the one case
that overflows, ``a = b = INT32_MIN``. ``RoundingDivideByPOT(x, e)`` is
``x / 2**e`` rounded to nearest, ties away from zero. All are vectorised over
int32 numpy arrays with int64 intermediates.

Example
-------
>>> quantize_multiplier(0.25)
(1073741824, -1)
>>> multiply_by_quantized_multiplier(np.array([100, -100, 7]), *quantize_multiplier(0.3)).tolist()
[30, -30, 2]
"""

from __future__ import annotations

from numpy.typing import ArrayLike

import math

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """``(M0, shift)`` with ``real_multiplier ≈ M0 · 2**(shift - 31)``, as TFLite's ``QuantizeMultiplier``.

    ``frexp`` splits ``M = q · 2**shift`` with ``q`` in [0.5, 1); ``M0 = round(q · 2**31)``
    (half away from zero); if that rounds up to ``2**31``, it is halved and ``shift``
    grows by one. Multipliers below ``2**-32`` flush to ``(0, 0)``; above ``2**30``
    they saturate to ``(INT32_MAX, 30)``.

    Examples
    --------
    >>> quantize_multiplier(1.0), quantize_multiplier(0.0)
    ((1073741824, 1), (0, 0))
    >>> m0, shift = quantize_multiplier(0.0123)
    >>> abs(m0 * 2.0 ** (shift - 31) - 0.0123) < 1e-11
    True
    """
    m = float(real_multiplier)
    if not math.isfinite(m) or m < 0:
        raise ValueError(f"the real multiplier must be a finite number >= 0 (e.g. S1/S2), got {real_multiplier!r}")
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(math.floor(q * (1 << 31) + 0.5))  # std::round: q > 0, so half up is half away from zero
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return INT32_MAX, 30
    return q_fixed, shift


def _int32(a, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{what} must be integers (int32 values), got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < INT32_MIN or arr.max() > INT32_MAX):
        raise ValueError(f"{what} must fit in int32 [{INT32_MIN}, {INT32_MAX}]")
    return arr


def saturating_rounding_doubling_high_mul(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """gemmlowp's ``SaturatingRoundingDoublingHighMul``: ``round(a · b / 2**31)`` in int32 (see the module docstring).

    >>> saturating_rounding_doubling_high_mul(np.array([INT32_MIN, 1 << 30]), np.array([INT32_MIN, 1 << 30])).tolist()
    [2147483647, 536870912]
    """
    a64, b64 = np.broadcast_arrays(_int32(a, "a"), _int32(b, "b"))
    ab = a64 * b64  # |a·b| <= 2**62: exact in int64
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    s = ab + nudge
    high = np.where(s >= 0, s >> 31, -((-s) >> 31))  # C++ division: truncate toward zero
    overflow = (a64 == INT32_MIN) & (b64 == INT32_MIN)
    return np.where(overflow, np.int64(INT32_MAX), high).astype(np.int32)


def rounding_divide_by_pot(x: ArrayLike, exponent: ArrayLike) -> np.ndarray:
    """gemmlowp's ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded to nearest, ties away from zero (int32).

    >>> rounding_divide_by_pot(np.array([5, -5, 6, -6, 7]), 1).tolist()
    [3, -3, 3, -3, 4]
    """
    x64 = _int32(x, "x")
    e = np.asarray(exponent, dtype=np.int64)
    if e.size and (e.min() < 0 or e.max() > 31):
        raise ValueError(f"exponent must be in [0, 31], got {exponent!r}")
    mask = (np.int64(1) << e) - 1
    remainder = x64 & mask
    threshold = (mask >> 1) + (x64 < 0)
    return ((x64 >> e) + (remainder > threshold)).astype(np.int32)


def multiply_by_quantized_multiplier(x: ArrayLike, multiplier: ArrayLike, shift: ArrayLike) -> np.ndarray:
    """``x · M0 · 2**(shift - 31)`` in integers, as TFLite's ``MultiplyByQuantizedMultiplier`` (int32 out).

    ``multiplier`` and ``shift`` may be arrays (per-channel) broadcasting against ``x``.
    TFLite leaves ``x · 2**shift`` overflowing int32 undefined; here it saturates.

    >>> multiply_by_quantized_multiplier(np.array([1000, -1000]), *quantize_multiplier(1.5)).tolist()
    [1500, -1500]
    """
    x64 = _int32(x, "x")
    m = _int32(multiplier, "multiplier")
    s = np.asarray(shift, dtype=np.int64)
    if s.size and (s.min() < -31 or s.max() > 30):
        raise ValueError(f"shift must be in [-31, 30] (from quantize_multiplier), got {shift!r}")
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    shifted = np.clip(x64 << left, INT32_MIN, INT32_MAX)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, m), right)
