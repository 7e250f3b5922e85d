"""One large tensor, analysed in row chunks: the same numbers as the whole-tensor path, in bounded memory.

:func:`qviz.analyze` sends tensors over ``chunk_numel`` values here, so that
peak memory is the tensor itself plus a fixed multiple of one chunk (instead of
a multiple of the tensor). Chunks are runs of rows along axis 0:

* blocks inside a chunk (per-channel on axis 0, per-group): each chunk is
  calibrated on its own (a block's range depends only on its values);
* blocks spanning chunks (per-tensor, per-channel on another axis): a streaming
  :class:`qviz.Calibrator` observes every chunk first, then its one
  ``QParams`` quantizes each chunk.

Error metrics are exact: each chunk's :class:`qviz.metrics.ErrorSums` merge
(sums add; code ranges and code sets merge per block when the blocks span chunks,
and concatenate when each chunk has its own blocks). The statistics stream
through :class:`Moments`.

Example
-------
>>> import numpy as np
>>> from qviz.spec import QuantSpec
>>> x = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32)
>>> quant, m = quantize_chunked(x, QuantSpec(), "minmax", {}, chunk_numel=256)
>>> round(m["sqnr_db"]), quant["n_blocks"], round(stream_stats(x, QuantSpec(), 256, 0)["std"], 2)
(41, 1, 1.0)
"""

from __future__ import annotations

import math

import numpy as np

from . import blocks
from .affine import fake_quantize
from .metrics import error_sums
from .spec import PerChannel, PerGroup, PerTensor, QuantSpec
from .stats import range_ratio

CHUNK = 1 << 21


class Moments:
    """Running count and central moments of finite values (float64 sums shifted by the first mean)."""

    def __init__(self):
        self.n = 0
        self.shift = None
        self.sums = np.zeros(4)

    def add(self, finite_values: np.ndarray) -> None:
        v = np.asarray(finite_values).ravel()
        for i in range(0, v.size, CHUNK):
            d = v[i : i + CHUNK].astype(np.float64)
            if self.shift is None:
                self.shift = float(d.mean())
            d -= self.shift
            d2 = d * d
            self.sums += [d.sum(), d2.sum(), (d2 * d).sum(), (d2 * d2).sum()]
            self.n += d.size

    def result(self) -> dict:
        """``{"mean", "std", "kurtosis"}`` as :func:`qviz.stats.tensor_stats` defines them (NaN when empty)."""
        if not self.n:
            return dict(mean=math.nan, std=math.nan, kurtosis=math.nan)
        s1, s2, s3, s4 = self.sums / self.n
        var = max(s2 - s1 * s1, 0.0)
        m4 = s4 - 4 * s1 * s3 + 6 * s1 * s1 * s2 - 3 * s1**4
        return dict(mean=self.shift + s1, std=math.sqrt(var), kurtosis=m4 / (var * var) - 3.0 if var > 0 else math.nan)


def spans_chunks(spec: QuantSpec, ndim: int) -> bool:
    """True when one block covers rows of several chunks (per-tensor, per-channel off axis 0)."""
    g = spec.granularity
    return isinstance(g, PerTensor) or (isinstance(g, PerChannel) and g.axis % ndim != 0)


