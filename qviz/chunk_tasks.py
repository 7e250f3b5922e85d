"""How one tensor becomes tasks on a cluster: one task, or row-chunk tasks whose partial sums merge exactly.

A tensor up to ``chunk_numel`` values is one task, :func:`qviz.distributed.weight_task`
(:func:`qviz.analyze.weight_row` on the worker). A larger float tensor is cut into the row chunks
:func:`qviz.streaming.row_ranges` gives (the single-process path's own chunks), each read from the
file by its own task (:func:`read_rows`: only those rows' bytes for safetensors), and the pieces
are put together to give *exactly* the row :func:`qviz.analyze.weight_row` computes:

1. ``scan`` (per chunk): finite min/max, NaN/Inf count, per-channel ranges, the per-block ranges
   a calibrator sees, and the chunk's first finite values' mean (the shift of
   :class:`qviz.streaming.Moments`);
2. ``plan`` (one task): the shift; for blocks spanning chunks (per-tensor, per-channel off axis 0)
   the :class:`qviz.Calibrator` state replayed batch by batch from the ranges (min/max and the
   moving average are order-exact), or, for the histogram calibrators, the histogram range ``R``
   each chunk is binned in (its growth by powers of two replayed the same way);
3. ``measure`` (per chunk): the moments' float64 sums with the shift, and either the chunk's own
   calibration and :class:`qviz.metrics.ErrorSums` (blocks inside chunks), its ErrorSums under
   the planned parameters, or its fine histogram in the planned range;
4. for spanning histogram calibrators, ``calibrate`` (one task) merges the fine histograms in
   order, exactly as the streaming calibrator would have, and ``errors`` (per chunk) measures;
5. ``merge`` (one task): sums added in chunk order, range summaries, notes → the row.

Every float sum is added in the single-process order, so nothing differs by a bit (tested).
Spanning histogram calibrators over more than :data:`MAX_SPAN_BLOCKS` blocks (per-channel off
axis 0), integer, bool and already-quantized tensors stay one task. When a chunk cannot be read,
the merge task runs :func:`qviz.analyze.weight_row` itself, so the row (and its note) is the one
the single-process scan gives.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import blocks
from .spec import PerChannel, QuantSpec

#: spanning histogram calibrations are split into chunks only up to this many blocks (a chunk's
#: fine histogram is blocks × 2 × 16384 float64)
MAX_SPAN_BLOCKS = 16


def _histogram(method: str) -> bool:
    """Whether ``method`` calibrates on the streaming histogram (its record in the calibrator registry)."""
    from .calibrate.registry import get_method

    return get_method(method).needs_histogram


# --------------------------------------------------------------------------- reading rows
_LAST: dict = {}


def read_rows(src, name: str, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``name`` as float32, equal to ``src.load(name)[start:stop]``.

    Safetensors files (and shard folders) read only those rows' bytes; other formats load the
    tensor once per worker (the last one is kept) and slice it.
    """
    from .sources.base import numpy_to_float32, torch_to_float32
    from .sources.folder import FolderSource
    from .sources.safetensors_src import DTYPES, SafetensorsSource, _widen

    info = src.info(name)
    if not info.shape or not 0 <= start < stop <= info.shape[0]:
        raise ValueError(f"rows {start}:{stop} are outside tensor {name!r} of shape {info.shape}")
    owner = src._owner[name] if isinstance(src, FolderSource) else src
    where = getattr(owner, "_where", {}).get(name) if isinstance(owner, SafetensorsSource) else None
    if where is not None and where[1]["dtype"] in DTYPES and info.numel <= src.max_numel and where[0] is not None:
        path, e, data_start = where
        shape = tuple(e["shape"])
        size = DTYPES[e["dtype"]][1]
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * size
        n = (stop - start) * row_bytes
        buf = np.empty(n, dtype=np.uint8)
        with open(path, "rb", buffering=0) as f:
            f.seek(data_start + e["data_offsets"][0] + start * row_bytes)
            view, got = buf.data, 0
            while got < n:
                k = f.readinto(view[got:])
                if not k:
                    raise OSError(f"{path}: short read of tensor {name!r} rows {start}:{stop}")
                got += k
        raw = _widen(buf, e["dtype"], (stop - start, *shape[1:]))
        return numpy_to_float32(raw) if isinstance(raw, np.ndarray) else torch_to_float32(raw)
    key = (id(src), name)
    if key not in _LAST:
        _LAST.clear()
        _LAST[key] = src.load(name)
    return _LAST[key][start:stop]


