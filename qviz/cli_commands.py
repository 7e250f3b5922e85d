"""The commands of :mod:`qviz.cli`, one small function each, and their arguments.

Example
-------
>>> from qviz.cli import main
>>> main(["calibrate", "samples", "--tensor", "uniform", "--json", "--out", "/dev/null"])
0
"""

from __future__ import annotations

import argparse

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import export as ex
from .analyze import analyze, weight_spec
from .calibrate import compare_calibrators
from .calibrate.registry import options_for
from .cli import UsageError, dump_json, emit, method_options, open_path, progress_for, spec_from_args
from .export import calibration_entry, spec_dict
from .impact import ModelQuantizer, sensitivity_report
from .models import MODELS
from .path_policy import ALLOW_ENV
from .report import write_report
from .spec import QuantSpec
from .capture import is_runnable
from .sources import builtin_names
from .capture import OnnxModel, open_model
from .data import data_kind
from .impact.user_model import user_quantizer
from .cli_sweep import sweep_args, sweep_cmd

TABLE = ["name", "kind", "shape", "dtype", "granularity", "clip_min", "clip_max", "scale", "zero_point", "sqnr_db", "psnr_db",
         "note"]


def _warn(msg: str) -> None:
    sys.stderr.write(f"qviz: {msg}\n")


def _check_readable(df: pd.DataFrame, label: str) -> None:
    """Exit 2 when no tensor could be read at all (a truncated or corrupt file); warn when some could not."""
    weights = df[df["kind"] == "weight"]
    unread = weights[weights["note"].str.startswith(f"{label}:")]
    if len(weights) and len(unread) == len(weights):
        raise UsageError(unread["note"].iloc[0])
    if len(unread):
        _warn(f"warning: {len(unread)} of {len(weights)} tensors could not be read, e.g. {unread['note'].iloc[0]}")


