"""Qm.n fixed point: uniform quantization with ``Z = 0`` and ``S = 2**-n`` (the Q notation of fixed-point DSP arithmetic).

``m`` integer bits (the sign bit counted in them) and ``n`` fraction bits make an
``m + n``-bit signed code ``q`` standing for ``q · 2**-n``. Q4.3
is ``Z = 0``, ``S = 0.125``, range −8.0 … 7.875. (In ARM's notation the sign bit
is not counted, so ARM's Q4.3 is ``QFormat(5, 3)`` here: 8 bits, −16 … 15.875.)

It is a special case of :mod:`qviz.affine`, so it reuses it: :meth:`QFormat.qparams`
is an ordinary :class:`qviz.QParams` and ``qviz.quantize`` / ``fake_quantize`` do the rest.

Example
-------
>>> q = QFormat(4, 3)
>>> q.min_value, q.max_value, q.step
(-8.0, 7.875, 0.125)
>>> q.fake_quantize(np.array([1.06, -9.0, 3.14159])).tolist()
[1.0, -8.0, 3.125]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..affine import QParams, fake_quantize, quantize
from ..spec import QuantSpec


@dataclass(frozen=True)
class QFormat:
    """Signed Qm.n: ``m`` integer bits including the sign, ``n`` fraction bits (``m + n`` ≤ 16)."""

    m: int
    n: int

    def __post_init__(self):
        for name in ("m", "n"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"Qm.n: {name} must be a non-negative int, got {v!r}")
        if self.m < 1:
            raise ValueError("Qm.n: m counts the sign bit here, so it must be at least 1")
        if not 2 <= self.m + self.n <= 16:
            raise ValueError(f"Qm.n: m + n is the word size and must be 2 to 16 bits, got {self.m + self.n}")

    @property
    def bits(self) -> int:
        return self.m + self.n

    @property
    def spec(self) -> QuantSpec:
        return QuantSpec(bits=self.bits, signed=True, symmetric=False)

    @property
    def step(self) -> float:
        """``S = 2**-n``."""
        return 2.0**-self.n

    @property
    def min_value(self) -> float:
        return self.spec.qmin * self.step

    @property
    def max_value(self) -> float:
        return self.spec.qmax * self.step

    def qparams(self) -> QParams:
        """``QParams(scale=2**-n, zero_point=0)`` under a signed ``m + n``-bit spec."""
        return QParams(np.float32(self.step), np.int64(0), self.spec)

    def quantize(self, x) -> np.ndarray:
        return quantize(x, self.qparams())

    def fake_quantize(self, x) -> np.ndarray:
        return fake_quantize(x, self.qparams())

    def describe(self) -> str:
        return f"Q{self.m}.{self.n}: {self.bits}-bit signed, S = 2^-{self.n} = {self.step:g}, Z = 0, range [{self.min_value:g}, {self.max_value:g}]"
