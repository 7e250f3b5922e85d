"""What a quantizer is: :class:`QuantSpec` and the granularities.

A spec fixes the integer grid and how values are rounded onto it; a range
(from a calibrator) then fixes where the grid sits (see :mod:`qviz.affine`).

Integer range (the only place in qviz that computes it)::

    signed:    qmin = -2**(bits-1),            qmax = 2**(bits-1) - 1
    unsigned:  qmin = 0,                       qmax = 2**bits - 1
    narrow_range drops the lowest code: qmin += 1   (int8 -> [-127, 127],
    uint8 -> [1, 255], as TensorRT, ONNX Runtime and TF's narrow_range do)

Example
-------
>>> s = QuantSpec(bits=4, signed=True)
>>> (s.qmin, s.qmax, s.n_levels)
(-8, 7, 16)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

QUANTIZERS = ("midtread", "midrise")
ROUNDINGS = ("nearest", "stochastic")


@dataclass(frozen=True)
class PerTensor:
    """One scale and zero point for the whole tensor."""

    def describe(self) -> str:
        return "per-tensor"


@dataclass(frozen=True)
class PerChannel:
    """One scale and zero point per index along ``axis`` (torch's ``ch_axis``)."""

    axis: int = 0

    def __post_init__(self):
        if not isinstance(self.axis, int) or isinstance(self.axis, bool):
            raise ValueError(f"PerChannel axis must be an int, got {self.axis!r}")

    def describe(self) -> str:
        return f"per-channel (axis {self.axis})"


@dataclass(frozen=True)
class PerGroup:
    """One scale and zero point per run of ``group_size`` consecutive values along ``axis``.

    As torchao's ``block_size`` ``(1, …, 1, group_size)``: every other axis has block size 1.
    """

    group_size: int
    axis: int = -1

    def __post_init__(self):
        if not isinstance(self.group_size, int) or isinstance(self.group_size, bool) or self.group_size < 1:
            raise ValueError(f"PerGroup group_size must be a positive int (e.g. 32, 64, 128), got {self.group_size!r}")
        if not isinstance(self.axis, int) or isinstance(self.axis, bool):
            raise ValueError(f"PerGroup axis must be an int, got {self.axis!r}")

    def describe(self) -> str:
        return f"per-group ({self.group_size} along axis {self.axis})"


Granularity = Union[PerTensor, PerChannel, PerGroup]


@dataclass(frozen=True)
class QuantSpec:
    """A uniform quantizer: bit width, integer range, quantizer shape, granularity and rounding.

    Parameters
    ----------
    bits : int
        1 to 16.
    signed : bool
        Signed codes ``[-2**(bits-1), 2**(bits-1)-1]`` or unsigned ``[0, 2**bits-1]``.
    symmetric : bool
        Symmetric: the range is ``[-absmax, absmax]`` and the zero point is the
        middle code (0 for signed, ``2**(bits-1)`` for unsigned, as torch does).
        Asymmetric (affine): the range is ``[min(x_min, 0), max(x_max, 0)]``.
    narrow_range : bool
        Drop the lowest code (int8 becomes ``[-127, 127]``).
    quantizer : {"midtread", "midrise"}
        Mid-tread: 0 is an output level; levels ``(q - z)·Δ``.
        Mid-rise: 0 is a decision threshold; levels ``(q - z + 1/2)·Δ``
        (±Δ/2, ±3Δ/2, …), every code used, no zero level.
    granularity : PerTensor | PerChannel | PerGroup
        Which values share one scale and zero point.
    rounding : {"nearest", "stochastic"}
        Nearest with ties to even (as torch), or stochastic ``floor(v + u)``,
        ``u ~ U[0, 1)`` drawn from ``seed`` (unbiased: ``E[x̂] = x``).
    seed : int
        Seed of the stochastic rounding.

    Examples
    --------
    >>> QuantSpec(bits=8, signed=False, symmetric=False).qmax
    255
    >>> QuantSpec(bits=8, narrow_range=True).qmin
    -127
    """

    bits: int = 8
    signed: bool = True
    symmetric: bool = True
    narrow_range: bool = False
    quantizer: str = "midtread"
    granularity: Granularity = field(default_factory=PerTensor)
    rounding: str = "nearest"
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.bits, int) or isinstance(self.bits, bool) or not 1 <= self.bits <= 16:
            raise ValueError(f"bits must be an integer from 1 to 16, got {self.bits!r}")
        for name in ("signed", "symmetric", "narrow_range"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.quantizer not in QUANTIZERS:
            raise ValueError(f"quantizer must be 'midtread' or 'midrise', got {self.quantizer!r}")
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"rounding must be 'nearest' or 'stochastic', got {self.rounding!r}")
        if not isinstance(self.granularity, (PerTensor, PerChannel, PerGroup)):
            raise ValueError(
                "granularity must be qviz.PerTensor(), qviz.PerChannel(axis) or qviz.PerGroup(group_size, axis), "
                f"got {self.granularity!r}"
            )
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        if self.narrow_range and self.bits == 1:
            raise ValueError("narrow_range leaves a 1-bit quantizer a single code: use bits >= 2 or narrow_range=False")
        if self.narrow_range and self.symmetric and self.quantizer == "midrise":
            raise ValueError(
                "a symmetric mid-rise quantizer needs an even number of levels, and narrow_range leaves an odd "
                "number: use narrow_range=False, or quantizer='midtread'"
            )

    @property
    def qmin(self) -> int:
        """Lowest integer code."""
        low = -(1 << (self.bits - 1)) if self.signed else 0
        return low + 1 if self.narrow_range else low

    @property
    def qmax(self) -> int:
        """Highest integer code."""
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def n_levels(self) -> int:
        """Number of integer codes, ``qmax - qmin + 1``."""
        return self.qmax - self.qmin + 1

    @property
    def n_steps(self) -> int:
        """How many steps Δ the clip range spans.

        ``qmax - qmin`` for mid-tread (levels sit on both ends of the range),
        ``qmax - qmin + 1`` for mid-rise (cell edges sit on both ends).
        """
        return self.qmax - self.qmin + (1 if self.quantizer == "midrise" else 0)

    @property
    def level_offset(self) -> float:
        """``o`` in ``x̂ = (q - z + o)·Δ``: 0 for mid-tread, 1/2 for mid-rise."""
        return 0.5 if self.quantizer == "midrise" else 0.0

    def describe(self) -> str:
        """One line a person reads, e.g. ``int8 symmetric midtread per-tensor``."""
        kind = ("int" if self.signed else "uint") + str(self.bits)
        parts = [kind, "symmetric" if self.symmetric else "asymmetric"]
        if self.narrow_range:
            parts.append("narrow")
        parts += [self.quantizer, self.granularity.describe()]
        if self.rounding == "stochastic":
            parts.append(f"stochastic (seed {self.seed})")
        return " ".join(parts)
