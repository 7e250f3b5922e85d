"""Per-layer table: what one quantizer does to every tensor of a source, :func:`analyze`.

One row per weight tensor, read one at a time, and, for built-in
models, one row per Linear/Conv input activation (:mod:`qviz.models.capture`); for a user's ONNX
file or Hugging Face folder, when asked (``activations=True`` or ``data=``), one row per
MatMul/Gemm/Conv (Linear/Conv) input captured on calibration data (:mod:`qviz.capture`), its
``note`` saying what the data was and ``flags`` holding ``synthetic`` for synthetic inputs.
For each: statistics (:func:`qviz.stats.tensor_stats`, as the inspector shows them), the calibrated range
(``qviz.calibrate``), the quantization parameters, and every field of
:func:`qviz.error_metrics` on ``fake_quantize(x)``. Peak memory is about one
tensor whatever the model size: tensors over ``chunk_numel`` values (2M) are
analysed in row chunks with the same results (:mod:`qviz.streaming`).

Unusual tensors are handled on purpose, and ``note`` says how:

* integer and bool tensors (indices, counters, masks): statistics only, not quantized;
* empty tensors: no statistics, not quantized; all-NaN tensors: counted only;
* NaN/±Inf values: left out of statistics and calibration, counted in ``nonfinite``;
* a granularity that does not fit (per-channel on a 0-d or 1-d tensor, a group
  size that does not divide the axis): per-tensor is used instead;
* a tensor the source cannot read: a row with the one-line error in ``note``.

Per-block parameters are summarised: ``clip_min`` the lowest, ``clip_max`` the
highest, ``scale`` and ``zero_point`` the median over the ``n_blocks`` blocks.

Example
-------
>>> import qviz
>>> df = qviz.analyze("samples", qviz.QuantSpec(bits=8), "minmax")
>>> round(float(df.set_index("name").loc["uniform", "sqnr_db"]))
48
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from . import blocks
from .affine import fake_quantize
from .fused import Unsupported
from .metrics import Metrics, error_metrics
from .positions import layer_position
from .sources import Source, SourceError, builtin_names, open_source
from .spec import PerChannel, PerTensor, QuantSpec
from .stats import tensor_stats
from .streaming import CHUNK, fused_applies, quantize_chunked, range_summary, scan_tensor, stream_stats
from .calibrate import calibrate
from .capture import is_runnable, open_model

STAT_COLUMNS = ["min", "max", "mean", "std", "kurtosis", "nonfinite", "channel_range_ratio"]
QUANT_COLUMNS = ["granularity", "n_blocks", "clip_min", "clip_max", "scale", "zero_point"]
METRIC_COLUMNS = [f for f in Metrics.names() if f != "nonfinite"]
STORED_COLUMNS = ["format", "bits_per_weight"]  # how an already-quantized checkpoint stores the tensor
COLUMNS = ["name", "kind", "block", "role", "shape", "dtype", "numel", "flags", *STORED_COLUMNS, *STAT_COLUMNS, *QUANT_COLUMNS,
           *METRIC_COLUMNS, "note"]


def _blank(name: str, kind: str, shape: Any, dtype: str, numel: int, flags: Any = ()) -> dict:
    row: dict[str, Any] = dict.fromkeys(COLUMNS, math.nan)
    row.update(
        name=name, kind=kind, shape=tuple(shape), dtype=dtype, numel=int(numel), flags=",".join(flags), granularity="", note="",
        format="",
    )
    row["nonfinite"] = 0
    row["block"], row["role"] = layer_position(name)  # where the tensor sits: block index (or None) and short role
    return row


def frame(rows: list[dict]) -> pd.DataFrame:
    """The analysis rows as a DataFrame with :data:`COLUMNS`; ``block`` keeps Python ints and None (not floats)."""
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["block"] = pd.Series([r.get("block") for r in rows], index=df.index, dtype=object)
    return df


def quantized_columns(source: Source, name: str) -> dict:
    """``format`` and ``bits_per_weight`` of a weight stored already quantized (``""`` and NaN otherwise).

    ``bits_per_weight`` is bytes on disk × 8 / values, every part (codes, scales, zero points,
    metadata) counted; the analysis itself runs on the dequantized values (``source.load``).
    """
    info = source.info(name)
    if not info.quantized or not info.numel:
        return {"format": "", "bits_per_weight": math.nan}
    cheap = getattr(source, "bits_per_weight", None)  # from the header, when the reader can
    bpw = float(cheap(name)) if callable(cheap) else source.quantized(name).bits_per_weight
    return {"format": info.quantized, "bits_per_weight": bpw}


def weight_spec(spec: QuantSpec, shape: tuple) -> tuple[QuantSpec, str]:
    """``spec``, or per-tensor with a note when its granularity does not fit ``shape``."""
    g = spec.granularity
    if isinstance(g, PerTensor):
        return spec, ""
    if isinstance(g, PerChannel) and len(shape) < 2:
        return dataclasses.replace(spec, granularity=PerTensor()), f"{g.describe()} on a {len(shape)}-d tensor: per-tensor used"
    try:
        blocks.grid_shape(shape, g)
    except ValueError as e:
        return dataclasses.replace(spec, granularity=PerTensor()), f"per-tensor used ({e})"
    return spec, ""


def _quant_columns(row: dict, calibration, x: np.ndarray | None) -> None:
    """Fill clip/scale/zero_point summaries and, with ``x``, the error metrics."""
    qp = calibration.qparams
    row.update(range_summary([calibration]))
    if x is not None and x.size:
        m = error_metrics(x, fake_quantize(x, qp), qp).as_dict()
        m.pop("nonfinite")
        row.update(m)


def _note(row: dict, text: str) -> None:
    if text:
        row["note"] = f"{row['note']}; {text}" if row["note"] else text


def _stored_columns(row: dict, source: Source, info) -> None:
    """``format`` and ``bits_per_weight`` of an already-quantized tensor (from the header where the reader can)."""
    if not info.quantized:
        return
    row["format"] = info.quantized
    try:
        row.update(quantized_columns(source, info.name))
    except (SourceError, ValueError) as e:
        _note(row, str(e))


def _start_row(source: Source, name: str):
    """``(info, row)``: the blank row of one weight tensor with what its header says (stored format included)."""
    info = source.info(name)
    row = _blank(name, "weight", info.shape, info.dtype, info.numel, info.flags)
    _stored_columns(row, source, info)
    return info, row


def weight_row(
    source: Source, name: str, spec: QuantSpec, method: str, options: dict, chunk_numel: int = CHUNK, *, pool=None
) -> dict:
    """The analysis row of one weight tensor (never raises for a bad tensor: see ``note``).

    The tensor is read once from the source, then twice by the fused kernels
    (:func:`qviz.streaming.scan_tensor`); its row ranges run on ``pool`` (a
    ``concurrent.futures`` executor) when one is given, with the same result.
    """
    info, row = _start_row(source, name)
    try:
        x = source.load(name)
    except SourceError as e:
        _note(row, str(e))
        return row
    return tensor_row(row, x, info, spec, method, options, chunk_numel, pool)


def tensor_row(row: dict, x: np.ndarray, info, spec: QuantSpec, method: str, options: dict, chunk_numel: int = CHUNK,
               pool=None) -> dict:
    """Fill ``row`` (from :func:`_blank`) with the statistics, range and metrics of the loaded tensor ``x``."""
    tspec, note = weight_spec(spec, x.shape)
    axis = spec.granularity.axis if isinstance(spec.granularity, PerChannel) and x.ndim else 0
    if x.size == 0:
        row.update({k: v for k, v in tensor_stats(x, axis=axis).items() if k in STAT_COLUMNS})
        _note(row, "empty tensor: nothing to quantize")
        return row
    integer = "integer" in info.flags or "bool" in info.flags
    if not fused_applies(x.shape, tspec):
        return _numpy_row(row, x, info, tspec, note, axis, method, options, chunk_numel)
    try:
        stats, quant, metrics = scan_tensor(x, tspec, method, options, axis, chunk_numel, pool, quantize=not integer)
        error = None
    except Unsupported:
        return _numpy_row(row, x, info, tspec, note, axis, method, options, chunk_numel)
    except ValueError as e:
        stats, quant, metrics = scan_tensor(x, tspec, method, options, axis, chunk_numel, pool, quantize=False)
        error = e
    row.update({k: stats[k] for k in STAT_COLUMNS})
    if integer:
        _note(row, f"{info.dtype} tensor (indices, counters or masks): statistics only, not quantized")
        return row
    if _flag_nonfinite(row, stats, x.size, note):
        return row
    if error is not None:
        _note(row, f"not quantized: {error}")
    else:
        row.update(quant, **metrics)
    return row


def _flag_nonfinite(row: dict, stats: dict, size: int, note: str) -> bool:
    """Flag and note NaN/Inf; True when nothing is left to quantize."""
    if stats["nonfinite"] == size:
        row["flags"] = ",".join(f for f in (row["flags"], "nonfinite") if f)
        _note(row, "no finite values: nothing to quantize")
        return True
    _note(row, note)
    if stats["nonfinite"]:
        row["flags"] = ",".join(f for f in (row["flags"], "nonfinite") if f)
        _note(row, f"{stats['nonfinite']:,} NaN/Inf values left out of calibration and metrics")
    return False


def _numpy_row(row, x, info, tspec, note, axis, method, options, chunk_numel) -> dict:
    """The numpy path (stochastic rounding, code sets too large for the fused masks)."""
    big = x.size > chunk_numel and x.ndim >= 1
    stats = stream_stats(x, tspec, chunk_numel, axis) if big else tensor_stats(x, axis=axis)
    row.update({k: stats[k] for k in STAT_COLUMNS})
    if "integer" in info.flags or "bool" in info.flags:
        _note(row, f"{info.dtype} tensor (indices, counters or masks): statistics only, not quantized")
        return row
    if _flag_nonfinite(row, stats, x.size, note):
        return row
    try:
        if big:
            quant, metrics = quantize_chunked(x, tspec, method, options, chunk_numel)
            metrics.pop("nonfinite")
            row.update(quant, **metrics)
        else:
            _quant_columns(row, calibrate(x, tspec, method, **options), x)
    except ValueError as e:
        _note(row, f"not quantized: {e}")
    return row


def activation_row(act: Any) -> dict:
    """The analysis row of one captured activation (:class:`qviz.models.capture.Activation`)."""
    row = _blank(act.name, "activation", act.shape, "float32", act.numel)
    row.update({k: act.stats[k] for k in STAT_COLUMNS})
    if act.stats["nonfinite"]:
        row["flags"] = "nonfinite"
    _note(row, act.note)
    if act.error or act.calibration is None:
        _note(row, f"not quantized: {act.error}")
        return row
    _quant_columns(row, act.calibration, act.sample)
    if act.sample.size < act.numel:
        _note(row, f"error metrics on the first {act.sample.size:,} of {act.numel:,} values; range calibrated on all")
    return row


#: values of the tensors being analysed at once (a larger tensor runs alone), so peak memory stays bounded
IN_FLIGHT_VALUES = 1 << 26


class _Budget:
    """A counting semaphore over values: ``hold(n)`` waits until ``min(n, limit)`` values are free."""

    def __init__(self, limit: int):
        self.limit, self.free = limit, limit
        self.cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, n: int):
        n = max(1, min(int(n), self.limit))
        with self.cond:
            self.cond.wait_for(lambda: self.free >= n)
            self.free -= n
        try:
            yield
        finally:
            with self.cond:
                self.free += n
                self.cond.notify_all()


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def weight_rows(src: Source, names: list, spec: QuantSpec, method: str, options: dict, chunk_numel: int = CHUNK,
                workers: int = 1, progress=None) -> list[dict]:
    """:func:`weight_row` of every name, on ``workers`` threads, rows in ``names`` order.

    Up to ``workers`` tensors are read and analysed at once while their values fit
    :data:`IN_FLIGHT_VALUES` (a larger tensor runs alone); reads go one at a time, and
    each tensor's row ranges share one pool of ``workers`` threads (the kernels release
    the GIL). ``progress(done, name, numel)`` after each tensor, in completion order.
    """
    if workers <= 1:
        rows = []
        for name in names:
            rows.append(weight_row(src, name, spec, method, options, chunk_numel))
            if progress:
                progress(len(rows), name, src.info(name).numel)
        return rows
    from concurrent.futures import ThreadPoolExecutor, as_completed

    budget, read_lock = _Budget(IN_FLIGHT_VALUES), threading.Lock()

    def job(name, pool):
        info = src.info(name)
        with budget.hold(info.numel):
            info, row = _start_row(src, name)
            try:
                with read_lock:  # one read at a time: sources need not be thread-safe, and reads overlap compute
                    x = src.load(name)
            except SourceError as e:
                _note(row, str(e))
                return row
            return tensor_row(row, x, info, spec, method, options, chunk_numel, pool)

    with ThreadPoolExecutor(workers, thread_name_prefix="qviz-rows") as pool, ThreadPoolExecutor(
        workers, thread_name_prefix="qviz-tensors"
    ) as drivers:
        futures = {drivers.submit(job, name, pool): name for name in names}
        for k, f in enumerate(as_completed(futures)):
            if progress:
                name = futures[f]
                progress(k + 1, name, src.info(name).numel)
        return [f.result() for f in futures]


def _user_model(source, activations, data):
    """The runner of a user's model when activations were asked for (None for built-ins and plain files)."""
    if not activations:
        return None
    path = getattr(source, "path", source)
    if isinstance(path, (str, os.PathLike)) and is_runnable(path):
        return open_model(path)
    if data is not None:
        if isinstance(source, str) and source in builtin_names():
            raise ValueError(f"{source}: built-ins run on their own calibration data; data= is for your own .onnx file or model folder")
        raise ValueError(f"{getattr(source, 'label', source)}: calibration data needs a model qviz can run (an .onnx file or a "
                         "Hugging Face folder with config.json); this source holds weights only")
    return None


