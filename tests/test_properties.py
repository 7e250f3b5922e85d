"""Property tests (hypothesis) over random specs and tensors.

Tolerances: qviz computes in float32 like torch. The error bound for a value inside
the grid's coverage is Δ/2 plus float32 rounding of ``x·fl(1/Δ)`` and of the level
``(q - z + o)·Δ``: a few ulps of |x| and of the largest level. ``_tol`` spells it out.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from qviz_testutil import assert_bitwise_equal, bits_of

import qviz
from qviz import PerChannel, PerGroup, PerTensor, QuantSpec, choose_qparams, error_metrics, fake_quantize, quantize

F32_EPS = float(np.finfo(np.float32).eps)


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def shapes_and_granularity(draw):
    shape = tuple(draw(st.lists(st.integers(1, 8), min_size=1, max_size=3)))
    kind = draw(st.sampled_from(["tensor", "channel", "group"]))
    nd = len(shape)
    if kind == "tensor":
        return shape, PerTensor()
    axis = draw(st.integers(-nd, nd - 1))
    if kind == "channel":
        return shape, PerChannel(axis)
    return shape, PerGroup(draw(st.sampled_from(_divisors(shape[axis]))), axis)


@st.composite
def specs(draw, granularity=PerTensor(), rounding="nearest", quantizer=None):
    bits = draw(st.integers(1, 16))
    signed = draw(st.booleans())
    symmetric = draw(st.booleans())
    quantizer = quantizer or draw(st.sampled_from(["midtread", "midrise"]))
    narrow = draw(st.booleans()) and bits >= 2 and not (symmetric and quantizer == "midrise")
    seed = draw(st.integers(0, 2**31))
    return QuantSpec(
        bits=bits, signed=signed, symmetric=symmetric, narrow_range=narrow, quantizer=quantizer,
        granularity=granularity, rounding=rounding, seed=seed,
    )


@st.composite
def tensors(draw, shape):
    """float32 values at a random magnitude and offset (so ranges are skewed, tiny, huge or constant)."""
    exp = draw(st.integers(-20, 20))
    base = draw(hnp.arrays(np.float32, shape, elements=st.floats(-1, 1, width=32)))
    offset = draw(st.sampled_from([0.0, 0.0, 1.0, -1.0, 3.0, -0.5]))
    with np.errstate(over="ignore"):
        x = ((base.astype(np.float64) + offset) * 10.0**exp).astype(np.float32)
    return x


@st.composite
def cases(draw, rounding="nearest", quantizer=None):
    shape, g = draw(shapes_and_granularity())
    spec = draw(specs(granularity=g, rounding=rounding, quantizer=quantizer))
    x = draw(tensors(shape))
    return spec, x


def _calibrated(x, spec):
    lo, hi = qviz.block_min_max(x, spec.granularity)
    return choose_qparams(lo, hi, spec)


def _per_element(params, x, spec):
    """Grid parameters broadcast to x's shape."""
    v = qviz.blocks.split(np.empty(x.shape, np.float32), spec.granularity)
    return np.broadcast_to(qviz.blocks.expand(params, x.shape, spec.granularity), v.shape).reshape(x.shape)


def _tol(x, qp):
    spec = qp.spec
    d = _per_element(qp.scale.astype(np.float64), x, spec)
    z = _per_element(qp.zero_point.astype(np.float64), x, spec)
    top = np.maximum(np.abs(spec.qmin - z), np.abs(spec.qmax - z)) + 1
    return d / 2 + d * 1e-5 + 4 * F32_EPS * (np.abs(x.astype(np.float64)) + top * d)


@given(cases())
def test_codes_within_range(case):
    spec, x = case
    qp = _calibrated(x, spec)
    extra = np.float32([np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0])
    for xx in (x, x * np.float32(7), x - np.float32(1e3)):
        q = quantize(xx, qp)
        assert q.dtype == np.int32 and q.shape == x.shape
        assert q.min() >= spec.qmin and q.max() <= spec.qmax
    spec_t = QuantSpec(bits=spec.bits, signed=spec.signed, symmetric=spec.symmetric, narrow_range=spec.narrow_range,
                       quantizer=spec.quantizer)
    qpt = _calibrated(x.ravel(), spec_t)
    q = quantize(extra, qpt)
    assert q.min() >= spec.qmin and q.max() <= spec.qmax


