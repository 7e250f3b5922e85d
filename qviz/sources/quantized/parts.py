"""What every quantized-checkpoint decoder shares: a logical weight (:class:`QWeight`) and raw part access (:class:`Parts`).

A quantized checkpoint stores one weight as several tensors (``qweight``,
``scales``, ``qzeros``, ``g_idx`` …). A decoder module groups them into one
:class:`QWeight` named like the original weight (``…q_proj.weight``) and turns
its parts into a :class:`qviz.QuantizedTensor` plus the float32 values of the
format's reference dequantization (:class:`Decoded`).

When a format's blocks are not contiguous in the row-major tensor, the codes
are gathered block by block and ``QuantizedTensor.meta`` says how, compactly:

* ``meta["column_order"]`` (GPTQ act-order): every row's columns were taken in this
  order before cutting blocks;
* ``meta["tile"] = (bh, bw)`` (compressed-tensors 2-d blocks): blocks are ``bh × bw`` tiles,
  row-major over tiles.

``QuantizedTensor.to_blocks`` / ``from_blocks`` apply and undo either, so ``qt.dequantize()``
is always in the tensor's own order.

Example
-------
>>> import numpy as np
>>> from qviz.quantized import QuantizedTensor
>>> qt = QuantizedTensor("w", "demo", (1, 4), 1, 2, codes=np.array([[0, 1], [1, 0]]),
...     scales=np.ones(2, np.float32), codebook=np.array([0, 1], np.float32), meta={"column_order": np.array([0, 2, 1, 3])})
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
    """``qt``'s dequantized values in the tensor's own order (``QuantizedTensor.dequantize`` undoes the block layout)."""
    return qt.dequantize()


def column_order(col_groups: np.ndarray) -> np.ndarray | None:
    """Columns sorted by group (stable), or None when groups are already contiguous and in order."""
    perm = np.argsort(np.asarray(col_groups, np.int64), kind="stable")
    return None if np.array_equal(perm, np.arange(perm.size)) else perm


def gather_tiles(a: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """``(rows, cols)`` → ``(n_tiles, bh·bw)``: ``bh × bw`` tiles, row-major over tiles."""
    rows, cols = a.shape
    return a.reshape(rows // bh, bh, cols // bw, bw).transpose(0, 2, 1, 3).reshape(-1, bh * bw)
