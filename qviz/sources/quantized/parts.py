"""What every quantized-checkpoint decoder shares: a logical weight (:class:`QWeight`) and raw part access (:class:`Parts`).

A quantized checkpoint stores one weight as several tensors (``qweight``,
``scales``, ``qzeros``, ``g_idx`` …). A decoder module groups them into one
:class:`QWeight` named like the original weight (``…q_proj.weight``) and turns
its parts into a :class:`qviz.QuantizedTensor` plus the float32 values of the
format's reference dequantization (:class:`Decoded`).

When a format's blocks are not contiguous in the row-major tensor (GPTQ
act-order groups, 2-d compressed-tensors blocks), the blocks are gathered and
``QuantizedTensor.meta["order"]`` holds the flat tensor index of each value:
``values.ravel()[order] == qt.dequantize().ravel()`` (see :func:`in_tensor_order`).

Example
-------
>>> import numpy as np
>>> from qviz.quantized import QuantizedTensor
>>> qt = QuantizedTensor("w", "demo", (1, 4), 1, 2, codes=np.array([[0, 1], [1, 0]]),
...     scales=np.ones(2, np.float32), codebook=np.array([0, 1], np.float32), meta={"order": np.array([0, 2, 1, 3])})
>>> in_tensor_order(qt)
array([[0., 1., 1., 0.]], dtype=float32)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..base import fail

INT_DTYPES = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}


@dataclass
class QWeight:
    """One logical weight made of raw parts: ``parts`` maps a role (``qweight``, ``scales`` …) to a tensor name."""

    name: str
    format: str
    shape: tuple
    dtype: str
    parts: dict
    params: dict = field(default_factory=dict)


@dataclass
class Decoded:
    """A decoded weight: its :class:`QuantizedTensor` and its float32 values in tensor order (the reference formula)."""

    qt: object
    values: np.ndarray


class Parts:
    """Raw access to a source's stored tensors (before grouping), for the decoders.

    ``specs`` maps a raw name to ``(dtype, shape)``; ``source`` must have
    ``_raw_bytes(name)`` (uint8 buffer), ``_raw_array(name)`` and ``_part_label(name)``.
    """

    def __init__(self, source, specs: dict):
        self.source = source
        self.specs = specs

    def label(self, raw: str) -> str:
        return self.source._part_label(raw)

    def shape(self, raw: str) -> tuple:
        return tuple(self.specs[raw][1])

    def dtype(self, raw: str) -> str:
        return self.specs[raw][0]

    def nbytes(self, raw: str) -> int:
        return self.source._part_nbytes(raw)

    def bytes(self, raw: str) -> np.ndarray:
        """The stored bytes of ``raw`` (uint8, flat)."""
        return self.source._raw_bytes(raw)

    def ints(self, raw: str) -> np.ndarray:
        """An integer part as a numpy integer array of its stored type."""
        dt = self.dtype(raw)
        if dt not in INT_DTYPES:
            raise self.error(raw, f"is stored as {dt}, not as integers", "the checkpoint is not in the format it claims")
        return self.bytes(raw).view(np.dtype(dt).newbyteorder("<")).reshape(self.shape(raw))

    def floats(self, raw: str) -> np.ndarray:
        """A float part (f32/f16/bf16/fp8) widened exactly to float32."""
        from ..base import numpy_to_float32, torch_to_float32

        a = self.source._raw_array(raw)
        return numpy_to_float32(a) if isinstance(a, np.ndarray) else torch_to_float32(a)

    def error(self, raw: str, what: str, todo: str):
        return fail(self.label(raw), f"tensor {raw!r} {what}", todo)

    def expect(self, qw: QWeight, role: str, shape: tuple, why: str = "") -> None:
        """A one-line error unless part ``role`` of ``qw`` has ``shape``."""
        got = self.shape(qw.parts[role])
        if tuple(got) != tuple(shape):
            extra = f" ({why})" if why else ""
            raise self.error(
                qw.parts[role],
                f"has shape {tuple(got)} but {qw.name!r} ({qw.format}) needs {tuple(shape)}{extra}",
                "the parts come from different layers or the checkpoint is corrupted: download it again",
            )

    def total_nbytes(self, qw: QWeight) -> int:
        return sum(self.nbytes(r) for r in qw.parts.values())


def in_tensor_order(qt) -> np.ndarray:
    """``qt``'s dequantized values in the tensor's own order (undoing ``meta["order"]`` when present)."""
    v = qt.dequantize()
    order = qt.meta.get("order") if isinstance(qt.meta, dict) else None
    if order is None:
        return v
    out = np.empty(v.size, np.float32)
    out[np.asarray(order)] = v.ravel()
    return out.reshape(qt.shape)


def group_order(col_groups: np.ndarray, rows: int) -> np.ndarray | None:
    """Flat indices gathering each row's columns by group (stable), or None when already contiguous."""
    col_groups = np.asarray(col_groups, np.int64)
    perm = np.argsort(col_groups, kind="stable")
    if np.array_equal(perm, np.arange(perm.size)):
        return None
    cols = perm.size
    return (np.arange(rows, dtype=np.int64)[:, None] * cols + perm[None, :]).ravel()


def tile_order(rows: int, cols: int, bh: int, bw: int) -> np.ndarray | None:
    """Flat indices gathering ``bh × bw`` tiles (row-major over tiles), or None when tiles are whole rows."""
    if bh == 1 and bw == cols:
        return None
    idx = np.arange(rows * cols, dtype=np.int64).reshape(rows // bh, bh, cols // bw, bw)
    return idx.transpose(0, 2, 1, 3).ravel()
