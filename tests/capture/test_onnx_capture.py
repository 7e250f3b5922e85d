"""ONNX capture against ONNX Runtime's own MinMaxCalibrater, on generated and shipped models."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest

import qviz
from qviz.capture import OnnxModel, check_fits
from tests.capture.onnx_models import mlp_data, mlp_model, rapidocr_cls, silero, silero_data


class _Reader:
    def __init__(self, feeds):
        self.it = iter(feeds)

    def get_next(self):
        return next(self.it, None)


def ort_ranges(path, feeds, ops, tmp_path) -> dict:
    """ONNX Runtime's MinMaxCalibrater: ``{tensor: (min, max)}`` over ``feeds``."""
    from onnxruntime.quantization.calibrate import CalibrationDataReader, create_calibrator

    reader = type("R", (_Reader, CalibrationDataReader), {})(feeds)
    cal = create_calibrator(str(path), list(ops), augmented_model_path=str(tmp_path / "augmented.onnx"))
    cal.collect_data(reader)
    return {k: (float(np.ravel(v.range_value[0])[0]), float(np.ravel(v.range_value[1])[0])) for k, v in cal.compute_data().data.items()}


@pytest.fixture(scope="module")
def mlp_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("mlp") / "mlp.onnx"
    onnx.save(mlp_model(), str(p))
    return p


def test_mlp_ranges_equal_ort_minmax(mlp_path, tmp_path):
    data = mlp_data()
    m = OnnxModel(str(mlp_path))
    acts = {a.name: a for a in m.capture(qviz.QuantSpec(), data=data, batch_size=2)}
    assert list(acts) == ["x", "r", "flat"]  # MatMul A inputs, Gemm A input (W1..W3 are weights)
    assert [acts[n].layer for n in acts] == ["mm1", "mm2", "gemm"]
    feeds = [{"x": data["x"][i : i + 2]} for i in range(0, 6, 2)]
    ref = ort_ranges(mlp_path, feeds, ["MatMul", "Gemm"], tmp_path)
    for name, a in acts.items():
        assert (a.stats["min"], a.stats["max"]) == ref[name], name
        amax = max(abs(ref[name][0]), abs(ref[name][1]))  # symmetric min-max: the clip range is ±max|x|
        assert (float(a.calibration.clip_min.min()), float(a.calibration.clip_max.max())) == (-amax, amax)
    assert acts["x"].shape == (16, 6 * 8)  # (channels, values): the last axis of MatMul's A
    assert acts["flat"].shape == (16, 48)


def test_silero_if_subgraph_equals_flat_export_and_ort(tmp_path):
    """silero_vad.onnx keeps every Conv inside If branches; its 16k op15 export is the same network, flat."""
    data = silero_data()
    nested = OnnxModel(silero("silero_vad.onnx")).capture(qviz.QuantSpec(), data=data)
    flat = OnnxModel(silero("silero_vad_16k_op15.onnx")).capture(qviz.QuantSpec(), data=data)
    assert len(nested) == len(flat) == 6 and all(a.name.startswith("If_0_then_branch") for a in nested)
    assert [(a.stats["min"], a.stats["max"], a.shape) for a in nested] == [(a.stats["min"], a.stats["max"], a.shape) for a in flat]
    feeds = [{k: np.asarray(v[i]) for k, v in data.items()} for i in range(3)]
    ref = ort_ranges(silero("silero_vad_16k_op15.onnx"), feeds, ["Conv"], tmp_path)
    for a in flat:
        assert (a.stats["min"], a.stats["max"]) == ref[a.name], a.name


