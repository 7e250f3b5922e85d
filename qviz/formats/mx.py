"""OCP Microscaling (MX) formats: 32 elements share one power-of-two scale (E8M0).

Per the OCP Microscaling Formats (MX) Specification v1.0, §6.3, each block of
``k = 32`` values ``V_i`` becomes one scale ``X`` and ``k`` elements ``P_i``::

    shared_exp = floor(log2(max_i |V_i|)) - emax_elem     (clamped to E8M0's [-127, 127])
    X          = 2 ** shared_exp
    P_i        = cast_to_element(V_i / X)                 (round to nearest even, saturating)
    x̂_i        = X · P_i

``emax_elem`` is the exponent of the element format's largest power of two: 8 for
FP8 E4M3 (max 448), 2 for FP4 E2M1 (max 6), 0 for INT8 (max 127/64). So the block's
max lands in [2**emax, 2**(emax+1)) and values above the element's max saturate
(E4M3: 448 ≤ v < 512; E2M1: 6 ≤ v < 8). Storage: element bits + 8/32.
A block of zeros gets the smallest scale, 2**-127. Blocks are
``PerGroup(32, axis=-1)`` of :mod:`qviz.blocks` (32 consecutive values of a row);
a row whose length 32 does not divide ends in a partial block, padded as
:func:`qviz.formats.base.group_rows` says.

Example
-------
>>> MXFP4.fake_quantize(np.array([5.0, 0.3, -2.6, 0.74] + [0.0] * 28))[:4].tolist()
[4.0, 0.5, -3.0, 0.5]
>>> MXFP4.bits_per_value, MXINT8.bits_per_value
(4.25, 8.25)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from dataclasses import dataclass

from .base import Format, block_absmax, from_group_rows, group_rows
from .fp import ELEMENTS, Element, cast, element_values

BLOCK = 32
SCALE_BITS = 8  # E8M0


def shared_exponent(amax: ArrayLike, element: Element) -> np.ndarray:
    """``floor(log2(amax)) - emax_elem`` per block, clamped to [-127, 127]; -127 where amax is 0."""
    amax = np.asarray(amax, dtype=np.float32)
    _, e = np.frexp(amax)  # amax = m · 2**e, m in [0.5, 1): floor(log2 amax) = e - 1, exactly
    exp = (e.astype(np.int64) - 1) - element.emax
    return np.where(amax > 0, np.clip(exp, -127, 127), -127).astype(np.int64)


@dataclass(frozen=True)
class MXFormat(Format):
    """An MX format: ``element`` codes in blocks of 32 sharing an E8M0 scale."""

    name: str
    element: Element
    title: str

    @property
    def family(self) -> str:
        return "block-scaled (MX)"

    @property
    def element_bits(self) -> float:
        return self.element.bits

    @property
    def block_size(self) -> int:
        return BLOCK

    @property
    def scale_bits(self) -> int:
        return SCALE_BITS

    def encode(self, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """``(shared_exp per block, P elements as float32 rows of 32)`` of a float32 array (padding: NaN)."""
        rows = group_rows(np.asarray(x, dtype=np.float32), BLOCK)
        exp = shared_exponent(block_absmax(rows), self.element)
        return exp, cast(np.ldexp(rows, -exp[:, None]).astype(np.float32), self.element)

    def _fake_quantize(self, x32: np.ndarray) -> np.ndarray:
        exp, p = self.encode(x32)
        return from_group_rows(np.ldexp(p, exp[:, None]).astype(np.float32), x32.shape)

    def _levels(self, x32: np.ndarray) -> np.ndarray:
        exp = shared_exponent(block_absmax(group_rows(x32, BLOCK)).max(keepdims=True), self.element)
        return np.ldexp(element_values(self.element), int(exp[0])).astype(np.float32)


MXFP8_E4M3 = MXFormat("mxfp8_e4m3", ELEMENTS["e4m3"], "MXFP8 E4M3 (32-blocks, E8M0 scale)")
MXFP4 = MXFormat("mxfp4", ELEMENTS["e2m1"], "MXFP4 E2M1 (32-blocks, E8M0 scale)")
MXINT8 = MXFormat("mxint8", ELEMENTS["int8"], "MXINT8 (32-blocks, E8M0 scale)")
