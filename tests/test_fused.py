"""The fused scan kernels (qviz.fused) against today's numpy path, value by value.

Reference: ``qviz.metrics.error_sums(x, qviz.fake_quantize(x, qp), qp)`` and
``qviz.calibrate(x, spec, "minmax")``. Everything decided per value — x̂ and the codes (through
``max|e|``, the code sets, lowest/highest codes), the clipped set, counts, ``max|x|``, the minmax
range and its QParams — must be bit-identical; the float64 sums are the same terms added in
another order, so they agree to float64 rounding (relative 1e-12), and are bit-identical for any
number of threads.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import qviz
from qviz import fused
from qviz.metrics import error_sums
from qviz.stats import tensor_stats

EXACT = ["n", "nonfinite", "peak", "maxerr"]
SUMS = ["sse", "se", "signal", "nh", "dot", "lsb_sse", "clip_sse"]


def fused_scan(x, spec, axis=0, task=257, pool=None):
    lay = fused.layout(x.shape, spec.granularity, axis)
    r = fused.ranges(x, lay, pool, task)
    lo, hi = fused.minmax_clip(r, spec)
    return lay, r, lo, hi


def check(x: np.ndarray, spec: qviz.QuantSpec, axis: int = 0, task: int = 257):
    lay, r, lo, hi = fused_scan(x, spec, axis, task)
    cal = qviz.calibrate(x, spec, "minmax")
    assert np.array_equal(lo.ravel(), cal.clip_min.ravel()) and np.array_equal(hi.ravel(), cal.clip_max.ravel())
    qp = cal.qparams
    e = fused.errors(x, lay, qp, r, task_numel=task)
    got, ref = e.error_sums(), error_sums(x, qviz.fake_quantize(x, qp), qp)
    for f in EXACT:
        assert getattr(got, f) == getattr(ref, f), (f, getattr(got, f), getattr(ref, f))
    for f in SUMS:
        a, b = getattr(got, f), getattr(ref, f)
        assert a == pytest.approx(b, rel=1e-12, abs=1e-300), (f, a, b)
    assert np.array_equal(got.code_lo, ref.code_lo, equal_nan=True)
    assert np.array_equal(got.code_hi, ref.code_hi, equal_nan=True)
    assert np.array_equal(got.used, ref.used)
    m, mr = e.metrics(), ref.metrics()
    for f in ("code_usage", "wasted_range", "max_abs_error", "n"):
        a, b = getattr(m, f), getattr(mr, f)
        assert a == b or (math.isnan(a) and math.isnan(b)), (f, a, b)
    for f in ("sqnr_db", "psnr_db", "mse", "cosine", "clip_mse", "round_mse", "rmse_over_scale", "mean_error"):
        assert getattr(m, f) == pytest.approx(getattr(mr, f), rel=1e-9, abs=1e-300, nan_ok=True), f
    s = tensor_stats(x, axis=axis)
    mom = e.moments(r.mean)
    for f in ("mean", "std", "kurtosis"):
        assert mom[f] == pytest.approx(s[f], rel=1e-9, abs=1e-12, nan_ok=True), f
    assert fused.channel_range_ratio(r, x.shape, axis) == pytest.approx(s["channel_range_ratio"], rel=1e-12, nan_ok=True)
    return e


GRAN = [
    qviz.PerTensor(), qviz.PerChannel(0), qviz.PerChannel(1), qviz.PerChannel(-1), qviz.PerGroup(8), qviz.PerGroup(4, axis=0),
    qviz.PerGroup(2, axis=1),
]


@settings(max_examples=30)
@given(
    g=st.sampled_from(GRAN),
    bits=st.integers(1, 10),
    signed=st.booleans(),
    symmetric=st.booleans(),
    midrise=st.booleans(),
    narrow=st.booleans(),
    dtype=st.sampled_from(["float32", "bfloat16", "float16"]),
    shape=st.sampled_from([(16, 24), (8, 4, 6), (12, 8, 2, 3)]),
    bad=st.integers(0, 3),
    dist=st.sampled_from(["normal", "t", "shifted", "constant"]),
    seed=st.integers(0, 2**16),
    task=st.sampled_from([1, 37, 200, 1 << 20]),
)
def test_fused_equals_numpy(g, bits, signed, symmetric, midrise, narrow, dtype, shape, bad, dist, seed, task):
    if narrow and (bits < 2 or not signed):
        narrow = False
    try:
        spec = qviz.QuantSpec(bits=bits, signed=signed, symmetric=symmetric, narrow_range=narrow,
                              quantizer="midrise" if midrise else "midtread", granularity=g)
        qviz.blocks.grid_shape(shape, g)
    except ValueError:  # a combination QuantSpec refuses, or a group size that does not divide the axis
        assume(False)
    rng = np.random.default_rng(seed)
    x = {"normal": rng.normal(size=shape), "t": rng.standard_t(2, size=shape) * 3, "shifted": rng.uniform(40, 1000, size=shape),
         "constant": np.full(shape, 0.75)}[dist].astype(np.float32)
    x = torch.from_numpy(x).to(getattr(torch, dtype)).float().numpy()  # bf16 / fp16 values, widened exactly
    flat = x.reshape(-1)
    for i in rng.choice(flat.size, size=bad, replace=False):
        flat[i] = [np.nan, np.inf, -np.inf][i % 3]
    axis = g.axis if isinstance(g, qviz.PerChannel) else 0
    check(x, spec, axis, task)


def test_edge_values():
    """Overflowing x·(1/Δ), exact zeros, one-element, 1-d, 0-d, huge and tiny magnitudes."""
    big = np.array([[3e38, -3e38, 1.0, 0.0], [1e-30, -0.0, 2.0, -1.0]], dtype=np.float32)
    check(big, qviz.QuantSpec(bits=8))
    check(big, qviz.QuantSpec(bits=4, symmetric=False, signed=False, granularity=qviz.PerChannel(1)))
    wide = qviz.QuantSpec(bits=4, symmetric=False)  # (max − min) overflows float32: choose_qparams refuses it
    lay, r, lo, hi = fused_scan(big, wide)
    with pytest.raises(ValueError, match="wider than float32"):
        qviz.choose_qparams(lo, hi, wide)
    check(np.zeros((3, 5), np.float32), qviz.QuantSpec(symmetric=False))
    check(np.array([2.5], np.float32), qviz.QuantSpec())
    check(np.linspace(-1, 1, 33, dtype=np.float32), qviz.QuantSpec(bits=3, quantizer="midrise"))
    check(np.float32(-4.0).reshape(()), qviz.QuantSpec())
    check(np.random.default_rng(0).normal(size=(6, 64)).astype(np.float32), qviz.QuantSpec(bits=16))
    # a value that is exactly half a step: ties round to even, as torch
    qp = qviz.choose_qparams(-1.0, 1.0, qviz.QuantSpec(bits=2))
    x = (np.array([[0.5, 1.5, -0.5, -1.5, 2.5]], np.float32) * qp.scale).astype(np.float32)
    check(x, qviz.QuantSpec(bits=2))


def test_threads_give_identical_sums():
    x = np.random.default_rng(1).standard_t(3, size=(300, 700)).astype(np.float32)
    x[5, 5] = np.nan
    for g in (qviz.PerTensor(), qviz.PerChannel(1), qviz.PerGroup(7)):
        spec = qviz.QuantSpec(bits=4, symmetric=False, granularity=g)
        outs = []
        with ThreadPoolExecutor(4) as pool:
            for p in (None, pool):
                lay, r, lo, hi = fused_scan(x, spec, task=5000, pool=p)
                qp = qviz.choose_qparams(lo, hi, spec)
                e = fused.errors(x, lay, qp, r, p, 5000)
                outs.append((r.total, e.sums.tobytes(), e.masks.tobytes()))
        assert outs[0] == outs[1]


def test_rows_error_sums_merge_to_whole():
    from qviz.streaming import rows_error_sums

    x = np.random.default_rng(2).normal(size=(50, 12)).astype(np.float32)
    spec = qviz.QuantSpec(bits=5, symmetric=False)
    qp = qviz.calibrate(x, spec, "minmax").qparams
    parts = [rows_error_sums(x, qp, (a, min(a + 16, 50))) for a in range(0, 50, 16)]
    total = parts[0]
    for p in parts[1:]:
        total = total.merge(p, same_blocks=True)
    ref = error_sums(x, qviz.fake_quantize(x, qp), qp)
    assert np.array_equal(total.used, ref.used) and total.maxerr == ref.maxerr
    assert total.metrics().sqnr_db == pytest.approx(ref.metrics().sqnr_db, rel=1e-12)


def test_stochastic_rounding_is_refused():
    x = np.ones((2, 2), np.float32)
    spec = qviz.QuantSpec(rounding="stochastic", seed=1)
    lay, r, lo, hi = fused_scan(x, spec)
    with pytest.raises(fused.Unsupported, match="stochastic"):
        fused.errors(x, lay, qviz.choose_qparams(lo, hi, spec), r)
