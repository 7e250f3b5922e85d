"""Integer codes packed densely into 32-bit words, as GPTQ, AWQ and compressed-tensors store them.

Element ``i`` of a packed row starts at bit ``i·bits`` of the row's little-endian
bit stream (word ``k`` holds stream bits ``32k … 32k+31``), so a 3-bit value may
straddle two words. GPTQ (2/3/4/8 bits, along the input rows), AutoAWQ (4 bits,
before its nibble permutation) and compressed-tensors' ``pack_to_int32`` all use
this layout.

Example
-------
>>> import numpy as np
>>> words = np.array([[0x76543210]], dtype=np.uint32).view(np.int32)
>>> unpack(words, 4, 8)
array([[0, 1, 2, 3, 4, 5, 6, 7]], dtype=uint8)
>>> unpack(np.array([[0b111_110_101]], np.int32), 3, 3)
array([[5, 6, 7]], dtype=uint8)
"""

from __future__ import annotations

import numpy as np


def unpack(words: np.ndarray, bits: int, n: int) -> np.ndarray:
    """Codes ``(rows, n)`` (uint8) from packed 32-bit words ``(rows, n_words)`` (the stream along the last axis).

    Parameters
    ----------
    words : ndarray of int32 or uint32, shape (rows, n_words)
    bits : int
        Bits per code, 1 to 8.
    n : int
        Codes per row; ``n · bits`` must fit in ``32 · n_words``.
    """
    if not 1 <= int(bits) <= 8:
        raise ValueError(f"bits must be 1 to 8, got {bits}")
    words = np.asarray(words)
    if words.ndim != 2:
        raise ValueError(f"packed words must be 2-d, got shape {words.shape}")
    rows, n_words = words.shape
    if n * bits > 32 * n_words:
        raise ValueError(f"{n_words} words of 32 bits cannot hold {n} codes of {bits} bits")
    raw = np.ascontiguousarray(words).astype("<u4", copy=False).view(np.uint8).reshape(rows, 4 * n_words)
    if 8 % bits == 0:
        per = 8 // bits
        shifts = (np.arange(per, dtype=np.uint8) * bits).astype(np.uint8)
        out = (raw[:, :, None] >> shifts) & np.uint8((1 << bits) - 1)
        return np.ascontiguousarray(out.reshape(rows, -1)[:, :n])
    stream = np.unpackbits(raw, axis=1, bitorder="little")[:, : n * bits].reshape(rows, n, bits)
    weights = (1 << np.arange(bits)).astype(np.uint8)
    return (stream * weights).sum(axis=2, dtype=np.uint8)


def unpack_nibbles(raw: np.ndarray, high_first: bool) -> np.ndarray:
    """Two 4-bit codes per byte: ``high_first`` (bitsandbytes) or low nibble first (compressed-tensors FP4)."""
    raw = np.asarray(raw, dtype=np.uint8).reshape(-1)
    hi, lo = raw >> 4, raw & np.uint8(0xF)
    return np.stack((hi, lo) if high_first else (lo, hi), axis=1).reshape(-1)
