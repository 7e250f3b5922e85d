"""choose_qparams / quantize / dequantize / fake_quantize on numpy input (torch comparisons: test_affine_torch.py)."""

from __future__ import annotations

import numpy as np
import pytest
from qviz_testutil import assert_bitwise_equal

import qviz
from qviz import PerChannel, PerGroup, PerTensor, QParams, QuantSpec, choose_qparams, dequantize, fake_quantize, quantize

EPS = np.finfo(np.float32).eps


def test_symmetric_int8_scale_is_absmax_over_127_5():
    qp = choose_qparams(-3.0, 2.0, QuantSpec(bits=8))
    assert qp.scale == np.float32(3.0) / np.float32(127.5)
    assert int(qp.zero_point) == 0
    assert qp.scale.dtype == np.float32 and qp.zero_point.dtype == np.int64


def test_symmetric_narrow_int8_scale_is_absmax_over_127():
    qp = choose_qparams(-1.0, 3.0, QuantSpec(bits=8, narrow_range=True))
    assert qp.scale == np.float32(3.0) / np.float32(127)
    assert int(qp.zero_point) == 0


def test_symmetric_unsigned_zero_point_is_middle_code():
    for bits in (2, 4, 8, 16):
        qp = choose_qparams(-1.0, 1.0, QuantSpec(bits=bits, signed=False, symmetric=True))
        assert int(qp.zero_point) == 2 ** (bits - 1)


def test_affine_scale_and_zero_point():
    qp = choose_qparams(-1.0, 3.0, QuantSpec(bits=8, signed=False, symmetric=False))
    assert qp.scale == np.float32(4.0) / np.float32(255)
    assert int(qp.zero_point) == int(0 - np.rint(np.float32(-1.0) / qp.scale))  # 64
    assert int(qp.zero_point) == 64


def test_affine_range_is_widened_to_hold_zero():
    spec = QuantSpec(bits=8, signed=False, symmetric=False)
    pos = choose_qparams(5.0, 10.0, spec)
    assert pos.scale == np.float32(10.0) / np.float32(255) and int(pos.zero_point) == 0
    neg = choose_qparams(-10.0, -5.0, spec)
    assert neg.scale == np.float32(10.0) / np.float32(255) and int(neg.zero_point) == 255


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("symmetric", [True, False])
def test_degenerate_range_gets_eps_scale(signed, symmetric):
    spec = QuantSpec(bits=8, signed=signed, symmetric=symmetric)
    qp = choose_qparams(0.0, 0.0, spec)
    assert qp.scale == EPS
    if symmetric:
        assert int(qp.zero_point) == (0 if signed else 128)
    else:
        assert int(qp.zero_point) == spec.qmin  # torch: -128 for an all-zero qint8 tensor
    x = np.zeros(5, np.float32)
    assert_bitwise_equal(fake_quantize(x, qp), x)


def test_single_value_tensor():
    spec = QuantSpec(bits=8, signed=False, symmetric=False)
    qp = choose_qparams(5.0, 5.0, spec)
    assert qp.scale == np.float32(5.0) / np.float32(255)
    assert int(qp.zero_point) == 0
    assert abs(float(fake_quantize(np.float32(5.0), qp)) - 5.0) <= float(qp.scale) / 2


@pytest.mark.parametrize(
    "lo, hi, match",
    [
        (1.0, -1.0, "min_val is greater than max_val"),
        (np.nan, 1.0, "must be finite"),
        (-np.inf, 1.0, "must be finite"),
        (0.0, np.inf, "must be finite"),
    ],
)
def test_bad_ranges_raise(lo, hi, match):
    with pytest.raises(ValueError, match=match):
        choose_qparams(lo, hi, QuantSpec())


def test_spec_must_be_a_quantspec():
    with pytest.raises(ValueError, match="spec must be a qviz.QuantSpec"):
        choose_qparams(0.0, 1.0, {"bits": 8})
    with pytest.raises(ValueError, match="qparams must be qviz.QParams"):
        quantize(np.ones(3), (0.1, 0))
    with pytest.raises(ValueError, match="qparams must be qviz.QParams"):
        fake_quantize(np.ones(3), None)
    with pytest.raises(ValueError, match="qparams must be qviz.QParams"):
        dequantize(np.ones(3), QuantSpec())


