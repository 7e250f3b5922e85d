"""error_metrics: formulas checked against direct float64 computations, and the edge cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import qviz
from qviz import Metrics, PerChannel, QParams, QuantSpec, choose_qparams, error_metrics, fake_quantize


def _fq(x, spec):
    lo, hi = qviz.block_min_max(x, spec.granularity)
    qp = choose_qparams(lo, hi, spec)
    return fake_quantize(x, qp), qp


def test_formulas_against_direct_float64(rng):
    x = rng.standard_t(4, 50_000).astype(np.float32)
    xh, qp = _fq(x, QuantSpec(bits=6))
    m = error_metrics(x, xh, qp)
    xd, xhd = x.astype(np.float64), xh.astype(np.float64)
    e = xhd - xd
    mse = np.mean(e * e)
    assert m.n == x.size and m.nonfinite == 0
    assert m.mse == pytest.approx(mse, rel=1e-12)
    assert m.sqnr_db == pytest.approx(10 * math.log10(np.sum(xd * xd) / np.sum(e * e)), rel=1e-12)
    assert m.psnr_db == pytest.approx(10 * math.log10(np.max(np.abs(xd)) ** 2 / mse), rel=1e-12)
    assert m.max_abs_error == pytest.approx(np.max(np.abs(e)), rel=1e-15)
    assert m.mean_error == pytest.approx(np.mean(e), rel=1e-9, abs=1e-15)
    cos = np.dot(xd, xhd) / (np.linalg.norm(xd) * np.linalg.norm(xhd))
    assert m.cosine == pytest.approx(cos, rel=1e-12)
    assert m.rmse_over_scale == pytest.approx(math.sqrt(mse) / float(qp.scale.ravel()[0]), rel=1e-9)
    assert all(isinstance(getattr(m, f), float) for f in Metrics.names() if f not in ("n", "nonfinite"))


def test_psnr_peak_is_max_abs_x_not_range():
    x = np.float32([-4.0, 1.0, 2.0])
    xh = np.float32([-4.0, 1.5, 2.0])
    m = error_metrics(x, xh)
    mse = 0.25 / 3
    assert m.psnr_db == pytest.approx(10 * math.log10(16.0 / mse))
    assert m.sqnr_db == pytest.approx(10 * math.log10(21.0 / 0.25))


def test_clip_plus_round_is_mse_and_clip_set_is_the_clamped_codes(rng):
    x = rng.normal(0, 1, 100_000).astype(np.float32)
    spec = QuantSpec(bits=4, signed=True, symmetric=False)
    qp = choose_qparams(-1.5, 1.0, spec)  # clip the tails
    xh = fake_quantize(x, qp)
    m = error_metrics(x, xh, qp)
    assert m.clip_mse > 0 and m.round_mse > 0
    assert m.clip_mse + m.round_mse == pytest.approx(m.mse, rel=1e-12)
    raw = np.rint(x * (np.float32(1) / qp.scale)) + np.float32(qp.zero_point)
    clipped = (raw < spec.qmin) | (raw > spec.qmax)
    e = xh.astype(np.float64) - x
    assert m.clip_mse == pytest.approx(np.sum(e[clipped] ** 2) / x.size, rel=1e-12)
    assert m.round_mse == pytest.approx(np.sum(e[~clipped] ** 2) / x.size, rel=1e-12)
    # inside the grid the rounding error never exceeds Δ/2
    assert np.abs(e[~clipped]).max() <= float(qp.scale) / 2 * (1 + 1e-6)


def test_no_clipping_means_zero_clip_mse(rng):
    x = rng.uniform(-0.99, 0.99, 10_000).astype(np.float32)
    qp = choose_qparams(-1.0, 1.0, QuantSpec(bits=8))
    m = error_metrics(x, fake_quantize(x, qp), qp)
    assert m.clip_mse == 0.0
    assert m.round_mse == m.mse


def test_symmetric_absmax_is_half_a_step_above_the_top_level():
    # torch's symmetric Δ = absmax / 127.5 puts +absmax at code 127.5: it rounds (to even) to 128
    # and the clamp brings it to 127, so it counts as clipped, with an error of exactly Δ/2.
    # -absmax sits at -127.5 and rounds to -128 without clipping (also Δ/2 away).
    absmax = 127.5 / 64  # makes Δ = 2**-6 exactly, so every product below is exact
    qp = choose_qparams(-absmax, absmax, QuantSpec(bits=8))
    d = float(qp.scale)
    assert d == 2.0**-6
    x = np.float32([absmax, -absmax, 0.0])
    xh = fake_quantize(x, qp)
    np.testing.assert_array_equal(xh, np.float32([127 * d, -128 * d, 0.0]))
    m = error_metrics(x, xh, qp)
    assert m.clip_mse == (d / 2) ** 2 / 3
    assert m.round_mse == (d / 2) ** 2 / 3
    assert m.max_abs_error == d / 2


def test_exact_reconstruction_is_infinite_snr_without_warnings():
    spec = QuantSpec(bits=4)
    qp = choose_qparams(-1.0, 1.0, spec)
    x = qp.levels()  # every level is reproduced exactly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xh = fake_quantize(x, qp)
        np.testing.assert_array_equal(xh, x)
        m = error_metrics(x, xh, qp)
        assert m.sqnr_db == math.inf and m.psnr_db == math.inf
        assert m.mse == 0.0 and m.max_abs_error == 0.0 and m.rmse_over_scale == 0.0
        assert m.cosine == pytest.approx(1.0)
        assert m.code_usage == 1.0 and m.wasted_range == 0.0
        z = np.zeros(8, np.float32)
        mz = error_metrics(z, z)
        assert mz.sqnr_db == math.inf and mz.psnr_db == math.inf and mz.cosine == 1.0
        mz = error_metrics(z, np.ones(8, np.float32))  # zero signal, nonzero error
        assert mz.sqnr_db == -math.inf and mz.cosine == 0.0


def test_rmse_over_scale_is_one_over_sqrt12_for_rounding_noise(rng):
    x = rng.uniform(-0.99, 0.99, 1_000_000).astype(np.float32)
    qp = choose_qparams(-1.0, 1.0, QuantSpec(bits=6))
    xh = fake_quantize(x, qp)
    m = error_metrics(x, xh, qp)
    assert m.clip_mse == 0.0
    assert m.rmse_over_scale == pytest.approx(1 / math.sqrt(12), abs=2e-3)  # 0.2887
    # stochastic rounding: E[e²] = Δ²·E[f(1-f)] = Δ²/6
    spec = QuantSpec(bits=6, rounding="stochastic", seed=1)
    qs = choose_qparams(x.min(), x.max(), spec)
    ms = error_metrics(x, fake_quantize(x, qs), qs)
    assert ms.rmse_over_scale == pytest.approx(1 / math.sqrt(6), abs=3e-3)


def test_rmse_over_scale_uses_each_blocks_scale(rng):
    x = (rng.uniform(-1, 1, (4, 50_000)) * np.float32([[1e-3], [1], [10], [1e4]])).astype(np.float32)
    xh, qp = _fq(x, QuantSpec(bits=8, granularity=PerChannel(0)))
    m = error_metrics(x, xh, qp)
    assert m.rmse_over_scale == pytest.approx(1 / math.sqrt(12), abs=3e-3)


def test_nonfinite_values_are_counted_and_excluded(rng):
    x = rng.normal(size=1000).astype(np.float32)
    xh, qp = _fq(x, QuantSpec(bits=8))
    ref = error_metrics(x, xh, qp)
    xb, xhb = x.copy(), xh.copy()
    xb[[3, 10]] = [np.nan, np.inf]
    xhb[[10, 20]] = [np.nan, -np.inf]
    keep = np.ones(1000, bool)
    keep[[3, 10, 20]] = False
    m = error_metrics(xb, xhb, qp)
    assert m.nonfinite == 3 and m.n == 997
    sub = error_metrics(x[keep], xh[keep])
    for f in ("mse", "sqnr_db", "psnr_db", "max_abs_error", "mean_error", "cosine"):
        assert getattr(m, f) == pytest.approx(getattr(sub, f), rel=1e-12), f
        assert math.isfinite(getattr(m, f))
    assert m.clip_mse + m.round_mse == pytest.approx(m.mse, rel=1e-12)
    assert 0 < m.code_usage <= 1 and 0 <= m.wasted_range <= 1
    assert m.code_usage <= ref.code_usage


def test_all_nonfinite_gives_nan_metrics_without_crashing():
    x = np.float32([np.nan, np.inf, -np.inf])
    qp = choose_qparams(-1.0, 1.0, QuantSpec())
    m = error_metrics(x, x, qp)
    assert m.n == 0 and m.nonfinite == 3
    assert math.isnan(m.mse) and math.isnan(m.sqnr_db) and math.isnan(m.code_usage)


def test_empty_and_mismatched_inputs_raise():
    with pytest.raises(ValueError, match="empty"):
        error_metrics(np.zeros(0, np.float32), np.zeros(0, np.float32))
    with pytest.raises(ValueError, match=r"shape \(3,\) but x_hat has shape \(4,\)"):
        error_metrics(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="shape"):
        error_metrics(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="qparams must be qviz.QParams"):
        error_metrics(np.ones(3), np.ones(3), qparams="int8")


def test_cosine_bounds():
    x = np.float32([1.0, -2.0, 3.0])
    assert error_metrics(x, x).cosine == pytest.approx(1.0)
    assert error_metrics(x, -x).cosine == pytest.approx(-1.0)
    assert error_metrics(x, np.zeros(3, np.float32)).cosine == 0.0
    assert error_metrics(x, np.float32([3.0, 1.0, -2.0])).cosine == pytest.approx(-5 / 14)


def test_code_usage_and_wasted_range_per_channel():
    # uint4 affine per channel: row 0 spans [0, 1] and reaches all 16 codes; row 1 spans [0.5, 1]
    # (range widened to [0, 1], Δ = 1/15) and reaches codes 8..15 only (0.55·15 = 8.25).
    x = np.stack([np.linspace(0, 1, 1001), np.linspace(0.55, 1, 1001)]).astype(np.float32)
    spec = QuantSpec(bits=4, signed=False, symmetric=False, granularity=PerChannel(0))
    xh, qp = _fq(x, spec)
    codes = qviz.quantize(x, qp)
    assert (codes[1].min(), codes[1].max()) == (8, 15)
    m = error_metrics(x, xh, qp)
    assert m.code_usage == pytest.approx((16 / 16 + 8 / 16) / 2)
    assert m.wasted_range == pytest.approx((0 + (1 - 7 / 15)) / 2)
    # the same rows per tensor: one block, all 16 codes used
    spec_t = QuantSpec(bits=4, signed=False, symmetric=False)
    xh_t, qp_t = _fq(x, spec_t)
    mt = error_metrics(x, xh_t, qp_t)
    assert mt.code_usage == 1.0 and mt.wasted_range == 0.0


def test_constant_block_uses_one_code():
    x = np.full((3, 10), 2.0, np.float32)
    spec = QuantSpec(bits=8, signed=False, symmetric=False, granularity=PerChannel(0))
    xh, qp = _fq(x, spec)
    m = error_metrics(x, xh, qp)
    assert m.code_usage == pytest.approx(1 / 256)
    assert m.wasted_range == 1.0


def test_qparams_fields_are_nan_without_qparams(rng):
    x = rng.normal(size=100).astype(np.float32)
    m = error_metrics(x, x + np.float32(0.01))
    for f in ("rmse_over_scale", "clip_mse", "round_mse", "code_usage", "wasted_range"):
        assert math.isnan(getattr(m, f)), f
    assert set(m.as_dict()) == set(Metrics.names())


def test_torch_and_other_dtypes_accepted(rng):
    import torch
    x = rng.normal(size=(8, 16)).astype(np.float32)
    xh, qp = _fq(x, QuantSpec(bits=8, granularity=PerChannel(1)))
    ref = error_metrics(x, xh, qp)
    m = error_metrics(torch.from_numpy(x), torch.from_numpy(xh), qp)
    assert m == ref
    m64 = error_metrics(x.astype(np.float64), xh.astype(np.float64), qp)
    assert m64 == ref


def test_midrise_metrics(rng):
    x = rng.uniform(-1, 1, 200_000).astype(np.float32)
    spec = QuantSpec(bits=3, quantizer="midrise")
    qp = choose_qparams(-1.0, 1.0, spec)
    m = error_metrics(x, fake_quantize(x, qp), qp)
    assert m.clip_mse == 0.0
    assert m.code_usage == 1.0
    assert m.rmse_over_scale == pytest.approx(1 / math.sqrt(12), abs=3e-3)
    assert abs(m.mean_error) < 1e-3


def test_metrics_does_not_modify_inputs(rng):
    x = rng.normal(size=100).astype(np.float32)
    x[0] = np.nan
    xh = x.copy()
    xh[1] = np.inf
    before = (x.copy(), xh.copy())
    qp = choose_qparams(-1.0, 1.0, QuantSpec())
    error_metrics(x, xh, qp)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(xh, before[1])


def test_user_made_qparams(rng):
    x = rng.normal(size=1000).astype(np.float32)
    qp = QParams(np.float32(0.05), np.int64(3), QuantSpec(bits=8, symmetric=False))
    m = error_metrics(x, fake_quantize(x, qp), qp)
    assert m.clip_mse + m.round_mse == pytest.approx(m.mse)
