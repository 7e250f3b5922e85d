"""Uniform integer formats: a :class:`qviz.QuantSpec` and a calibrator, seen as a :class:`Format`.

Nothing is recomputed here: the range comes from :func:`qviz.calibrate`, the
parameters from :func:`qviz.choose_qparams`, the values from
:func:`qviz.fake_quantize`. Per-group specs act on runs of ``group_size`` values of
the flattened tensor (the last axis first), so any shape works::

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

from dataclasses import replace

import numpy as np

from ..affine import fake_quantize
from ..calibrate import calibrate
from ..spec import PerChannel, PerGroup, PerTensor, QuantSpec
from .base import Format, from_blocks, to_blocks


class UniformFormat(Format):
    """Uniform integer codes under ``spec``, range chosen by ``method`` (default min-max)."""

    def __init__(self, name: str, title: str, spec: QuantSpec, method: str = "minmax"):
        if not isinstance(spec, QuantSpec):
            raise ValueError(f"spec must be a qviz.QuantSpec, got {type(spec).__name__}")
        if isinstance(spec.granularity, PerChannel):
            raise ValueError("a uniform Format takes a per-tensor or per-group spec; per-channel depends on the tensor's shape")
        g = spec.granularity
        block = g.group_size if isinstance(g, PerGroup) else 0
        per_block = 32 + (0 if spec.symmetric else spec.bits)
        super().__init__(
            name=name, title=title, family="uniform", element_bits=spec.bits,
            block_size=block, scale_bits=per_block if block else 0, tensor_overhead_bits=0 if block else per_block,
        )
        object.__setattr__(self, "spec", spec)
        object.__setattr__(self, "method", method)

    def __hash__(self):
        return hash((self.name, self.spec, self.method))

    def __eq__(self, other):
        return isinstance(other, UniformFormat) and (self.name, self.spec, self.method) == (other.name, other.spec, other.method)

    def _rows(self, x32: np.ndarray):
        """The tensor as qviz sees it: per-tensor as is, per-group as rows of group_size (padded with 0)."""
        g = self.spec.granularity
        if isinstance(g, PerGroup):
            rows, pad = to_blocks(x32, g.group_size)
            spec = replace(self.spec, granularity=PerGroup(g.group_size, axis=-1))
            return rows, pad, spec
        return x32, 0, self.spec

    def qparams(self, x):
        """The :class:`qviz.QParams` this format uses on ``x`` (per-group: on rows of ``group_size``)."""
        x32 = np.asarray(x, dtype=np.float32)
        rows, _, spec = self._rows(x32)
        return calibrate(rows, spec, self.method).qparams

    def _fake_quantize(self, x32: np.ndarray) -> np.ndarray:
        rows, pad, spec = self._rows(x32)
        qp = calibrate(rows, spec, self.method).qparams
        out = np.asarray(fake_quantize(rows, qp))
        if isinstance(self.spec.granularity, PerTensor):
            return out.astype(np.float32)
        return from_blocks(out, pad, x32.shape)

    def _levels(self, x32: np.ndarray) -> np.ndarray:
        rows, _, spec = self._rows(x32)
        qp = calibrate(rows, spec, self.method).qparams
        if isinstance(self.spec.granularity, PerTensor):
            return qp.levels(0)
        widest = int(np.argmax(np.ravel(qp.level_max) - np.ravel(qp.level_min)))
        return qp.levels(widest)
