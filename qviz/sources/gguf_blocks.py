"""GGML block layouts → codes, per-(sub)block scales, mins and the codebook.

Every GGML quantized type stores a row as blocks of ``type_size`` bytes, each
decoding to ``block_size`` values (llama.cpp's ``ggml-quants.c``; the numpy
reference is ``gguf.quants.dequantize``). :func:`decode` unpacks the raw blocks
into the parts of a :class:`qviz.QuantizedTensor`, so that::

    value = (codebook[code] - zero_point) * scale - min          (per sub-block)

reproduces ``gguf.quants.dequantize`` bit for bit in float32 (each scale is computed by
the same float32 operations as the reference, and IEEE ``v - 0``, ``x - (-m)`` and
``(±g)·s`` equal ``v``, ``x + m`` and ``±(s·g)`` exactly). The *block* of the result is the
smallest run of values sharing one scale: the 16- or 32-value sub-block of a K-quant
(``scale = d·sc``, ``min = dmin·m``), the 32-value block of a legacy type
(Q4_0 … Q8_0), the 16/32-value sub-block of an IQ type, the 8-value group of IQ1_M.

What is exact and what is a description:

* legacy, K, TQ, MXFP4, NVFP4, IQ4_NL/IQ4_XS: codes, scales, mins and the grid are
  exactly what the file stores (a zero point or offset folded into the codebook).
* IQ2/IQ3 (lattice types): each group of 4 or 8 values is one entry of a fixed
  grid (``gguf.quants.IQ2_XXS.grid`` …) plus sign bits. Per value, the codebook holds
  the signed grid magnitudes and decoding is exact, but not every combination of
  codes within a group is representable (``meta["approximate"]`` says so).
* IQ1_S/IQ1_M: grid values {-1, 0, 1} shifted by ±1/8 per group; the shift is the
  zero point (``-delta``), exact.

Example
-------
>>> import numpy as np, gguf
>>> raw = gguf.quants.quantize(np.linspace(-1, 1, 32, dtype=np.float32)[None], gguf.GGMLQuantizationType.Q4_0)
>>> d = decode(raw.reshape(-1, 18), "Q4_0")
>>> d.codes.shape, d.block_size, d.bits, float(d.codebook[0])
((1, 32), 32, 4.0, -8.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

QK_K = 256


@dataclass
class Decoded:
    """The parts of one tensor's blocks (see the module docstring)."""

    codes: np.ndarray  # (n_blocks, block_size), uint8/uint16 indices into codebook
    scales: np.ndarray  # (n_blocks,) float32
    codebook: np.ndarray  # float32
    bits: float
    block_size: int
    zero_points: np.ndarray | None = None
    mins: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


def _f16(b: np.ndarray) -> np.ndarray:
    """Bytes (..., 2) → float32 (..., 1), via IEEE half (exact)."""
    return np.ascontiguousarray(b).view(np.float16).astype(np.float32)


def _nibbles(qs: np.ndarray, inner: int) -> np.ndarray:
    """Low nibbles of ``inner`` bytes, then their high nibbles (ggml's order)."""
    n = qs.shape[0]
    q = qs.reshape((n, -1, 1, inner)) >> np.array([0, 4], np.uint8).reshape((1, 1, 2, 1))
    return (q & np.uint8(0x0F)).reshape((n, -1))


def _bits_of(qh: np.ndarray, n: int) -> np.ndarray:
    """Bit ``j`` of a little-endian uint32 per block, for j < n: (n_blocks, n) uint8."""
    q = np.ascontiguousarray(qh).view(np.uint32).reshape((-1, 1)) >> np.arange(n, dtype=np.uint32).reshape((1, n))
    return (q & np.uint32(1)).astype(np.uint8)


def _ints(lo: int, n: int) -> np.ndarray:
    return np.arange(lo, lo + n, dtype=np.float32)


def _flat(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).reshape(-1)


def _q4_0(b):
    return Decoded(_nibbles(b[:, 2:], 16), _flat(_f16(b[:, :2])), _ints(-8, 16), 4.0, 32)


def _q4_1(b):
    return Decoded(_nibbles(b[:, 4:], 16), _flat(_f16(b[:, :2])), _ints(0, 16), 4.0, 32, mins=-_flat(_f16(b[:, 2:4])))