@given(cases())
def test_error_at_most_half_a_step_inside_the_calibrated_range(case):
    spec, x = case
    qp = _calibrated(x, spec)
    xh = fake_quantize(x, qp)
    err = np.abs(xh.astype(np.float64) - x)
    tol = _tol(x, qp)
    note(f"{spec.describe()} worst err/tol {np.max(err / tol):.4f}")
    assert np.all(err <= tol), (spec.describe(), float(np.max(err - tol)))
    # the grid's coverage holds the range's own ends too
    lo, hi = qviz.block_min_max(x, spec.granularity)
    lo_e, hi_e = _per_element(lo, x, spec), _per_element(hi, x, spec)
    for ends in (lo_e, hi_e):
        ends = np.ascontiguousarray(ends, dtype=np.float32)
        e = np.abs(fake_quantize(ends, qp).astype(np.float64) - ends)
        assert np.all(e <= _tol(ends, qp))


@given(cases(quantizer="midtread"))
def test_midtread_zero_is_exact(case):
    spec, x = case
    qp = _calibrated(x, spec)
    zeros = np.zeros(x.shape, np.float32)
    out = fake_quantize(zeros, qp)
    assert np.all(out == 0)
    assert np.all(quantize(zeros, qp) == _per_element(qp.zero_point, x, spec))


@given(cases())
def test_fake_quantize_is_idempotent(case):
    spec, x = case
    qp = _calibrated(x, spec)
    once = fake_quantize(x, qp)
    assert_bitwise_equal(fake_quantize(once, qp), once, spec.describe())
    # and equal to dequantize(quantize(x))
    assert_bitwise_equal(qviz.dequantize(quantize(x, qp), qp), once, spec.describe())


@given(cases())
def test_fake_quantize_is_monotonic_per_block(case):
    spec, x = case
    qp = _calibrated(x, spec)
    rows = qviz.blocks.to_blocks(x, spec.granularity)
    out = qviz.blocks.to_blocks(fake_quantize(x, qp), spec.granularity)
    for r, o in zip(rows, out):
        order = np.argsort(r, kind="stable")
        assert np.all(np.diff(o[order]) >= 0)


@given(cases(quantizer="midrise"))
def test_midrise_never_outputs_zero_and_uses_odd_half_steps(case):
    spec, x = case
    qp = _calibrated(x, spec)
    probe = np.concatenate([x.ravel(), np.zeros(3, np.float32)])
    spec_t = QuantSpec(bits=spec.bits, signed=spec.signed, symmetric=spec.symmetric, narrow_range=spec.narrow_range,
                       quantizer="midrise")
    for xx, p in ((x, qp), (probe, _calibrated(probe, spec_t))):
        xh = fake_quantize(xx, p).astype(np.float64)
        assert np.all(xh != 0)
        d = _per_element(p.scale.astype(np.float64), xx, p.spec)
        half_steps = 2 * xh / d  # ±1, ±3, ±5, ...
        nearest = np.rint(half_steps)
        # float32 levels: a few ulps of the largest level (2**17 half steps at 16 bits)
        assert np.all(np.abs(half_steps - nearest) < 1e-3 + 8 * F32_EPS * np.abs(half_steps))
        assert np.all(np.mod(nearest, 2) == 1)


@given(st.integers(1, 16), st.booleans(), st.integers(0, 1000))
def test_midrise_symmetric_levels_are_plus_minus_half_step(bits, signed, seed):
    spec = QuantSpec(bits=bits, signed=signed, symmetric=True, quantizer="midrise")
    qp = choose_qparams(-1.0, 1.0, spec)
    levels = qp.levels().astype(np.float64)
    d = float(qp.scale)
    expected = (np.arange(-(2 ** (bits - 1)), 2 ** (bits - 1)) + 0.5) * d
    np.testing.assert_allclose(levels, expected, rtol=1e-6)
    assert levels[0] == -levels[-1]  # symmetric around 0
    assert 0 not in levels


