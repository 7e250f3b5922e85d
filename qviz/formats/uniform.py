"""Uniform integer formats: a :class:`qviz.QuantSpec` and a calibrator, seen as a :class:`Format`.

Nothing is recomputed here: the range comes from :func:`qviz.calibrate`, the
parameters from :func:`qviz.choose_qparams`, the values from
:func:`qviz.fake_quantize`. Per-group specs act on ``PerGroup(group_size, axis=-1)``
blocks, as the spec does; when ``group_size`` does not divide the last axis, each
row ends in a partial group (see :func:`qviz.formats.base.group_rows`)::

    bits_per_value = bits + 32 / group_size           (symmetric: one float32 scale per group)
                   = bits + (32 + bits) / group_size  (asymmetric: a zero point too)

Example
-------
>>> import qviz
>>> f = UniformFormat("int4_g64", "int4, groups of 64", qviz.QuantSpec(bits=4, granularity=qviz.PerGroup(64)))
>>> f.bits_per_value
4.5
>>> x = qviz.sample("gaussian", n=4096)
>>> bool(abs(f.fake_quantize(x) - x).max() < 0.6)
True
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from ..affine import QParams, fake_quantize
from ..calibrate import calibrate
from ..spec import PerChannel, PerGroup, PerTensor, QuantSpec
from .base import Format, from_group_rows, group_rows


@dataclass(frozen=True)
class UniformFormat(Format):
    """Uniform integer codes under ``spec``, range chosen by ``method`` (default min-max).

    Per-group specs act on :func:`~qviz.formats.base.group_rows` blocks, i.e.
    ``PerGroup(group_size, axis=-1)`` of the tensor, as ``spec`` itself does
    (a last axis that ``group_size`` does not divide ends each row in a partial group).
    """

    name: str
    title: str
    spec: QuantSpec
    method: str = "minmax"

    def __post_init__(self) -> None:
        if not isinstance(self.spec, QuantSpec):
            raise ValueError(f"spec must be a qviz.QuantSpec, got {type(self.spec).__name__}")
        if isinstance(self.spec.granularity, PerChannel):
            raise ValueError("a uniform Format takes a per-tensor or per-group spec; per-channel depends on the tensor's shape")

    @property
    def family(self) -> str:
        return "uniform"

    @property
    def element_bits(self) -> float:
        return self.spec.bits

    @property
    def block_size(self) -> int:
        g = self.spec.granularity
        return g.group_size if isinstance(g, PerGroup) else 0

    @property
    def _param_bits(self) -> int:
        """One float32 scale, and a zero point of ``bits`` when asymmetric."""
        return 32 + (0 if self.spec.symmetric else self.spec.bits)

    @property
    def scale_bits(self) -> int:
        return self._param_bits if self.block_size else 0

    @property
    def tensor_overhead_bits(self) -> int:
        return 0 if self.block_size else self._param_bits

    def _rows(self, x32: np.ndarray) -> tuple[np.ndarray, QuantSpec]:
        """The tensor as qviz sees it: per-tensor as is, per-group as the rows of its groups."""
        if self.block_size:
            return group_rows(x32, self.block_size), replace(self.spec, granularity=PerGroup(self.block_size, axis=-1))
        return x32, self.spec

    def qparams(self, x: ArrayLike) -> QParams:
        """The :class:`qviz.QParams` this format uses on ``x`` (per-group: one per row of :func:`group_rows`)."""
        rows, spec = self._rows(np.asarray(x, dtype=np.float32))
        return calibrate(rows, spec, self.method).qparams

    def _fake_quantize(self, x32: np.ndarray) -> np.ndarray:
        rows, spec = self._rows(x32)
        qp = calibrate(rows, spec, self.method).qparams
        out = np.asarray(fake_quantize(rows, qp))
        if isinstance(self.spec.granularity, PerTensor):
            return out.astype(np.float32)
        return from_group_rows(out, x32.shape)

    def _levels(self, x32: np.ndarray) -> np.ndarray:
        rows, spec = self._rows(x32)
        qp = calibrate(rows, spec, self.method).qparams
        if isinstance(self.spec.granularity, PerTensor):
            return qp.levels(0)
        widest = int(np.argmax(np.ravel(qp.level_max) - np.ravel(qp.level_min)))
        return qp.levels(widest)
