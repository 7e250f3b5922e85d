"""Binary and ternary weights (BinaryConnect, Courbariaux et al. 2015; XNOR-Net, Rastegari et al. 2016; TWN, Li and Liu 2016): one or two bits per value and one scale.

Binary (BinaryConnect / XNOR-Net's BWN): ``x̂ = α·sign(x)`` with ``α = mean|x|``,
the scale that minimises ‖x - α·sign(x)‖² (Rastegari et al., 2016); sign(0) = +1.

Ternary (TWN, Li et al., 2016): ``x̂ ∈ {-α, 0, +α}``; values with ``|x| ≤ Δ``
become 0, with the threshold ``Δ = 0.7·mean|x|`` and ``α`` the mean |x| of the
values above it (TWN's approximate optimum). Three levels need log2(3) ≈ 1.58
bits; stored they take 2.

Example
-------
>>> x = np.array([-2.0, -0.1, 0.2, 1.0], dtype=np.float32)
>>> BINARY.fake_quantize(x).tolist()
[-0.824999988079071, -0.824999988079071, 0.824999988079071, 0.824999988079071]
>>> TERNARY.fake_quantize(x).tolist()
[-1.5, 0.0, 0.0, 1.5]
"""

from __future__ import annotations

import numpy as np

from .base import Format


def _mean_abs(x32):
    a = np.abs(x32[np.isfinite(x32)]).astype(np.float64)
    return a


class BinaryFormat(Format):
    """``α·sign(x)``, ``α = mean|x|``."""

    def __init__(self):
        super().__init__(name="binary", title="binary ±α (sign)", family="binary / ternary", element_bits=1, tensor_overhead_bits=32)

    @staticmethod
    def alpha(x32) -> np.float32:
        return np.float32(_mean_abs(x32).mean())

    def _fake_quantize(self, x32):
        a = self.alpha(x32)
        out = np.where(x32 >= 0, a, -a).astype(np.float32)
        return np.where(np.isnan(x32), np.float32(np.nan), out)

    def _levels(self, x32):
        a = self.alpha(x32)
        return np.array([-a, a], dtype=np.float32)


class TernaryFormat(Format):
    """TWN: ``Δ = 0.7·mean|x|``, ``α = mean{|x| : |x| > Δ}``, levels {-α, 0, α}."""

    def __init__(self):
        super().__init__(name="ternary", title="ternary {-α, 0, +α} (TWN)", family="binary / ternary", element_bits=2, tensor_overhead_bits=32)

    @staticmethod
    def threshold_alpha(x32) -> tuple[np.float32, np.float32]:
        a = _mean_abs(x32)
        delta = 0.7 * a.mean()
        big = a[a > delta]
        return np.float32(delta), np.float32(big.mean() if big.size else 0.0)

    def _fake_quantize(self, x32):
        delta, alpha = self.threshold_alpha(x32)
        out = np.where(np.abs(x32) > delta, np.sign(x32) * alpha, 0).astype(np.float32)
        return np.where(np.isnan(x32), np.float32(np.nan), out)

    def _levels(self, x32):
        _, alpha = self.threshold_alpha(x32)
        return np.array([-alpha, 0, alpha], dtype=np.float32)


BINARY = BinaryFormat()
TERNARY = TernaryFormat()