# --------------------------------------------------------------------------- the tasks
def _setup(src, name: str, spec: QuantSpec):
    from .analyze import weight_spec

    shape = src.info(name).shape
    tspec, note = weight_spec(spec, shape)
    axis = spec.granularity.axis if isinstance(spec.granularity, PerChannel) else 0
    return shape, tspec, note, axis % len(shape)


def _block_ranges(c: np.ndarray, tspec: QuantSpec):
    """``(lo, hi, finite, nonfinite)`` per block, as one ``BlockHistogram.observe(c)`` records them."""
    from .calibrate.histogram import BlockHistogram

    h = BlockHistogram(tspec, histogram=False)
    h.observe(c)
    return h._lo.copy(), h._hi.copy(), h._count.copy(), h._nonfinite.copy()


def scan_task(path: str, name: str, spec: QuantSpec, rows: tuple, spans: bool):
    """Pass 1 of one chunk (see the module docstring); an exception is returned, not raised."""
    from .distributed import worker_source

    try:
        src = worker_source(path)
        _, tspec, _, a = _setup(src, name, spec)
        c = read_rows(src, name, *rows)
        finite = np.isfinite(c)
        vals = c if finite.all() else c[finite]
        out: dict[str, Any] = dict(nonfinite=int(c.size - vals.size), n_finite=int(vals.size), lo=None, hi=None, shift=None)
        if vals.size:
            out.update(lo=float(vals.min()), hi=float(vals.max()), shift=float(vals.ravel()[: _moments_chunk()].astype(np.float64).mean()))
        clo, chi = blocks.block_min_max(c, PerChannel(a))
        out.update(ch_lo=clo.ravel(), ch_hi=chi.ravel())
        if spans:
            out["blocks"] = _block_ranges(c, tspec)
        return out
    except Exception as e:  # noqa: BLE001 - the merge falls back to weight_row, which reports it as the scan does
        return e


def _moments_chunk() -> int:
    from .streaming import CHUNK

    return CHUNK


def _replay_ranges(cal, parts: list, grid: tuple, record_R: bool = False):
    """Feed a Calibrator's histogram the per-chunk block ranges, as ``observe`` would (no histogram)."""
    h = cal._hist
    h._init(grid)
    Rs = []
    for lo, hi, finite, nonfinite in parts:
        h._update_range(lo, hi, finite)
        if record_R:
            h._grow(np.maximum(-lo, hi))
            Rs.append(h._R.copy())
        h._count += finite
        h._nonfinite += nonfinite
        h.n_batches += 1
    return Rs


def plan_task(scans: list, spec: QuantSpec, shape: tuple, method: str, options: dict, spans: bool):
    """Pass 2: the moments' shift and, for spanning blocks, the calibration or each chunk's histogram range."""
    from .calibrate import Calibrator

    if any(isinstance(s, Exception) for s in scans):
        return None
    from .analyze import weight_spec

    tspec, _ = weight_spec(spec, shape)
    shift = next((s["shift"] for s in scans if s["n_finite"]), None)
    plan = dict(shift=shift, calibration=None, error=None, R=None)
    if not spans or shift is None:
        return plan
    grid = blocks.grid_shape(shape, tspec.granularity)
    cal = Calibrator(tspec, method, **options)
    parts = [s["blocks"] for s in scans]
    if _histogram(method):
        plan["R"] = _replay_ranges(cal, parts, grid, record_R=True)
        return plan
    _replay_ranges(cal, parts, grid)
    try:
        plan["calibration"] = cal.compute()
    except ValueError as e:
        plan["error"] = e
    return plan


def measure_task(path: str, name: str, spec: QuantSpec, method: str, options: dict, rows: tuple, k: int, plan, spans: bool):
    """Pass 3 of one chunk: moment sums, and its calibration + ErrorSums, ErrorSums, or fine histogram."""
    from .affine import fake_quantize
    from .calibrate import calibrate
    from .calibrate.histogram import BlockHistogram
    from .distributed import worker_source
    from .metrics import error_sums

    if plan is None or plan["shift"] is None:
        return None
    try:
        src = worker_source(path)
        shape, tspec, _, _ = _setup(src, name, spec)
        c = read_rows(src, name, *rows)
        finite = np.isfinite(c)
        vals = (c if finite.all() else c[finite]).ravel()
        step = _moments_chunk()
        sums = []
        for i in range(0, vals.size, step):
            d = vals[i : i + step].astype(np.float64)
            d -= plan["shift"]
            d2 = d * d
            sums.append((d.size, np.array([d.sum(), d2.sum(), (d2 * d).sum(), (d2 * d2).sum()])))
        out: dict[str, Any] = dict(sums=sums, calibration=None, error=None, errors=None, fine=None)
        if not spans:
            try:
                cal = calibrate(c, tspec, method, **options)
            except ValueError as e:
                out["error"] = e
                return out
            out["calibration"] = cal
            out["errors"] = error_sums(c, fake_quantize(c, cal.qparams), cal.qparams)
        elif plan["R"] is not None:
            h = BlockHistogram(tspec, **_hist_options(method, options), histogram=True)
            h._init(blocks.grid_shape(shape, tspec.granularity))
            h._R = plan["R"][k].copy()
            x32 = np.ascontiguousarray(blocks.to_blocks(c, tspec.granularity))
            lo, hi, finite_n, nonfinite = _block_ranges(c, tspec)
            if nonfinite.any():
                x32 = np.where(np.isfinite(x32), x32, np.float32(0))
            zeros = h._add(x32, np.maximum(-lo, hi), nonfinite)
            out["fine"] = (h._fine, zeros)
        elif plan["calibration"] is not None:
            qp = plan["calibration"].qparams
            out["errors"] = error_sums(c, fake_quantize(c, qp), qp)
        return out
    except Exception as e:  # noqa: BLE001
        return e


