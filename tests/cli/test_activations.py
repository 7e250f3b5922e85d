"""``qviz scan MODEL --activations/--data`` and ``qviz sensitivity MODEL --data`` on a user's ONNX file."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from tests.capture.onnx_models import mlp_data, mlp_model, silero
from tests.cli.conftest import assert_one_line_error, run


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("climodel")
    onnx.save(mlp_model(), str(d / "mlp.onnx"))
    np.savez(d / "calib.npz", **mlp_data())
    np.savez(d / "wrong.npz", x=np.zeros((2, 8, 5), np.float32))
    return d


def test_scan_runs_only_when_asked(capsys, model):
    rc, out, _ = run(capsys, "scan", model / "mlp.onnx", "--format", "json")
    assert rc == 0 and {r["kind"] for r in json.loads(out)} == {"weight"}
    rc, out, err = run(capsys, "scan", model / "mlp.onnx", "--data", model / "calib.npz", "--samples", "4", "--batch-size", "2",
                       "--format", "json")
    rows = [r for r in json.loads(out) if r["kind"] == "activation"]
    assert rc == 0 and [r["name"] for r in rows] == ["x", "r", "flat"]
    assert all(r["note"].endswith("calib.npz: 4 samples of x") and r["flags"] == "" for r in rows)
    x = mlp_data()["x"][:4]
    assert rows[0]["min"] == float(x.min()) and rows[0]["max"] == float(x.max()) and rows[0]["numel"] == x.size
    rc, out, err = run(capsys, "scan", model / "mlp.onnx", "--activations", "--format", "csv")
    assert rc == 0 and "synthetic" in out and "synthetic inputs" in err


def test_sensitivity_of_a_user_model_keeps_the_json_keys(capsys, model):
    rc, out, _ = run(capsys, "sensitivity", model / "mlp.onnx", "--data", model / "calib.npz", "--bits", "4", "--what", "both",
                     "--one-at-a-time", "--json")
    rep = json.loads(out)
    assert rc == 0 and list(rep) == ["metric", "fp32", "quantized", "ranking"] and rep["metric"] == "output_cosine"
    assert rep["fp32"] == 1.0 and 0 < rep["quantized"] < 1 and sorted(r["layer"] for r in rep["ranking"]) == ["gemm", "mm1", "mm2"]


def test_bad_data_and_models_one_line(capsys, model, tmp_path):
    rc, _, err = run(capsys, "scan", model / "mlp.onnx", "--data", model / "wrong.npz")
    line = assert_one_line_error(err, rc=rc)
    assert "input 'x' expects float32 of shape (n, 8, 16)" in line
    np.save(tmp_path / "w.npy", np.ones(3, np.float32))
    rc, _, err = run(capsys, "scan", tmp_path / "w.npy", "--activations")
    assert "--activations/--data need a model qviz can run" in assert_one_line_error(err, rc=rc)
    rc, _, err = run(capsys, "sensitivity", tmp_path / "w.npy")
    assert "sensitivity needs a built-in model" in assert_one_line_error(err, rc=rc)
    rc, _, err = run(capsys, "scan", silero(), "--activations")  # synthetic chunks are too short for its STFT padding
    assert "running the model failed at node" in assert_one_line_error(err, rc=rc)
    rc, _, err = run(capsys, "scan", model / "mlp.onnx", "--data", model / "calib.npz", "--no-activations")
    assert "contradicts" in assert_one_line_error(err, rc=rc)


def test_image_folder_with_mean_and_std(capsys, tmp_path):
    """RapidOCR's classifier on a folder of images, normalised by --mean/--std (its PP-OCR preprocessing: 0.5, 0.5)."""
    from PIL import Image

    from tests.capture.onnx_models import rapidocr_cls

    for i in range(2):
        Image.fromarray(np.full((48, 192, 3), 60 * i, np.uint8)).save(tmp_path / f"{i}.png")
    rc, out, err = run(capsys, "scan", rapidocr_cls(), "--data", tmp_path, "--mean", "0.5", "--std", "0.5", "--format", "json")
    rows = [r for r in json.loads(out) if r["kind"] == "activation"]
    assert rc == 0, err
    assert rows[0]["name"] == "x" and rows[0]["min"] == -1.0 and rows[0]["max"] == pytest.approx(2 * 60 / 255 - 1)
    assert "2 images resized to 48×192, mean [0.5, 0.5, 0.5], std [0.5, 0.5, 0.5]" in rows[0]["note"]
    rc, _, err = run(capsys, "scan", rapidocr_cls(), "--mean", "0.5")
    assert "--mean and --std need --data with a folder of images" in assert_one_line_error(err, rc=rc)