def _q5(b, off):
    ql = _nibbles(b[:, off + 4 :], 16)
    return ql | (_bits_of(b[:, off : off + 4], 32) << np.uint8(4))


def _q5_0(b):
    return Decoded(_q5(b, 2), _flat(_f16(b[:, :2])), _ints(-16, 32), 5.0, 32)


def _q5_1(b):
    return Decoded(_q5(b, 4), _flat(_f16(b[:, :2])), _ints(0, 32), 5.0, 32, mins=-_flat(_f16(b[:, 2:4])))


def _q8_0(b):
    return Decoded(b[:, 2:] ^ np.uint8(0x80), _flat(_f16(b[:, :2])), _ints(-128, 256), 8.0, 32)


def _q2_k(b):
    n = b.shape[0]
    sc, qs, d, dmin = b[:, :16], b[:, 16:80], _f16(b[:, 80:82]), _f16(b[:, 82:84])
    dl = d * (sc & 0xF).astype(np.float32)
    ml = dmin * (sc >> 4).astype(np.float32)
    q = (qs.reshape((n, -1, 1, 32)) >> np.array([0, 2, 4, 6], np.uint8).reshape((1, 1, 4, 1))) & np.uint8(3)
    return Decoded(q.reshape((n * 16, 16)), _flat(dl), _ints(0, 4), 2.0, 16, mins=_flat(ml))


def _q3_k(b):
    n = b.shape[0]
    hmask, qs, sc, d = b[:, :32], b[:, 32:96], b[:, 96:108], _f16(b[:, 108:110])
    lo = (sc[:, :8].reshape((n, 1, 8)) >> np.array([0, 4], np.uint8).reshape((1, 2, 1))).reshape((n, 16))
    hi = (sc[:, 8:].reshape((n, 1, 4)) >> np.array([0, 2, 4, 6], np.uint8).reshape((1, 4, 1))).reshape((n, 16))
    s = ((lo & np.uint8(0x0F)) | ((hi & np.uint8(0x03)) << np.uint8(4))).astype(np.int8) - np.int8(32)
    dl = d * s.astype(np.float32)
    ql = (qs.reshape((n, -1, 1, 32)) >> np.array([0, 2, 4, 6], np.uint8).reshape((1, 1, 4, 1))).reshape((n, 16, 16))
    qh = (hmask.reshape((n, -1, 1, 32)) >> np.arange(8, dtype=np.uint8).reshape((1, 1, 8, 1))).reshape((n, 16, 16))
    codes = (ql & np.uint8(3)) | ((qh & np.uint8(1)) << np.uint8(2))  # q = ql - 4·(1 - h) = code - 4
    return Decoded(codes.reshape((n * 16, 16)), _flat(dl), _ints(-4, 8), 3.0, 16)