def analyze(
    source: Any,
    spec: QuantSpec,
    method: str = "minmax",
    *,
    activations: bool | None = None,
    data: Any = None,
    samples: int | None = None,
    batch_size: int = 8,
    progress: Callable[..., Any] | None = None,
    sample_numel: int | None = None,
    chunk_numel: int = CHUNK,
    workers: int | None = None,
    cache: bool = False,
    scheduler=None,
    **options: Any,
) -> pd.DataFrame:
    """One row per weight tensor (and per activation for built-in models): statistics, range, error.

    Parameters
    ----------
    source : Source | str | os.PathLike | bytes
        An open source, or anything :func:`qviz.open_source` accepts.
    spec : QuantSpec
    method : str
        Calibration method of ``qviz.calibrate`` ("minmax", "percentile", "entropy", "mse", …).
    activations : bool, optional
        Also calibrate every Linear/Conv (MatMul/Gemm/Conv) input on calibration data. Default (None): for
        built-in models only. ``True`` runs a user's ONNX file or Hugging Face folder too (:mod:`qviz.capture`;
        never implied for them: it costs time and memory); ``False`` never.
    data : str | os.PathLike | dict | qviz.data.CalibrationData, optional
        Calibration data for a user model (implies ``activations=True``): an ``.npz`` or folder of ``.npy``,
        a folder of images, a text file (one sample per line); default the built-in corpus for models with a
        tokenizer, else synthetic inputs (rows flagged ``synthetic``).
    samples, batch_size : int
        Calibration samples used (default all, 8 synthetic) and samples per forward pass.
    progress : callable, optional
        ``progress(done, total, name)`` after each tensor (activations count as one step); a callback
        with a ``values`` parameter also gets ``values=(values_done, values_total)`` (for a rate and an
        ETA: :class:`qviz.progress.ScanMeter`).
    sample_numel : int, optional
        Values per activation kept for its error metrics (default 2**18).
    chunk_numel : int
        Tensors are analysed in row ranges of at most this many values (and at most
        ``qviz.fused.TASK_NUMEL``); histogram calibrators stream tensors over it in row chunks
        (:mod:`qviz.streaming`): same results, memory bounded by the chunk.
    workers : int, optional
        Threads (default: every core). Tensors, and row ranges of each tensor, run in parallel
        with a bounded number in flight; the DataFrame is the same for any ``workers``.
    cache : bool
        Reuse (and store) the result on disk for a checkpoint path (:mod:`qviz.scan_cache`,
        ``$XDG_CACHE_HOME/qviz``); keyed by each file's path, size, mtime and header digest and by
        every setting. Ignored for uploads (bytes), open sources and built-ins.
    scheduler : str or distributed.Client, optional
        Run one task per tensor on a Dask cluster (:mod:`qviz.distributed`): ``"local:N"`` (N
        worker processes on this machine), ``"tcp://host:8786"`` (a running ``dask scheduler``),
        or a connected ``Client``. ``source`` must then be a path or a built-in name the workers
        can open. Same DataFrame as without it, bit for bit.
    **options
        Passed to the calibration method.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: ``name``, ``kind``, ``block`` and ``role`` (:func:`qviz.layer_position`), ``shape``, ``dtype``, ``numel``, ``flags``,
        the statistics, the quantization parameters, every field of :class:`qviz.Metrics`
        (``nonfinite`` once) and ``note``.
    """
    from .progress import wants_values

    if not isinstance(spec, QuantSpec):
        raise ValueError(f"spec must be a qviz.QuantSpec, got {type(spec).__name__}")
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive number of threads (or None for every core), got {workers!r}")
    calibrate(np.linspace(-1, 1, 64, dtype=np.float32), dataclasses.replace(spec, granularity=PerTensor()), method, **options)
    if scheduler is not None:  # the scan on a Dask cluster
        from .distributed import analyze_on_cluster

        if data is not None:
            raise ValueError("calibration data (data=) runs your model in this process; scan on a cluster without it")
        return analyze_on_cluster(source, spec, method, scheduler, activations=activations, progress=progress,
                                  sample_numel=sample_numel, chunk_numel=chunk_numel, **options)
    if data is not None:
        activations = True
    user = _user_model(source, activations, data)
    key = None
    if cache and data is None and isinstance(source, (str, os.PathLike)) and os.path.exists(source):
        from . import scan_cache

        settings = dict(spec=spec, method=method, options=options, activations=activations, sample_numel=sample_numel,
                        chunk_numel=chunk_numel)
        key = scan_cache.scan_key(source, settings)
        hit = scan_cache.load(key)
        if hit is not None and list(hit.columns) == COLUMNS:
            if progress:
                n, v = len(hit), int(hit["numel"].sum())
                progress(n, n, "from the cache", **({"values": (v, v)} if wants_values(progress) else {}))
            return hit
    src = source if isinstance(source, Source) else open_source(source)
    names = src.names()
    capture = user is not None or (activations is not False and callable(getattr(src, "capture", None)))
    total = len(names) + (1 if capture else 0)
    values_total = sum(src.info(n).numel for n in names)
    rich = bool(progress) and wants_values(progress)
    done_values = 0

    def tick(done, name, numel):
        nonlocal done_values
        done_values += numel
        if rich:
            progress(done, total, name, values=(done_values, values_total))
        else:
            progress(done, total, name)

    rows = weight_rows(src, names, spec, method, options, chunk_numel, workers, tick if progress else None)
    if capture:
        step = (lambda d, t, msg: progress(len(names), total, f"activations: {msg}")) if progress else None
        kw = {} if sample_numel is None else {"sample_numel": sample_numel}
        if user is not None:
            acts = user.capture(spec, method, data=data, samples=samples, batch_size=batch_size, progress=step, **kw, **options)
        else:
            acts = getattr(src, "capture")(spec, method, progress=step, **kw, **options)  # a model source (duck-typed above)
        for act in acts:
            row = activation_row(act)
            if getattr(user, "synthetic", False):
                row["flags"] = ",".join(f for f in (row["flags"], "synthetic") if f)
            rows.append(row)
        if progress:
            progress(total, total, "activations")
    df = frame(rows)
    if key is not None:
        scan_cache.store(key, df)
    return df
