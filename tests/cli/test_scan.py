"""``qviz scan``: the per-layer table of qviz.analyze as a readable table, csv or json."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import qviz
from qviz.analyze import COLUMNS
from tests.cli.conftest import run


def test_digits_cnn_table(capsys):
    rc, out, err = run(capsys, "scan", "digits_cnn")
    assert rc == 0 and err == ""  # no progress line: stderr is not a terminal
    lines = out.splitlines()
    assert lines[0] == "digits_cnn · int8 symmetric midtread per-tensor · calibrator minmax"
    assert lines[1].split()[:3] == ["name", "kind", "shape"]
    assert any(line.split()[:2] == ["fc1.weight", "weight"] for line in lines)
    assert sum("activation" in line for line in lines) == 4


@pytest.mark.parametrize("ext", [".npy", ".npz", ".pt", ".safetensors", ".onnx"])
def test_csv_matches_analyze_on_every_format(capsys, good_files, ext):
    path = good_files[ext]
    argv = ["--granularity", "channel", "--calibrator", "percentile", "--percentile", "99.9"]
    rc, out, err = run(capsys, "scan", path, "--format", "csv", *argv)
    assert rc == 0 and err == ""
    got = pd.read_csv(io.StringIO(out), keep_default_na=False, na_values=[""])
    assert list(got.columns) == COLUMNS
    want = qviz.analyze(path, qviz.QuantSpec(granularity=qviz.PerChannel(0)), "percentile", percentile=99.9)
    assert list(got["name"]) == list(want["name"])
    np.testing.assert_allclose(got["sqnr_db"].astype(float), want["sqnr_db"].astype(float), rtol=1e-12)
    np.testing.assert_allclose(got["scale"].astype(float), want["scale"].astype(float), rtol=1e-12)
    w = got.set_index("name").loc["w" if ext == ".npy" else "W"]
    assert w["shape"] == ("16x8" if ext == ".onnx" else "8x16") and w["granularity"] == "per-channel (axis 0)"


def test_json_same_columns_and_strict(capsys, good_files, tmp_path):
    rc, out, err = run(capsys, "scan", good_files[".pt"], "--format", "json", "--asymmetric", "--bits", "4", "--out", tmp_path / "s.json")
    assert rc == 0 and out == "" and err == ""
    rows = json.loads((tmp_path / "s.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert [list(r) for r in rows] == [COLUMNS] * len(rows)
    by = {r["name"]: r for r in rows}
    assert by["W"]["shape"] == [8, 16] and by["W"]["clip_min"] < 0 < by["W"]["clip_max"]
    assert by["steps"]["sqnr_db"] is None and "statistics only" in by["steps"]["note"]  # an int64 tensor: not quantized


def test_exact_tensor_is_inf_in_json(capsys, tmp_path):
    np.save(tmp_path / "levels.npy", np.array([-1, 0, 1], np.float32) * 127)
    rc, out, _ = run(capsys, "scan", tmp_path / "levels.npy", "--format", "json", "--narrow-range")
    assert rc == 0 and json.loads(out)[0]["sqnr_db"] == "inf"


def test_group_granularity_and_group_fallback_note(capsys, good_files):
    rc, out, _ = run(capsys, "scan", good_files[".safetensors"], "--granularity", "group", "--group-size", "4", "--format", "csv")
    df = pd.read_csv(io.StringIO(out), keep_default_na=False).set_index("name")
    assert df.loc["W", "n_blocks"] == 32 and df.loc["W", "granularity"] == "per-group (4 along axis -1)"
    rc, out, _ = run(capsys, "scan", good_files[".safetensors"], "--granularity", "group", "--group-size", "5", "--format", "csv")
    assert rc == 0
    assert "per-tensor used" in pd.read_csv(io.StringIO(out), keep_default_na=False).set_index("name").loc["W", "note"]


def test_progress_goes_to_stderr_only(capsys):
    rc, out, err = run(capsys, "scan", "samples", "--format", "csv", "--progress")
    assert rc == 0 and "\r" not in out and out.startswith("name,kind")
    assert "\r[" in err and "/9 " in err or "/" in err
    assert len(pd.read_csv(io.StringIO(out))) == len(qviz.sample_names())
