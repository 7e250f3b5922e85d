"""``qviz export``: qviz JSON, ONNX Runtime's calibration table and overrides, TensorRT's ranges and cache — read back by the runtimes' own readers where they have one."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import qviz
from tests.cli.conftest import W, run


def _export(capsys, tmp_path, source, *argv):
    files = {k: tmp_path / f"{k}.out" for k in ("params", "ort", "ovr", "ranges", "cache")}
    rc, out, err = run(capsys, "export", source, "--out", files["params"], "--ort", files["ort"], "--ort-overrides", files["ovr"],
                       "--trt-ranges", files["ranges"], "--trt-cache", files["cache"], *argv)
    assert rc == 0 and out == "", err
    return files, err


def test_digits_cnn_per_channel_every_format(capsys, tmp_path):
    files, err = _export(capsys, tmp_path, "digits_cnn", "--granularity", "channel", "--calibrator", "percentile")
    assert err.splitlines()[-1].startswith("qviz: exported 12 tensors: ")
    p = json.loads(files["params"].read_text())
    assert p["format"] == "qviz.params/1" and p["spec"]["granularity"] == {"kind": "channel", "axis": 0, "group_size": None}
    src = qviz.open_source("digits_cnn")
    spec = qviz.QuantSpec(granularity=qviz.PerChannel(0))
    x = src.load("fc1.weight")
    ref = qviz.calibrate(x, spec, "percentile")
    t = p["tensors"]["fc1.weight"]
    assert t["grid"] == [64, 1] and t["kind"] == "weight" and t["shape"] == [64, 512]
    np.testing.assert_array_equal(np.array(t["clip_max"], np.float32), ref.clip_max)
    np.testing.assert_array_equal(np.array(t["scale"], np.float32), ref.qparams.scale)
    np.testing.assert_array_equal(np.array(t["zero_point"]), ref.qparams.zero_point)
    amax = float(np.abs(ref.clip_max).max())
    assert t["amax"] == pytest.approx(amax, rel=1e-7)
    assert {n for n, t in p["tensors"].items() if t["kind"] == "activation"} == {"conv1:input", "conv2:input", "fc1:input", "fc2:input"}
    assert p["skipped"] == {}

    # ONNX Runtime reads its calibration table with its own loader; values are the calibration's ranges
    from onnxruntime.quantization import CalibrationMethod, TensorsData, load_tensors_data, write_calibration_table

    td = load_tensors_data(files["ort"])
    assert isinstance(td, TensorsData) and td.calibration_method == CalibrationMethod.MinMax
    lo, hi = td["fc1.weight"].range_value
    assert lo.dtype == np.float32 and float(hi) == np.float32(ref.clip_max.max()) and float(lo) == np.float32(ref.clip_min.min())
    assert set(td.keys()) == set(p["tensors"])
    write_calibration_table(td.data, dir=str(tmp_path))  # ORT turns it into its TensorRT-EP tables
    assert "fc1.weight " in (tmp_path / "calibration.cache").read_text()

    # TensorRT: 'name: amax' lines and a calibration cache of big-endian float32 amax/127
    ranges = dict(line.split(": ") for line in files["ranges"].read_text().splitlines())
    assert float(ranges["fc1.weight"]) == pytest.approx(amax, rel=1e-8)
    head, *lines = files["cache"].read_text().splitlines()
    assert head.startswith("TRT-") and head.endswith("EntropyCalibration2")
    cache = {k: struct.unpack(">f", bytes.fromhex(v))[0] for k, v in (line.split(": ") for line in lines)}
    assert cache["fc1.weight"] == np.float32(amax / 127)
    assert list(cache) == list(p["tensors"]) == list(ranges)

    ovr = json.loads(files["ovr"].read_text())
    assert set(ovr) == {n for n, t in p["tensors"].items() if t["kind"] == "weight"}  # activations are not ONNX names
    assert len(ovr["fc1.weight"]) == 64 and ovr["fc1.weight"][0]["axis"] == 0


class _Reader:
    def __init__(self):
        self.batches = iter([{"x": np.random.default_rng(i).normal(size=(1, 16)).astype(np.float32)} for i in range(4)])

    def get_next(self):
        return next(self.batches, None)


@pytest.mark.parametrize("per_channel", [False, True])
def test_onnx_runtime_quantizes_with_our_weight_params(capsys, tmp_path, good_files, per_channel):
    """quantize_static(extra_options={"TensorQuantOverrides": <our file>}) puts qviz's scale and zero point in the model."""
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    argv = ["--granularity", "channel", "--axis", "1"] if per_channel else ["--calibrator", "mse"]
    files, _ = _export(capsys, tmp_path, good_files[".onnx"], *argv)
    p = json.loads(files["params"].read_text())
    overrides = json.loads(files["ovr"].read_text())
    if per_channel:
        overrides.pop("B")  # 1-d: per-tensor; ORT's per-channel bias comes from its inputs' scales
    reader = type("R", (_Reader, CalibrationDataReader), {})()
    quantize_static(str(good_files[".onnx"]), str(tmp_path / "q.onnx"), reader, quant_format=QuantFormat.QDQ,
                    per_channel=per_channel, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    extra_options={"TensorQuantOverrides": overrides})
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(tmp_path / "q.onnx").graph.initializer}
    want = np.ravel(np.array(p["tensors"]["W"]["scale"], np.float32))
    np.testing.assert_array_equal(np.ravel(inits["W_scale"]), want)
    np.testing.assert_array_equal(np.ravel(inits["W_zero_point"]), np.ravel(p["tensors"]["W"]["zero_point"]))
    spec = qviz.QuantSpec(granularity=qviz.PerChannel(1)) if per_channel else qviz.QuantSpec()
    ref = qviz.calibrate(W.T.copy(), spec, "minmax" if per_channel else "mse")
    np.testing.assert_array_equal(want, np.ravel(ref.qparams.scale))


def test_group_and_skipped_tensors(capsys, tmp_path, good_files):
    files, err = _export(capsys, tmp_path, good_files[".pt"], "--granularity", "group", "--group-size", "4", "--bits", "4",
                         "--asymmetric")
    assert "TensorRT quantizes int8 symmetric" in err and "not in the ONNX Runtime overrides (per-group" in err
    p = json.loads(files["params"].read_text())
    assert p["tensors"]["W"]["grid"] == [8, 4] and np.array(p["tensors"]["W"]["zero_point"]).shape == (8, 4)
    assert p["tensors"]["B"]["granularity"] == "group" and p["tensors"]["B"]["grid"] == [2]
    assert "int64 tensor" in p["skipped"]["steps"]
    assert json.loads(files["ovr"].read_text()) == {}


def test_only_params_json(capsys, tmp_path, good_files):
    rc, out, err = run(capsys, "export", good_files[".safetensors"], "--out", tmp_path / "p.json")
    assert rc == 0 and out == "" and err == f"qviz: exported 2 tensors: {tmp_path / 'p.json'}\n"
    p = json.loads((tmp_path / "p.json").read_text())
    assert p["tensors"]["W"]["scale"] == float(qviz.calibrate(W, qviz.QuantSpec()).qparams.scale.item())