def test_external_data_and_all_outputs(mlp_path, tmp_path, monkeypatch):
    from qviz.capture import onnx_capture

    monkeypatch.setattr(onnx_capture, "SMALL_EXTERNAL", 64)  # only the Reshape's shape is read in; W1..W3 stay external for ORT
    model = onnx.load(str(mlp_path))
    onnx.save(model, str(tmp_path / "ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True, location="ext.data",
              size_threshold=0)
    assert (tmp_path / "ext.data").stat().st_size > 0
    data = mlp_data()
    a = OnnxModel(str(mlp_path)).capture(qviz.QuantSpec(), data=data)
    ext = OnnxModel(str(tmp_path / "ext.onnx"))
    kept = [t.name for t in ext.proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert kept == ["W1", "W2", "W3"] and ext.weight_bytes > (16 * 32 + 32 * 16) * 4
    b = ext.capture(qviz.QuantSpec(), data=data)
    assert [(x.name, x.stats["min"], x.stats["max"]) for x in a] == [(x.name, x.stats["min"], x.stats["max"]) for x in b]
    every = {x.name for x in OnnxModel(str(tmp_path / "ext.onnx")).capture(qviz.QuantSpec(), data=data, all_outputs=True)}
    assert {"x", "h", "r", "y2", "flat", "y"} <= every


def test_rapidocr_classifier_on_a_small_image_folder(tmp_path):
    """RapidOCR's text-direction classifier (PP-OCR, ONNX) on three generated images, against ORT's calibrater."""
    from PIL import Image

    path = rapidocr_cls()
    m = OnnxModel(path)
    (name, shape, _), = m.inputs
    h, w = 48, 192  # the classifier's input size (its H is fixed, W dynamic)
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (30, 100, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    fixed = (3, h, w)
    data = qviz.data.image_data(str(folder), fixed, mean=0.5, std=0.5, name=name)
    assert data.arrays[name].shape == (3, 3, h, w) and data.arrays[name].min() >= -1 and data.arrays[name].max() <= 1
    acts = m.capture(qviz.QuantSpec(), data=data, batch_size=3)
    assert len(acts) > 10 and acts[0].name == name
    ref = ort_ranges(path, [dict(data.arrays)], ["Conv", "MatMul", "Gemm"], tmp_path)
    for a in acts:
        assert (a.stats["min"], a.stats["max"]) == ref[a.name], a.name


@pytest.mark.parametrize("arrays, expected", [
    ({"input": np.zeros((2, 1, 512), np.float32), "state": np.zeros((2, 2, 128), np.float32), "sr": np.zeros(2, np.int64)},
     "mixes arrays"),
    ({"x": np.zeros((2, 512), np.float32)}, "has no array for input 'input', which expects float32 of shape"),
    ({"input": np.zeros((2, 1, 512), np.int64), "state": np.zeros((2, 2, 1, 128), np.float32), "sr": np.zeros(2, np.int64)},
     "input 'input' expects float32"),
    ({"input": np.zeros((2, 1, 512), np.float32), "state": np.zeros((2, 2, 1, 64), np.float32), "sr": np.zeros(2, np.int64)},
     "input 'state' expects float32 of shape (2, ?, 128)"),
])
def test_bad_npz_one_line(tmp_path, arrays, expected):
    np.savez(tmp_path / "calib.npz", **arrays)
    with pytest.raises(ValueError) as e:
        OnnxModel(silero()).capture(qviz.QuantSpec(), data=str(tmp_path / "calib.npz"))
    msg = str(e.value)
    assert expected in msg and "\n" not in msg and msg.startswith("calib.npz")


def test_model_failure_names_the_node():
    data = silero_data(1)
    data["sr"][:] = 12345  # not 16 kHz: the 8 kHz branch runs on a 16 kHz-sized chunk and fails inside nested Ifs
    with pytest.raises(ValueError) as e:
        OnnxModel(silero()).capture(qviz.QuantSpec(), data=data)
    msg = str(e.value)
    assert msg.startswith("silero_vad.onnx: running the model failed at node 'If_0_else_branch") and "\n" not in msg


def test_memory_check_refuses_in_one_line():
    with pytest.raises(ValueError, match=r"^m.onnx: running it needs about 2.0 GB .* only 0.5 GB of memory is free"):
        check_fits("m.onnx", 2**30, available=2**29)
    check_fits("m.onnx", 2**20, available=2**30)