def chunks(x: np.ndarray, spec: QuantSpec, chunk_numel: int):
    """Row slices of ``x`` of about ``chunk_numel`` values, aligned to per-group blocks on axis 0."""
    per_row = max(int(np.prod(x.shape[1:], dtype=np.int64)), 1)
    step = max(1, chunk_numel // per_row)
    g = spec.granularity
    if isinstance(g, PerGroup) and g.axis % x.ndim == 0:
        step = max(g.group_size, step - step % g.group_size)
    for i in range(0, x.shape[0], step):
        yield x[i : i + step]


def stream_stats(x: np.ndarray, spec: QuantSpec, chunk_numel: int, axis: int) -> dict:
    """:func:`qviz.stats.tensor_stats` of ``x`` (ndim ≥ 1), chunk by chunk."""
    m = Moments()
    lo = hi = None
    nonfinite = 0
    a = axis % x.ndim
    parts_lo, parts_hi = [], []
    for c in chunks(x, spec, chunk_numel):
        finite = np.isfinite(c)
        vals = c if finite.all() else c[finite]
        nonfinite += c.size - vals.size
        if vals.size:
            lo = min(lo, float(vals.min())) if lo is not None else float(vals.min())
            hi = max(hi, float(vals.max())) if hi is not None else float(vals.max())
            m.add(vals)
        clo, chi = blocks.block_min_max(c, PerChannel(a))
        if a == 0:
            parts_lo.append(clo.ravel())
            parts_hi.append(chi.ravel())
        else:
            parts_lo = [clo.ravel() if not parts_lo else np.minimum(parts_lo[0], clo.ravel())]
            parts_hi = [chi.ravel() if not parts_hi else np.maximum(parts_hi[0], chi.ravel())]
    out = dict(min=math.nan if lo is None else lo, max=math.nan if hi is None else hi, nonfinite=int(nonfinite), **m.result())
    ch_lo, ch_hi = np.concatenate(parts_lo), np.concatenate(parts_hi)
    out["channel_range_ratio"] = range_ratio(ch_lo, ch_hi) if x.ndim >= 2 and x.shape[a] > 1 else math.nan
    return out


def range_summary(calibrations: list) -> dict:
    """Granularity, block count, lowest clip_min, highest clip_max, median scale and zero point."""

    def cat(f):
        return np.concatenate([np.ravel(f(c)) for c in calibrations])

    return dict(
        granularity=calibrations[0].qparams.spec.granularity.describe(),
        n_blocks=int(cat(lambda c: c.qparams.scale).size),
        clip_min=float(cat(lambda c: c.clip_min).min()),
        clip_max=float(cat(lambda c: c.clip_max).max()),
        scale=float(np.median(cat(lambda c: c.qparams.scale))),
        zero_point=int(round(float(np.median(cat(lambda c: c.qparams.zero_point))))),
    )


def _calibrate_all(x, spec, method, options, chunk_numel):
    """Per-chunk ``QParams`` and the summary of the ranges."""
    from .calibrate import Calibrator, calibrate

    if spans_chunks(spec, x.ndim):
        cal = Calibrator(spec, method, **options)
        for c in chunks(x, spec, chunk_numel):
            cal.observe(c)
        cals = [cal.compute()]
    else:
        cals = [calibrate(c, spec, method, **options) for c in chunks(x, spec, chunk_numel)]
    summary = range_summary(cals)
    return [c.qparams for c in cals], summary


def quantize_chunked(x: np.ndarray, spec: QuantSpec, method: str, options: dict, chunk_numel: int = CHUNK):
    """``(quant, metrics)`` of ``x`` (ndim ≥ 1) computed chunk by chunk.

    ``quant`` is the range summary of :func:`qviz.analyze`, ``metrics`` every
    field of :func:`qviz.error_metrics`, as computed on the whole tensor.
    """
    qps, quant = _calibrate_all(x, spec, method, options, chunk_numel)
    span = len(qps) == 1 and spans_chunks(spec, x.ndim)
    total = None
    for k, c in enumerate(chunks(x, spec, chunk_numel)):
        qp = qps[0] if span else qps[k]
        part = error_sums(c, fake_quantize(c, qp), qp)
        total = part if total is None else total.merge(part, same_blocks=span)
    return quant, total.metrics().as_dict()


# --- The fused scan (qviz.fused): two reads of the tensor, row ranges on a thread pool -------------------------


def fused_applies(shape: tuple, spec: QuantSpec) -> bool:
    """Whether :func:`scan_tensor` handles this tensor and spec (nearest rounding, code masks that fit)."""
    from . import fused

    if spec.rounding != "nearest" or len(shape) == 0 and not isinstance(spec.granularity, PerTensor):
        return False
    return fused.mask_fits(blocks.n_blocks(shape, spec.granularity), spec)


def summary_of(spec: QuantSpec, lo: np.ndarray, hi: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> dict:
    """:func:`range_summary` from per-block arrays."""
    return dict(
        granularity=spec.granularity.describe(),
        n_blocks=int(np.ravel(scale).size),
        clip_min=float(np.min(lo)),
        clip_max=float(np.max(hi)),
        scale=float(np.median(np.ravel(scale))),
        zero_point=int(round(float(np.median(np.ravel(zero_point))))),
    )


def fused_calibration(x: np.ndarray, spec: QuantSpec, method: str, options: dict, r, chunk_numel: int, pool=None):
    """``(QParams with flat per-block arrays, summary)``: minmax from pass 1, other methods as today."""
    from . import fused
    from .affine import QParams, choose_qparams

    if method == "minmax":
        lo, hi = fused.minmax_clip(r, spec)
        qp = choose_qparams(lo, hi, spec)
        return qp, summary_of(spec, lo, hi, qp.scale, qp.zero_point)
    if x.size > chunk_numel and x.ndim >= 1:
        from .calibrate import calibrate

        if spans_chunks(spec, x.ndim):
            qps, summary = _calibrate_all(x, spec, method, options, chunk_numel)
        else:  # each chunk has its own blocks: calibrate them on the pool, in order
            cals = _map(pool, lambda c: calibrate(c, spec, method, **options), list(chunks(x, spec, chunk_numel)))
            qps, summary = [c.qparams for c in cals], range_summary(cals)
        scale = np.concatenate([np.ravel(q.scale) for q in qps])
        zp = np.concatenate([np.ravel(q.zero_point) for q in qps])
        return QParams(scale, zp, spec), summary
    from .calibrate import calibrate

    cal = calibrate(x, spec, method, **options)
    return cal.qparams, range_summary([cal])


def _map(pool, fn, items):
    return [fn(i) for i in items] if pool is None or len(items) < 2 else list(pool.map(fn, items))


def scan_tensor(x: np.ndarray, spec: QuantSpec, method: str, options: dict, axis: int, chunk_numel: int = CHUNK, pool=None,
                quantize: bool = True) -> tuple[dict, dict, dict]:
    """``(stats, quant, metrics)`` of one float32 tensor through the fused kernels (:mod:`qviz.fused`).

    ``stats`` as :func:`qviz.stats.tensor_stats` (channels on ``axis``), ``quant`` the range summary,
    ``metrics`` every field of :func:`qviz.error_metrics` on ``fake_quantize(x, qparams)``. Row ranges of
    ``min(chunk_numel, fused.TASK_NUMEL)`` values run on ``pool`` (a ``concurrent.futures`` executor) and
    merge in a fixed order, so the result does not depend on the pool. With ``quantize=False`` (or when
    the tensor has no finite value) only ``stats`` is filled.
    """
    from . import fused

    task = max(1, min(chunk_numel, fused.TASK_NUMEL))
    lay = fused.layout(x.shape, spec.granularity, axis)
    r = fused.ranges(x, lay, pool, task)
    fin = np.isfinite(r.block_lo)
    stats = dict(
        min=float(r.block_lo[fin].min()) if fin.any() else math.nan,
        max=float(r.block_hi[fin].max()) if fin.any() else math.nan,
        nonfinite=int(r.nonfinite),
        channel_range_ratio=fused.channel_range_ratio(r, x.shape, axis),
        mean=math.nan, std=math.nan, kurtosis=math.nan,
    )
    if not r.n:
        return stats, {}, {}
    if not quantize:
        m = Moments()
        for c in chunks(x, spec, chunk_numel) if x.ndim else [x]:
            fc = np.isfinite(c)
            m.add(c if fc.all() else c[fc])
        stats.update(m.result())
        return stats, {}, {}
    qp, quant = fused_calibration(x, spec, method, options, r, chunk_numel, pool)
    e = fused.errors(x, lay, qp, r, pool, task)
    stats.update(e.moments(r.mean))
    metrics = e.metrics().as_dict()
    metrics.pop("nonfinite")
    return stats, quant, metrics


def rows_error_sums(x: np.ndarray, qparams, rows: tuple[int, int]):
    """Mergeable :class:`qviz.metrics.ErrorSums` of rows ``[a, b)`` (along axis 0) of ``x`` under ``qparams``.

    ``qparams`` are for exactly those rows (per-tensor parameters, or the blocks of those
    rows). Parts merge with ``ErrorSums.merge(other, same_blocks=spans_chunks(spec, x.ndim))``
    into the whole tensor's sums — for running row ranges as separate tasks (Dask).

    >>> import numpy as np, qviz
    >>> x = np.random.default_rng(1).normal(size=(40, 8)).astype(np.float32)
    >>> qp = qviz.choose_qparams(x.min(), x.max(), qviz.QuantSpec())
    >>> a, b = rows_error_sums(x, qp, (0, 25)), rows_error_sums(x, qp, (25, 40))
    >>> ref = qviz.error_metrics(x, qviz.fake_quantize(x, qp), qp)
    >>> abs(a.merge(b, same_blocks=True).metrics().sqnr_db - ref.sqnr_db) < 1e-9
    True
    """
    from . import fused

    part = np.ascontiguousarray(x[rows[0] : rows[1]], dtype=np.float32)
    lay = fused.layout(part.shape, qparams.spec.granularity, 0)
    r = fused.ranges(part, lay)
    return fused.errors(part, lay, qparams, r).error_sums()