def _scale_min_k4(sc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8 six-bit scales and mins of a Q4_K/Q5_K super-block (12 bytes)."""
    n = sc.shape[0]
    s = sc.reshape((n, 3, 4))
    d, m, md = s[:, 0], s[:, 1], s[:, 2]
    scale = np.concatenate([d & 0x3F, (md & 0x0F) | ((d >> 2) & 0x30)], axis=-1)
    mn = np.concatenate([m & 0x3F, (md >> 4) | ((m >> 2) & 0x30)], axis=-1)
    return scale, mn


def _kq_scales(b):
    d, dmin = _f16(b[:, :2]), _f16(b[:, 2:4])
    sc, m = _scale_min_k4(b[:, 4:16])
    return _flat(d * sc.astype(np.float32)), _flat(dmin * m.astype(np.float32))


def _q4_k(b):
    n = b.shape[0]
    s, m = _kq_scales(b)
    return Decoded(_nibbles(b[:, 16:], 32).reshape((n * 8, 32)), s, _ints(0, 16), 4.0, 32, mins=m)


def _q5_k(b):
    n = b.shape[0]
    s, m = _kq_scales(b)
    ql = _nibbles(b[:, 48:], 32).reshape((n, 8, 32))
    qh = (b[:, 16:48].reshape((n, 1, 32)) >> np.arange(8, dtype=np.uint8).reshape((1, 8, 1))) & np.uint8(1)
    return Decoded((ql | (qh << np.uint8(4))).reshape((n * 8, 32)), s, _ints(0, 32), 5.0, 32, mins=m)


def _q6_k(b):
    n = b.shape[0]
    ql, qh, sc, d = b[:, :128], b[:, 128:192], b[:, 192:208], _f16(b[:, 208:210])
    dl = d * np.ascontiguousarray(sc).view(np.int8).astype(np.float32)
    lo = (ql.reshape((n, -1, 1, 64)) >> np.array([0, 4], np.uint8).reshape((1, 1, 2, 1))) & np.uint8(0x0F)
    hi = (qh.reshape((n, -1, 1, 32)) >> np.array([0, 2, 4, 6], np.uint8).reshape((1, 1, 4, 1))) & np.uint8(3)
    codes = lo.reshape((n, -1, 32)) | (hi.reshape((n, -1, 32)) << np.uint8(4))
    return Decoded(codes.reshape((n * 16, 16)), _flat(dl), _ints(-32, 64), 6.0, 16)


def _tq1_0(b):
    n = b.shape[0]
    qs, qh, d = b[:, :48], b[:, 48:52], _f16(b[:, 52:54])
    pow3 = np.array([1, 3, 9, 27, 81], np.uint8).reshape((1, 1, 5, 1))
    q0 = (qs[:, :32].reshape((n, -1, 1, 32)) * pow3).reshape((n, -1))  # uint8 wrap-around, as ggml
    q1 = (qs[:, 32:].reshape((n, -1, 1, 16)) * pow3).reshape((n, -1))
    q2 = (qh.reshape((n, -1, 1, 4)) * pow3[:, :, :4]).reshape((n, -1))
    q = np.concatenate([q0, q1, q2], axis=-1)
    codes = ((q.astype(np.uint16) * 3) >> 8).astype(np.uint8)  # trit 0..2 = value + 1
    return Decoded(codes, _flat(d), _ints(-1, 3), 1.6, 256, meta={"grid": "ternary {-1, 0, 1}, 5 trits per byte"})


def _tq2_0(b):
    n = b.shape[0]
    q = (b[:, :64].reshape((n, -1, 1, 32)) >> np.array([0, 2, 4, 6], np.uint8).reshape((1, 1, 4, 1))) & np.uint8(3)
    return Decoded(q.reshape((n, -1)), _flat(_f16(b[:, 64:66])), _ints(-1, 4), 2.0, 256)


E2M1_X2 = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], np.float32)  # FP4 E2M1 values × 2
IQ4_NL_VALUES = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.float32)


def _e8m0_half(e: np.ndarray) -> np.ndarray:
    """2**(e − 128) as float32 (ggml_e8m0_to_fp32_half), subnormals for e < 2."""
    e32 = e.astype(np.uint32)
    bits = np.where(e32 < 2, np.uint32(0x00200000) << e32, (e32 - np.uint32(1)) << np.uint32(23)).astype(np.uint32)
    return bits.view(np.float32)


def _mxfp4(b):
    d = _e8m0_half(b[:, 0])
    meta = {"scale": "E8M0 power of two (halved: the codebook is E2M1 × 2)"}
    return Decoded(_nibbles(b[:, 1:], 16), _flat(d), E2M1_X2, 4.0, 32, meta=meta)


def _ue4m3_half(x: np.ndarray) -> np.ndarray:
    """Unsigned E4M3 (bias 7) × ½, as gguf's NVFP4.ue4m3_to_fp32 (0 and 0x7F decode to 0)."""
    exp = (x >> 3).astype(np.int32) & 0xF
    man = (x & 0x7).astype(np.float32)
    raw = np.where(exp == 0, man * 2**-9, (1.0 + man / 8.0) * (2.0 ** (exp.astype(np.float32) - 7)))
    return np.where((x == 0) | (x == 0x7F), 0.0, raw * 0.5).astype(np.float32)


def _nvfp4(b):
    n = b.shape[0]
    d = _ue4m3_half(b[:, :4])
    qs = b[:, 4:].reshape((n, 4, 8))
    codes = np.concatenate([qs & np.uint8(0x0F), qs >> np.uint8(4)], axis=-1)
    meta = {"scale": "UE4M3 per 16 values (halved: the codebook is E2M1 × 2); the tensor scale is not in the block"}
    return Decoded(codes.reshape((n * 4, 16)), _flat(d), E2M1_X2, 4.0, 16, meta=meta)


def _iq4_nl(b):
    return Decoded(_nibbles(b[:, 2:], 16), _flat(_f16(b[:, :2])), IQ4_NL_VALUES, 4.0, 32)


def _iq4_xs(b):
    n = b.shape[0]
    d = _f16(b[:, :2])
    sh = np.ascontiguousarray(b[:, 2:4]).view(np.uint16)
    sl = (b[:, 4:8].reshape((n, -1, 1)) >> np.array([0, 4], np.uint8).reshape((1, 1, 2))).reshape((n, -1)) & np.uint8(0x0F)
    sh = (sh.reshape((n, 1, -1)) >> np.array([2 * i for i in range(8)], np.uint16).reshape((1, -1, 1))).reshape((n, -1))
    s = (sl | ((sh.astype(np.uint8) & np.uint8(0x03)) << np.uint8(4))).astype(np.int8) - np.int8(32)
    dl = d * s.astype(np.float32)
    codes = (b[:, 8:].reshape((n, -1, 1, 16)) >> np.array([0, 4], np.uint8).reshape((1, 1, 2, 1))) & np.uint8(0x0F)
    return Decoded(codes.reshape((n * 8, 32)), _flat(dl), IQ4_NL_VALUES, 4.0, 32)


_GRIDS: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _grid(name: str) -> tuple[np.ndarray, np.ndarray]:
    """gguf's lattice of an IQ type as codes ``(n_entries, group)`` into the sorted, symmetric signed codebook.

    The magnitude ``g`` has code ``i`` and ``−g`` code ``K − 1 − i``.
    """
    if name not in _GRIDS:
        import gguf.quants as gq

        cls = getattr(gq, name)
        cls.init_grid()
        grid = np.asarray(cls.grid, np.float32).reshape(cls.grid_shape)
        mags = np.unique(np.abs(grid))
        cb = np.unique(np.concatenate([-mags, mags])).astype(np.float32)
        _GRIDS[name] = (np.searchsorted(cb, grid).astype(np.uint8), cb)
    return _GRIDS[name]


def _ksigns() -> np.ndarray:
    import gguf.quants as gq

    return np.frombuffer(gq.IQ2_XXS.ksigns, dtype=np.uint8)


def _sign_bits(idx7: np.ndarray) -> np.ndarray:
    """ksigns lookup: 7-bit index → 8 sign bits (1 = negative)."""
    s = _ksigns()[idx7.astype(np.intp)]
    return (s[..., None] >> np.arange(8, dtype=np.uint8)) & np.uint8(1)


def _signed_codes(codes: np.ndarray, negative: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Codes of the magnitudes, mirrored where the sign bit is set."""
    return np.where(negative.astype(bool), np.uint8(codebook.size - 1) - codes, codes).astype(np.uint8)


_LATTICE = {
    "approximate": "the codebook lists the signed grid values one value at a time; "
    "the file stores whole groups of 4 or 8 values from a fixed lattice plus sign bits, "
    "so not every combination of codes in a group is representable"
}


def _iq2_xxs(b):
    n = b.shape[0]
    grid, cb = _grid("IQ2_XXS")
    d = _f16(b[:, :2])
    qs = np.ascontiguousarray(b[:, 2:]).view(np.uint32).reshape((n, -1, 2))
    db = d * (np.float32(0.5) + (qs[..., 1] >> 28).astype(np.float32)) * np.float32(0.25)
    signs = (qs[..., 1].reshape((n, -1, 1)) >> np.array([0, 7, 14, 21], np.uint32).reshape((1, 1, 4))) & np.uint32(0x7F)
    neg = _sign_bits(signs)  # (n, 8, 4, 8)
    idx = np.ascontiguousarray(qs[..., 0]).view(np.uint8).reshape((n, -1, 4))
    vals = grid[idx.astype(np.intp)]  # (n, 8, 4, 8)
    return Decoded(_signed_codes(vals, neg, cb).reshape((n * 8, 32)), _flat(db), cb, 2.0625, 32, meta=dict(_LATTICE))


def _iq2_xs(b):
    n = b.shape[0]
    grid, cb = _grid("IQ2_XS")
    d = _f16(b[:, :2])
    qs = np.ascontiguousarray(b[:, 2:66]).view(np.uint16)
    sc = ((b[:, 66:74].reshape((n, -1, 1)) >> np.array([0, 4], np.uint8).reshape((1, 1, 2))) & 0x0F).reshape((n, -1))
    db = d * (np.float32(0.5) + sc) * np.float32(0.25)
    neg = _sign_bits(qs >> 9)  # (n, 32, 8)
    vals = grid[(qs & np.uint16(511)).astype(np.intp)]
    return Decoded(_signed_codes(vals, neg, cb).reshape((n * 16, 16)), _flat(db), cb, 2.3125, 16, meta=dict(_LATTICE))


def _iq2_s(b):
    n = b.shape[0]
    grid, cb = _grid("IQ2_S")
    d = _f16(b[:, :2])
    qs, sg, qh, sc = b[:, 2:34], b[:, 34:66], b[:, 66:74], b[:, 74:82]
    sc = ((sc.reshape((n, -1, 1)) >> np.array([0, 4], np.uint8).reshape((1, 1, 2))) & 0x0F).reshape((n, -1))
    db = d * (np.float32(0.5) + sc) * np.float32(0.25)
    neg = (sg.reshape((n, -1, 1)) >> np.arange(8, dtype=np.uint8).reshape((1, 1, 8))) & np.uint8(1)
    qh = (qh.reshape((n, -1, 1)) >> np.array([0, 2, 4, 6], np.uint8).reshape((1, 1, 4))) & 0x03
    idx = qs.astype(np.uint16) | (qh.astype(np.uint16) << 8).reshape((n, -1))
    vals = grid[idx.astype(np.intp)]
    return Decoded(_signed_codes(vals, neg, cb).reshape((n * 16, 16)), _flat(db), cb, 2.5625, 16, meta=dict(_LATTICE))


def _iq3_xxs(b):
    n = b.shape[0]
    grid, cb = _grid("IQ3_XXS")
    d = _f16(b[:, :2])
    qs, sc = b[:, 2:66], np.ascontiguousarray(b[:, 66:98]).view(np.uint32)
    db = d * (np.float32(0.5) + (sc >> 28).astype(np.float32)) * np.float32(0.5)
    signs = (sc.reshape((n, -1, 1)) >> np.array([0, 7, 14, 21], np.uint32).reshape((1, 1, 4))) & np.uint32(0x7F)
    neg = _sign_bits(signs).reshape((n, 8, 32))
    vals = grid[qs.astype(np.intp)].reshape((n, 8, 32))
    return Decoded(_signed_codes(vals, neg, cb).reshape((n * 8, 32)), _flat(db), cb, 3.0625, 32, meta=dict(_LATTICE))


def _iq3_s(b):
    n = b.shape[0]
    grid, cb = _grid("IQ3_S")
    d = _f16(b[:, :2])
    qs, qh, sg, sc = b[:, 2:66], b[:, 66:74], b[:, 74:106], b[:, 106:110]
    sc = ((sc.reshape((n, -1, 1)) >> np.array([0, 4], np.uint8).reshape((1, 1, 2))) & 0x0F).reshape((n, -1))
    db = d * (1 + 2 * sc)
    neg = (sg.reshape((n, -1, 1)) >> np.arange(8, dtype=np.uint8).reshape((1, 1, 8))) & np.uint8(1)
    qh = ((qh.reshape((n, -1, 1)) >> np.arange(8, dtype=np.uint8)) & 0x01).astype(np.uint16).reshape((n, -1))
    idx = qs.astype(np.uint16) | (qh << 8)
    vals = grid[idx.astype(np.intp)].reshape((n, -1, 8))
    codes = _signed_codes(vals, neg, cb)
    return Decoded(codes.reshape((n * 8, 32)), _flat(db), cb, 3.4375, 32, meta=dict(_LATTICE))


def _iq1_s(b):
    n = b.shape[0]
    grid, cb = _grid("IQ1_S")
    d = _f16(b[:, :2])
    qs, qh = b[:, 2:34], np.ascontiguousarray(b[:, 34:50]).view(np.uint16)
    dl = d * (2 * ((qh >> 12) & 7) + 1)
    delta = np.where((qh & np.uint16(0x8000)) == 0, np.float32(0.125), np.float32(-0.125))
    hi = (qh.reshape((n, -1, 1)) >> np.array([0, 3, 6, 9], np.uint16).reshape((1, 1, 4))) & 7
    idx = qs.astype(np.uint16) | (hi << 8).reshape((n, -1))
    codes = grid[idx.astype(np.intp)]  # {-1, 0, 1} → 0..2
    meta = {"zero_point": "−delta: the ±1/8 shift of each 32-value group"}
    return Decoded(codes.reshape((n * 8, 32)), _flat(dl), _ints(-1, 3), 1.5625, 32, zero_points=-_flat(delta), meta=meta)


def _iq1_m(b):
    n = b.shape[0]
    grid, cb = _grid("IQ1_M")
    qs, qh, sc = b[:, :32], b[:, 32:48], np.ascontiguousarray(b[:, 48:56]).view(np.uint16)
    d = (sc.reshape((n, 4)) & np.uint16(0xF000)) >> np.array([12, 8, 4, 0], np.uint16).reshape((1, 4))
    d = (d[..., 0] | d[..., 1] | d[..., 2] | d[..., 3]).view(np.float16).astype(np.float32).reshape((n, 1))
    s = ((sc.reshape((n, -1, 1)) >> np.array([0, 3, 6, 9], np.uint16).reshape((1, 1, 4))) & 0x07).reshape((n, -1))
    dl = d * (2 * s + 1)  # (n, 16): one scale per 16 values
    qh = (qh.reshape((n, -1, 1)) >> np.array([0, 4], np.uint8).reshape((1, 1, 2))).reshape((n, -1))  # (n, 32)
    idx = qs.astype(np.uint16) | ((qh & 0x07).astype(np.uint16) << 8)
    delta = np.where(qh & 0x08 == 0, np.float32(0.125), np.float32(-0.125))  # one per 8 values
    codes = grid[idx.astype(np.intp)]  # (n, 32, 8), {-1, 0, 1} → 0..2
    meta = {"zero_point": "−delta: the ±1/8 shift of each 8-value group", "scale": "one per 16 values (repeated per group)"}
    scales = np.repeat(_flat(dl), 2)
    return Decoded(codes.reshape((n * 32, 8)), scales, _ints(-1, 3), 1.75, 8, zero_points=-_flat(delta), meta=meta)


DECODERS: dict[str, Callable[[np.ndarray], Decoded]] = {
    "Q4_0": _q4_0,
    "Q4_1": _q4_1,
    "Q5_0": _q5_0,
    "Q5_1": _q5_1,
    "Q8_0": _q8_0,
    "Q2_K": _q2_k,
    "Q3_K": _q3_k,
    "Q4_K": _q4_k,
    "Q5_K": _q5_k,
    "Q6_K": _q6_k,
    "TQ1_0": _tq1_0,
    "TQ2_0": _tq2_0,
    "MXFP4": _mxfp4,
    "NVFP4": _nvfp4,
    "IQ4_NL": _iq4_nl,
    "IQ4_XS": _iq4_xs,
    "IQ2_XXS": _iq2_xxs,
    "IQ2_XS": _iq2_xs,
    "IQ2_S": _iq2_s,
    "IQ3_XXS": _iq3_xxs,
    "IQ3_S": _iq3_s,
    "IQ1_S": _iq1_s,
    "IQ1_M": _iq1_m,
}


def decode(raw: np.ndarray, type_name: str) -> Decoded:
    """Unpack raw GGML blocks ``(n_superblocks, type_size)`` uint8 of type ``type_name``.

    Raises
    ------
    ValueError
        For a type qviz does not decode (the caller names the file and tensor).
    """
    try:
        fn = DECODERS[type_name]
    except KeyError:
        raise ValueError(f"GGML type {type_name} has no block decoder (qviz decodes {', '.join(DECODERS)})") from None
    raw = np.asarray(raw, np.uint8)
    if raw.ndim != 2:
        raise ValueError(f"raw blocks must be 2-d (n_blocks, type_size), got shape {raw.shape}")
    with np.errstate(over="ignore"):
        return fn(raw)
