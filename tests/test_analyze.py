"""qviz.analyze: one row per tensor, each value equal to computing it by hand, odd tensors handled on purpose."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import qviz
from qviz.analyze import COLUMNS

RNG = np.random.default_rng(7)
W = RNG.normal(size=(8, 32)).astype(np.float32)


@pytest.fixture
def ckpt(tmp_path):
    nan = RNG.normal(size=(4, 8)).astype(np.float32)
    nan[0, 0], nan[1, 1], nan[2, 2] = np.nan, np.inf, -np.inf
    tensors = {
        "w": W,
        "bias": RNG.normal(size=(8,)).astype(np.float32),
        "nan": nan,
        "allnan": np.full((2, 2), np.nan, np.float32),
        "ids": np.arange(10, dtype=np.int64),
        "mask": np.array([True, False]),
        "empty": np.zeros((0, 4), np.float32),
        "scalar": np.array(2.5, np.float32),
        "odd": RNG.normal(size=(3, 30)).astype(np.float32),
        "bf16": RNG.normal(size=(4, 32)).astype(np.float32),
    }
    t = {k: torch.from_numpy(v) for k, v in tensors.items()}
    t["bf16"] = t["bf16"].bfloat16()
    p = tmp_path / "ckpt.safetensors"
    save_file(t, p)
    return p


def test_columns_and_one_row_per_weight(ckpt):
    df = qviz.analyze(ckpt, qviz.QuantSpec(), "minmax")
    assert list(df.columns) == COLUMNS
    required = [
        "name",
        "kind",
        "shape",
        "numel",
        "min",
        "max",
        "mean",
        "std",
        "kurtosis",
        "nonfinite",
        "channel_range_ratio",
        "clip_min",
        "clip_max",
        "scale",
        "zero_point",
    ]
    assert set(required + qviz.Metrics.names()) <= set(df.columns)
    assert sorted(df.name) == sorted(qviz.open_source(ckpt).names())
    assert (df.kind == "weight").all()


def test_values_equal_a_by_hand_computation(ckpt):
    spec = qviz.QuantSpec(bits=4, granularity=qviz.PerChannel(0))
    for method in ("minmax", "percentile", "mse"):
        row = qviz.analyze(ckpt, spec, method).set_index("name").loc["w"]
        cal = qviz.calibrate(W, spec, method)
        m = qviz.error_metrics(W, qviz.fake_quantize(W, cal.qparams), cal.qparams)
        for f in qviz.Metrics.names():
            assert row[f] == pytest.approx(getattr(m, f), nan_ok=True), (method, f)
        assert row.clip_min == pytest.approx(float(np.min(cal.clip_min)))
        assert row.clip_max == pytest.approx(float(np.max(cal.clip_max)))
        assert row.scale == pytest.approx(float(np.median(cal.qparams.scale)))
        assert row.n_blocks == 8 and row.granularity == "per-channel (axis 0)"
    s = qviz.stats.tensor_stats(W)
    for k in ("min", "max", "mean", "std", "kurtosis", "channel_range_ratio"):
        assert row[k] == pytest.approx(s[k])


def test_odd_tensors_are_handled_on_purpose(ckpt):
    df = qviz.analyze(ckpt, qviz.QuantSpec(granularity=qviz.PerGroup(16)), "minmax").set_index("name")
    nan = df.loc["nan"]
    assert (
        nan.nonfinite == 3
        and math.isfinite(nan.sqnr_db)
        and nan.n == 29
        and "3 NaN/Inf" in nan.note
        and nan["flags"] == "nonfinite"
    )
    assert (
        df.loc["allnan"].nonfinite == 4 and math.isnan(df.loc["allnan"].sqnr_db) and "no finite values" in df.loc["allnan"].note
    )
    ids = df.loc["ids"]
    assert ids["flags"] == "integer" and ids["max"] == 9 and math.isnan(ids.sqnr_db) and "not quantized" in ids.note
    assert df.loc["mask"]["flags"] == "bool" and math.isnan(df.loc["mask"].scale)
    assert "empty" in df.loc["empty"]["flags"] and df.loc["empty"].numel == 0 and "nothing to quantize" in df.loc["empty"].note
    sc = df.loc["scalar"]
    assert sc["flags"] == "scalar" and sc.granularity == "per-tensor" and "per-tensor used" in sc.note and sc.clip_max == 2.5
    odd = df.loc["odd"]  # 30 is not a multiple of 16
    assert odd.granularity == "per-tensor" and "does not divide" in odd.note and math.isfinite(odd.sqnr_db)
    assert df.loc["w"].granularity == "per-group (16 along axis -1)" and df.loc["w"].n_blocks == 16
    assert df.loc["bf16"]["dtype"] == "bfloat16" and "low-precision" in df.loc["bf16"]["flags"]


def test_unreadable_tensor_becomes_a_row_not_a_crash(ckpt):
    src = qviz.open_source(ckpt, max_numel=100)
    df = qviz.analyze(src, qviz.QuantSpec(), "minmax").set_index("name")
    assert "over the limit of 100" in df.loc["w"].note and math.isnan(df.loc["w"].sqnr_db)
    assert math.isfinite(df.loc["bias"].sqnr_db)


def test_progress_and_bad_arguments(ckpt):
    calls = []
    qviz.analyze(ckpt, qviz.QuantSpec(), progress=lambda done, total, name: calls.append((done, total, name)))
    assert [c[0] for c in calls] == list(range(1, 11)) and {c[1] for c in calls} == {10}
    with pytest.raises(ValueError, match="unknown calibration method"):
        qviz.analyze(ckpt, qviz.QuantSpec(), "magic")
    with pytest.raises(ValueError, match="spec must be a qviz.QuantSpec"):
        qviz.analyze(ckpt, 8)


def test_builtin_model_rows_include_activations():
    calls = []
    df = qviz.analyze("digits_cnn", qviz.QuantSpec(signed=False, symmetric=False), "minmax", progress=lambda *a: calls.append(a))
    assert list(df.kind) == ["weight"] * 8 + ["activation"] * 4
    acts = df[df.kind == "activation"].set_index("name")
    assert list(acts.index) == ["conv1:input", "conv2:input", "fc1:input", "fc2:input"]
    assert acts.loc["conv1:input"].numel == 1437 * 64 and acts.loc["conv1:input"]["min"] >= 0
    assert (acts.sqnr_db > 30).all() and acts.loc["fc1:input"].channel_range_ratio == math.inf  # dead ReLU channels
    assert calls[-1][0] == calls[-1][1] == 9
    assert len(qviz.analyze("digits_cnn", qviz.QuantSpec(), activations=False)) == 8


def test_minilm_activation_capture_is_streamed():
    src = qviz.open_source("minilm")
    acts = src.capture(qviz.QuantSpec(), "minmax", limit=4)
    assert len(acts) == 36 and acts[0].name == "encoder.layer.0.attention.self.query:input"
    assert all(a.calibration is not None and a.shape[0] in (384, 1536) for a in acts)


def _peak(path) -> int:
    tracemalloc.start()
    qviz.analyze(path, qviz.QuantSpec(), "minmax")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_peak_memory_does_not_grow_with_the_model(tmp_path):
    size = 1 << 17  # 512 KB tensors
    for n in (4, 32):
        save_file({f"t{i}": torch.randn(64, size // 64) for i in range(n)}, tmp_path / f"m{n}.safetensors")
    _peak(tmp_path / "m4.safetensors")  # warm up caches
    small, large = _peak(tmp_path / "m4.safetensors"), _peak(tmp_path / "m32.safetensors")
    assert large < 1.3 * small, (small, large)
    assert large < 32 * size * 4 / 1.5  # well under the 16 MB checkpoint
