"""Streaming per-block statistics: exact min/max, counts and a two-tailed histogram.

Every block (one row of :func:`qviz.blocks.to_blocks`) keeps, in bounded memory:

* the exact ``min`` / ``max`` of its finite values, their count, the count of
  exact zeros and of NaN/±Inf (excluded from everything else);
* the torch ``MovingAverageMinMaxObserver`` running range;
* a *fine* histogram of each tail (tail 0: x < 0, tail 1: x > 0, both by
  ``|x|``; zeros counted apart) over ``[0, R]``, ``R`` ≥ the block's absmax, with
  ``F = num_bins · oversample`` bins, binned exactly as Model Optimizer's
  ``torch.histc(|x|, F, min=0, max=R)``::

      bin(x) = floor((|x| · F) / R)              (float32, last bin closed)

Re-binning. When a batch widens a block past ``R``, the range grows to
``R·2^k`` (the smallest such ``k``) and every ``2^k`` fine bins merge into one:
exact, no smearing. At :meth:`BlockHistogram.stats` each tail is re-binned to
``num_bins`` bins over ``[0, r]``, ``r`` the tail's exact range (the block's
absmax for a symmetric spec, as TensorRT; the tail's own extent otherwise).
After one batch ``R = r`` and this is an exact grouping of ``oversample`` fine
bins; after growth, fine bins are split proportionally (uniform within a fine
bin), which moves any count by at most one fine bin ``≤ 2/oversample`` final
bins (``≤ 1/4`` bin at the default ``oversample = 8``).

Example
-------
>>> import numpy as np
>>> from qviz.spec import QuantSpec
>>> h = BlockHistogram(QuantSpec(), num_bins=8)
>>> h.observe(np.array([-1.0, 0.0, 0.5, 2.0], dtype=np.float32))
>>> s = h.stats()
>>> float(s.lo[0]), float(s.hi[0]), int(s.zeros[0]), s.hist.shape
(-1.0, 2.0, 1, (1, 2, 8))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import blocks
from ..arrays import as_float32
from ..spec import QuantSpec

#: Largest fine histogram (cells over all blocks and both tails) before ``oversample`` is lowered.
MAX_CELLS = 1 << 24
#: Values per chunk of the binning passes (they stay in cache).
CHUNK = 1 << 16


@dataclass(frozen=True, eq=False)
class Stats:
    """What a calibrator method sees: per block ``i`` (flat grid order).

    ``hist[i, t]`` counts tail ``t`` (0: negative values by ``|x|``, 1: positive)
    in ``num_bins`` bins of width ``width[i, t]`` starting at 0.
    """

    lo: np.ndarray  # (nb,) float32 exact min of finite values (0 if none)
    hi: np.ndarray  # (nb,) float32 exact max
    count: np.ndarray  # (nb,) int64 finite values
    zeros: np.ndarray  # (nb,) int64 exact zeros (finite)
    nonfinite: np.ndarray  # (nb,) int64 NaN/±Inf seen and excluded
    hist: np.ndarray  # (nb, 2, num_bins) float64
    width: np.ndarray  # (nb, 2) float64 bin width per tail
    ma_lo: np.ndarray  # (nb,) float32 moving-average min
    ma_hi: np.ndarray  # (nb,) float32 moving-average max
    grid: tuple  # grid shape of the blocks
    n_batches: int

    def abs_hist(self) -> tuple[np.ndarray, np.ndarray]:
        """``(hist of |x| with zeros in bin 0, width)`` for a symmetric spec (tails share the width)."""
        h = self.hist[:, 0] + self.hist[:, 1]
        h[:, 0] += self.zeros
        return h, self.width[:, 1].copy()


class BlockHistogram:
    """Accumulate :class:`Stats` for ``spec``'s granularity over many batches (see module docstring).

    Parameters
    ----------
    spec : QuantSpec
    num_bins : int
        Final bins per tail (2048 as TensorRT / Model Optimizer).
    oversample : int or None
        Fine bins per final bin (power of two); ``None`` picks 8, lowered to keep
        the fine histogram under ``MAX_CELLS`` cells for many blocks.
    averaging_constant : float
        For the moving-average range, as torch's ``MovingAverageMinMaxObserver``.
    histogram : bool
        False keeps only ranges and counts (enough for min-max methods).
    """

    def __init__(
        self,
        spec: QuantSpec,
        num_bins: int = 2048,
        oversample: int | None = None,
        averaging_constant=0.01,
        histogram: bool = True,
    ):
        if not isinstance(spec, QuantSpec):
            raise ValueError(f"spec must be a qviz.QuantSpec, got {type(spec).__name__}")
        if not isinstance(num_bins, (int, np.integer)) or isinstance(num_bins, bool) or num_bins < 2:
            raise ValueError(f"num_bins must be an int >= 2 (2048 as TensorRT), got {num_bins!r}")
        if oversample is not None and (not isinstance(oversample, int) or oversample < 1 or oversample & (oversample - 1)):
            raise ValueError(f"oversample must be a power of two (1, 2, 4, 8, …) or None, got {oversample!r}")
        if not 0 < float(averaging_constant) <= 1:
            raise ValueError(f"averaging_constant must be in (0, 1], got {averaging_constant!r}")
        self.spec = spec
        self.num_bins = int(num_bins)
        self._oversample = oversample
        self.averaging_constant = float(averaging_constant)
        self.histogram = bool(histogram)
        self._grid = None
        self.n_batches = 0

    # ------------------------------------------------------------------ observe
    def _init(self, grid: tuple):
        nb = int(np.prod(grid, dtype=np.int64))
        ov = self._oversample
        if ov is None:
            ov = 8
            while ov > 1 and nb * 2 * self.num_bins * ov > MAX_CELLS:
                ov //= 2
        if self.histogram and nb * 2 * self.num_bins * ov > 4 * MAX_CELLS:
            raise ValueError(
                f"{nb} blocks × 2 tails × {self.num_bins} bins is too large a histogram; pass a smaller num_bins "
                f"(e.g. num_bins={max(2, 4 * MAX_CELLS // (2 * nb))}) or use method='minmax' / 'aciq'"
            )
        self.oversample = ov
        self.fine_bins = self.num_bins * ov
        self._grid = grid
        self._R = np.zeros(nb, np.float32)
        self._fine = np.zeros((nb, 2, self.fine_bins)) if self.histogram else np.zeros((nb, 2, 0))
        self._lo = np.zeros(nb, np.float32)
        self._hi = np.zeros(nb, np.float32)
        self._seen = np.zeros(nb, bool)
        self._count = np.zeros(nb, np.int64)
        self._zeros = np.zeros(nb, np.int64)
        self._nonfinite = np.zeros(nb, np.int64)
        self._ma_lo = np.zeros(nb, np.float32)
        self._ma_hi = np.zeros(nb, np.float32)

    def observe(self, x) -> None:
        """Add one batch (numpy or torch, any float dtype; its block grid must match earlier batches)."""
        x32, _ = as_float32(x)
        if x32.size == 0:
            raise ValueError("the batch is empty: pass a tensor with at least one value")
        g = self.spec.granularity
        grid = blocks.grid_shape(x32.shape, g)
        if self._grid is None:
            self._init(grid)
        elif grid != self._grid:
            raise ValueError(
                f"this batch has block grid {grid} but earlier batches had {self._grid}: every batch must have "
                f"the same size along the quantized axis ({g.describe()})"
            )
        v = np.ascontiguousarray(blocks.to_blocks(x32, g))
        nb, m = v.shape
        # numpy, single-threaded: on a busy 2-core machine torch's threaded kernels stall on every call
        lo, hi = v.min(1), v.max(1)
        nonfinite = np.zeros(nb, np.int64)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            fin = np.isfinite(v)
            nonfinite = (m - fin.sum(1)).astype(np.int64)
            v = np.where(fin, v, np.float32(0))
            lo = np.where(fin, v, np.float32(np.inf)).min(1)
            hi = np.where(fin, v, np.float32(-np.inf)).max(1)
            none = nonfinite == m
            lo = np.where(none, np.float32(0), lo).astype(np.float32)
            hi = np.where(none, np.float32(0), hi).astype(np.float32)
        finite = m - nonfinite
        self._update_range(lo, hi, finite)
        zeros = np.zeros(nb, np.int64)  # counted with the histogram (only histogram methods use it)
        if self.histogram:
            zeros = self._add(v, np.maximum(-lo, hi), nonfinite)
        self._count += finite
        self._zeros += zeros
        self._nonfinite += nonfinite
        self.n_batches += 1

    def _update_range(self, lo, hi, finite):
        has = finite > 0
        first = has & ~self._seen
        old = has & self._seen
        self._lo = np.where(first, lo, np.where(old, np.minimum(self._lo, lo), self._lo)).astype(np.float32)
        self._hi = np.where(first, hi, np.where(old, np.maximum(self._hi, hi), self._hi)).astype(np.float32)
        # torch MovingAverageMinMaxObserver: m = m + c·(batch - m), in float32
        c = np.float32(self.averaging_constant)
        ma_lo = (self._ma_lo + c * (lo - self._ma_lo)).astype(np.float32)
        ma_hi = (self._ma_hi + c * (hi - self._ma_hi)).astype(np.float32)
        self._ma_lo = np.where(first, lo, np.where(old, ma_lo, self._ma_lo)).astype(np.float32)
        self._ma_hi = np.where(first, hi, np.where(old, ma_hi, self._ma_hi)).astype(np.float32)
        self._seen |= has

    def _grow(self, absmax: np.ndarray):
        """Widen ``R`` by powers of two where ``absmax`` exceeds it, merging fine bins exactly."""
        R = self._R
        new = (R == 0) & (absmax > 0)
        R[new] = absmax[new]
        wide = (R > 0) & (absmax > R)
        if not wide.any():
            return
        k = np.zeros(len(R), np.int64)
        k[wide] = np.maximum(np.floor(np.log2(absmax[wide] / R[wide])).astype(np.int64), 0)
        short = wide & (R * np.exp2(k).astype(np.float32) < absmax)
        while short.any():  # at most a step or two past the log2 estimate
            k[short] += 1
            short = wide & (R * np.exp2(k).astype(np.float32) < absmax)
        with np.errstate(over="ignore"):
            grown = (R[wide] * np.exp2(k[wide]).astype(np.float32)).astype(np.float32)
        if not np.isfinite(grown).all():
            raise ValueError(
                "the values grew past float32's range across batches (the histogram cannot double beyond 3.4e38): "
                "calibrate this tensor in one batch, or rescale it"
            )
        R[wide] = grown
        for kk in np.unique(k[wide]):  # one merge per distinct growth factor, never per block
            rows = np.flatnonzero(wide & (k == kk))
            f = 1 << int(kk)
            part = self._fine[rows]
            if f >= self.fine_bins:
                merged = part.sum(-1, keepdims=True)
            else:
                merged = part.reshape(len(rows), 2, self.fine_bins // f, f).sum(-1)
            part[:] = 0
            part[:, :, : merged.shape[-1]] = merged
            self._fine[rows] = part

    def _add(self, v: np.ndarray, absmax: np.ndarray, excluded: np.ndarray):
        self._grow(absmax)
        F = self.fine_bins
        nb = v.shape[0]
        R = self._R
        # y = (x·F)/R in float32: for |x| exactly torch.histc(|x|, F, 0, R)'s (elt - 0)·nbins/(max - 0)
        # (·F is exact and rounding is sign-symmetric), so tail bin k = floor(|y|) = |trunc(y)|.
        # trunc(y) + F indexes 2F+1 slots: F±k is tail bin k (k >= 1); slot F mixes both bins 0 and
        # the zeros, and is split with the count of positive values.
        # Processed in column chunks of about CHUNK values, so every pass runs in cache.
        n_slots = 2 * F + 1
        r_col = np.where(R > 0, R, np.float32(1)).astype(np.float32)[:, None]
        # (x·F)/R overflows float32 for |x| > max/F (about 2e34). F is a power of two, so R/F is exact
        # wherever it is a normal number, and x/(R/F) rounds the same exact quotient: bit-identical.
        small = r_col < np.float32(F) * np.finfo(np.float32).tiny
        r_div = np.where(small, r_col, r_col / np.float32(F)).astype(np.float32)
        f_mul = np.where(small, np.float32(F), np.float32(1)).astype(np.float32)
        offset = (np.arange(nb, dtype=np.int64) * n_slots + F)[:, None]
        cols = max(64, CHUNK // nb)
        h = np.zeros(nb * n_slots, np.int64)
        npos = np.zeros(nb, np.int64)
        nonzero = np.zeros(nb, np.int64)
        for s in range(0, v.shape[1], cols):
            c = v[:, s : s + cols]
            y = np.multiply(c, f_mul)
            y /= r_div
            idx = y.astype(np.int64)
            idx += offset
            h += np.bincount(idx.reshape(-1), minlength=nb * n_slots)
            npos += np.count_nonzero(c > 0, axis=1)
            nonzero += np.count_nonzero(c, axis=1)
        h = h.reshape(nb, n_slots).astype(np.float64)
        npos = npos.astype(np.float64)
        zeros = v.shape[1] - nonzero - excluded  # excluded: the NaN/Inf that were set to 0
        neg = h[:, :F][:, ::-1]  # neg tail bins 1..F
        pos = h[:, F + 1 :]  # pos tail bins 1..F
        pos0 = npos - pos.sum(1)
        neg0 = h[:, F] - pos0 - zeros - excluded
        fine_neg = np.concatenate([neg0[:, None], neg[:, :-1]], 1)
        fine_pos = np.concatenate([pos0[:, None], pos[:, :-1]], 1)
        fine_neg[:, -1] += neg[:, -1]  # |x| = R exactly: the last bin is closed, as histc
        fine_pos[:, -1] += pos[:, -1]
        self._fine[:, 0] += fine_neg
        self._fine[:, 1] += fine_pos
        return zeros

    # ------------------------------------------------------------------ result
    def stats(self) -> Stats:
        """Re-bin to ``num_bins`` per tail and return :class:`Stats` (see module docstring)."""
        if self._grid is None:
            raise ValueError("no batch observed yet: call observe(x) with at least one tensor first")
        if self._count.sum() == 0:
            raise ValueError(
                f"every value seen is NaN or ±Inf ({int(self._nonfinite.sum())} of them): there is no range to "
                "calibrate; pass finite data"
            )
        absmax = np.maximum(-self._lo, self._hi).astype(np.float64)
        if self.spec.symmetric:
            target = np.stack([absmax, absmax], 1)
        else:
            target = np.stack([-self._lo.astype(np.float64), self._hi.astype(np.float64)], 1)
            target = np.maximum(target, 0)
        if self.histogram:
            hist = rebin(self._fine, self._R.astype(np.float64), target, self.num_bins, self.oversample)
        else:
            hist = np.zeros((len(self._lo), 2, 0))
        return Stats(
            lo=self._lo.copy(),
            hi=self._hi.copy(),
            count=self._count.copy(),
            zeros=self._zeros.copy(),
            nonfinite=self._nonfinite.copy(),
            hist=hist,
            width=target / self.num_bins,
            ma_lo=self._ma_lo.copy(),
            ma_hi=self._ma_hi.copy(),
            grid=self._grid,
            n_batches=self.n_batches,
        )


def rebin(fine: np.ndarray, R: np.ndarray, target: np.ndarray, num_bins: int, oversample: int) -> np.ndarray:
    """Re-bin fine tails ``(nb, 2, F)`` over ``[0, R]`` to ``(nb, 2, num_bins)`` over ``[0, target]``.

    Exact grouping of ``oversample`` fine bins where ``target == R``; elsewhere the
    fine cumulative counts are interpolated linearly (uniform within a fine bin).
    """
    nb, _, F = fine.shape
    out = np.zeros((nb, 2, num_bins))
    exact = target == R[:, None]
    grouped = fine.reshape(nb, 2, num_bins, oversample).sum(-1)
    out[exact] = grouped[exact]
    todo = ~exact & (target > 0) & (R[:, None] > 0)
    if todo.any():
        f = fine[todo]  # (k, F)
        cum = np.zeros((f.shape[0], F + 1))
        np.cumsum(f, axis=1, out=cum[:, 1:])
        ratio = (target[todo] / R[:, None].repeat(2, 1)[todo])[:, None]  # fraction of the fine range
        pos = np.arange(num_bins + 1)[None, :] * (F / num_bins) * ratio
        snap = np.abs(pos - np.rint(pos)) < 1e-9
        pos = np.where(snap, np.rint(pos), pos)
        pos = np.minimum(pos, F)
        i = np.minimum(np.floor(pos).astype(np.int64), F - 1)
        frac = pos - i
        at = np.take_along_axis(cum, i, 1) + frac * np.take_along_axis(f, i, 1)
        at[:, -1] = cum[:, -1]  # everything up to the tail's max is inside
        out[todo] = np.diff(at, axis=1)
    return out
