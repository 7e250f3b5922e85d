"""MSE calibration: the range whose fake-quantized tensor has the lowest squared error.

Every candidate range becomes ``QParams`` through :func:`qviz.choose_qparams`, so
the grid searched is exactly the one :func:`qviz.fake_quantize` uses (torch's
``/127.5``, narrow range, mid-rise, unsigned, asymmetric zero points). The error
of a candidate is evaluated from the two tail histograms, without touching the
data again: on a tail (values by ``|x|``, levels ``(k + o)·Δ`` up to the top
level ``L``) a value ``u`` has error ``(u − Q(u))²``, whose integral is closed-form::

    F(t) = c·Δ²·t + Δ³·ψ(t/Δ − o)                    t ≤ L
    F(t) = c·Δ²·L + (t − L)³ / 3                     t > L   (clipped to L)
    nearest:     c = 1/12, ψ(s) = r³/3 − r/12,  r = s − round(s)
    stochastic:  c = 1/6,  ψ(s) = f²/2 − f³/3 − f/6, f = s − floor(s)   (expected error)

Values are uniform inside each bin, so ``SSE = Σ_j n_j (F(e_{j+1}) − F(e_j)) / w
= Σ_k d_k F(e_k) / w`` with ``d_k = n_{k−1} − n_k``; the polynomial parts are
prefix sums, only the bounded sawtooth ``ψ`` is summed per candidate. Exact zeros
are a point mass (error 0 mid-tread, ``(Δ/2)²`` mid-rise). Tests check the curve
against real ``fake_quantize`` MSE.

Symmetric specs search ``T = i·w`` (``i = 1 … B``, range ``[−T, T]``); asymmetric
specs search ``clip_max`` along the positive tail and ``clip_min`` along the
negative one (``0`` included) by coordinate descent until neither moves (≤ 4
rounds); each half of the curve is the MSE along one end with the other at its
final value. Each search evaluates every ``B/256``-th candidate, then every
candidate within that stride of the best, then 32 sub-bin steps between the
best's neighbours (the curve holds every point evaluated). The refinement may
end up to one bin past the data when that puts a level exactly on the extreme
value (torch's symmetric grid tops out at ``127/127.5`` of the range). Model Optimizer's ``_compute_amax_mse`` instead evaluates only
bin centres (no spread inside a bin) from bin 128, torch's ``HistogramObserver``
an L2 norm on a coarse interpolated histogram.

Example
-------
>>> import numpy as np
>>> from qviz.spec import QuantSpec
>>> from qviz.calibrate import calibrate
>>> x = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)
>>> c = calibrate(x, QuantSpec(bits=4), "mse")
>>> 2.0 < float(c.clip_max.item()) < 3.2
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..affine import choose_qparams

CHUNK = 1 << 22  # elements of a (rows, candidates, edges) work array
REFINE = 16
COARSE = 256  # candidates of the first, coarse pass


def _psi(s: np.ndarray, stochastic: bool) -> np.ndarray:
    if stochastic:
        f = s - np.floor(s)
        return f * f * (0.5 - f / 3) - f / 6
    r = s - np.rint(s)
    return r * (r * r / 3 - 1 / 12)


class TailModel:
    """Squared error of one tail per row, for any (step, top level) — see module docstring."""

    def __init__(self, hist: np.ndarray, width: np.ndarray, spec):
        self.n = np.asarray(hist, np.float64)
        r, B = self.n.shape
        self.w = np.asarray(width, np.float64)
        self.e = np.arange(B + 1)[None, :] * self.w[:, None]  # (r, B+1)
        z = np.zeros((r, 1))
        self.d = np.concatenate([z, self.n], 1) - np.concatenate([self.n, z], 1)
        self.P = [np.concatenate([z, np.cumsum(self.d * self.e**p, 1)], 1) for p in range(4)]  # (r, B+2)
        # the sawtooth sum only needs the edges where d_k != 0: pack them (small blocks have few)
        nzm = self.d != 0
        K = max(1, int(nzm.sum(1).max()))
        order = np.argsort(~nzm, axis=1, kind="stable")[:, :K]
        self.k_packed = np.where(np.take_along_axis(nzm, order, 1), order, B + 2)
        self.e_packed = np.take_along_axis(self.e, order, 1)
        self.d_packed = np.where(self.k_packed <= B, np.take_along_axis(self.d, order, 1), 0.0)
        self.o = spec.level_offset
        self.stochastic = spec.rounding == "stochastic"
        self.c = 1 / 6 if self.stochastic else 1 / 12

    def sse(self, delta: np.ndarray, top: np.ndarray, rows=None) -> np.ndarray:
        """Sum of squared errors ``(r, c)`` for steps ``delta`` and top levels ``top`` (both ``(r, c)``)."""
        rows = slice(None) if rows is None else rows
        w, e = self.w[rows], self.e[rows]
        P = [p[rows] for p in self.P]
        B1 = e.shape[1]
        delta = np.asarray(delta, np.float64)
        L = np.asarray(top, np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            m = np.where(w[:, None] > 0, np.floor(L / np.where(w > 0, w, 1)[:, None]) + 1, B1)
        m = np.clip(m, 0, B1).astype(np.int64)
        g = [np.take_along_axis(p, m, 1) for p in P]
        tot = [p[:, -1:] for p in P]
        S = [t - gi for t, gi in zip(tot, g)]
        out = self.c * delta**2 * (g[1] + L * S[0]) + (S[3] - 3 * L * S[2] + 3 * L**2 * S[1] - L**3 * S[0]) / 3
        out += delta**3 * self._saw(delta, m, self.e_packed[rows], self.d_packed[rows], self.k_packed[rows])
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(w[:, None] > 0, out / np.where(w > 0, w, 1)[:, None], 0.0)

    def _saw(self, delta, m, e, d, k):
        """``Σ_{k < m} d_k ψ(e_k/Δ − o)`` over the packed non-zero ``d_k`` (chunked)."""
        r, c = delta.shape
        K = e.shape[1]
        out = np.zeros((r, c))
        step = max(1, CHUNK // max(1, r * K))
        inv = 1 / np.where(delta > 0, delta, np.inf)
        for s in range(0, c, step):
            sl = slice(s, s + step)
            arg = e[:, None, :] * inv[:, sl, None]
            if self.o:
                arg -= self.o
            psi = _psi(arg, self.stochastic)
            psi *= k[:, None, :] < m[:, sl, None]
            out[:, sl] = np.einsum("rck,rk->rc", psi, d)
        return out


def _qgrid(lo, hi, spec):
    qp = choose_qparams(np.asarray(lo, np.float32), np.asarray(hi, np.float32), spec)
    delta = qp.scale.astype(np.float64)
    return delta, -qp.level_min.astype(np.float64), qp.level_max.astype(np.float64)


def _total(neg: TailModel, pos: TailModel, stats, spec, lo, hi, rows):
    lo32, hi32 = np.asarray(lo, np.float32), np.asarray(hi, np.float32)
    with np.errstate(over="ignore"):  # affine ranges whose float32 step overflows (|x| near 3.4e38) are no candidates
        bad = ~np.isfinite((np.maximum(hi32, 0) - np.minimum(lo32, 0)) / np.float32(spec.n_steps))
    bad &= not spec.symmetric
    if bad.any():
        lo32, hi32 = np.where(bad, np.float32(-1), lo32), np.where(bad, np.float32(1), hi32)
    delta, top_n, top_p = _qgrid(lo32, hi32, spec)
    sse = neg.sse(delta, top_n, rows) + pos.sse(delta, top_p, rows)
    sse += stats.zeros[rows][:, None] * (spec.level_offset * delta) ** 2
    return np.where(bad, np.inf, sse / np.maximum(stats.count[rows], 1)[:, None])


def _search(f, cand: np.ndarray, width: np.ndarray, curve_block: int, low=None):
    """Minimise ``f`` over candidates ``(r, C)``: every ``C // COARSE``-th, then all near the best, then sub-bin.

    Returns ``(best (r,), curve DataFrame of every evaluated point of row curve_block)``.
    """
    r, C = cand.shape
    rows = np.arange(r)
    s = max(1, C // COARSE)
    ci = np.unique(np.r_[np.arange(0, C, s), C - 1])
    pts = [cand[:, ci]]
    errs = [f(pts[0])]
    j = ci[np.argmin(errs[0], 1)]
    win = np.clip(j[:, None] + np.arange(-s, s + 1)[None, :], 0, C - 1)
    pts.append(np.take_along_axis(cand, win, 1))
    errs.append(f(pts[1]))
    best = pts[1][rows, np.argmin(errs[1], 1)]
    pts.append(_around(best, width, low))
    errs.append(f(pts[2]))
    allp, alle = np.concatenate(pts, 1), np.concatenate(errs, 1)
    best = allp[rows, np.argmin(alle, 1)]
    t, order = np.unique(allp[curve_block], return_index=True)
    return best, pd.DataFrame({"threshold": t, "value": alle[curve_block][order]})


def mse(stats, spec, curve_block):
    """Minimise the fake-quantization MSE under ``spec`` (see module docstring)."""
    nb, _, B = stats.hist.shape
    neg = TailModel(stats.hist[:, 0], stats.width[:, 0], spec)
    pos = TailModel(stats.hist[:, 1], stats.width[:, 1], spec)
    rows = np.arange(nb)
    if spec.symmetric:
        T = np.arange(1, B + 1)[None, :] * stats.width[:, 1:]
        a, curve = _search(lambda t: _total(neg, pos, stats, spec, -t, t, rows), T, stats.width[:, 1], curve_block)
        return (-a).astype(np.float32), a.astype(np.float32), curve, "MSE"
    i = np.arange(0, B + 1)
    lo_c = -i[None, :] * stats.width[:, :1]
    hi_c = i[None, :] * stats.width[:, 1:]
    lo = np.minimum(stats.lo, 0).astype(np.float64)
    hi = np.maximum(stats.hi, 0).astype(np.float64)
    for _ in range(4):
        lo_fixed = lo
        hi, cur_hi = _search(
            lambda h, lo_fixed=lo_fixed: _total(neg, pos, stats, spec, np.broadcast_to(lo_fixed[:, None], h.shape), h, rows),
            hi_c,
            stats.width[:, 1],
            curve_block,
            low=0.0,
        )
        hi_fixed = hi
        new_lo, cur_lo = _search(
            lambda m, hi_fixed=hi_fixed: _total(neg, pos, stats, spec, -m, np.broadcast_to(hi_fixed[:, None], m.shape), rows),
            -lo_c,
            stats.width[:, 0],
            curve_block,
            low=0.0,
        )
        new_lo = -new_lo
        done = np.array_equal(new_lo, lo)
        lo = new_lo
        if done:
            break
    cur_lo = cur_lo.assign(threshold=-cur_lo.threshold)
    curve = pd.concat([cur_lo[cur_lo.threshold < 0][::-1], cur_hi[cur_hi.threshold > 0]], ignore_index=True)
    return lo.astype(np.float32), hi.astype(np.float32), curve, "MSE"


def _around(center: np.ndarray, w: np.ndarray, low: float | None = None) -> np.ndarray:
    """``2·REFINE + 1`` candidates from one bin below to one bin above ``center`` (per row)."""
    t = np.linspace(-1, 1, 2 * REFINE + 1)[None, :] * w[:, None] + center[:, None]
    floor = w[:, None] * 0.5 if low is None else low
    return np.maximum(t, floor)
