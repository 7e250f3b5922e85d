"""``qviz calibrate``: one tensor, one calibrator or all of them, as a table or JSON."""

from __future__ import annotations

import json

import numpy as np

import qviz
from tests.cli.conftest import W, run


def test_one_calibrator_json_matches_qviz(capsys, good_files):
    rc, out, err = run(capsys, "calibrate", good_files[".safetensors"], "--tensor", "W", "--calibrator", "entropy", "--json")
    assert rc == 0 and err == ""
    d = json.loads(out)
    assert d["tensor"] == "W" and d["shape"] == [8, 16] and d["spec"]["describe"] == "int8 symmetric midtread per-tensor"
    (c,) = d["calibrations"]
    ref = qviz.calibrate(W, qviz.QuantSpec(), "entropy")
    assert c["calibrator"] == "entropy" and c["criterion"] == ref.criterion
    assert c["clip_max"] == float(ref.clip_max.item()) and c["scale"] == float(ref.qparams.scale.item()) and c["zero_point"] == 0
    m = qviz.error_metrics(W, qviz.fake_quantize(W, ref.qparams), ref.qparams)
    assert c["metrics"]["sqnr_db"] == m.sqnr_db and set(c["metrics"]) == set(qviz.Metrics.names())


def test_all_calibrators_per_channel_lists(capsys):
    rc, out, _ = run(capsys, "calibrate", "digits_cnn", "--tensor", "fc2.weight", "--calibrator", "all", "--json",
                     "--granularity", "channel", "--asymmetric", "--unsigned")
    d = json.loads(out)
    names = [c["calibrator"] for c in d["calibrations"]]
    assert rc == 0 and names == [m for m in qviz.calibrator_names() if m != "moving_average"]
    x = qviz.open_source("digits_cnn").load("fc2.weight")
    spec = qviz.QuantSpec(signed=False, symmetric=False, granularity=qviz.PerChannel(0))
    for c in d["calibrations"]:
        ref = qviz.calibrate(x, spec, c["calibrator"])
        assert c["grid"] == [10, 1] and np.array(c["scale"]).shape == (10, 1)
        np.testing.assert_array_equal(np.array(c["clip_min"], np.float32), ref.clip_min)
        np.testing.assert_array_equal(np.array(c["zero_point"]), ref.qparams.zero_point)
        assert c["qmin"] == 0 and c["qmax"] == 255


def test_table_and_single_tensor_file(capsys, good_files):
    rc, out, err = run(capsys, "calibrate", good_files[".npy"], "--calibrator", "percentile", "--percentile", "99")
    assert rc == 0 and err == ""  # the file holds one tensor: --tensor not needed
    head, cols, row = out.splitlines()
    assert head.startswith("w.npy · w (8, 16)") and cols.split()[:4] == ["calibrator", "clip_min", "clip_max", "scale"]
    assert row.split()[0] == "percentile"


def test_granularity_that_does_not_fit_is_noted(capsys, good_files):
    rc, out, err = run(capsys, "calibrate", good_files[".npz"], "--tensor", "B", "--granularity", "channel", "--json")
    assert rc == 0 and err.startswith("qviz: note: per-channel (axis 0) on a 1-d tensor: per-tensor used")
    assert json.loads(out)["calibrations"][0]["granularity"] == "tensor"
