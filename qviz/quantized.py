"""A tensor as a checkpoint stores it already quantized: :class:`QuantizedTensor`.

Readers of quantized checkpoints (GGUF, GPTQ, AWQ, compressed-tensors,
bitsandbytes) describe each logical weight as blocks of integer codes, each
block with its own scale (and zero point or min where the format has one)::

    value = (codebook[code] - zero_point[block]) * scale[block] - min[block]

``codebook`` maps a code to its value before the block's scale: ``arange(2**b)``
for integer formats (the zero point then recentres it), the 16 NF4 / FP4 values,
the FP8 grid, the signed values of a GGUF IQ grid. A *block* is the smallest
group of values sharing one scale (a GGUF K-quant sub-block, a GPTQ group, a
compressed-tensors group or channel).

Example
-------
>>> import numpy as np
>>> qt = QuantizedTensor(
...     name="w", format="demo:int4", shape=(2, 4), bits=4, block_size=4,
...     codes=np.array([[0, 7, 8, 15], [1, 2, 3, 4]]), scales=np.array([0.5, 2.0], np.float32),
...     codebook=np.arange(16, dtype=np.float32), zero_points=np.array([8, 8], np.float32), nbytes=6)
>>> qt.levels(0)[:3]
array([-4. , -3.5, -3. ], dtype=float32)
>>> qt.dequantize()[0]
array([-4. , -0.5,  0. ,  3.5], dtype=float32)
>>> qt.bits_per_weight
6.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """One logical weight of a quantized checkpoint, in blocks of codes.

    Attributes
    ----------
    name : str
        The logical name (``model.layers.0.self_attn.q_proj.weight``), one per weight
        whatever parts (``qweight``, ``scales``, ``qzeros``, …) the file stores.
    format : str
        ``"gguf:Q4_K"``, ``"gptq"``, ``"awq"``, ``"compressed-tensors:pack-quantized"``,
        ``"compressed-tensors:float-quantized"``, ``"compressed-tensors:nvfp4"``,
        ``"bitsandbytes:nf4"``, ``"bitsandbytes:int8"``, …
    shape : tuple of int
        Shape of the dequantized tensor.
    bits : float
        Bits per element code (4 for Q4_K, 8 for FP8, 2.0625 for IQ2 grids counted per value).
    block_size : int
        Values per scale.
    codes : ndarray, shape (n_blocks, block_size)
        Integer codes, indices into ``codebook``; blocks in the order of the
        row-major dequantized tensor (``to_blocks(dequantize())`` gives each block's
        values; a plain reshape unless ``meta`` names a block layout, below).
    scales : ndarray, shape (n_blocks,)
        Effective float32 scale of each block.
    codebook : ndarray
        Value of each code before the block's scale (float32).
    zero_points, mins : ndarray of shape (n_blocks,), optional
        Per-block zero point (subtracted from the codebook value) and min (subtracted after scaling).
    nbytes : int
        Bytes this tensor takes on disk: codes, scales, zero points and metadata.
    meta : dict
        Format-specific facts worth showing (GGUF type, group index order, double quantization, …).
        Two keys describe blocks that are not runs of the row-major tensor (2-d tensors only):
        ``"column_order"`` (GPTQ act-order: each row's columns were gathered in this order before
        cutting blocks) and ``"tile"`` (``(bh, bw)``: blocks are ``bh × bw`` tiles, row-major over
        tiles). :meth:`to_blocks` and :meth:`from_blocks` apply and undo them.
    """

    name: str
    format: str
    shape: tuple
    bits: float
    block_size: int
    codes: np.ndarray
    scales: np.ndarray
    codebook: np.ndarray
    zero_points: np.ndarray | None = None
    mins: np.ndarray | None = None
    nbytes: int = 0
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes)
        if codes.ndim != 2:
            raise ValueError(f"codes must be (n_blocks, block_size), got shape {codes.shape}")
        if codes.shape[1] != self.block_size:
            raise ValueError(f"codes have blocks of {codes.shape[1]} values but block_size is {self.block_size}")
        for what in ("scales", "zero_points", "mins"):
            a = getattr(self, what)
            if a is not None and np.asarray(a).shape != (codes.shape[0],):
                raise ValueError(f"{what} must have one value per block ({codes.shape[0]}), got shape {np.shape(a)}")
        if int(np.prod(self.shape, dtype=object)) != codes.size:
            raise ValueError(f"shape {tuple(self.shape)} holds {int(np.prod(self.shape))} values but codes hold {codes.size}")

    @property
    def n_blocks(self) -> int:
        """Number of blocks (scales)."""
        return int(self.codes.shape[0])

    @property
    def numel(self) -> int:
        return int(self.codes.size)

    @property
    def bits_per_weight(self) -> float:
        """Bytes on disk × 8 / values: scales, zero points and metadata included."""
        return self.nbytes * 8 / self.numel if self.numel else float("nan")

    def _offsets(self, sl) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scale = np.asarray(self.scales, np.float32)[sl]
        zp = np.zeros_like(scale) if self.zero_points is None else np.asarray(self.zero_points, np.float32)[sl]
        mn = np.zeros_like(scale) if self.mins is None else np.asarray(self.mins, np.float32)[sl]
        return scale, zp, mn

    def levels(self, block: int) -> np.ndarray:
        """The sorted distinct values block ``block`` can output: ``(codebook − z)·s − m``."""
        if not 0 <= int(block) < self.n_blocks:
            raise ValueError(f"block must be in [0, {self.n_blocks - 1}], got {block}")
        s, z, m = self._offsets(int(block))
        cb = np.asarray(self.codebook, np.float32)
        return np.unique((cb - np.float32(z)) * np.float32(s) - np.float32(m)).astype(np.float32)

    def dequantize(self) -> np.ndarray:
        """Every value, float32, in ``shape``: ``(codebook[codes] − z)·s − m`` per block.

        Computed in place in float32; a missing zero point or min is skipped (``v − 0 = v`` exactly),
        and a codebook of consecutive integers is read as ``code + codebook[0]`` (exact), so the
        result is bit for bit the formula's whatever the path.
        """
        s = np.asarray(self.scales, np.float32)
        v = codebook_values(self.codebook, self.codes)
        if self.zero_points is not None:
            v -= np.asarray(self.zero_points, np.float32)[:, None]
        v *= s[:, None]
        if self.mins is not None:
            v -= np.asarray(self.mins, np.float32)[:, None]
        return self.from_blocks(v)

    def to_blocks(self, x: np.ndarray) -> np.ndarray:
        """A tensor-shaped array arranged like ``codes``: ``(n_blocks, block_size)`` (a view when no layout applies)."""
        x = np.asarray(x)
        order, tile = self.meta.get("column_order"), self.meta.get("tile")
        if order is not None:
            x = x.reshape(self.shape)[:, np.asarray(order)]
        elif tile is not None:
            (rows, cols), (bh, bw) = self.shape, tile
            x = x.reshape(rows // bh, bh, cols // bw, bw).transpose(0, 2, 1, 3)
        return x.reshape(self.n_blocks, self.block_size)

    def from_blocks(self, v: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`to_blocks`: per-block values back in the tensor's ``shape``."""
        v = np.asarray(v)
        order, tile = self.meta.get("column_order"), self.meta.get("tile")
        if order is not None:
            rows, cols = self.shape
            out = np.empty((rows, cols), v.dtype)
            out[:, np.asarray(order)] = v.reshape(rows, cols)
            return out
        if tile is not None:
            (rows, cols), (bh, bw) = self.shape, tile
            return np.ascontiguousarray(v.reshape(rows // bh, cols // bw, bh, bw).transpose(0, 2, 1, 3)).reshape(rows, cols)
        return v.reshape(self.shape)

    def code_counts(self) -> np.ndarray:
        """How many values use each code (index into ``codebook``), summed over blocks."""
        return np.bincount(np.asarray(self.codes).ravel().astype(np.int64), minlength=len(self.codebook))

    def saturated_share(self) -> float:
        """Share of values at the lowest or highest code of ``codebook``."""
        cb = np.asarray(self.codebook)
        lo, hi = int(np.nanargmin(cb)), int(np.nanargmax(cb))  # FP8 codebooks hold NaN codes
        c = np.asarray(self.codes)
        return float(np.count_nonzero((c == lo) | (c == hi)) / c.size) if c.size else float("nan")


def codebook_values(codebook, codes) -> np.ndarray:
    """``codebook[codes]`` as a new float32 array (a cast, not a gather, for consecutive-integer codebooks).

    >>> codebook_values(np.arange(16, dtype=np.float32) - 8, np.array([[0, 15]], np.uint8))
    array([[-8.,  7.]], dtype=float32)
    """
    cb = np.asarray(codebook, np.float32)
    c = np.asarray(codes)
    first = float(cb[0]) if cb.size else 0.0
    if (
        c.dtype.kind in "ui"
        and cb.size
        and first.is_integer()
        and abs(first) + cb.size < 2**24
        and np.array_equal(cb, np.arange(cb.size, dtype=np.float32) + np.float32(first))
    ):
        if first == 0:
            return c.astype(np.float32)
        if c.dtype == np.uint8 and -128 <= first and first + cb.size <= 128:  # code + first fits int8: add in one byte
            return (c.view(np.int8) + np.int8(first)).astype(np.float32)  # wraps mod 256, exact where the sum fits
        v = c.astype(np.float32)
        if first:
            v += np.float32(first)
        return v
    return np.take(cb, c)
