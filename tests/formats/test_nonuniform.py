"""NF4 equals QLoRA's table; k-means reaches Lloyd–Max's optimum; log2, binary, ternary and uniform do what they say."""

from __future__ import annotations

import numpy as np
import pytest

import qviz
from qviz.formats import FORMATS, NF4_LEVELS, fit_codebook, format_names

# QLoRA (Dettmers et al. 2023), appendix E, and bitsandbytes' NF4 lookup table, lowest first
QLORA_NF4 = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
]


def test_nf4_levels_equal_qlora_table():
    assert NF4_LEVELS.tolist() == QLORA_NF4
    assert FORMATS["nf4"].levels(np.array([-1.0, 1.0])).tolist() == QLORA_NF4


def test_nf4_levels_are_normal_quantiles():
    """Rebuilt as bitsandbytes' create_normal_map(offset=0.9677083): 8 positive and 7 negative N(0,1) quantiles, and 0."""
    from scipy.stats import norm
    offset = 0.9677083
    pos = norm.ppf(np.linspace(offset, 0.5, 9)[:-1])
    neg = -norm.ppf(np.linspace(offset, 0.5, 8)[:-1])
    v = np.sort(np.concatenate([pos, [0.0], neg]))
    v /= v.max()
    np.testing.assert_allclose(NF4_LEVELS, v, atol=2e-7)


def test_nf4_scales_each_block_of_64_by_its_absmax(rng):
    x = rng.normal(0, 1, (4, 64)).astype(np.float32) * np.array([[0.01], [1], [100], [0]], dtype=np.float32)
    out = FORMATS["nf4"].fake_quantize(x)
    for row, o in zip(x, out):
        amax = np.abs(row).max()
        if amax == 0:
            assert not o.any()
            continue
        idx = np.abs(row[:, None] / amax - NF4_LEVELS[None, :]).argmin(axis=1)
        np.testing.assert_allclose(o, NF4_LEVELS[idx] * amax, rtol=1e-6)
        assert np.abs(o).max() == pytest.approx(amax, rel=1e-6)


@pytest.mark.parametrize(("k", "max_distortion"), [(4, 0.1175), (16, 0.009497)])
def test_kmeans_reaches_lloyd_max_optimum_on_a_gaussian(k, max_distortion):
    """Max (1960): the optimal k-level quantizer of N(0, 1) has MSE 0.1175 (k=4) and 0.009497 (k=16)."""
    x = np.random.default_rng(0).normal(0, 1, 400_000).astype(np.float32)
    p = fit_codebook(x, k)
    assert p.size == k
    mse = float(np.mean((FORMATS[f"kmeans_{int(np.log2(k))}"].fake_quantize(x) - x).astype(np.float64) ** 2))
    assert mse / float(np.var(x)) == pytest.approx(max_distortion, rel=0.02)
    np.testing.assert_allclose(p, -p[::-1], atol=0.03)  # symmetric, as the density


def test_kmeans_with_few_distinct_values_is_exact():
    x = np.array([1.0, 2.0, 2.0, 7.0], dtype=np.float32)
    np.testing.assert_array_equal(FORMATS["kmeans_4"].fake_quantize(x), x)


def test_log2_levels_are_powers_of_two():
    x = np.array([-3.0, 0.0, 0.2, 1.1, 2.9], dtype=np.float32)
    lv = FORMATS["log2_4"].levels(x)
    mags = np.abs(lv[lv != 0]) / 3.0
    np.testing.assert_array_equal(np.log2(mags), np.round(np.log2(mags)))
    assert sorted(set(np.log2(mags).astype(int))) == list(range(-6, 1))  # 4 bits: sign + 7 powers + 0
    out = FORMATS["log2_4"].fake_quantize(x)
    assert set(out.tolist()) <= set(lv.tolist())
    assert out.tolist() == [-3.0, 0.0, 0.1875, 0.75, 3.0]


def test_binary_and_ternary(rng):
    x = rng.normal(0, 1, 10_000).astype(np.float32)
    a = np.abs(x).mean()
    b = FORMATS["binary"].fake_quantize(x)
    np.testing.assert_allclose(np.abs(b), a, rtol=1e-6)
    assert (np.sign(b) == np.where(x >= 0, 1, -1)).all()
    t = FORMATS["ternary"].fake_quantize(x)
    delta = 0.7 * a
    assert (t[np.abs(x) <= delta] == 0).all()
    np.testing.assert_allclose(np.abs(t[np.abs(x) > delta]), np.abs(x[np.abs(x) > delta]).mean(), rtol=1e-5)
    assert FORMATS["ternary"].levels(x).size == 3 and FORMATS["binary"].levels(x).size == 2


def test_uniform_formats_are_qviz_fake_quantize(rng):
    x = rng.normal(0, 1, (8, 128)).astype(np.float32)
    spec = qviz.QuantSpec(bits=4)
    qp = qviz.choose_qparams(x.min(), x.max(), spec)
    np.testing.assert_array_equal(FORMATS["int4"].fake_quantize(x), qviz.fake_quantize(x, qp))
    gspec = qviz.QuantSpec(bits=4, granularity=qviz.PerGroup(64))
    gq = qviz.calibrate(x, gspec, "minmax").qparams
    np.testing.assert_array_equal(FORMATS["int4_g64"].fake_quantize(x), qviz.fake_quantize(x, gq))
    assert FORMATS["int4"].levels(x).size == 16


@pytest.mark.parametrize("name", format_names())
def test_every_format_outputs_its_levels(name, rng):
    x = rng.standard_t(4, 4096).astype(np.float32).reshape(64, 64)
    f = FORMATS[name]
    out = f.fake_quantize(x)
    assert out.shape == x.shape and out.dtype == np.float32 and np.isfinite(out).all()
    lv = f.levels(x)
    assert lv.ndim == 1 and np.all(np.diff(lv) > 0)
    if f.block_size == 0:  # one grid for the whole tensor: every output is one of its levels
        assert np.isin(out, lv).all()
    assert f.bits_per_value > 0 and f.title and f.family in qviz.formats.FAMILIES
    with pytest.raises(ValueError, match="empty"):
        f.fake_quantize(np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="no finite"):
        f.fake_quantize(np.full(4, np.nan, np.float32))


def test_sqnr_on_a_gaussian_orders_as_expected():
    x = qviz.sample("gaussian")
    t = qviz.formats.compare_formats(x).set_index("format")["sqnr_db"]
    # ~4 bits: fitted or normal levels beat a uniform per-tensor grid by 4+ dB
    assert t["kmeans_4"] > t["int4"] + 4 and t["nf4"] > t["int4"] + 4
    assert t["nf4"] > t["int4_g64"]  # the same 4.5 bits: normal-quantile levels fit a Gaussian better
    assert t["mxfp4"] > t["fp4_e2m1"]  # block scales follow local ranges
    # ~8 bits: int8's uniform grid beats FP8's (a Gaussian is not heavy-tailed); E4M3 beats E5M2
    assert t["int8"] > t["fp8_e4m3"] > t["fp8_e5m2"]
    assert t["ternary"] > t["binary"]


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown format 'int5'.*nf4"):
        qviz.formats.get_format("int5")


def test_import_qviz_stays_torch_free():
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, qviz, qviz.formats, qviz.intarith; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "False"  # torch is imported lazily, inside the FP8 cast
