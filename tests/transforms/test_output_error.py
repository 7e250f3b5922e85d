"""layer_output_error: the fp32 product is unchanged by the transforms, and a planted-outlier case whose
W8A8 gains from smoothing and rotation are computed independently here (plain numpy + scipy's Hadamard)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

import qviz
from qviz.transforms import as_transform, block_sweep, granularity_table, w8a8


def fake_quant_rows(a: np.ndarray) -> np.ndarray:
    """Symmetric int8 with one scale per row: Δ = max|row| / 127.5 (torch's MinMaxObserver), codes in [−128, 127]."""
    a = a.astype(np.float64)
    delta = np.abs(a).max(axis=1, keepdims=True) / 127.5
    return np.clip(np.round(a / delta), -128, 127) * delta


def sqnr(y: np.ndarray, y_hat: np.ndarray) -> float:
    return 10 * math.log10(np.sum(y**2) / np.sum((y - y_hat) ** 2))


def reference_w8a8(x: np.ndarray, w: np.ndarray) -> float:
    """W per output channel, X per token, both int8 symmetric; SQNR of Ŷ against the fp32 Y."""
    return sqnr(x.astype(np.float64) @ w.T.astype(np.float64), fake_quant_rows(x) @ fake_quant_rows(w).T)


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(2023)
    x = rng.standard_normal((256, 128)).astype(np.float32)
    x[:, [3, 77, 100]] *= 60.0  # outlier channels, as in LLM activations
    w = (rng.standard_normal((64, 128)) * 0.05).astype(np.float32)
    return x, w


def test_smoothing_and_rotation_raise_w8a8_sqnr_by_the_independent_amount(planted):
    x, w = planted
    ws, xs = w8a8()  # per output channel / per token
    base_ref = reference_w8a8(x, w)
    base = qviz.layer_output_error(x, w, ws, xs)
    assert base.sqnr_db == pytest.approx(base_ref, abs=0.02)

    s = np.sqrt(np.abs(x).max(0).astype(np.float64)) / np.sqrt(np.abs(w).max(0).astype(np.float64))  # α = 0.5 by hand
    smooth_ref = reference_w8a8((x / s).astype(np.float32), (w * s).astype(np.float32))
    smooth = qviz.layer_output_error(x, w, ws, xs, qviz.smooth_scales(np.abs(x).max(0), np.abs(w).max(0), 0.5))
    assert smooth.sqnr_db - base.sqnr_db == pytest.approx(smooth_ref - base_ref, abs=0.05)
    assert smooth_ref - base_ref > 5  # the outliers cost a lot, smoothing wins much of it back

    h = scipy.linalg.hadamard(128) / np.sqrt(128)
    rot_ref = reference_w8a8((x @ h).astype(np.float32), (w @ h).astype(np.float32))
    rot = qviz.layer_output_error(x, w, ws, xs, qviz.hadamard(128))
    assert rot.sqnr_db - base.sqnr_db == pytest.approx(rot_ref - base_ref, abs=0.05)
    assert rot_ref - base_ref > 5
    assert rot.x_stats["kurtosis"] < 1 < base.x_stats["kurtosis"]
    assert rot.transform == "rotation" and smooth.transform == "smoothing"


@pytest.mark.parametrize("kind", ["smooth", "rotate", "both", "block"])
def test_fp32_product_unchanged_within_float32_rounding(planted, kind):
    x, w = planted
    s = qviz.smooth_scales(np.abs(x).max(0), np.abs(w).max(0), 0.5)
    transform = {"smooth": s, "rotate": qviz.hadamard(128, seed=3), "both": (s, qviz.hadamard(128, seed=3)),
                 "block": qviz.hadamard(128, block=32, seed=1)}[kind]
    xt, wt = as_transform(transform, 128).apply(x, w)
    y = x.astype(np.float64) @ w.T.astype(np.float64)
    yt = xt.astype(np.float32) @ wt.astype(np.float32).T
    # float32 rounding: applying T (≤ 2 roundings per element, n-term sums) and the n-term product
    n, eps = 128, np.finfo(np.float32).eps
    bound = 4 * n * eps * (np.abs(xt).astype(np.float64) @ np.abs(wt).T + np.abs(x).astype(np.float64) @ np.abs(w).T)
    assert (np.abs(yt - y) <= bound).all()
    assert np.abs(yt - y).max() > 0 or kind == "smooth"


def test_fields_metrics_and_granularities(planted):
    x, w = planted
    e = qviz.layer_output_error(x, w, qviz.QuantSpec(bits=8, granularity=qviz.PerChannel(0)), qviz.QuantSpec(bits=8))
    m = qviz.error_metrics(x, qviz.fake_quantize(x, qviz.calibrate(x, qviz.QuantSpec(bits=8)).qparams))
    assert e.activation.sqnr_db == pytest.approx(m.sqnr_db, rel=1e-12)
    # /127.5 (torch's symmetric int8): +max|x| lands on 127.5 and is clipped to 127, half a step: a tiny clip share
    assert e.activation.clip_mse + e.activation.round_mse == pytest.approx(e.activation.mse)
    assert 0 < e.activation.clip_mse < 1e-3 * e.activation.mse and 0 < e.activation.code_usage <= 1
    assert 0.99 < e.cosine <= 1 and e.mse > 0
    d = e.as_dict()
    assert d["transform"] == "none" and d["weight"]["sqnr_db"] == e.weight.sqnr_db
    g = granularity_table(x, w, *w8a8()).set_index("granularity")
    # per-channel scales isolate the outlier channels: far better than per-token on X
    assert g.loc["per-channel", "x_sqnr_db"] > g.loc["per-token", "x_sqnr_db"] + 6 > g.loc["per-tensor", "x_sqnr_db"] + 6
    assert g.loc["per-tensor", "scales"] == 1 and g.loc["per-token", "scales"] == 256 and g.loc["per-group 16", "scales"] == 256 * 8
    b = block_sweep(x, w, *w8a8(), blocks=[16, 128])
    assert list(zip(b["block"], b["signs"])) == [(0, "none"), (16, "+1"), (16, "random"), (128, "+1"), (128, "random")]
    assert (b["sqnr_db"].iloc[1:] > b["sqnr_db"].iloc[0]).all()


def test_bad_input():
    x, w = np.ones((4, 8), np.float32), np.ones((3, 8), np.float32)
    spec = qviz.QuantSpec()
    with pytest.raises(ValueError, match="X has 8 input channels but W has 6"):
        qviz.layer_output_error(x, np.ones((3, 6)), spec, spec)
    with pytest.raises(ValueError, match="NaN or Inf"):
        qviz.layer_output_error(np.full((4, 8), np.nan), w, spec, spec)
    with pytest.raises(ValueError, match="not orthonormal"):
        qviz.layer_output_error(x, w, spec, spec, np.ones((8, 8)))
    with pytest.raises(ValueError, match="smoothing vector has 3 entries but the layer has 8"):
        qviz.layer_output_error(x, w, spec, spec, np.ones(3))
    with pytest.raises(ValueError, match="finite and positive"):
        qviz.layer_output_error(x, w, spec, spec, np.zeros(8))
    with pytest.raises(ValueError, match="empty"):
        qviz.layer_output_error(np.ones((0, 8)), w, spec, spec)
    affine = qviz.QuantSpec(signed=False, symmetric=False)
    e = qviz.layer_output_error(x, w, affine, affine)  # constant operands sit on a level: exact, infinite SQNR
    assert e.sqnr_db == math.inf and e.cosine == 1 and math.isnan(e.x_stats["kurtosis"])
    e = qviz.layer_output_error(x.astype(np.float16), w.astype(np.int8), spec, spec)  # other dtypes widen to float32
    assert 40 < e.sqnr_db < 45  # symmetric int8: 1.0 → 127.5 → clipped to 127


def test_model_table_on_minilm_layers():
    from qviz.transforms import model_table, open_activations

    src = open_activations("minilm")
    names = ["encoder.layer.0.attention.self.query", "encoder.layer.0.output.dense"]
    t = model_table(src, {"W8A8": w8a8()}, alphas=(0.0, 0.5, 1.0), layers=names)
    assert t["layer"].tolist() == names and t["block"].tolist() == [128, 128]  # 384 = 3·128, 1536 = 12·128
    assert set(t["best_alpha"]) <= {0.0, 0.5, 1.0} and (t["note"] == "").all()
    np.testing.assert_allclose(t["smooth_sqnr_db"] - t["sqnr_db"], t["smooth_gain_db"])
    x, w = src.linear(names[0])
    e = qviz.layer_output_error(x, w, *w8a8(), qviz.hadamard(384, block=128, seed=0))
    assert t["rotate_sqnr_db"].iloc[0] == pytest.approx(e.sqnr_db, rel=1e-12)
    assert t["sqnr_db"].iloc[0] == pytest.approx(qviz.layer_output_error(x, w, *w8a8()).sqnr_db, rel=1e-12)


def test_w8a8_output_sqnr_equals_torchs_fake_quant_path(planted):
    """torch.fake_quantize_per_channel_affine on both operands (Δ = row absmax / 127.5), then the product."""
    import torch

    x, w = planted

    def fq(a):
        a = torch.from_numpy(a)
        scale = a.abs().amax(dim=1) / 127.5
        return torch.fake_quantize_per_channel_affine(a, scale, torch.zeros(a.shape[0], dtype=torch.int32), 0, -128, 127)

    r = qviz.hadamard(128, block=32, seed=5)
    for t in (None, r):
        xt, wt = as_transform(t, 128).apply(x, w)
        y = torch.from_numpy(x) @ torch.from_numpy(w).T
        yq = fq(xt) @ fq(wt).T
        want = float(10 * torch.log10((y.double() ** 2).sum() / ((y - yq).double() ** 2).sum()))
        assert qviz.layer_output_error(x, w, *w8a8(), t).sqnr_db == pytest.approx(want, abs=1e-9)
