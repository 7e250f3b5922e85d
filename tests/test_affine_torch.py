"""Bit-for-bit agreement with torch's fake-quant kernels and MinMax observers.

What is compared (torch 2.13, CPU):

* ``qviz.fake_quantize`` vs ``torch.fake_quantize_per_tensor_affine`` and
  ``torch.fake_quantize_per_channel_affine`` for every 8-bit configuration torch's
  observers produce (qint8/quint8 x affine/symmetric, narrow [-127, 127]), per-tensor
  and per-channel (ch_axis 0 and 1, a 4-D conv weight), and for custom
  ``quant_min/quant_max`` ranges of 1 to 16 bits, on random tensors, exact ties
  ((k + 1/2)·Δ in float32), and values far outside the range.
* ``qviz.quantize`` codes: ``(codes - z)·Δ`` is the fake-quant output, and the codes
  equal ``torch.quantize_per_tensor(...).int_repr()`` whenever z = 0.
  ``quantize_per_tensor`` adds z *before* rounding, so with z != 0 it differs from
  fake-quant (and qviz) by one code on a few elements per million (measured below).
* ``qviz.choose_qparams`` vs ``MinMaxObserver`` / ``PerChannelMinMaxObserver``.

Measured torch behaviour that qviz deliberately does not copy:

* NaN: torch's fake-quant outputs the qmin level; qviz keeps NaN (documented).
* ``fake_quantize_per_channel_affine`` sends values with |x/Δ| beyond the int64
  range (±1e30, ±inf) to **qmin**, even positive ones; the per-tensor kernel saturates
  them correctly. qviz saturates in both granularities (follows the per-tensor kernel).
* For *unsigned symmetric* observers given an explicit ``quant_min/quant_max``, torch
  uses z = (qmin + qmax) // 2 (127 for an explicit [0, 255], 7 for [0, 15]) but 128
  for the default quint8 and 32768 for uint16. qviz uses 2**(bits-1) (torch's
  defaults); only the default configurations are compared.
* Observers reject ranges without 0 (narrow uint8 [1, 255]).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from qviz_testutil import assert_bitwise_equal

import torch  # noqa: E402
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver  # noqa: E402

import qviz  # noqa: E402
from qviz import PerChannel, QParams, QuantSpec  # noqa: E402

warnings.filterwarnings("ignore", module=r"torch\.ao\.quantization.*")
pytestmark = pytest.mark.filterwarnings("ignore:.*quantized tensor creation functions.*:UserWarning")

# (name, spec kwargs, observer dtype, observer kwargs) for every 8-bit configuration of torch's observers
CONFIGS_8BIT = [
    ("qint8-affine", dict(signed=True, symmetric=False), torch.qint8, {}),
    ("qint8-symmetric", dict(signed=True, symmetric=True), torch.qint8, {}),
    ("quint8-affine", dict(signed=False, symmetric=False), torch.quint8, {}),
    ("quint8-symmetric", dict(signed=False, symmetric=True), torch.quint8, {}),
    ("qint8-narrow-affine", dict(signed=True, symmetric=False, narrow_range=True), torch.qint8, dict(quant_min=-127, quant_max=127)),
    ("qint8-narrow-symmetric", dict(signed=True, symmetric=True, narrow_range=True), torch.qint8, dict(quant_min=-127, quant_max=127)),
]
CONFIG_IDS = [c[0] for c in CONFIGS_8BIT]


def _random_tensors(rng, shape=(200_000,)):
    """Distributions with different ranges and signs (min-max range of each one sets the params)."""
    n = int(np.prod(shape))
    out = {
        "gaussian": rng.normal(0, 1, n),
        "tiny": rng.normal(0, 1e-6, n),
        "huge": rng.normal(0, 1e6, n),
        "positive": rng.uniform(40, 1000, n),
        "negative": -rng.uniform(3, 7, n),
        "heavy": rng.standard_t(2, n),
        "relu": np.maximum(rng.normal(0, 1, n), 0),
    }
    return {k: v.astype(np.float32).reshape(shape) for k, v in out.items()}


def _torch_fq_tensor(x, qp: QParams):
    s = qp.spec
    return torch.fake_quantize_per_tensor_affine(
        torch.from_numpy(x), float(np.ravel(qp.scale)[0]), int(np.ravel(qp.zero_point)[0]), s.qmin, s.qmax
    ).numpy()


def _torch_fq_channel(x, qp: QParams, axis: int):
    s = qp.spec
    return torch.fake_quantize_per_channel_affine(
        torch.from_numpy(x),
        torch.from_numpy(np.ascontiguousarray(qp.scale.ravel())),
        torch.from_numpy(qp.zero_point.ravel().astype(np.int32)),
        axis,
        s.qmin,
        s.qmax,
    ).numpy()


def _observer(dtype, qscheme, kw, x, axis=None):
    if axis is None:
        o = MinMaxObserver(dtype=dtype, qscheme=qscheme, **kw)
    else:
        o = PerChannelMinMaxObserver(ch_axis=axis, dtype=dtype, qscheme=qscheme, **kw)
    o(torch.from_numpy(np.ascontiguousarray(x)))
    scale, zp = o.calculate_qparams()
    return scale.numpy().astype(np.float32), zp.numpy().astype(np.int64)


def _qviz_params(x, spec):
    lo, hi = qviz.block_min_max(x, spec.granularity)
    return qviz.choose_qparams(lo, hi, spec)


def _ties(scale: np.float32, qmin: int, qmax: int, z: int):
    """Values at (k + 1/2)·Δ in float32 for every cell, plus their float32 neighbours."""
    k = np.arange(qmin - z - 3, qmax - z + 3, dtype=np.float64)
    mid = ((k + 0.5) * np.float64(scale)).astype(np.float32)
    return np.concatenate([mid, np.nextafter(mid, np.float32(np.inf)), np.nextafter(mid, np.float32(-np.inf))])


def _exact_tie_count(x, scale):
    inv = np.float32(1) / np.float32(scale)
    t = x * inv
    return int(np.sum(t - np.floor(t) == 0.5))


EXTREMES = np.array([1e30, -1e30, np.inf, -np.inf, 3.4e38, -3.4e38, 1e10, -1e10, 0.0, -0.0], np.float32)


# ---------------------------------------------------------------- per-tensor


@pytest.mark.parametrize("name, spec_kw, dtype, obs_kw", CONFIGS_8BIT, ids=CONFIG_IDS)
def test_per_tensor_8bit_matches_observer_and_fake_quant(rng, name, spec_kw, dtype, obs_kw):
    spec = QuantSpec(bits=8, **spec_kw)
    qscheme = torch.per_tensor_symmetric if spec.symmetric else torch.per_tensor_affine
    for label, x in _random_tensors(rng).items():
        qp = _qviz_params(x, spec)
        scale, zp = _observer(dtype, qscheme, obs_kw, x)
        assert qp.scale.ravel()[0] == scale[0], f"{name} {label}: scale {qp.scale} != torch {scale}"
        assert int(qp.zero_point.ravel()[0]) == int(zp[0]), f"{name} {label}: zero point"
        # clip too: use a range 30% narrower as well, and values far outside
        for p in (qp, QParams(qp.scale * np.float32(0.7), qp.zero_point, spec)):
            xx = np.concatenate([x, EXTREMES])
            assert_bitwise_equal(qviz.fake_quantize(xx, p), _torch_fq_tensor(xx, p), f"{name} {label}")


@pytest.mark.parametrize("name, spec_kw, dtype, obs_kw", CONFIGS_8BIT, ids=CONFIG_IDS)
def test_per_tensor_exact_ties_round_half_to_even(name, spec_kw, dtype, obs_kw):
    spec = QuantSpec(bits=8, **spec_kw)
    ranges = [(-1.9921875, 1.9921875), (-20.0, 1000.0), (-0.3, 0.7), (0.0, 6.0), (-5.0, 0.0), (-1e-3, 3e-3)]
    for lo, hi in ranges:
        qp = qviz.choose_qparams(lo, hi, spec)
        x = _ties(qp.scale, spec.qmin, spec.qmax, int(qp.zero_point))
        ref = _torch_fq_tensor(x, qp)
        assert_bitwise_equal(qviz.fake_quantize(x, qp), ref, f"{name} [{lo}, {hi}]")
    # the power-of-two scale makes every midpoint an exact float32 tie: the test does exercise ties
    qp = qviz.choose_qparams(-1.9921875, 1.9921875, QuantSpec(bits=8, signed=True, symmetric=True))
    assert qp.scale == np.float32(2.0**-6)
    x = _ties(qp.scale, -128, 127, 0)
    assert _exact_tie_count(x, qp.scale) >= 256
    # ties go to the even code: 0.5Δ -> 0, 1.5Δ -> 2Δ, -0.5Δ -> 0, -2.5Δ -> -2Δ
    d = np.float32(2.0**-6)
    got = qviz.fake_quantize(np.float32([0.5, 1.5, 2.5, -0.5, -2.5]) * d, qp)
    np.testing.assert_array_equal(got, np.float32([0, 2, 2, 0, -2]) * d)


def test_ties_at_a_non_power_of_two_scale_are_real_ties():
    # With Δ = 4 (article 003's [-20, 1000] uint8) every midpoint is an exact tie in float32.
    qp = qviz.choose_qparams(-20.0, 1000.0, QuantSpec(bits=8, signed=False, symmetric=False))
    x = _ties(qp.scale, 0, 255, 5)
    assert _exact_tie_count(x, qp.scale) >= 255
    assert_bitwise_equal(qviz.fake_quantize(x, qp), _torch_fq_tensor(x, qp))
    # and a scale whose reciprocal is inexact: some float32 midpoints are still ties after fl(x·fl(1/Δ))
    qp = qviz.choose_qparams(-0.3, 0.7, QuantSpec(bits=8, signed=True, symmetric=False))
    x = _ties(qp.scale, -128, 127, int(qp.zero_point))
    assert _exact_tie_count(x, qp.scale) > 10
    assert_bitwise_equal(qviz.fake_quantize(x, qp), _torch_fq_tensor(x, qp))


def test_multiplying_by_the_reciprocal_matters(rng):
    """The reason for x·fl(1/Δ): dividing by Δ disagrees with torch on some elements."""
    qp = QParams(np.float32(0.007), np.int64(-3), QuantSpec(bits=8, signed=True, symmetric=False))
    x = rng.uniform(-0.8, 0.9, 2_000_000).astype(np.float32)
    ref = _torch_fq_tensor(x, qp)
    assert_bitwise_equal(qviz.fake_quantize(x, qp), ref)
    div = (np.clip(np.rint(x / qp.scale) - 3, -128, 127) + np.float32(3)).astype(np.float32) * qp.scale
    assert (div != ref).sum() > 0


def test_nan_is_kept_where_torch_outputs_qmin():
    spec = QuantSpec(bits=8, signed=True, symmetric=False)
    qp = qviz.choose_qparams(-1.0, 3.0, spec)
    x = np.array([np.nan, 1.0], np.float32)
    ours = qviz.fake_quantize(x, qp)
    theirs = _torch_fq_tensor(x, qp)
    assert np.isnan(ours[0]) and ours[1] == theirs[1]
    assert theirs[0] == qp.level_min  # measured torch behaviour, documented in qviz.affine


# ---------------------------------------------------------------- per-channel


@pytest.mark.parametrize("name, spec_kw, dtype, obs_kw", CONFIGS_8BIT, ids=CONFIG_IDS)
@pytest.mark.parametrize(
    "shape, axis",
    [((64, 300), 0), ((300, 64), 1), ((32, 16, 3, 3), 0), ((32, 16, 3, 3), 1), ((8, 4, 6), 2)],
    ids=["2d-axis0", "2d-axis1", "conv-axis0", "conv-axis1", "3d-axis2"],
)
def test_per_channel_8bit_matches_observer_and_fake_quant(rng, name, spec_kw, dtype, obs_kw, shape, axis):
    spec = QuantSpec(bits=8, granularity=PerChannel(axis), **spec_kw)
    qscheme = torch.per_channel_symmetric if spec.symmetric else torch.per_channel_affine
    # every channel gets its own magnitude and offset, one channel is all zeros, one is constant
    n_ch = shape[axis]
    mag = np.float32(10.0) ** rng.uniform(-4, 4, n_ch).astype(np.float32)
    off = rng.normal(0, 2, n_ch).astype(np.float32)
    bshape = [1] * len(shape)
    bshape[axis] = n_ch
    x = (rng.normal(size=shape).astype(np.float32) + off.reshape(bshape)) * mag.reshape(bshape)
    xm = np.moveaxis(x, axis, 0)
    xm[0] = 0.0
    xm[1] = 3.25
    qp = _qviz_params(x, spec)
    scale, zp = _observer(dtype, qscheme, obs_kw, x, axis)
    np.testing.assert_array_equal(qp.scale.ravel(), scale)
    np.testing.assert_array_equal(qp.zero_point.ravel(), zp)
    assert_bitwise_equal(qviz.fake_quantize(x, qp), _torch_fq_channel(x, qp, axis), f"{name} axis {axis}")
    # clipping: values far outside every channel's range (|x/Δ| within int64: see module docstring)
    far = x.copy()
    far_m = np.moveaxis(far, axis, 0)
    far_m[:, ...] *= np.float32(1e3)
    far_m.reshape(n_ch, -1)[:, 0] = qp.scale.ravel() * np.float32(1e12)
    far_m.reshape(n_ch, -1)[:, -1] = qp.scale.ravel() * np.float32(-1e12)
    assert_bitwise_equal(qviz.fake_quantize(far, qp), _torch_fq_channel(far, qp, axis), f"{name} axis {axis} far")


@pytest.mark.parametrize("name, spec_kw, dtype, obs_kw", CONFIGS_8BIT, ids=CONFIG_IDS)
def test_per_channel_ties(name, spec_kw, dtype, obs_kw):
    spec = QuantSpec(bits=8, granularity=PerChannel(1), **spec_kw)
    lo = np.array([-1.9921875, -20.0, -0.3, 0.0], np.float32)
    hi = np.array([1.9921875, 1000.0, 0.7, 6.0], np.float32)
    qp = qviz.choose_qparams(lo, hi, spec)
    cols = [_ties(qp.scale[c], spec.qmin, spec.qmax, int(qp.zero_point[c])) for c in range(4)]
    x = np.stack(cols, axis=1)
    assert_bitwise_equal(qviz.fake_quantize(x, qp), _torch_fq_channel(x, qp, 1))


def test_per_channel_far_outside_saturates_like_the_per_tensor_kernel():
    spec = QuantSpec(bits=8, signed=True, symmetric=False, granularity=PerChannel(0))
    qp = qviz.choose_qparams(np.float32([-1.0, -2.0]), np.float32([3.0, 0.5]), spec)
    x = np.array([[1e30, -1e30, np.inf, -np.inf, 3.4e38], [1e30, -1e30, np.inf, -np.inf, -3.4e38]], np.float32)
    ours = qviz.fake_quantize(x, qp)
    for c in range(2):
        p = QParams(qp.scale[c], qp.zero_point[c], QuantSpec(bits=8, signed=True, symmetric=False))
        assert_bitwise_equal(ours[c], _torch_fq_tensor(x[c], p))
    assert ours[0, 0] == qp.level_max[0] and ours[0, 2] == qp.level_max[0]  # +big saturates high
    assert ours[1, 1] == qp.level_min[1] and ours[1, 3] == qp.level_min[1]


# ---------------------------------------------------------------- custom ranges (1..16 bits)


# every valid (bits, signed, symmetric, narrow); narrow 1-bit is an invalid spec (test_spec.py)
ALL_RANGES = [
    (b, sg, sy, nr)
    for b in range(1, 17)
    for sg in (True, False)
    for sy in (True, False)
    for nr in (False, True)
    if not (nr and b == 1)
]
# what torch's observers can express the same way: they reject ranges without 0 (narrow unsigned),
# and for unsigned symmetric with an explicit quant_min/quant_max they use z = (qmin + qmax) // 2
# (127 for an explicit [0, 255]); qviz follows their defaults (128 for quint8, 32768 for uint16).
OBSERVER_RANGES = [
    (b, sg, sy, nr)
    for (b, sg, sy, nr) in ALL_RANGES
    if not (nr and not sg) and not (sy and not sg and b not in (8, 16))
]


def _rid(p):
    b, sg, sy, nr = p
    return f"{'int' if sg else 'uint'}{b}-{'sym' if sy else 'affine'}{'-narrow' if nr else ''}"


@pytest.mark.parametrize("bits, signed, symmetric, narrow", ALL_RANGES, ids=[_rid(p) for p in ALL_RANGES])
def test_custom_ranges_match_fake_quant(rng, bits, signed, symmetric, narrow):
    spec = QuantSpec(bits=bits, signed=signed, symmetric=symmetric, narrow_range=narrow)
    x = np.concatenate(
        [rng.normal(0.3, 2.0, 20_000).astype(np.float32), EXTREMES, _ties(np.float32(2.0**-3), -40, 40, 0)]
    )
    finite = x[np.isfinite(x) & (np.abs(x) < 1e9)]
    for lo, hi in [(finite.min(), finite.max()), (-1.0, 3.0), (0.5, 2.0), (-2.0, -0.25)]:
        qp = qviz.choose_qparams(lo, hi, spec)
        assert_bitwise_equal(qviz.fake_quantize(x, qp), _torch_fq_tensor(x, qp), f"{spec.describe()} [{lo}, {hi}]")
    # per-channel with the same custom range
    spec_c = QuantSpec(bits=bits, signed=signed, symmetric=symmetric, narrow_range=narrow, granularity=PerChannel(1))
    xc = rng.normal(0, 1, (500, 3)).astype(np.float32) * np.float32([1e-2, 1, 1e2])
    qp = _qviz_params(xc, spec_c)
    assert_bitwise_equal(qviz.fake_quantize(xc, qp), _torch_fq_channel(xc, qp, 1), spec_c.describe())


@pytest.mark.parametrize("bits, signed, symmetric, narrow", OBSERVER_RANGES, ids=[_rid(p) for p in OBSERVER_RANGES])
def test_custom_ranges_match_observers(rng, bits, signed, symmetric, narrow):
    spec = QuantSpec(bits=bits, signed=signed, symmetric=symmetric, narrow_range=narrow)
    default = not narrow and bits in (8, 16)
    if bits <= 8:
        dtype = torch.qint8 if signed else torch.quint8
    else:
        dtype = torch.int16 if signed else torch.uint16
    kw = {} if default else dict(quant_min=spec.qmin, quant_max=spec.qmax)
    qscheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
    cases = [
        rng.normal(0, 1, 1000),
        rng.uniform(40, 1000, 1000),
        -rng.uniform(1, 2, 1000),
        np.zeros(7),
        np.full(3, 2.5),
        np.full(3, -2.5),
        np.array([7.0]),
        np.array([-1e-30, 1e-30]),
    ]
    for x in cases:
        x = x.astype(np.float32)
        scale, zp = _observer(dtype, qscheme, kw, x)
        qp = qviz.choose_qparams(x.min(), x.max(), spec)
        assert qp.scale.ravel()[0] == scale[0], f"{spec.describe()} {x[:3]}: scale {qp.scale} != {scale}"
        assert int(qp.zero_point.ravel()[0]) == int(zp[0]), f"{spec.describe()} {x[:3]}: z {qp.zero_point} != {zp}"


@pytest.mark.parametrize("dtype, signed", [(torch.qint8, True), (torch.quint8, False)])
@pytest.mark.parametrize("qscheme", ["affine", "symmetric"])
@pytest.mark.parametrize("values", [[0.0] * 5, [3.0], [-3.0], [0.0], [1e-9] * 4], ids=["zeros", "pos", "neg", "zero", "tiny"])
def test_degenerate_tensors_match_observer(dtype, signed, qscheme, values):
    x = np.array(values, np.float32)
    sym = qscheme == "symmetric"
    spec = QuantSpec(bits=8, signed=signed, symmetric=sym)
    scale, zp = _observer(dtype, torch.per_tensor_symmetric if sym else torch.per_tensor_affine, {}, x)
    qp = qviz.choose_qparams(x.min(), x.max(), spec)
    assert qp.scale == scale[0] and int(qp.zero_point) == zp[0]
    if not x.any():
        assert qp.scale == np.finfo(np.float32).eps
    assert_bitwise_equal(qviz.fake_quantize(x, qp), _torch_fq_tensor(x, qp))


# ---------------------------------------------------------------- codes


@pytest.mark.parametrize("name, spec_kw, dtype, obs_kw", CONFIGS_8BIT[:4], ids=CONFIG_IDS[:4])
def test_quantize_codes_follow_fake_quant(rng, name, spec_kw, dtype, obs_kw):
    spec = QuantSpec(bits=8, **spec_kw)
    total = disagree = 0
    for label, x in _random_tensors(rng, (500_000,)).items():
        x = np.concatenate([x, EXTREMES])
        qp = _qviz_params(x[np.isfinite(x) & (np.abs(x) < 1e9)], spec)
        codes = qviz.quantize(x, qp)
        assert codes.dtype == np.int32
        assert codes.min() >= spec.qmin and codes.max() <= spec.qmax
        z = int(qp.zero_point.ravel()[0])
        back = (codes.astype(np.float32) - np.float32(z)) * qp.scale
        assert_bitwise_equal(back, _torch_fq_tensor(x, qp), f"{name} {label}")
        tq = torch.quantize_per_tensor(torch.from_numpy(x), float(qp.scale.ravel()[0]), z, dtype).int_repr().numpy().astype(np.int32)
        if z == 0:
            np.testing.assert_array_equal(codes, tq, err_msg=f"{name} {label}: quantize_per_tensor with z = 0")
        else:
            diff = codes != tq
            assert np.abs(codes - tq).max() <= 1
            disagree += int(diff.sum())
        total += x.size
    # torch.quantize_per_tensor rounds x/Δ + z: a few elements per million differ (never more than one code)
    assert disagree <= 50e-6 * total


def test_quantize_per_tensor_z_before_rounding_is_the_difference():
    """One measured element where quantize_per_tensor and fake-quant disagree, and why."""
    rng = np.random.default_rng(1)
    s, z = np.float32(0.0123), 77
    x = rng.uniform(-1, 2, 2_000_000).astype(np.float32)
    spec = QuantSpec(bits=8, signed=False, symmetric=False)
    qp = QParams(s, np.int64(z), spec)
    codes = qviz.quantize(x, qp)
    tq = torch.quantize_per_tensor(torch.from_numpy(x), float(s), z, torch.quint8).int_repr().numpy().astype(np.int32)
    idx = np.flatnonzero(codes != tq)
    assert 0 < idx.size < 40
    inv = np.float32(1) / s
    t = x[idx] * inv
    np.testing.assert_array_equal(codes[idx], np.clip(np.rint(t) + z, 0, 255))  # round, then add z
    np.testing.assert_array_equal(tq[idx], np.clip(np.rint(t + np.float32(z)), 0, 255))  # add z, then round


def test_torch_in_torch_out_matches_kernel(rng):
    t = torch.from_numpy(rng.normal(size=(16, 8)).astype(np.float32))
    spec = QuantSpec(bits=8, signed=False, symmetric=False, granularity=PerChannel(0))
    qp = _qviz_params(t.numpy(), spec)
    out = qviz.fake_quantize(t, qp)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == t.shape
    ref = torch.fake_quantize_per_channel_affine(
        t, torch.from_numpy(qp.scale.ravel()), torch.from_numpy(qp.zero_point.ravel().astype(np.int32)), 0, 0, 255
    )
    assert torch.equal(out, ref)
    codes = qviz.quantize(t, qp)
    assert isinstance(codes, torch.Tensor) and codes.dtype == torch.int32
    assert torch.equal(qviz.dequantize(codes, qp), ref)


def test_tensor_qparams_overload_agrees(rng):
    x = rng.normal(size=10_000).astype(np.float32)
    spec = QuantSpec(bits=8, signed=True, symmetric=False)
    qp = _qviz_params(x, spec)
    ref = torch.fake_quantize_per_tensor_affine(
        torch.from_numpy(x), torch.from_numpy(qp.scale.ravel()), torch.from_numpy(qp.zero_point.ravel().astype(np.int32)), -128, 127
    ).numpy()
    assert_bitwise_equal(qviz.fake_quantize(x, qp), ref)