def _hist_options(method: str, options: dict) -> dict:
    from .calibrate.calibrator import HISTOGRAM_OPTIONS

    return {**HISTOGRAM_OPTIONS, **{k: v for k, v in options.items() if k in HISTOGRAM_OPTIONS}}


def calibrate_task(scans: list, measures: list, spec: QuantSpec, shape: tuple, method: str, options: dict):
    """Spanning histogram calibrators: the fine histograms merged in chunk order, then ``compute``."""
    from .analyze import weight_spec
    from .calibrate import Calibrator

    if any(isinstance(m, Exception) or m is None for m in measures):
        return None
    tspec, _ = weight_spec(spec, shape)
    cal = Calibrator(tspec, method, **options)
    h = cal._hist
    h._init(blocks.grid_shape(shape, tspec.granularity))
    for s, m in zip(scans, measures):
        lo, hi, finite, nonfinite = s["blocks"]
        fine, zeros = m["fine"]
        h._update_range(lo, hi, finite)
        h._grow(np.maximum(-lo, hi))
        h._fine += fine
        h._count += finite
        h._zeros += zeros
        h._nonfinite += nonfinite
        h.n_batches += 1
    try:
        return cal.compute()
    except ValueError as e:
        return e


def errors_task(path: str, name: str, rows: tuple, calibration):
    """The ErrorSums of one chunk under the merged calibration."""
    from .affine import fake_quantize
    from .distributed import worker_source
    from .metrics import error_sums

    if calibration is None or isinstance(calibration, Exception):
        return None
    try:
        c = read_rows(worker_source(path), name, *rows)
        qp = calibration.qparams
        return error_sums(c, fake_quantize(c, qp), qp)
    except Exception as e:  # noqa: BLE001
        return e


