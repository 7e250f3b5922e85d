"""Floating-point formats: FP8 (E4M3, E5M2) and FP4 (E2M1) under one per-tensor scale.

The scale maps the tensor's max |x| onto the format's largest finite value
``m`` (448 for E4M3, 57344 for E5M2, 6 for E2M1), and values beyond it saturate::

    s = max|x| / m,     x̂ = cast(clamp(x / s, -m, m)) · s

``cast`` rounds to nearest, ties to even. For FP8 it *is* torch's cast
(``torch.float8_e4m3fn``, ``torch.float8_e5m2``); torch has no CPU cast to FP4,
so E2M1 rounds onto its eight magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6} with ties
to the even code, as the OCP MX specification (v1.0, §5.3.3) defines. The
element casts here (:func:`cast`) are shared with the MX formats (:mod:`.mx`).

Example
-------
>>> cast(np.array([0.25, 0.75, 2.5, 5.0, 9.0], dtype=np.float32), ELEMENTS["e2m1"]).tolist()
[0.0, 1.0, 2.0, 4.0, 6.0]
>>> FloatFormat("fp4_e2m1", ELEMENTS["e2m1"]).fake_quantize(np.array([12.0, 1.0, -5.0])).tolist()
[12.0, 1.0, -4.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .base import Format, absmax, round_symmetric

FP4_E2M1_MAGNITUDES = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], dtype=np.float32)


@dataclass(frozen=True)
class Element:
    """A scalar element format: ``bits``, largest finite value ``max_value``, ``emax`` (exponent of its largest power of two)."""

    name: str
    bits: int
    max_value: float
    emax: int
    torch_dtype: str | None = None  # name of the torch dtype that does the rounding, when torch has one


#: element formats of OCP MX v1.0 (Table 1 / §5): E4M3 max 448 (emax 8), E5M2 57344 (15), E2M1 6 (2), INT8 127/64 (0)
ELEMENTS = {
    "e4m3": Element("e4m3", 8, 448.0, 8, "float8_e4m3fn"),
    "e5m2": Element("e5m2", 8, 57344.0, 15, "float8_e5m2"),
    "e2m1": Element("e2m1", 4, 6.0, 2),
    "int8": Element("int8", 8, 127 / 64, 0),
}


def cast(v: ArrayLike, element: Element) -> np.ndarray:
    """Saturating cast of float32 ``v`` to ``element`` and back to float32 (round to nearest, ties to even)."""
    v = np.clip(np.asarray(v, dtype=np.float32), np.float32(-element.max_value), np.float32(element.max_value))
    if element.torch_dtype is not None:
        import torch

        return torch.from_numpy(np.ascontiguousarray(v)).to(getattr(torch, element.torch_dtype)).to(torch.float32).numpy()
    if element.name == "e2m1":
        return round_symmetric(v, FP4_E2M1_MAGNITUDES)
    if element.name == "int8":  # MXINT8: two's complement with an implicit scale of 2**-6, saturated to ±127/64
        return (np.rint(v * np.float32(64)) / np.float32(64)).astype(np.float32)
    raise ValueError(f"unknown element format {element.name!r}")


def element_values(element: Element) -> np.ndarray:
    """Every finite value of ``element``, ascending (float32)."""
    if element.torch_dtype is not None:
        import torch

        v = torch.arange(256, dtype=torch.int32).to(torch.uint8).view(getattr(torch, element.torch_dtype)).to(torch.float32).numpy()
        return np.unique(v[np.isfinite(v)])
    if element.name == "e2m1":
        return np.unique(np.concatenate([-FP4_E2M1_MAGNITUDES, FP4_E2M1_MAGNITUDES]))
    return (np.arange(-127, 128, dtype=np.float32) / np.float32(64)).astype(np.float32)


@dataclass(frozen=True)
class _FloatFields(Format):
    name: str
    element: Element
    title: str


class FloatFormat(_FloatFields):
    """A floating-point element format with a per-tensor float32 scale ``max|x| / max_value``.

    A frozen dataclass with fields ``name``, ``element`` and ``title`` (default from the element's name).
    """

    def __init__(self, name: str, element: Element, title: str | None = None) -> None:
        if not isinstance(element, Element):
            raise ValueError(f"element must be one of qviz.formats.ELEMENTS ({', '.join(ELEMENTS)}), got {element!r}")
        super().__init__(name, element, title or f"{element.name.upper()} (scaled, saturating)")

    @property
    def family(self) -> str:
        return "floating point"

    @property
    def element_bits(self) -> float:
        return self.element.bits

    @property
    def tensor_overhead_bits(self) -> int:
        return 32

    def scale(self, x32: np.ndarray) -> np.float32:
        """``max|x| / max_value`` (1 for an all-zero tensor)."""
        a = absmax(x32)
        return np.float32(a / np.float32(self.element.max_value)) if a > 0 else np.float32(1)

    def _fake_quantize(self, x32: np.ndarray) -> np.ndarray:
        s = self.scale(x32)
        return (cast(x32 / s, self.element) * s).astype(np.float32)

    def _levels(self, x32: np.ndarray) -> np.ndarray:
        return element_values(self.element) * self.scale(x32)
