"""Quantization parameters out of qviz: a JSON of every tensor's range, scale and zero point, and runtime formats.

:func:`export_params` calibrates every float tensor of a source (and, for the
built-in models, every Linear/Conv input activation) and returns a plain dict::

    {"format": "qviz.params/1", "source": ..., "spec": {...}, "calibrator": ..., "options": {...},
     "tensors": {name: {"kind", "shape", "dtype", "granularity", "axis", "group_size", "grid",
                        "clip_min", "clip_max", "scale", "zero_point", "qmin", "qmax", "amax", "note"}},
     "skipped": {name: reason}}

Per-tensor values are numbers; per-channel and per-group values are nested lists
shaped as the block grid (``grid``, one entry per block, e.g. ``[64, 1]`` for
per-channel on axis 0 of a ``(64, 512)`` weight). ``amax`` is ``max(|clip_min|, |clip_max|)``
over all blocks: the one symmetric range a per-tensor runtime takes.

Runtime formats, written from that dict:

* :func:`ort_calibration_table` — ONNX Runtime's calibration cache (``TensorsData`` JSON, per-tensor
  ``lowest``/``highest``), read by ``onnxruntime.quantization.load_tensors_data`` and by
  ``quantize_static(..., calibration_cache_path=..., calibrate_method=CalibrationMethod.MinMax)``.
* :func:`ort_overrides` — ONNX Runtime's ``TensorQuantOverrides``: every weight's own scale and zero
  point (per channel too), for ``quantize_static(..., extra_options={"TensorQuantOverrides": ...})``.
* :func:`trt_dynamic_ranges` — TensorRT per-tensor dynamic ranges, one ``name: amax`` line per
  tensor (``ITensor.set_dynamic_range(-amax, amax)``, the format of TensorRT's ``sampleINT8API``).
* :func:`trt_calibration_cache` — a TensorRT INT8 calibration cache (``trtexec --calib=FILE``, an
  ``IInt8Calibrator.read_calibration_cache``): a header line, then ``name: <hex>`` with the
  big-endian float32 bits of ``amax / 127``.

Example
-------
>>> import qviz
>>> p = export_params("samples", qviz.QuantSpec(bits=8))
>>> t = p["tensors"]["uniform"]
>>> t["granularity"], t["zero_point"], round(t["scale"] * 127.5 / t["amax"], 6)
('tensor', 0, 1.0)
>>> trt_dynamic_ranges(p).splitlines()[0].startswith("gaussian: ")
True
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable
import os

import dataclasses
import json
import math
import struct

import numpy as np

from .analyze import weight_spec
from .sources import Source, SourceError, open_source
from .spec import PerChannel, PerGroup, QuantSpec
from .calibrate import calibrate
from .calibrate.result import Calibration

FORMAT = "qviz.params/1"
TRT_HEADER = "TRT-8601-EntropyCalibration2"  # TensorRT reads the values whatever the version in the header


def jsonable(v: Any) -> Any:
    """numpy values and arrays as plain JSON values: NaN → None, ±inf → ``"inf"``/``"-inf"`` (strict JSON)."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return None
        return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")
    return v


def spec_dict(spec: QuantSpec) -> dict:
    """A :class:`QuantSpec` as JSON: its fields, granularity spelled out, qmin/qmax and a description."""
    g = spec.granularity
    d = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec) if f.name != "granularity"}
    d["granularity"] = {"kind": _kind(g), "axis": getattr(g, "axis", None), "group_size": getattr(g, "group_size", None)}
    return {**d, "qmin": spec.qmin, "qmax": spec.qmax, "describe": spec.describe()}


def _kind(g) -> str:
    return "channel" if isinstance(g, PerChannel) else "group" if isinstance(g, PerGroup) else "tensor"


def _values(a: np.ndarray):
    """A grid-shaped array as a number (one block) or a nested list."""
    a = np.asarray(a)
    return jsonable(a.ravel()[0] if a.size == 1 else a)


def calibration_entry(cal: Calibration, kind: str, shape: tuple[int, ...], dtype: str, note: str = "") -> dict:
    """One tensor's entry of the export from its :class:`qviz.Calibration`."""
    spec, qp = cal.spec, cal.qparams
    g = spec.granularity
    amax = float(np.max(np.maximum(np.abs(cal.clip_min), np.abs(cal.clip_max))))
    return {
        "kind": kind, "shape": list(shape), "dtype": dtype, "granularity": _kind(g),
        "axis": getattr(g, "axis", None), "group_size": getattr(g, "group_size", None), "grid": list(np.shape(cal.clip_min)),
        "clip_min": _values(cal.clip_min), "clip_max": _values(cal.clip_max),
        "scale": _values(qp.scale), "zero_point": _values(np.asarray(qp.zero_point).astype(np.int64)),
        "qmin": spec.qmin, "qmax": spec.qmax, "amax": amax, "note": note,
    }