@given(cases(rounding="stochastic"))
def test_stochastic_lands_on_a_neighbouring_level_and_is_seeded(case):
    spec, x = case
    qp = _calibrated(x, spec)
    a = fake_quantize(x, qp)
    assert_bitwise_equal(fake_quantize(x, qp), a)
    q = quantize(x, qp)
    assert q.min() >= spec.qmin and q.max() <= spec.qmax
    err = np.abs(a.astype(np.float64) - x)
    tol = 2 * _tol(x, qp)  # within one step (the two levels around x)
    assert np.all(err <= tol)


@settings(max_examples=25)
@given(
    st.integers(2, 16),
    st.booleans(),
    st.sampled_from(["midtread", "midrise"]),
    st.floats(0.02, 0.98),
    st.integers(0, 2**31),
)
def test_stochastic_rounding_is_unbiased(bits, symmetric, quantizer, frac, seed):
    """The same value repeated n times: mean(x̂) ≈ x; nearest rounding is off by min(frac, 1-frac)·Δ."""
    spec = QuantSpec(bits=bits, symmetric=symmetric, quantizer=quantizer, rounding="stochastic", seed=seed)
    qp = choose_qparams(-1.0, 1.0, spec)
    d = float(qp.scale)
    z = int(qp.zero_point)
    k = max(spec.qmin - z, -3)  # a cell well inside the grid
    x0 = np.float32((k + frac + spec.level_offset) * d)
    frac = float(x0) / d - k - spec.level_offset  # what the float32 value really is
    n = 40_000
    x = np.full(n, x0, np.float32)
    xh = fake_quantize(x, qp).astype(np.float64)
    bias = float(np.mean(xh - float(x0)))
    sigma = d * math.sqrt(frac * (1 - frac) / n)
    assert abs(bias) <= 5 * sigma + 1e-6 * d, (bias / d, sigma / d)
    # the share rounded up is frac
    assert abs(np.mean(xh > float(x0)) - frac) <= 5 * math.sqrt(frac * (1 - frac) / n) + 1e-3
    near = fake_quantize(x, QParams_like(qp, rounding="nearest"))
    assert abs(float(np.mean(near.astype(np.float64) - float(x0)))) >= min(frac, 1 - frac) * d * 0.99


def QParams_like(qp, **changes):
    s = qp.spec
    fields = dict(bits=s.bits, signed=s.signed, symmetric=s.symmetric, narrow_range=s.narrow_range,
                  quantizer=s.quantizer, granularity=s.granularity, rounding=s.rounding, seed=s.seed)
    fields.update(changes)
    return qviz.QParams(qp.scale, qp.zero_point, QuantSpec(**fields))


def test_stochastic_rounding_unbiased_over_many_values(rng):
    spec = QuantSpec(bits=3, rounding="stochastic", seed=11)
    qp = choose_qparams(-1.0, 1.0, spec)
    # between the lowest and the highest level (beyond them, nothing can round outward)
    x = rng.uniform(float(qp.level_min), float(qp.level_max), 500_000).astype(np.float32)
    xh = fake_quantize(x, qp)
    d = float(qp.scale)
    bias = float(np.mean(xh.astype(np.float64) - x))
    assert abs(bias) < 5 * (d / 2) / math.sqrt(x.size)
    near = fake_quantize(x, QParams_like(qp, rounding="nearest"))
    assert np.mean(near != xh) == pytest.approx(0.25, abs=0.01)  # E[min(f, 1-f)] for uniform f: not nearest


@given(cases())
def test_inputs_are_never_modified(case):
    spec, x = case
    x = x.copy()
    x.ravel()[0] = np.nan
    before = bits_of(x).copy()
    qp = _calibrated(x, spec)
    q = quantize(x, qp)
    fake_quantize(x, qp)
    qviz.dequantize(q, qp)
    error_metrics(x, fake_quantize(x, qp), qp)
    np.testing.assert_array_equal(bits_of(x), before)
    q_before = q.copy()
    qviz.dequantize(q, qp)
    np.testing.assert_array_equal(q, q_before)


