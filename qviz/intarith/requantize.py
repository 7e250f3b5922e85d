"""Requantization: move codes from one (scale, zero point) domain to another, with and without floats (Jacob et al., CVPR 2018, §2.2).

The same real value ``r = S1·(q1 - Z1) = S2·(q2 - Z2)``, so ``q2 = Z2 + M·(q1 - Z1)``
with ``M = S1 / S2``. Two paths compute it::

    float path    q2 = clamp(round(S1·(q1 - Z1) / S2) + Z2, qmin, qmax)
    integer path  (M0, shift) = quantize_multiplier(S1 / S2)
                  q2 = clamp(Z2 + MultiplyByQuantizedMultiplier(q1 - Z1, M0, shift), qmin, qmax)

The integer path rounds twice (the high multiply, then the shift) where the float
path rounds once, so the two can differ by one code, never more (tested).

Example
-------
>>> r = requantize(np.arange(0, 256, 51), s1=0.02, z1=128, s2=0.05, z2=100)
>>> r.q2.tolist(), r.q2_float.tolist()
([49, 69, 89, 110, 131, 151], [49, 69, 90, 110, 130, 151])

At q1 = 102 the float path gives round(-26 · 0.4) = round(-10.4) = -10; the integer path
rounds -26 · 0.8 = -20.8 to -21 in the high multiply, then -21 / 2 = -10.5 away from
zero to -11 (TFLite's later single-rounding variant avoids this double rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .multiplier import INT32_MAX, INT32_MIN, quantize_multiplier, rounding_divide_by_pot, saturating_rounding_doubling_high_mul


@dataclass(frozen=True, eq=False)
class Requantization:
    """Both paths of one requantization, and every intermediate of the integer one.

    Attributes
    ----------
    q1 : input codes (int64).   multiplier (float M = S1/S2), m0 (int, Q0.31), shift (int)
    acc : q1 - Z1              scaled : acc · 2**max(shift, 0)
    high : SaturatingRoundingDoublingHighMul(scaled, M0)
    shifted : RoundingDivideByPOT(high, max(-shift, 0))
    q2 : clamp(Z2 + shifted)   (integer path, int64)
    real : S1·(q1 - Z1) (float64)    q2_float : clamp(round(real / S2) + Z2) (float path, int64)
    """

    q1: np.ndarray
    s1: float
    z1: int
    s2: float
    z2: int
    qmin: int
    qmax: int
    multiplier: float
    m0: int
    shift: int
    acc: np.ndarray
    scaled: np.ndarray
    high: np.ndarray
    shifted: np.ndarray
    q2: np.ndarray
    real: np.ndarray
    q2_float: np.ndarray

    @property
    def diff(self) -> np.ndarray:
        """Integer path minus float path, in codes."""
        return self.q2 - self.q2_float

    @property
    def effective_multiplier(self) -> float:
        """``M0 · 2**(shift - 31)``: the multiplier the integer path really applies."""
        return self.m0 * 2.0 ** (self.shift - 31)


def requantize(q1, s1: float, z1: int, s2: float, z2: int, qmin: int = 0, qmax: int = 255) -> Requantization:
    """Requantize codes ``q1`` from ``(s1, z1)`` to ``(s2, z2)`` by both paths (see the module docstring).

    Parameters
    ----------
    q1 : array_like of int
        Codes (or int32 accumulators) in the first domain.
    s1, s2 : float
        Scales, > 0.
    z1, z2 : int
        Zero points.
    qmin, qmax : int
        Output code range (uint8 by default).
    """
    for name, s in (("s1", s1), ("s2", s2)):
        if not (isinstance(s, (int, float, np.floating, np.integer)) and np.isfinite(s) and s > 0):
            raise ValueError(f"{name} must be a positive finite scale, got {s!r}")
    if qmin > qmax:
        raise ValueError(f"qmin ({qmin}) must not exceed qmax ({qmax})")
    q = np.asarray(q1)
    if q.dtype.kind not in "iu":
        raise ValueError(f"q1 must be integer codes, got dtype {q.dtype}")
    q = q.astype(np.int64)
    acc = q - int(z1)
    if acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        raise ValueError("q1 - z1 must fit in int32")
    m = float(s1) / float(s2)
    m0, shift = quantize_multiplier(m)
    left, right = max(shift, 0), max(-shift, 0)
    scaled = np.clip(acc << left, INT32_MIN, INT32_MAX)
    high = saturating_rounding_doubling_high_mul(scaled, m0).astype(np.int64)
    shifted = rounding_divide_by_pot(high, right).astype(np.int64)
    q2 = np.clip(shifted + int(z2), qmin, qmax)
    real = acc.astype(np.float64) * float(s1)
    q2_float = np.clip(np.rint(real / float(s2)) + int(z2), qmin, qmax).astype(np.int64)
    return Requantization(q, float(s1), int(z1), float(s2), int(z2), int(qmin), int(qmax), m, m0, shift,
                          acc, scaled, high, shifted, q2, real, q2_float)
