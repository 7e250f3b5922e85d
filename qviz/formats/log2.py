"""Logarithmic (power-of-two) levels (Miyashita, Lee and Murmann, "Convolutional Neural Networks using Logarithmic Data Representation", 2016).

With ``b`` bits (one sign bit, ``2**(b-1)`` magnitude codes, one of them 0) and
``s = max|x|`` the levels are::

    0  and  ± s · 2**(-k),   k = 0, 1, …, 2**(b-1) - 2

Fine steps near 0 where a bell-shaped tensor is dense, coarse ones in the tails;
a multiply by a level is a shift (Miyashita et al., 2016). Values round to the
nearest level (in the linear domain), ties to the even code.

Example
-------
>>> f = Log2Format(bits=3)
>>> f.levels(np.array([-1.0, 1.0])).tolist()
[-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0]
>>> f.fake_quantize(np.array([0.7, 0.3, 0.05, -1.0])).tolist()
[0.5, 0.25, 0.0, -1.0]
"""

from __future__ import annotations

import numpy as np

from .base import Format, absmax, round_symmetric


class Log2Format(Format):
    """Sign + power-of-two magnitude codes under a per-tensor float32 scale ``max|x|``."""

    def __init__(self, bits: int = 4, name: str | None = None):
        if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 8:
            raise ValueError(f"a log2 format needs 2 to 8 bits (one is the sign), got {bits!r}")
        super().__init__(
            name=name or f"log2_{bits}", title=f"log2, {bits} bits (powers of two)", family="non-uniform",
            element_bits=bits, tensor_overhead_bits=32,
        )
        object.__setattr__(self, "bits", bits)

    def magnitudes(self, scale: float) -> np.ndarray:
        """0 and ``scale · 2**-k`` for k = 2**(bits-1) - 2 … 0, ascending (float32)."""
        k = np.arange(2 ** (self.bits - 1) - 2, -1, -1, dtype=np.float64)
        return np.concatenate([[0.0], scale * 2.0**-k]).astype(np.float32)

    def _fake_quantize(self, x32):
        return round_symmetric(x32, self.magnitudes(float(absmax(x32)) or 1.0))

    def _levels(self, x32):
        m = self.magnitudes(float(absmax(x32)) or 1.0)
        return np.concatenate([-m[::-1], m])
