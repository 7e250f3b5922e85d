"""Article 003 (scale and zero point, skewed ranges, why normalization helps): its numbers, exactly.

The article's "Example 1" maps [0, 1000] to uint8 with 0 -> 0 (it calls that symmetric,
but it is what qviz's asymmetric/affine spec does with a range that starts at 0).
"""

from __future__ import annotations

import numpy as np
import pytest

import qviz
from qviz import QuantSpec, choose_qparams, dequantize, error_metrics, fake_quantize, quantize

UINT8_AFFINE = QuantSpec(bits=8, signed=False, symmetric=False)
INT8_AFFINE = QuantSpec(bits=8, signed=True, symmetric=False)
INT8_SYMMETRIC = QuantSpec(bits=8, signed=True, symmetric=True)


def test_example1_0_to_1000_uint8():
    qp = choose_qparams(0.0, 1000.0, UINT8_AFFINE)
    assert float(qp.scale) == pytest.approx(3.9215, abs=1e-4)
    assert qp.scale == np.float32(1000.0) / np.float32(255)
    assert int(qp.zero_point) == 0
    assert quantize(np.float32([0.0, 1000.0]), qp).tolist() == [0, 255]
    # 500 / 3.9215... = 127.5 in the article; in float32 it rounds to a neighbouring code
    assert quantize(np.float32(500.0), qp) in (127, 128)


def test_example2_minus20_to_1000_uint8_scale_4_zero_point_5():
    qp = choose_qparams(-20.0, 1000.0, UINT8_AFFINE)
    assert float(qp.scale) == 4.0
    assert int(qp.zero_point) == 5
    # quantize(-20, scale=4, zp=5) = -5 + 5 = 0; 0.0 -> the zero point; 1000 -> 255
    assert quantize(np.float32([-20.0, 0.0, 1000.0]), qp).tolist() == [0, 5, 255]
    np.testing.assert_array_equal(dequantize(np.int32([0, 5, 255]), qp), np.float32([-20.0, 0.0, 1000.0]))


def test_example3_minus20_to_1000_int8_zero_point_minus_123():
    qp = choose_qparams(-20.0, 1000.0, INT8_AFFINE)
    assert float(qp.scale) == 4.0
    assert int(qp.zero_point) == -123
    assert quantize(np.float32([-20.0, 0.0, 1000.0]), qp).tolist() == [-128, -123, 127]
    # int8 is the uint8 grid shifted by -128: same levels
    u = choose_qparams(-20.0, 1000.0, UINT8_AFFINE)
    x = np.linspace(-20, 1000, 5001, dtype=np.float32)
    np.testing.assert_array_equal(fake_quantize(x, qp), fake_quantize(x, u))
    np.testing.assert_array_equal(quantize(x, qp), quantize(x, u) - 128)


def test_zero_is_exact_in_both():
    for spec in (UINT8_AFFINE, INT8_AFFINE):
        qp = choose_qparams(-20.0, 1000.0, spec)
        assert float(fake_quantize(np.float32(0.0), qp)) == 0.0


def test_example4_skewed_40_to_1000_wastes_codes_0_to_9():
    x = np.linspace(40, 1000, 100_001, dtype=np.float32)
    qp = choose_qparams(x.min(), x.max(), UINT8_AFFINE)
    # the range is widened to [0, 1000] so that 0 stays representable
    assert qp.scale == np.float32(1000.0) / np.float32(255)
    assert int(qp.zero_point) == 0
    codes = quantize(x, qp)
    assert codes.min() == 10  # 40 / 3.9215 = 10.2
    assert set(range(10)).isdisjoint(np.unique(codes).tolist())
    np.testing.assert_array_equal(np.unique(codes), np.arange(10, 256))
    m = error_metrics(x, fake_quantize(x, qp), qp)
    assert m.wasted_range == pytest.approx(10 / 255, abs=1e-12)  # 3.92 %
    assert round(100 * m.wasted_range, 2) == 3.92
    assert m.code_usage == pytest.approx(246 / 256)
    assert m.clip_mse == 0.0


def test_example4_with_the_sample():
    x = qviz.sample("skewed_40_1000")
    assert x.min() >= 40 and x.max() <= 1000
    qp = choose_qparams(x.min(), x.max(), UINT8_AFFINE)
    m = error_metrics(x, fake_quantize(x, qp), qp)
    assert m.wasted_range == pytest.approx(10 / 255, abs=0.5 / 255)
    assert quantize(x, qp).min() == 10


def test_offset_range_2000_to_4000_symmetric_int8_leaves_half_the_codes_unused():
    """[2000, 4000] under symmetric int8: every negative code is unused.

    The article counts the negative half ([-128, -1]) as unused. qviz's ``wasted_range``
    also counts the codes for [0, 2000), which no value reaches either: codes 64…127 are
    the only reachable ones, so wasted_range = 1 - (127 - 64) / 255 ≈ 0.753, and
    code_usage ≤ 64 / 256. (4000 maps to 4000 / (4000 / 127.5) = 127.5, which rounds
    to the even 128 and is clamped to 127, as torch does.)
    """
    x = qviz.sample("layernorm_2000_4000")
    assert x.min() >= 2000 and x.max() <= 4000
    qp = choose_qparams(x.min(), x.max(), INT8_SYMMETRIC)
    assert int(qp.zero_point) == 0
    codes = quantize(x, qp)
    assert codes.min() >= 0  # every negative code is unused
    assert not np.isin(np.arange(-128, 0), codes).any()
    m = error_metrics(x, fake_quantize(x, qp), qp)
    assert m.code_usage <= 0.5
    assert m.code_usage <= 64 / 256
    assert m.wasted_range >= 0.5
    assert m.wasted_range == pytest.approx(1 - (127 - 64) / 255, abs=2 / 255)
    # exact version on the closed interval
    xs = np.linspace(2000, 4000, 20_001, dtype=np.float32)
    qp = choose_qparams(2000.0, 4000.0, INT8_SYMMETRIC)
    c = quantize(xs, qp)
    assert (c.min(), c.max()) == (64, 127)
    assert error_metrics(xs, fake_quantize(xs, qp), qp).wasted_range == pytest.approx(1 - 63 / 255)


def test_normalized_minus2_to_2_narrow_int8_uses_the_whole_range():
    """After layer norm the range is [-2, 2]; narrow int8 [-127, 127] keeps it symmetric and wastes nothing."""
    x = np.linspace(-2, 2, 10_001, dtype=np.float32)
    spec = QuantSpec(bits=8, signed=True, symmetric=True, narrow_range=True)
    qp = choose_qparams(x.min(), x.max(), spec)
    assert qp.scale == np.float32(2.0) / np.float32(127)
    codes = quantize(x, qp)
    assert (codes.min(), codes.max()) == (-127, 127)
    m = error_metrics(x, fake_quantize(x, qp), qp)
    assert m.wasted_range == 0.0
    assert m.code_usage == 1.0