def export_params(source: Any, spec: QuantSpec, method: str = "minmax", *, activations: bool = True, progress: Callable[..., Any] | None = None,
                  **options: Any) -> dict:
    """Every tensor's clip range, scale and zero point under ``spec`` and ``method`` (see the module docstring).

    Parameters
    ----------
    source : Source | str | os.PathLike | bytes
        Anything :func:`qviz.open_source` accepts.
    spec : QuantSpec
    method : str
        A calibrator of :func:`qviz.calibrate`.
    activations : bool
        For built-in models, also the input of every Linear/Conv on the model's calibration data.
    progress : callable, optional
        ``progress(done, total, name)`` after each tensor.
    **options
        Passed to the calibrator (e.g. ``percentile=99.9``).
    """
    src = source if isinstance(source, Source) else open_source(source)
    out = {"format": FORMAT, "source": src.label, "spec": spec_dict(spec), "calibrator": method, "options": jsonable(options),
           "tensors": {}, "skipped": {}}
    names = src.names()
    capture = activations and callable(getattr(src, "capture", None))
    total = len(names) + (1 if capture else 0)
    for i, name in enumerate(names):
        info = src.info(name)
        reason = _skip_reason(info)
        if reason is None:
            try:
                x = src.load(name)
                tspec, note = weight_spec(spec, x.shape)
                out["tensors"][name] = calibration_entry(calibrate(x, tspec, method, **options), "weight", info.shape, info.dtype, note)
            except SourceError as e:
                reason = str(e)
            except ValueError as e:  # only NaN/Inf values, and the like
                reason = f"not quantized: {e}"
        if reason is not None:
            out["skipped"][name] = reason
        if progress:
            progress(i + 1, total, name)
    if capture:
        for act in getattr(src, "capture")(spec, method, **options):  # a model source (duck-typed above)
            if act.calibration is None:
                out["skipped"][act.name] = f"not quantized: {act.error}"
            else:
                out["tensors"][act.name] = calibration_entry(act.calibration, "activation", act.shape, "float32", act.note)
        if progress:
            progress(total, total, "activations")
    return out


def _skip_reason(info) -> str | None:
    if info.numel == 0:
        return "empty tensor: nothing to quantize"
    if "integer" in info.flags or "bool" in info.flags:
        return f"{info.dtype} tensor (indices, counters or masks): not quantized"
    return None


def ort_calibration_table(params: dict) -> dict:
    """ONNX Runtime's calibration cache (``TensorsData.to_dict`` JSON): per-tensor (lowest, highest).

    Per-block ranges become the tensor's widest range (lowest ``clip_min``, highest ``clip_max``).
    """

    def arr(v):
        return {"data": float(np.float32(v)), "dtype": "float32", "CLS": "numpy.array"}

    data = {}
    for name, t in params["tensors"].items():
        lo, hi = float(np.min(t["clip_min"])), float(np.max(t["clip_max"]))
        data[name] = {"lowest": arr(lo), "highest": arr(hi), "CLS": "TensorData"}
    return {"CLS": "TensorsData", "data": data, "calibration_method": {"CLS": "CalibrationMethod", "value": "CalibrationMethod.MinMax"},
            "smooth_quant": False}


def ort_overrides(params: dict) -> tuple[dict, list]:
    """ONNX Runtime's ``TensorQuantOverrides`` (``quantize_static(extra_options=...)``): each weight's scale and zero point.

    Per-tensor: ``[{"scale": s, "zero_point": z}]``; per-channel: one dict per channel, the first
    with ``"axis"``. Returns ``(overrides, skipped names)``: per-group tensors (ONNX Runtime has no
    per-group override) and activations (not ONNX tensor names) are left out.
    """
    out, skipped = {}, []
    for name, t in params["tensors"].items():
        if t["kind"] != "weight" or t["granularity"] == "group":
            skipped.append(name)
            continue
        scales, zps = np.ravel(t["scale"]).tolist(), np.ravel(t["zero_point"]).astype(int).tolist()
        entries = [{"scale": s, "zero_point": z} for s, z in zip(scales, zps)]
        if t["granularity"] == "channel":
            entries[0] = {"axis": t["axis"] % len(t["shape"]), **entries[0]}
        out[name] = entries
    return out, skipped


def trt_dynamic_ranges(params: dict) -> str:
    """TensorRT per-tensor dynamic ranges: ``name: amax`` lines (``set_dynamic_range(-amax, amax)``)."""
    return "".join(f"{name}: {t['amax']:.9g}\n" for name, t in params["tensors"].items())


def trt_calibration_cache(params: dict, header: str = TRT_HEADER) -> str:
    """A TensorRT INT8 calibration cache: ``header`` then ``name: <big-endian float32 hex of amax/127>``."""
    lines = [header]
    for name, t in params["tensors"].items():
        scale = np.float32(t["amax"] / 127.0)
        lines.append(f"{name}: {struct.pack('>f', scale).hex()}")
    return "\n".join(lines) + "\n"


def write_json(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` as indented strict JSON (``jsonable`` first)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(jsonable(obj), f, indent=1, allow_nan=False)
        f.write("\n")
