"""Fused scan kernels: one tensor's statistics, min/max, fake-quantization and error sums in two reads.

:func:`qviz.analyze` spent most of its time in numpy passes that each read the
tensor (and wrote a temporary of its size): the statistics in float64, the
block min/max, ``fake_quantize``, ``error_sums`` with its float64 error array,
the clip mask and the code bincount — about 45M values/s on 2 cores, against
330M values/s for reading a bf16 checkpoint. Here the same numbers come from two
compiled loops (numba, ``nogil``, cached on disk) over row ranges of the tensor:

* **pass 1** (:func:`row_ranges`): per block and per channel, the min and max of the
  finite values; the count of finite and non-finite values and their float64 sum;
* **pass 2** (:func:`row_errors`): per value, as :func:`qviz.fake_quantize` does in
  float32, ``t = R(x·fl(1/Δ) − o) + z``, clipped when ``t ∉ [qmin, qmax]``,
  ``q = clamp(t)``, ``x̂ = (q − z + o)·Δ``; then, with ``e = x̂ − x`` in float64, the
  sums of ``e², e, x², x̂², x·x̂`` and of ``e²`` over clipped values, ``max|x|``,
  ``max|e|``, each block's ``Σe²``, lowest and highest code and the set of codes used
  (a bit mask), and the central moments ``Σ(x−μ)²``, ``Σ(x−μ)⁴`` of the statistics.

Every per-value operation is the one :func:`qviz.fake_quantize` and
:func:`qviz.metrics.error_sums` perform (float32 multiply by the float32 reciprocal,
round half to even, zero point added after rounding), so ``x̂``, the codes, the
clipped set, ``max|e|``, ``code_usage`` and ``wasted_range`` are bit-identical; the
float64 sums are the same terms added in another order (per row range, then range
by range), so they agree to float64 rounding (relative 1e-12) — and are identical
whatever the number of workers, because ranges and their merge order are fixed.

Granularity is a mapping from a 2-D view ``(R, K)`` of the tensor to block indices,
``block(r, k) = rowblk[r] + colblk[k]`` (:func:`layout`): per-tensor, per-channel on
any axis and per-group on any axis are one loop.

Example
-------
>>> import numpy as np, qviz
>>> x = np.random.default_rng(0).normal(size=(64, 96)).astype(np.float32)
>>> spec = qviz.QuantSpec(bits=4, granularity=qviz.PerGroup(32))
>>> lay = layout(x.shape, spec.granularity, 0)
>>> r = ranges(x, lay)
>>> qp = qviz.choose_qparams(*minmax_clip(r, spec), spec)
>>> m = errors(x, lay, qp, r).metrics()
>>> ref = qviz.error_metrics(x, qviz.fake_quantize(x, qp), qp)
>>> m.code_usage == ref.code_usage, m.max_abs_error == ref.max_abs_error, abs(m.sqnr_db - ref.sqnr_db) < 1e-9
(True, True, True)
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from .spec import Granularity, PerChannel, PerGroup, PerTensor, QuantSpec

#: values per row range (one task of the scan); fixed, so results never depend on the worker count
TASK_NUMEL = 1 << 20
#: largest code bit mask (blocks × codes) the fused path keeps; beyond it the numpy path is used
MAX_MASK_BITS = 1 << 31


def _njit(**kw):
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba is in requirements.txt
        raise ImportError("qviz's fast scan needs numba: pip install numba") from None
    return njit(nogil=True, cache=True, **kw)


_KERNELS: dict = {}


def _kernels():
    """Compile (or load from numba's on-disk cache) the two kernels once per process."""
    if _KERNELS:
        return _KERNELS
    njit = _njit()
    inline = _njit()

    # Four interleaved accumulators per sum ("lanes") hide the float64 add latency; the
    # lanes and row ranges merge in a fixed order, so results never depend on threads.
    @inline
    def step1(v, a):
        if not np.isfinite(v):
            return (a[0], a[1], a[2], a[3], a[4] + 1)
        return (min(a[0], v), max(a[1], v), a[2] + np.float64(v), a[3] + 1, a[4])

    @njit
    def pass1(x2, r0, r1, rowblk, colblk, blo, bhi, rowch, colch, clo, chi, acc, row_blocks, row_channels):
        k_n = x2.shape[1]
        k4 = k_n - k_n % 4
        inf = np.float32(np.inf)
        s = 0.0
        n = 0
        bad = 0
        for r in range(r0, r1):
            rb = rowblk[r]
            rc = rowch[r]
            if row_blocks and row_channels:  # one block and one channel per row: min/max in registers
                a0 = (inf, -inf, 0.0, 0, 0)
                a1 = a0
                a2 = a0
                a3 = a0
                for k in range(0, k4, 4):
                    a0 = step1(x2[r, k], a0)
                    a1 = step1(x2[r, k + 1], a1)
                    a2 = step1(x2[r, k + 2], a2)
                    a3 = step1(x2[r, k + 3], a3)
                for k in range(k4, k_n):
                    a0 = step1(x2[r, k], a0)
                lo = min(min(a0[0], a1[0]), min(a2[0], a3[0]))
                hi = max(max(a0[1], a1[1]), max(a2[1], a3[1]))
                s += (a0[2] + a1[2]) + (a2[2] + a3[2])
                n += a0[3] + a1[3] + a2[3] + a3[3]
                bad += a0[4] + a1[4] + a2[4] + a3[4]
                blo[rb] = min(blo[rb], lo)
                bhi[rb] = max(bhi[rb], hi)
                clo[rc] = min(clo[rc], lo)
                chi[rc] = max(chi[rc], hi)
                continue
            for k in range(k_n):
                v = x2[r, k]
                if np.isfinite(v):
                    b = rb + colblk[k]
                    if v < blo[b]:
                        blo[b] = v
                    if v > bhi[b]:
                        bhi[b] = v
                    c = rc + colch[k]
                    if v < clo[c]:
                        clo[c] = v
                    if v > chi[c]:
                        chi[c] = v
                    s += np.float64(v)
                    n += 1
                else:
                    bad += 1
        acc[0] += s
        acc[1] += n
        acc[2] += bad

    @inline
    def step2(v, inv, zp, scale, invsq, off, qmin, qmax, mean, seen, row, qmin_i, a):
        if not np.isfinite(v):
            return a
        t = v * inv - off  # o = 0 (mid-tread): x - 0 is x bit for bit, so no branch is needed
        t = np.rint(t) + zp
        clipped = t < qmin or t > qmax
        q = min(max(t, qmin), qmax)
        y = (q - zp + off) * scale  # q - z is never -0, so + 0 changes nothing
        x64 = np.float64(v)
        y64 = np.float64(y)
        e = y64 - x64
        e2 = e * e
        d = x64 - mean
        d2 = d * d
        seen[row, np.int64(q) - qmin_i] = 1
        return (
            a[0] + e2, a[1] + e, a[2] + x64 * x64, a[3] + y64 * y64, a[4] + x64 * y64, a[5] + (e2 if clipped else 0.0),
            max(a[6], abs(x64)), max(a[7], abs(e)), a[8] + d2, a[9] + d2 * d2, a[10] + 1.0, a[11] + e2 * invsq,
        )

    @inline
    def merge(sums, a0, a1, a2, a3):  # static indices only: a runtime index would keep the lanes in memory
        sums[0] += (a0[0] + a1[0]) + (a2[0] + a3[0])
        sums[1] += (a0[1] + a1[1]) + (a2[1] + a3[1])
        sums[2] += (a0[2] + a1[2]) + (a2[2] + a3[2])
        sums[3] += (a0[3] + a1[3]) + (a2[3] + a3[3])
        sums[4] += (a0[4] + a1[4]) + (a2[4] + a3[4])
        sums[5] += (a0[5] + a1[5]) + (a2[5] + a3[5])
        sums[6] = max(max(sums[6], max(a0[6], a1[6])), max(a2[6], a3[6]))
        sums[7] = max(max(sums[7], max(a0[7], a1[7])), max(a2[7], a3[7]))
        sums[8] += (a0[8] + a1[8]) + (a2[8] + a3[8])
        sums[9] += (a0[9] + a1[9]) + (a2[9] + a3[9])
        sums[10] += (a0[10] + a1[10]) + (a2[10] + a3[10])
        sums[11] += (a0[11] + a1[11]) + (a2[11] + a3[11])

    @njit
    def pass2_rows(x2, r0, r1, rowblk, inv, scale, zp, invsq, off, qmin, qmax, qmin_i, mean, sums, seen, b0):
        """Pass 2 when each row is one block: the block's parameters hoisted out of the loop."""
        k_n = x2.shape[1]
        k4 = k_n - k_n % 4
        z = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        a0 = z
        a1 = z
        a2 = z
        a3 = z
        for r in range(r0, r1):
            rb = rowblk[r]
            i_, z_, s_, q_, w = inv[rb], zp[rb], scale[rb], invsq[rb], rb - b0
            for k in range(0, k4, 4):
                a0 = step2(x2[r, k], i_, z_, s_, q_, off, qmin, qmax, mean, seen, w, qmin_i, a0)
                a1 = step2(x2[r, k + 1], i_, z_, s_, q_, off, qmin, qmax, mean, seen, w, qmin_i, a1)
                a2 = step2(x2[r, k + 2], i_, z_, s_, q_, off, qmin, qmax, mean, seen, w, qmin_i, a2)
                a3 = step2(x2[r, k + 3], i_, z_, s_, q_, off, qmin, qmax, mean, seen, w, qmin_i, a3)
            for k in range(k4, k_n):
                a0 = step2(x2[r, k], i_, z_, s_, q_, off, qmin, qmax, mean, seen, w, qmin_i, a0)
        merge(sums, a0, a1, a2, a3)

    @njit
    def pass2(x2, r0, r1, rowblk, colblk, inv, scale, zp, invsq, off, qmin, qmax, qmin_i, mean, sums, seen, b0):
        """Pass 2 with a block index per value."""
        k_n = x2.shape[1]
        k4 = k_n - k_n % 4
        z = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        a0 = z
        a1 = z
        a2 = z
        a3 = z
        for r in range(r0, r1):
            rb = rowblk[r]
            for k in range(0, k4, 4):
                b = rb + colblk[k]
                a0 = step2(x2[r, k], inv[b], zp[b], scale[b], invsq[b], off, qmin, qmax, mean, seen, b - b0, qmin_i, a0)
                b = rb + colblk[k + 1]
                a1 = step2(x2[r, k + 1], inv[b], zp[b], scale[b], invsq[b], off, qmin, qmax, mean, seen, b - b0, qmin_i, a1)
                b = rb + colblk[k + 2]
                a2 = step2(x2[r, k + 2], inv[b], zp[b], scale[b], invsq[b], off, qmin, qmax, mean, seen, b - b0, qmin_i, a2)
                b = rb + colblk[k + 3]
                a3 = step2(x2[r, k + 3], inv[b], zp[b], scale[b], invsq[b], off, qmin, qmax, mean, seen, b - b0, qmin_i, a3)
            for k in range(k4, k_n):
                b = rb + colblk[k]
                a0 = step2(x2[r, k], inv[b], zp[b], scale[b], invsq[b], off, qmin, qmax, mean, seen, b - b0, qmin_i, a0)
        merge(sums, a0, a1, a2, a3)

    # The fast pass 2 for tensors without NaN/Inf: per row, a float32 loop that vectorises
    # (codes and x̂ exactly as fake_quantize), the code scatter, then the float64 sums in a loop
    # allowed to reassociate (only sums: the per-value x̂ and codes are computed before it).
    @njit
    def quant_row(xr, inv, zp, scale, off, qmin, qmax, y, code, clip):
        for k in range(xr.size):
            t = np.rint(xr[k] * inv[k] - off) + zp[k]
            clip[k] = 1.0 if (t < qmin or t > qmax) else 0.0
            q = min(max(t, qmin), qmax)
            code[k] = q
            y[k] = (q - zp[k] + off) * scale[k]

    @njit
    def quant_row1(xr, inv, zp, scale, off, qmin, qmax, y, code, clip):
        for k in range(xr.size):
            t = np.rint(xr[k] * inv - off) + zp
            clip[k] = 1.0 if (t < qmin or t > qmax) else 0.0
            q = min(max(t, qmin), qmax)
            code[k] = q
            y[k] = (q - zp + off) * scale

    sums_jit = _njit(fastmath={"reassoc", "nnan", "ninf", "nsz"})

    @sums_jit
    def sums_row(xr, y, clip, invsq, mean, acc):
        sse = 0.0
        se = 0.0
        sig = 0.0
        nh = 0.0
        dot = 0.0
        csse = 0.0
        d2s = 0.0
        d4s = 0.0
        lsb = 0.0
        for k in range(xr.size):
            x64 = np.float64(xr[k])
            y64 = np.float64(y[k])
            e = y64 - x64
            e2 = e * e
            sse += e2
            se += e
            sig += x64 * x64
            nh += y64 * y64
            dot += x64 * y64
            csse += e2 * clip[k]
            d = x64 - mean
            d2 = d * d
            d2s += d2
            d4s += d2 * d2
            lsb += e2 * invsq[k]
        maxerr = 0.0
        for k in range(xr.size):  # its own loop: a max beside the sums keeps LLVM from vectorising them
            maxerr = max(maxerr, abs(np.float64(y[k]) - np.float64(xr[k])))
        acc[0] += sse
        acc[1] += se
        acc[2] += sig
        acc[3] += nh
        acc[4] += dot
        acc[5] += csse
        acc[7] = max(acc[7], maxerr)
        acc[8] += d2s
        acc[9] += d4s
        acc[10] += xr.size
        acc[11] += lsb

    @njit
    def mark_codes(code, blk, qmin_i, seen):
        for k in range(code.size):
            seen[blk[k], np.int64(code[k]) - qmin_i] = 1

    @njit
    def pass2_fast(x2, r0, r1, rowblk, colblk, inv, scale, zp, invsq, off, qmin, qmax, qmin_i, mean, sums, seen, b0, row_b):
        k_n = x2.shape[1]
        y = np.empty(k_n, np.float32)
        code = np.empty(k_n, np.float32)
        clip = np.empty(k_n, np.float64)
        pinv = np.empty(k_n, np.float32)
        pzp = np.empty(k_n, np.float32)
        psc = np.empty(k_n, np.float32)
        pisq = np.empty(k_n, np.float64)
        blk = np.empty(k_n, np.int64)
        last = -1
        for r in range(r0, r1):
            rb = rowblk[r]
            xr = x2[r]
            if row_b:
                quant_row1(xr, inv[rb], zp[rb], scale[rb], off, qmin, qmax, y, code, clip)
                pisq[:] = invsq[rb]
                blk[:] = rb - b0
            else:
                if rb != last:  # per-row parameter vectors (gathered once per distinct row offset)
                    for k in range(k_n):
                        b = rb + colblk[k]
                        pinv[k] = inv[b]
                        pzp[k] = zp[b]
                        psc[k] = scale[b]
                        pisq[k] = invsq[b]
                        blk[k] = b - b0
                    last = rb
                quant_row(xr, pinv, pzp, psc, off, qmin, qmax, y, code, clip)
            mark_codes(code, blk, qmin_i, seen)
            sums_row(xr, y, clip, pisq, mean, sums)

    _KERNELS.update(pass1=pass1, pass2=pass2, pass2_rows=pass2_rows, pass2_fast=pass2_fast)
    return _KERNELS


@dataclass(frozen=True)
class Layout:
    """A tensor as a 2-D view ``(R, K)`` with block and channel indices per row and column.

    ``block(r, k) = rowblk[r] + colblk[k]`` on the quantization grid (C order, as
    :func:`qviz.blocks.to_blocks`); ``channel(r, k) = rowch[r] + colch[k]`` for the
    statistics' per-channel ranges. ``blocks_local``/``channels_local``: every block
    (channel) lies within one run of ``align`` rows, so row ranges aligned to it
    never share one; otherwise each range keeps its own copy and the copies merge.
    """

    view: tuple
    rowblk: np.ndarray
    colblk: np.ndarray
    n_blocks: int
    blocks_local: bool
    rowch: np.ndarray
    colch: np.ndarray
    n_channels: int
    channels_local: bool
    align: int


def _ar(n: int, mul: int = 1, div: int = 1) -> np.ndarray:
    return (np.arange(n, dtype=np.int64) // div) * mul


def layout(shape: tuple, granularity: Granularity, stats_axis: int = 0) -> Layout:
    """The :class:`Layout` of ``granularity`` (already checked to fit ``shape``) and channels on ``stats_axis``.

    >>> lay = layout((4, 6), PerGroup(3), 0)
    >>> lay.view, lay.rowblk.tolist(), lay.colblk.tolist(), lay.n_blocks
    ((4, 6), [0, 2, 4, 6], [0, 0, 0, 1, 1, 1], 8)
    """
    shape = tuple(int(s) for s in shape)
    nd = len(shape)
    numel = int(np.prod(shape, dtype=np.int64))
    if nd == 0:
        z = np.zeros(1, np.int64)
        return Layout((1, 1), z, z, 1, False, z, z, 1, True, 1)
    if nd == 1:
        shape2 = (shape[0], 1)
    else:
        shape2 = shape
    # channels for the statistics (tensor_stats' channel_range_ratio): per-channel on stats_axis
    g = granularity
    a = (g.axis % nd) if isinstance(g, (PerChannel, PerGroup)) else 0
    c_a = shape[a] if nd else 1
    before = int(np.prod(shape[:a], dtype=np.int64))
    after = int(np.prod(shape[a + 1 :], dtype=np.int64))
    if a == 0:
        view = (shape2[0], numel // max(shape2[0], 1) if shape2[0] else 0)
        r_n, k_n = view
        if isinstance(g, PerTensor):
            rowblk, colblk, nb, local = np.zeros(r_n, np.int64), np.zeros(k_n, np.int64), 1, False
            align = 1
        elif isinstance(g, PerChannel):
            rowblk, colblk, nb, local, align = _ar(r_n), np.zeros(k_n, np.int64), r_n, True, 1
        else:
            gs = g.group_size if isinstance(g, PerGroup) else 1
            rowblk, colblk, nb, local, align = _ar(r_n, k_n, gs), _ar(k_n), (r_n // gs) * k_n, True, gs
    else:
        view = (before, c_a * after)
        r_n, k_n = view
        if isinstance(g, PerChannel):
            rowblk, colblk, nb, local, align = np.zeros(r_n, np.int64), _ar(k_n, 1, after), c_a, False, 1
        else:
            gs = g.group_size if isinstance(g, PerGroup) else 1
            per_row = (c_a // gs) * after
            cb = (np.arange(k_n, dtype=np.int64) // after // gs) * after + np.arange(k_n, dtype=np.int64) % after
            rowblk, colblk, nb, local, align = _ar(r_n, per_row), cb, before * per_row, True, 1
    # statistics channels
    sa = stats_axis % nd
    if sa == a:
        if a == 0:
            rowch, colch, nch, ch_local, ch_align = _ar(r_n), np.zeros(k_n, np.int64), r_n, True, 1
        else:
            rowch, colch, nch, ch_local, ch_align = np.zeros(r_n, np.int64), _ar(k_n, 1, after), c_a, False, 1
    elif sa == 0:  # view rows are (d0, …, d_{a-1}); channel = d0
        inner = before // shape[0] if shape[0] else 1
        rowch, colch, nch, ch_local, ch_align = _ar(r_n, 1, max(inner, 1)), np.zeros(k_n, np.int64), shape[0], True, inner
    else:
        raise ValueError("statistics channels on another axis than the granularity's or 0 are not supported")
    return Layout(view, rowblk, colblk, int(nb), local, rowch, colch, int(nch), ch_local, int(math.lcm(align, ch_align)))


def tasks(lay: Layout, task_numel: int = TASK_NUMEL) -> list[tuple[int, int]]:
    """Row ranges ``[r0, r1)`` of about ``task_numel`` values, aligned to ``lay.align`` rows."""
    r_n, k_n = lay.view
    step = max(1, task_numel // max(k_n, 1))
    step = max(lay.align, step - step % lay.align)
    return [(r, min(r + step, r_n)) for r in range(0, r_n, step)] or [(0, 0)]


def _run(pool, fn, items):
    if pool is None or len(items) < 2:
        return [fn(i) for i in items]
    return list(pool.map(fn, items))


@dataclass(frozen=True)
class Ranges:
    """Pass 1: block and channel min/max of the finite values (±inf where none), counts and mean."""

    block_lo: np.ndarray
    block_hi: np.ndarray
    channel_lo: np.ndarray
    channel_hi: np.ndarray
    n: int
    nonfinite: int
    total: float

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan


def ranges(x: np.ndarray, lay: Layout, pool=None, task_numel: int = TASK_NUMEL) -> Ranges:
    """Pass 1 over ``x`` (float32, C-contiguous) in row ranges, on ``pool`` (a ``concurrent.futures`` executor) if given."""
    k = _kernels()["pass1"]
    x2 = x.reshape(lay.view)
    parts = tasks(lay, task_numel)
    f32 = np.float32

    def new(n):
        return np.full(n, np.inf, f32), np.full(n, -np.inf, f32)

    row_b, row_c = not lay.colblk.any(), not lay.colch.any()
    shared_b = new(lay.n_blocks) if lay.blocks_local else None
    shared_c = new(lay.n_channels) if lay.channels_local else None

    def one(rr):
        b = shared_b if shared_b is not None else new(lay.n_blocks)
        c = shared_c if shared_c is not None else new(lay.n_channels)
        acc = np.zeros(3)
        k(x2, rr[0], rr[1], lay.rowblk, lay.colblk, b[0], b[1], lay.rowch, lay.colch, c[0], c[1], acc, row_b, row_c)
        return b, c, acc

    out = _run(pool, one, parts)
    blo, bhi = shared_b if shared_b is not None else (np.minimum.reduce([o[0][0] for o in out]), np.maximum.reduce([o[0][1] for o in out]))
    clo, chi = shared_c if shared_c is not None else (np.minimum.reduce([o[1][0] for o in out]), np.maximum.reduce([o[1][1] for o in out]))
    total, n, bad = 0.0, 0, 0
    for o in out:
        total += float(o[2][0])
        n += int(o[2][1])
        bad += int(o[2][2])
    return Ranges(blo, bhi, clo, chi, n, bad, total)


def minmax_clip(r: Ranges, spec: QuantSpec) -> tuple[np.ndarray, np.ndarray]:
    """The ``minmax`` calibrator's ``(clip_min, clip_max)`` per block from pass 1 (as :class:`qviz.Calibrator`)."""
    empty = ~np.isfinite(r.block_lo)
    lo = np.where(empty, 0, np.minimum(r.block_lo, r.block_hi)).astype(np.float32)
    hi = np.where(empty, 0, r.block_hi).astype(np.float32)
    if spec.symmetric:
        hi = np.maximum(-lo, hi).astype(np.float32)
        lo = (-hi).astype(np.float32)
    return lo, hi


def channel_range_ratio(r: Ranges, shape: tuple, stats_axis: int) -> float:
    """:func:`qviz.stats.range_ratio` of the per-channel ranges (NaN for 0-d, 1-d and one-channel tensors)."""
    from .stats import range_ratio

    if len(shape) < 2 or shape[stats_axis % len(shape)] <= 1:  # NaN for 0-d, 1-d and one-channel tensors, as tensor_stats
        return math.nan
    empty = ~np.isfinite(r.channel_lo)
    lo = np.where(empty, 0, r.channel_lo).astype(np.float32)
    hi = np.where(empty, 0, r.channel_hi).astype(np.float32)
    return range_ratio(lo, hi)


_POP = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Errors:
    """Pass 2: the error sums of one tensor and its central moments.

    ``sums``: Σe², Σe, Σx², Σx̂², Σx·x̂, Σ_clipped e², max|x|, max|e|, Σ(x−μ)², Σ(x−μ)⁴, n,
    Σ(e/Δ_block)²; ``masks``: per block the codes used, one bit per code (little-endian
    bytes); ``code_lo``/``code_hi``: per block the lowest and highest code (NaN: no finite value).
    """

    sums: np.ndarray
    code_lo: np.ndarray
    code_hi: np.ndarray
    masks: np.ndarray
    nonfinite: int
    spec: QuantSpec

    def code_counts(self) -> np.ndarray:
        return _POP[self.masks].sum(axis=1)

    def _sums(self, **extra):
        from .metrics import ErrorSums

        s = self.sums
        return ErrorSums(
            n=int(s[10]), nonfinite=self.nonfinite, sse=float(s[0]), se=float(s[1]), signal=float(s[2]), nh=float(s[3]),
            dot=float(s[4]), peak=float(s[6]), maxerr=float(s[7]), lsb_sse=float(s[11]), clip_sse=float(s[5]), **extra,
        )

    def error_sums(self):
        """The :class:`qviz.metrics.ErrorSums` of ``error_sums(x, fake_quantize(x, qp), qp)`` (mergeable)."""
        bits = np.unpackbits(self.masks, axis=1, bitorder="little")[:, : self.spec.n_levels]
        used = np.flatnonzero(bits).astype(np.int64)
        return self._sums(spec=self.spec, code_lo=self.code_lo, code_hi=self.code_hi, used=used)

    def metrics(self):
        """:class:`qviz.Metrics` of these sums (``code_usage`` from the bit masks)."""
        from dataclasses import replace

        m = self._sums().metrics()
        if not m.n:
            return m
        spec = self.spec
        span = np.where(np.isnan(self.code_lo), 0.0, self.code_hi - self.code_lo)
        wasted = float(np.mean(1.0 - span / (spec.qmax - spec.qmin)))
        usage = float(np.mean(self.code_counts() / spec.n_levels))
        return replace(m, code_usage=usage, wasted_range=wasted)

    def moments(self, mean: float) -> dict:
        """``mean``, ``std`` and ``kurtosis`` as :func:`qviz.stats.tensor_stats` defines them."""
        n, d2, d4 = self.sums[10], self.sums[8], self.sums[9]
        if not n:
            return dict(mean=math.nan, std=math.nan, kurtosis=math.nan)
        var = float(d2 / n)
        kurt = float(d4 / n / (var * var) - 3.0) if var > 0 else math.nan
        return dict(mean=mean, std=math.sqrt(var), kurtosis=kurt)


def mask_fits(n_blocks: int, spec: QuantSpec, task_numel: int = TASK_NUMEL) -> bool:
    """Whether the per-block code masks stay small (else :func:`qviz.analyze` uses the numpy path)."""
    return n_blocks * spec.n_levels <= MAX_MASK_BITS and min(n_blocks, task_numel) * spec.n_levels <= 1 << 26


def _codes(v: np.ndarray, inv, zp, spec: QuantSpec) -> np.ndarray:
    """Clamped code of each block's value ``v`` (float32 ops of :func:`qviz.affine.rounded`), NaN where ``v`` is ±inf."""
    with np.errstate(over="ignore", invalid="ignore"):
        t = v * inv
        if spec.level_offset:
            t -= np.float32(spec.level_offset)
        np.rint(t, out=t)
        t += zp
        np.clip(t, np.float32(spec.qmin), np.float32(spec.qmax), out=t)
    return np.where(np.isfinite(v), t.astype(np.float64), np.nan)


class Unsupported(ValueError):
    """Parameters the fused pass does not reproduce exactly (the caller uses the numpy path)."""


def errors(x: np.ndarray, lay: Layout, qparams, r: Ranges, pool=None, task_numel: int = TASK_NUMEL) -> Errors:
    """Pass 2 over ``x`` with ``qparams`` (per block on ``lay``'s grid), centred on pass 1's mean.

    Raises :class:`Unsupported` for stochastic rounding and for levels beyond float32 (a range so
    wide that Δ or x̂ overflows: ``error_sums`` then leaves those x̂ out, value by value).
    """
    k, kr, kf = _kernels()["pass2"], _kernels()["pass2_rows"], _kernels()["pass2_fast"]
    fast = r.nonfinite == 0
    spec = qparams.spec
    if spec.rounding != "nearest":
        raise Unsupported("the fused scan rounds to nearest; stochastic rounding goes through qviz.fake_quantize")
    with np.errstate(over="ignore", invalid="ignore"):
        if not (np.isfinite(qparams.level_min).all() and np.isfinite(qparams.level_max).all()):
            raise Unsupported("quantization levels beyond float32: the numpy path measures them")
    x2 = x.reshape(lay.view)
    nb, n_levels = lay.n_blocks, spec.n_levels
    scale = np.ascontiguousarray(np.broadcast_to(qparams.scale.astype(np.float32).reshape(-1), (nb,)))
    zp = np.ascontiguousarray(np.broadcast_to(qparams.zero_point.reshape(-1), (nb,))).astype(np.float32)
    inv = (np.float32(1) / scale).astype(np.float32)
    invsq = 1.0 / np.square(scale.astype(np.float64))
    off = np.float32(spec.level_offset)
    qmin, qmax = np.float32(spec.qmin), np.float32(spec.qmax)
    mean = float(r.mean) if math.isfinite(r.mean) else 0.0
    masks = np.zeros((nb, (n_levels + 7) // 8), np.uint8)
    lock = threading.Lock()
    span = int(lay.colblk.max()) if lay.colblk.size else 0
    row_b = not span

    def one(rr):
        r0, r1 = rr
        if lay.blocks_local and r1 > r0:
            b0, b1 = int(lay.rowblk[r0]), int(lay.rowblk[r1 - 1]) + span + 1
        else:
            b0, b1 = 0, nb
        seen = np.zeros((b1 - b0, n_levels), np.uint8)
        sums = np.zeros(12)
        if fast:
            kf(x2, r0, r1, lay.rowblk, lay.colblk, inv, scale, zp, invsq, off, qmin, qmax, spec.qmin, mean, sums, seen, b0, row_b)
        elif row_b:
            kr(x2, r0, r1, lay.rowblk, inv, scale, zp, invsq, off, qmin, qmax, spec.qmin, mean, sums, seen, b0)
        else:
            k(x2, r0, r1, lay.rowblk, lay.colblk, inv, scale, zp, invsq, off, qmin, qmax, spec.qmin, mean, sums, seen, b0)
        packed = np.packbits(seen, axis=1, bitorder="little")
        with lock:  # OR is order-free: the result does not depend on which task merges first
            masks[b0:b1] |= packed
        return sums

    out = _run(pool, one, tasks(lay, task_numel))
    sums = np.zeros(12)
    add = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11]
    for s in out:  # in task order: the same float64 sums whatever the number of workers
        sums[add] += s[add]
        sums[6], sums[7] = max(sums[6], s[6]), max(sums[7], s[7])
    fin = np.isfinite(r.block_lo)
    if fin.any():  # max|x| from pass 1, as error_sums' max(max x, -min x)
        sums[6] = max(float(r.block_hi[fin].max()), -float(r.block_lo[fin].min()), 0.0)
    code_lo, code_hi = _codes(r.block_lo, inv, zp, spec), _codes(r.block_hi, inv, zp, spec)
    return Errors(sums, code_lo, code_hi, masks, int(x.size - sums[10]), spec)