def test_array_ranges_give_per_block_params():
    spec = QuantSpec(bits=8, granularity=PerChannel(0))
    qp = choose_qparams(np.array([-1.0, -2.0, 0.0]), np.array([1.0, 0.5, 0.0]), spec)
    assert qp.scale.shape == (3,)
    np.testing.assert_array_equal(qp.scale, np.array([1.0, 2.0, EPS], np.float32) / np.float32([127.5, 127.5, 1]))


def test_docstring_examples():
    qp = choose_qparams(-20.0, 1000.0, QuantSpec(signed=False, symmetric=False))
    assert quantize(np.array([-20.0, 0.0, 500.0], dtype=np.float32), qp).tolist() == [0, 5, 130]
    qp = choose_qparams(-1.0, 1.0, QuantSpec(bits=2, symmetric=True))
    assert quantize(np.array([-1.0, -0.2, 0.2, 1.0]), qp).tolist() == [-2, 0, 0, 1]


def test_quantize_saturates_and_maps_nan_to_zero_point():
    spec = QuantSpec(bits=8, signed=False, symmetric=False)
    qp = choose_qparams(-1.0, 3.0, spec)  # z = 64
    x = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 3.0e3, -3.0e3, 0.0], np.float32)
    q = quantize(x, qp)
    assert q.dtype == np.int32
    assert q.tolist() == [64, 255, 0, 255, 0, 255, 0, 64]
    fq = fake_quantize(x, qp)
    assert np.isnan(fq[0])  # NaN stays NaN in fake_quantize (torch maps it to the qmin level)
    assert fq[1] == fq[3] == fq[5] == qp.level_max
    assert fq[2] == fq[4] == fq[6] == qp.level_min
    assert fq[7] == 0.0