@settings(max_examples=30)
@given(cases())
def test_torch_inputs_never_modified_and_torch_out(case):
    import torch
    spec, x = case
    t = torch.from_numpy(x.copy())
    keep = t.clone()
    qp = _calibrated(x, spec)
    out = fake_quantize(t, qp)
    codes = quantize(t, qp)
    back = qviz.dequantize(codes, qp)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and tuple(out.shape) == x.shape
    assert isinstance(codes, torch.Tensor) and codes.dtype == torch.int32
    assert isinstance(back, torch.Tensor)
    assert_bitwise_equal(t.numpy(), keep.numpy(), "input tensor changed")
    assert_bitwise_equal(out.numpy(), fake_quantize(x, qp))
    # the output does not alias the input
    out.add_(1.0)
    assert torch.equal(t, keep)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float64", "int32", "uint8", "bool", "int8"])
def test_other_input_dtypes(dtype, rng):
    import torch
    base = rng.normal(0, 3, (5, 6))
    spec = QuantSpec(bits=4, granularity=PerChannel(1))
    if dtype in ("bfloat16",):
        t = torch.from_numpy(base).to(torch.bfloat16)
        keep = t.clone()
        ref = t.to(torch.float32).numpy()
        qp = _calibrated(ref, spec)
        out = fake_quantize(t, qp)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
        assert torch.equal(t, keep)
        assert_bitwise_equal(out.numpy(), fake_quantize(ref, qp))
        return
    if dtype == "bool":
        x = base > 0
    else:
        x = base.astype(dtype)
    ref = x.astype(np.float32)  # float64 rounds to nearest float32; ints and fp16 are exact
    keep = x.copy()
    qp = _calibrated(ref, spec)
    out = fake_quantize(x, qp)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(x, keep)
    assert_bitwise_equal(out, fake_quantize(ref, qp))
    # the torch twin of the same dtype gives the same bits, as a tensor
    tt = torch.from_numpy(x.copy())
    tout = fake_quantize(tt, qp)
    assert isinstance(tout, torch.Tensor)
    assert_bitwise_equal(tout.numpy(), out)


@settings(max_examples=40)
@given(cases(quantizer="midtread"))
def test_midtread_nearest_matches_torch_fake_quant(case):
    """Any bit width 1..16 and any range: the same bits as torch's kernels (per-tensor; per-channel too)."""
    import torch
    spec, x = case
    if isinstance(spec.granularity, PerGroup):
        spec = QParams_like(qviz.QParams(None, None, spec), granularity=PerTensor()).spec
    qp = _calibrated(x, spec)
    if isinstance(spec.granularity, PerTensor):
        ref = torch.fake_quantize_per_tensor_affine(
            torch.from_numpy(x), float(np.ravel(qp.scale)[0]), int(np.ravel(qp.zero_point)[0]), spec.qmin, spec.qmax
        )
    else:
        axis = spec.granularity.axis % x.ndim
        ref = torch.fake_quantize_per_channel_affine(
            torch.from_numpy(x), torch.from_numpy(qp.scale.ravel().copy()),
            torch.from_numpy(qp.zero_point.ravel().astype(np.int32)), axis, spec.qmin, spec.qmax,
        )
    assert_bitwise_equal(fake_quantize(x, qp), ref.numpy(), spec.describe())


@given(cases())
def test_metric_invariants(case):
    spec, x = case
    qp = _calibrated(x, spec)
    xh = fake_quantize(x, qp)
    m = error_metrics(x, xh, qp)
    assert m.n == x.size and m.nonfinite == 0
    assert -1.0 <= m.cosine <= 1.0
    assert 0.0 < m.code_usage <= 1.0
    assert 0.0 <= m.wasted_range <= 1.0
    assert m.clip_mse >= 0 and m.round_mse >= 0
    assert m.clip_mse + m.round_mse == pytest.approx(m.mse, rel=1e-9, abs=1e-300)
    if m.mse == 0:
        assert m.sqnr_db == math.inf or not np.any(x)
    assert m.max_abs_error <= float(np.max(_tol(x, qp))) * 2


@given(hnp.arrays(np.float32, st.integers(1, 50), elements=st.floats(-1e6, 1e6, width=32)),
       hnp.arrays(np.float32, st.integers(1, 50), elements=st.floats(-1e6, 1e6, width=32)))
def test_cosine_in_bounds_for_any_pair(a, b):
    n = min(a.size, b.size)
    m = error_metrics(a[:n], b[:n])
    assert -1.0 <= m.cosine <= 1.0