def merge_task(path: str, name: str, spec: QuantSpec, method: str, options: dict, chunk_numel: int, scans, plan, measures,
               calibration=None, errors=None) -> dict:
    """The row, from the pieces in chunk order (or :func:`qviz.analyze.weight_row` itself if a chunk failed)."""
    import importlib

    from .distributed import error_row, weight_task, worker_source
    from .streaming import Moments, range_summary
    from .stats import range_ratio

    an = importlib.import_module("qviz.analyze")
    pieces = [*scans, *measures, *(errors or [])]
    if plan is None or any(isinstance(p, Exception) for p in pieces):
        return weight_task(path, name, spec, method, options, chunk_numel)
    src = worker_source(path)
    info = src.info(name)
    try:
        shape, tspec, note, a = _setup(src, name, spec)
        row = an._blank(name, "weight", info.shape, info.dtype, info.numel, info.flags)
        # statistics, as qviz.streaming.stream_stats
        m = Moments()
        if plan["shift"] is not None:
            m.shift = plan["shift"]
            for meas in measures:
                for n, s in meas["sums"]:
                    m.sums += s
                    m.n += n
        lo = [s["lo"] for s in scans if s["lo"] is not None]
        hi = [s["hi"] for s in scans if s["hi"] is not None]
        nonfinite = sum(s["nonfinite"] for s in scans)
        stats = dict(min=min(lo) if lo else math.nan, max=max(hi) if hi else math.nan, nonfinite=int(nonfinite), **m.result())
        if a == 0:
            ch_lo, ch_hi = np.concatenate([s["ch_lo"] for s in scans]), np.concatenate([s["ch_hi"] for s in scans])
        else:
            ch_lo, ch_hi = scans[0]["ch_lo"], scans[0]["ch_hi"]
            for s in scans[1:]:
                ch_lo, ch_hi = np.minimum(ch_lo, s["ch_lo"]), np.maximum(ch_hi, s["ch_hi"])
        stats["channel_range_ratio"] = range_ratio(ch_lo, ch_hi) if len(shape) >= 2 and shape[a] > 1 else math.nan
        row.update({k: stats[k] for k in an.STAT_COLUMNS})
        if stats["nonfinite"] == info.numel:
            row["flags"] = ",".join(f for f in (row["flags"], "nonfinite") if f)
            an._note(row, "no finite values: nothing to quantize")
            return row
        an._note(row, note)
        if stats["nonfinite"]:
            row["flags"] = ",".join(f for f in (row["flags"], "nonfinite") if f)
            an._note(row, f"{stats['nonfinite']:,} NaN/Inf values left out of calibration and metrics")
        # quantization, as qviz.streaming.quantize_chunked
        spans = errors is not None or plan["calibration"] is not None or plan["error"] is not None or plan["R"] is not None
        if not spans:
            bad = next((meas["error"] for meas in measures if meas["error"] is not None), None)
            if bad is not None:
                an._note(row, f"not quantized: {bad}")
                return row
            cals = [meas["calibration"] for meas in measures]
            parts = [meas["errors"] for meas in measures]
        else:
            cal = calibration if calibration is not None else plan["calibration"]
            err = plan["error"] if calibration is None else None
            if isinstance(calibration, Exception):
                cal, err = None, calibration
            if err is not None or cal is None:
                an._note(row, f"not quantized: {err}")
                return row
            cals = [cal]
            parts = errors if errors is not None else [meas["errors"] for meas in measures]
        quant = range_summary(cals)
        total = parts[0]
        for part in parts[1:]:
            total = total.merge(part, same_blocks=spans)
        metrics = total.metrics().as_dict()
        metrics.pop("nonfinite")
        row.update(quant, **metrics)
        return row
    except Exception as e:  # noqa: BLE001 - one tensor's failure is its row's note
        return error_row(src.label, name, info, e)


# --------------------------------------------------------------------------- the graph
def plan_chunks(info, spec: QuantSpec, method: str, chunk_numel: int):
    """``(rows, spans)`` when ``info``'s tensor is split into chunk tasks, else ``None`` (one task)."""
    import importlib

    from .streaming import row_ranges, spans_chunks

    an = importlib.import_module(f"{__package__}.analyze")  # the module (qviz.analyze is the function on the package)

    if info.numel <= chunk_numel or not info.shape or not info.is_float or info.quantized:
        return None
    tspec, _ = an.weight_spec(spec, info.shape)
    if an.fused_applies(info.shape, tspec):
        # weight_row's fused kernels (qviz.fused) sum in their own fixed row ranges: one task per tensor keeps
        # the DataFrame bit-identical to the single-process scan. The chunk graph mirrors the numpy path only.
        return None
    spans = spans_chunks(tspec, len(info.shape))
    if spans and _histogram(method):
        if int(np.prod(blocks.grid_shape(info.shape, tspec.granularity), dtype=np.int64)) > MAX_SPAN_BLOCKS:
            return None
    rows = row_ranges(info.shape, tspec, chunk_numel)
    return (rows, spans) if len(rows) > 1 else None


def submit_weight(client, path: str, name: str, numel: int, spec, method: str, options: dict, chunk_numel: int, key: str,
                  info=None):
    """A future of ``name``'s analysis row: one task, or the chunk graph of the module docstring."""
    from .distributed import weight_task

    chunked = plan_chunks(info, spec, method, chunk_numel) if info is not None else None
    if chunked is None:
        return client.submit(weight_task, path, name, spec, method, options, chunk_numel, key=key, pure=False)
    rows, spans = chunked
    shape = info.shape
    sub = client.submit
    scans = [sub(scan_task, path, name, spec, r, spans, key=f"{key}-scan{k}", pure=False) for k, r in enumerate(rows)]
    plan = sub(plan_task, scans, spec, shape, method, options, spans, key=f"{key}-plan", pure=False)
    measures = [sub(measure_task, path, name, spec, method, options, r, k, plan, spans, key=f"{key}-measure{k}", pure=False)
                for k, r in enumerate(rows)]
    calibration = errors = None
    if spans and _histogram(method):
        calibration = sub(calibrate_task, scans, measures, spec, shape, method, options, key=f"{key}-cal", pure=False)
        errors = [sub(errors_task, path, name, r, calibration, key=f"{key}-err{k}", pure=False) for k, r in enumerate(rows)]
    return sub(merge_task, path, name, spec, method, options, chunk_numel, scans, plan, measures, calibration, errors,
               key=key, pure=False)