def format_table(df: pd.DataFrame) -> str:
    """A readable fixed-width table of the main columns (csv/json have them all)."""
    stored = ["format", "bits_per_weight"] if "format" in df and df["format"].astype(bool).any() else []
    t = df[TABLE[:4] + stored + TABLE[4:]].copy()
    if stored:  # an already-quantized checkpoint: how each tensor is stored
        t["bits_per_weight"] = t["bits_per_weight"].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    t["shape"] = t["shape"].map(lambda s: "×".join(map(str, s)) or "scalar")
    t["note"] = t["note"].map(lambda s: s if len(s) <= 60 else s[:57] + "…")
    for c in ("clip_min", "clip_max", "scale"):
        t[c] = t[c].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    for c in ("sqnr_db", "psnr_db"):
        t[c] = t[c].map(lambda v: "" if pd.isna(v) else ("inf" if np.isinf(v) else f"{v:.2f}"))
    t["zero_point"] = t["zero_point"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    return t.to_string(index=False) + "\n"


def scan(a: argparse.Namespace) -> int:
    spec = spec_from_args(a)
    method, options = method_options(a)
    if a.scheduler:  # the scan on a Dask cluster: the workers open the path themselves
        from .cli_cluster import scan_on_cluster

        if a.activations or a.data:
            raise UsageError("--activations/--data run your model in this process; scan on a cluster without them")
        act = None
        df, src = scan_on_cluster(a, spec, method, options)
    else:
        src = open_path(a.path)
        bar = progress_for(a)
        act, run_kw = _activation_args(a)
        target = a.path if act or os.path.exists(a.path) else src  # a path on disk can use the scan cache
        try:
            df = analyze(target, spec, method, activations=act, progress=bar, workers=a.workers, cache=not a.no_cache,
                         **run_kw, **options)
        finally:
            bar.close()
    _check_readable(df, src.label)
    if act and df["flags"].str.contains("synthetic").any():
        _warn("note: activations from synthetic inputs (no --data): ranges from synthetic data can mislead")
    if a.format == "csv":
        out = df.assign(shape=df["shape"].map(lambda s: "x".join(map(str, s)))).to_csv(index=False)
    elif a.format == "json":
        out = dump_json([{k: (list(v) if k == "shape" else v) for k, v in r.items()} for r in df.to_dict("records")])
    else:
        out = f"{src.label} · {spec.describe()} · calibrator {method}\n" + format_table(df)
    emit(out, a.out)
    return 0


def _activation_args(a: argparse.Namespace) -> tuple:
    """``(activations, {data, samples, batch_size})`` from ``--activations/--data/--samples/--batch-size``."""
    if a.no_activations and (a.activations or a.data):
        raise UsageError("--no-activations contradicts --activations/--data")
    if a.samples is not None and a.samples < 1 or a.batch_size < 1:
        raise UsageError("--samples and --batch-size must be at least 1")
    act = False if a.no_activations else (True if a.activations or a.data else None)
    if act:
        if a.path not in builtin_names() and not is_runnable(a.path):
            raise UsageError(f"{os.path.basename(os.path.normpath(a.path))}: --activations/--data need a model qviz can run "
                             "(an .onnx file or a Hugging Face folder with config.json); scan its weights without them")
    data = a.data
    if a.mean is not None or a.std is not None:
        data = _image_data(a)
    return act, {"data": data, "samples": a.samples, "batch_size": a.batch_size}


def argparse_path(a: argparse.Namespace) -> argparse.Namespace:
    """``a`` with ``path`` set (sensitivity names its positional ``model``)."""
    a.path = getattr(a, "path", None) or a.model
    return a


def _image_data(a: argparse.Namespace) -> Any:
    """``--data FOLDER --mean … --std …``: the image folder normalised for the ONNX model's image input."""
    if not a.data or data_kind(a.data) != "images":
        raise UsageError("--mean and --std need --data with a folder of images")
    model = open_model(a.path)
    if not isinstance(model, OnnxModel):
        raise UsageError("--mean and --std apply to ONNX image models; give a transformers folder an .npz of pixel_values")
    return model.resolve_data(a.data, a.samples, mean=a.mean if a.mean is not None else 0.0, std=a.std if a.std is not None else 1.0)


def calibrate_cmd(a: argparse.Namespace) -> int:
    spec = spec_from_args(a)
    method, options = method_options(a, allow_all=True)
    src = open_path(a.path)
    names = src.names()
    if a.tensor is None:
        if len(names) != 1:
            raise UsageError(f"{src.label} holds {len(names)} tensors: choose one with --tensor (e.g. --tensor {names[0]})"
                             if names else f"{src.label}: holds no tensors")
        a.tensor = names[0]
    x = src.load(a.tensor)
    info = src.info(a.tensor)
    tspec, note = weight_spec(spec, x.shape)
    if note:
        _warn(f"note: {note}")
    try:
        table = compare_calibrators(x, tspec, None if method == "all" else [method], **options)
    except ValueError as e:
        raise UsageError(f"{src.label}: tensor {a.tensor!r}: {e}") from None
    results = []
    for r in table.itertuples():
        c = r.calibration
        entry = calibration_entry(c, "weight", info.shape, info.dtype, note)
        results.append({"calibrator": r.calibrator, "criterion": r.criterion, **{k: entry[k] for k in (
            "granularity", "axis", "group_size", "grid", "clip_min", "clip_max", "scale", "zero_point", "qmin", "qmax", "amax")},
            "data_min": float(np.min(c.data_min)), "data_max": float(np.max(c.data_max)), "n": c.n,
            "metrics": r.metrics.as_dict()})
    if a.json:
        emit(dump_json({"source": src.label, "tensor": a.tensor, "shape": list(info.shape), "dtype": info.dtype,
                        "spec": spec_dict(tspec), "note": note, "calibrations": results}), a.out)
        return 0
    rows = [{"calibrator": r["calibrator"], "clip_min": float(np.min(r["clip_min"])), "clip_max": float(np.max(r["clip_max"])),
             "scale": float(np.median(r["scale"])), "zero_point": int(np.median(r["zero_point"])),
             "sqnr_db": r["metrics"]["sqnr_db"], "psnr_db": r["metrics"]["psnr_db"], "mse": r["metrics"]["mse"],
             "clip_mse": r["metrics"]["clip_mse"], "round_mse": r["metrics"]["round_mse"]} for r in results]
    head = f"{src.label} · {a.tensor} {tuple(info.shape)} · {tspec.describe()}"
    if results[0]["grid"] and np.prod(results[0]["grid"]) > 1:
        head += " (clip range over all blocks, median scale and zero point; --json for every block)"
    emit(head + "\n" + pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.6g}") + "\n", a.out)
    return 0


def report(a: argparse.Namespace) -> int:
    spec = spec_from_args(a)
    method, options = method_options(a)
    if a.worst < 1 or a.histograms < 0:
        raise UsageError("--worst must be at least 1 and --histograms at least 0")
    src = open_path(a.path)
    bar = progress_for(a)
    try:
        df = analyze(src, spec, method, progress=bar, **options)
    finally:
        bar.close()
    _check_readable(df, src.label)
    size = write_report(a.out, src, spec, method, worst=a.worst, histograms=a.histograms, df=df, **options)
    _warn(f"wrote {a.out} ({size / 1e6:.1f} MB, opens offline)")
    return 0


def export(a: argparse.Namespace) -> int:
    spec = spec_from_args(a)
    method, options = method_options(a)
    if (a.trt_cache or a.trt_ranges) and not (spec.bits == 8 and spec.signed and spec.symmetric):
        _warn("warning: TensorRT quantizes int8 symmetric; its files get amax = max(|clip_min|, |clip_max|) of this spec's ranges")
    src = open_path(a.path)
    bar = progress_for(a)
    try:
        params = ex.export_params(src, spec, method, activations=not a.no_activations, progress=bar, **options)
    finally:
        bar.close()
    if not params["tensors"]:
        raise UsageError(f"{src.label}: no tensor could be quantized ({next(iter(params['skipped'].values()), 'none found')})")
    ex.write_json(params, a.out)
    written = [a.out]
    if a.ort:
        ex.write_json(ex.ort_calibration_table(params), a.ort)
        written.append(a.ort)
    if a.ort_overrides:
        overrides, left_out = ex.ort_overrides(params)
        ex.write_json(overrides, a.ort_overrides)
        written.append(a.ort_overrides)
        if left_out:
            _warn(f"note: {len(left_out)} tensors not in the ONNX Runtime overrides (per-group or activations), e.g. {left_out[0]}")
    for path, fn in ((a.trt_ranges, ex.trt_dynamic_ranges), (a.trt_cache, ex.trt_calibration_cache)):
        if path:
            with open(path, "w", encoding="utf-8") as f:
                f.write(fn(params))
            written.append(path)
    skipped = f", {len(params['skipped'])} skipped (see 'skipped')" if params["skipped"] else ""
    _warn(f"exported {len(params['tensors'])} tensors{skipped}: {', '.join(written)}")
    return 0


def _check_granularity_fits(spec: QuantSpec, shapes: dict, model: str) -> None:
    """Refuse a granularity that fits none of the model's weights (e.g. ``--axis 99``) instead of falling back silently."""
    notes = {n: weight_spec(spec, s)[1] for n, s in shapes.items()}
    if shapes and all(notes.values()):
        dims = sorted({len(s) for s in shapes.values()})
        raise UsageError(f"{spec.granularity.describe()} fits none of {model}'s {len(shapes)} layer weights "
                         f"({'/'.join(map(str, dims))}-d; {next(iter(notes.values()))}): choose an axis within their dimensions")


def sensitivity_cmd(a: argparse.Namespace) -> int:
    spec = spec_from_args(a)
    method, options = method_options(a)
    bar = progress_for(a)
    if a.model not in MODELS:
        if not is_runnable(a.model):
            raise UsageError(f"{a.model}: sensitivity needs a built-in model ({', '.join(MODELS)}), an .onnx file or a "
                             "Hugging Face folder with config.json")
    elif a.data:
        raise UsageError("--data is for your own model; the built-in models bring their calibration data")
    try:
        if a.model in MODELS:
            mq = ModelQuantizer(a.model, method, **options_for(method, options))
        else:
            data = _image_data(argparse_path(a)) if a.mean is not None or a.std is not None else a.data
            mq = user_quantizer(a.model, method, data=data, samples=a.samples, batch_size=a.batch_size, **options_for(method, options))
            if mq.synthetic:
                _warn(f"note: no --data: synthetic inputs ({mq.data_description}); ranges from synthetic data can mislead")
        if hasattr(mq, "fp32_weight"):
            _check_granularity_fits(spec, {n: tuple(mq.fp32_weight(n).shape) for n in mq.layers}, a.model)
        rep = sensitivity_report(mq, spec, a.what, method, all_but_one=not a.one_at_a_time, progress=bar)
    finally:
        bar.close()
    if a.json:
        emit(dump_json(rep), a.out)
        return 0
    lines = [f"{a.model} · {spec.describe()} · {a.what} · calibrator {method}",
             f"{rep['metric']}: fp32 {rep['fp32']:.4f}, quantized {rep['quantized']:.4f}", "most sensitive first:"]
    lines += [f"  {i + 1:>2}. {r['layer']:<40} delta {r['delta']:+.4f}" for i, r in enumerate(rep["ranking"])]
    emit("\n".join(lines) + "\n", a.out)
    return 0


def app_command(a: argparse.Namespace, root: Path | None = None) -> list[str]:
    """The command line ``qviz app`` runs (``python -m streamlit run <repo>/app.py …``)."""
    root = root or Path(__file__).resolve().parents[1]
    script = root / "app.py"
    if not script.is_file():
        raise UsageError(f"the dashboard's app.py is not next to the qviz package ({root}); run qviz app from a clone of the repository")
    cmd = [sys.executable, "-m", "streamlit", "run", str(script)]
    if a.port:
        cmd += ["--server.port", str(a.port)]
    return cmd


def _port(text: str) -> int:
    """A TCP port for ``--port``: an integer from 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise UsageError(f"--port: invalid int value {text!r} (a whole number from 1 to 65535)") from None
    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be from 1 to 65535, got {port}")
    return port


def app(a: argparse.Namespace) -> int:
    env = dict(os.environ)
    if a.path:
        open_path(a.path)  # a bad file fails here, in one line, before the server starts
        env["QVIZ_OPEN"] = a.path if not os.path.exists(a.path) else os.path.abspath(a.path)
    env.setdefault(ALLOW_ENV, os.path.abspath(os.sep))  # started for local use: the "Local path" source (qviz.path_policy)
    cmd = app_command(a)
    return subprocess.run(cmd, env=env, cwd=str(Path(cmd[4]).parent), check=False).returncode


def _compare(a) -> int:
    from .cli_compare import compare_cmd

    return compare_cmd(a)


def _compare_args(p):
    from .cli_compare import compare_args

    compare_args(p)


def _path(p, required: bool = True) -> None:
    p.add_argument("path", metavar="PATH", nargs=None if required else "?", help="a file, a model folder, or a built-in name")


def _scan_args(p):
    _path(p)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="default table")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--progress", action="store_true", help="progress line on stderr even when it is not a terminal")
    p.add_argument("--no-activations", action="store_true", help="weights only (built-in models also calibrate activations)")
    _data_args(p)
    p.add_argument("--scheduler", metavar="ADDRESS", help="run one task per tensor on a Dask cluster: tcp://host:8786 "
                   "(a running `dask scheduler`) or local[:N] (N worker processes here); same table")
    p.add_argument("--activations", action="store_true",
                   help="also run your .onnx file or model folder and calibrate every MatMul/Gemm/Conv (Linear/Conv) input "
                        "(built-in text for models with a tokenizer, else synthetic inputs)")
    p.add_argument("--workers", type=_positive, metavar="N", help="threads (default: every core)")
    p.add_argument("--no-cache", action="store_true",
                   help="analyse again even when the same file and settings were scanned before ($XDG_CACHE_HOME/qviz)")


def _data_args(p):
    p.add_argument("--data", metavar="FILE", help="calibration data for your model (implies --activations): .npz (one array "
                   "per input), a folder of .npy or of images, or a text file (one sample per line)")
    p.add_argument("--samples", type=int, help="calibration samples used (default all; 8 synthetic)")
    p.add_argument("--batch-size", type=int, default=8, help="samples per forward pass (default 8)")
    p.add_argument("--mean", type=float, nargs="+", metavar="M", help="images: per-channel mean subtracted after scaling to [0, 1] (default 0)")
    p.add_argument("--std", type=float, nargs="+", metavar="S", help="images: per-channel std divided by (default 1)")


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of threads, got {text!r}")
    return n


def cache_cmd(a) -> int:
    from . import scan_cache

    if a.action == "clear":
        n, size = scan_cache.clear()
        print(f"removed {n} cached scan{'s' if n != 1 else ''} ({size / 1e6:.1f} MB) from {scan_cache.cache_dir()}")
    else:
        print(scan_cache.cache_dir())
    return 0


def _cache_args(p):
    p.add_argument("action", choices=["clear", "dir"], help="clear: delete every cached scan; dir: print where they are")


def _calibrate_args(p):
    _path(p)
    p.add_argument("--tensor", metavar="NAME", help="the tensor (optional when the file holds one)")
    p.add_argument("--json", action="store_true", help="JSON with per-block lists instead of a table")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")


def _report_args(p):
    _path(p)
    p.add_argument("--out", metavar="FILE", required=True, help="the HTML file to write")
    p.add_argument("--worst", type=int, default=10, help="rows of the worst-layers table (default 10)")
    p.add_argument("--histograms", type=int, default=5, help="worst weights drawn with every calibrator (default 5)")
    p.add_argument("--progress", action="store_true", help="progress line on stderr even when it is not a terminal")


def _export_args(p):
    _path(p)
    p.add_argument("--out", metavar="FILE", required=True, help="qviz JSON: per-tensor (per-block) clip ranges, scales, zero points")
    p.add_argument("--ort", metavar="FILE", help="also ONNX Runtime's calibration cache (TensorsData JSON)")
    p.add_argument("--ort-overrides", metavar="FILE", help="also ONNX Runtime TensorQuantOverrides (each weight's scale, zero point)")
    p.add_argument("--trt-ranges", metavar="FILE", help="also TensorRT per-tensor dynamic ranges ('name: amax' lines)")
    p.add_argument("--trt-cache", metavar="FILE", help="also a TensorRT INT8 calibration cache (trtexec --calib)")
    p.add_argument("--no-activations", action="store_true", help="weights only")
    p.add_argument("--progress", action="store_true", help="progress line on stderr even when it is not a terminal")


def _sensitivity_args(p):
    p.add_argument("model", metavar="MODEL", help="a built-in model (digits_cnn, minilm), an .onnx file or a Hugging Face folder")
    _data_args(p)
    p.add_argument("--what", choices=["weights", "activations", "both"], default="weights",
                   help="quantize layer weights, layer inputs, or both (default weights)")
    p.add_argument("--one-at-a-time", action="store_true", help="skip the all-but-one pass (half the evaluations)")
    p.add_argument("--json", action="store_true", help='JSON {"metric", "fp32", "quantized", "ranking": [{"layer", "delta"}, …]}')
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--progress", action="store_true", help="progress line on stderr even when it is not a terminal")


def _app_args(p):
    _path(p, required=False)
    p.add_argument("--port", type=_port, help="server port, 1 to 65535 (default Streamlit's 8501)")


COMMANDS = {
    "scan": (scan, "Per-layer table of qviz.analyze: range, scale, zero point, SQNR/PSNR of every tensor.",
             "qviz scan model.safetensors --granularity channel --calibrator percentile --format csv --out layers.csv", _scan_args),
    "calibrate": (calibrate_cmd, "One tensor's calibration: clip range, scale, zero point and error, for one calibrator or all.",
                  "qviz calibrate digits_cnn --tensor fc1.weight --calibrator all --json", _calibrate_args),
    "report": (report, "A standalone HTML report (opens offline): SQNR/PSNR per layer, the worst layers, every calibrator on them.",
               "qviz report model.onnx --out report.html --bits 8 --granularity channel", _report_args),
    "export": (export, "Quantization parameters as JSON, and for ONNX Runtime / TensorRT.",
               "qviz export model.pt --out params.json --ort ort_calibration.json --trt-ranges ranges.txt", _export_args),
    "sensitivity": (sensitivity_cmd, "Which layer costs the task metric (your model: output cosine to fp32): one layer at a time "
                                     "and all but one, ranked.",
                    "qviz sensitivity model.onnx --data calib.npz --bits 4 --what both --json", _sensitivity_args),
    # already-quantized checkpoints against their original (qviz/cli_compare.py)
    "compare": (_compare, "An already-quantized checkpoint (GGUF, GPTQ, …) against its original: SQNR per tensor, and qviz's own at the same bits.",
                "qviz compare model-Q4_K_M.gguf model.safetensors --method mse --format csv --out lost.csv", _compare_args),
    "cache": (cache_cmd, "The scan cache ($XDG_CACHE_HOME/qviz, default ~/.cache/qviz): clear it, or print where it is.",
              "qviz cache clear", _cache_args),
    "sweep": (sweep_cmd, "Every tensor under every bits × granularity × calibrator setting; the best setting per tensor "
              "for a bits budget (locally or on a Dask cluster).",
              "qviz sweep model.safetensors --bits 2,3,4,8 --granularity tensor,channel,group --calibrator minmax,mse "
              "--budget 4.5 --out sweep.csv --scheduler local:2", sweep_args),
    "app": (app, "Launch the dashboard for local use: a 'Local path' source on every page, opened on PATH "
                 "(a file or a model folder) when given.",
            "qviz app ~/models/Llama-3.2-1B --port 8502", _app_args),
}

# the transforms lab (qviz/cli_transforms.py)
from .cli_transforms import COMMAND as _TRANSFORMS  # noqa: E402

COMMANDS["transforms"] = _TRANSFORMS