@pytest.mark.parametrize("quantizer", ["midtread", "midrise"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_dequantize_of_quantize_is_fake_quantize(rng, quantizer, symmetric):
    spec = QuantSpec(bits=5, symmetric=symmetric, quantizer=quantizer, granularity=PerChannel(1))
    x = (rng.normal(size=(7, 5)) * [1, 10, 0.01, 100, 3]).astype(np.float32)
    lo, hi = qviz.block_min_max(x, spec.granularity)
    qp = choose_qparams(lo * 0.8, hi * 0.8, spec)  # some values get clipped
    q = quantize(x, qp)
    assert q.min() >= spec.qmin and q.max() <= spec.qmax
    assert_bitwise_equal(dequantize(q, qp), fake_quantize(x, qp))


def test_levels_and_level_bounds():
    for quantizer, expect in [("midtread", [-2, -1, 0, 1]), ("midrise", [-1.5, -0.5, 0.5, 1.5])]:
        spec = QuantSpec(bits=2, symmetric=True, quantizer=quantizer)
        qp = QParams(np.float32(0.5), np.int64(0), spec)
        np.testing.assert_array_equal(qp.levels(), np.float32(expect) * np.float32(0.5))
        assert qp.level_min == qp.levels()[0] and qp.level_max == qp.levels()[-1]
        assert qp.describe() == "scale=0.5, zero_point=0, codes [-2, 1]"


def test_midrise_levels_are_odd_multiples_of_half_step():
    spec = QuantSpec(bits=3, symmetric=True, quantizer="midrise")
    qp = choose_qparams(-4.0, 4.0, spec)
    assert qp.scale == 1.0  # 8 cells span [-4, 4]
    x = np.linspace(-5, 5, 1001, dtype=np.float32)
    out = np.unique(fake_quantize(x, qp))
    np.testing.assert_array_equal(out, np.arange(-3.5, 4.0, 1.0, dtype=np.float32))


def _per_block_reference(x, qp, axis, group):
    """fake_quantize one block at a time with per-tensor params (the definition of a granularity)."""
    spec = qp.spec
    tensor_spec = QuantSpec(
        bits=spec.bits, signed=spec.signed, symmetric=spec.symmetric, narrow_range=spec.narrow_range,
        quantizer=spec.quantizer,
    )
    out = np.empty_like(x)
    xm, om = np.moveaxis(x, axis, -1), np.moveaxis(out, axis, -1)
    scale = np.moveaxis(qp.scale, axis, -1)
    zp = np.moveaxis(qp.zero_point, axis, -1)
    for idx in np.ndindex(*xm.shape[:-1]):
        for j in range(xm.shape[-1] // group):
            sl = slice(j * group, (j + 1) * group)
            p = QParams(np.float32(scale[idx][j]), np.int64(zp[idx][j]), tensor_spec)
            om[idx][sl] = fake_quantize(xm[idx][sl], p)
    return out


@pytest.mark.parametrize("quantizer", ["midtread", "midrise"])
@pytest.mark.parametrize("axis, group", [(-1, 4), (0, 2), (1, 3)])
def test_per_group_equals_looping_per_tensor(rng, quantizer, axis, group):
    x = rng.normal(size=(4, 6, 8)).astype(np.float32)
    x = x[:, :, :8] if axis == -1 else x
    spec = QuantSpec(bits=4, symmetric=False, quantizer=quantizer, granularity=PerGroup(group, axis))
    lo, hi = qviz.block_min_max(x, spec.granularity)
    qp = choose_qparams(lo, hi, spec)
    assert qp.scale.shape == qviz.grid_shape(x.shape, spec.granularity)
    assert_bitwise_equal(fake_quantize(x, qp), _per_block_reference(x, qp, axis % 3, group))


def test_per_channel_equals_looping_per_tensor(rng):
    x = rng.normal(size=(5, 3, 2, 2)).astype(np.float32) * np.float32([1, 100, 1e-3])[None, :, None, None]
    spec = QuantSpec(bits=8, granularity=PerChannel(1))
    lo, hi = qviz.block_min_max(x, spec.granularity)
    qp = choose_qparams(lo, hi, spec)
    out = fake_quantize(x, qp)
    for c in range(3):
        p = choose_qparams(x[:, c].min(), x[:, c].max(), QuantSpec(bits=8))
        assert p.scale == qp.scale.ravel()[c]
        assert_bitwise_equal(out[:, c], fake_quantize(x[:, c], p))


def test_params_of_another_tensor_are_rejected(rng):
    spec = QuantSpec(granularity=PerChannel(0))
    qp = choose_qparams(np.zeros(3), np.ones(3), spec)
    with pytest.raises(ValueError, match="3 entries"):
        fake_quantize(np.ones((4, 2), np.float32), qp)


def test_scalar_and_list_inputs():
    qp = choose_qparams(-1.0, 1.0, QuantSpec())
    assert fake_quantize(0.5, qp).shape == ()
    assert quantize([0.0, 1.0], qp).tolist() == [0, 127]


@pytest.mark.parametrize("bad", [np.array(["a"]), np.array([object()]), np.array([1 + 2j])])
def test_non_numeric_input_raises(bad):
    qp = choose_qparams(-1.0, 1.0, QuantSpec())
    with pytest.raises(ValueError):
        fake_quantize(bad, qp)


def test_stochastic_rounding_is_seeded_and_lands_on_a_neighbour(rng):
    x = rng.uniform(-1, 1, 10_000).astype(np.float32)
    spec = QuantSpec(bits=4, rounding="stochastic", seed=3)
    qp = choose_qparams(-1.0, 1.0, spec)
    a, b = fake_quantize(x, qp), fake_quantize(x, qp)
    assert_bitwise_equal(a, b)  # same seed, same bits
    other = fake_quantize(x, choose_qparams(-1.0, 1.0, QuantSpec(bits=4, rounding="stochastic", seed=4)))
    assert (other != a).any()
    # every output is one of the two levels around x (never further than one step)
    assert np.all(np.abs(a - x) < qp.scale * (1 + 1e-5))


def test_per_tensor_qparams_work_on_any_shape():
    qp = choose_qparams(-1.0, 1.0, QuantSpec(granularity=PerTensor()))
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4)
    assert fake_quantize(x, qp).shape == (2, 3, 4)
