"""Requantization within one code of the float path; Qm.n; quantized matmul/conv equal to their float versions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qviz
from qviz.intarith import QFormat, check_matmul, quantized_conv2d, quantized_matmul, requantize


def test_requantize_within_one_code_of_float_path(rng):
    q1 = np.arange(256)
    worst, differing = 0, 0
    for _ in range(300):
        s1, s2 = 10.0 ** rng.uniform(-4, 0), 10.0 ** rng.uniform(-4, 0)
        z1, z2 = int(rng.integers(0, 256)), int(rng.integers(0, 256))
        r = requantize(q1, s1, z1, s2, z2)
        assert r.q2.min() >= 0 and r.q2.max() <= 255
        worst = max(worst, int(np.abs(r.diff).max()))
        differing += int((r.diff != 0).sum())
        assert abs(r.effective_multiplier - s1 / s2) <= s1 / s2 * 2.0**-30
    assert worst == 1  # one code, never more; and it does happen (double rounding)
    assert 0 < differing < 0.05 * 300 * 256  # about 3% of codes


def test_requantize_int8_and_int32_accumulators(rng):
    acc = rng.integers(-(2**20), 2**20, 5000)
    r = requantize(acc, 0.0004 * 0.02, 0, 0.05, -3, qmin=-128, qmax=127)
    assert r.q2.min() >= -128 and r.q2.max() <= 127
    assert np.abs(r.diff).max() <= 1
    steps = r.acc, r.scaled, r.high, r.shifted
    assert all(s.shape == acc.shape for s in steps)
    with pytest.raises(ValueError, match="positive finite scale"):
        requantize(acc, 0.0, 0, 1.0, 0)


def test_article_002_relu6_and_q43():
    # ReLU6 in uint8 with Z = 0, S = 2**-5: 6.0 is code 192, and requantizing from S = 2**-7 is a shift by 2
    r = requantize(np.array([768, 100, 3]), 2.0**-7, 0, 2.0**-5, 0)
    assert (r.m0, r.shift) == (1 << 30, -1)  # M = 1/4 = 0.5 · 2**-1
    assert r.q2.tolist() == [192, 25, 1] and r.q2_float.tolist() == [192, 25, 1]
    q = QFormat(4, 3)
    assert (q.min_value, q.max_value, q.step, q.bits) == (-8.0, 7.875, 0.125, 7)
    assert q.fake_quantize(np.array([1.06, -9.0, 8.0, 3.14159], dtype=np.float32)).tolist() == [1.0, -8.0, 7.875, 3.125]
    qp = q.qparams()
    assert float(qp.scale) == 0.125 and int(qp.zero_point) == 0
    assert QFormat(5, 3).describe().endswith("range [-16, 15.875]")
    with pytest.raises(ValueError, match="word size"):
        QFormat(12, 8)


def test_quantized_matmul_terms(rng):
    qa = rng.integers(0, 256, (7, 50))
    qb = rng.integers(0, 256, (50, 3))
    r = quantized_matmul(qa, 131, qb, 97)
    expected = (qa - 131) @ (qb - 97)
    assert r.acc.dtype == np.int32 and (r.acc == expected).all()
    assert ((r.product.astype(np.int64) + r.row_term + r.col_term + r.constant) == expected).all()
    assert (r.row_term == -97 * qa.sum(axis=1, keepdims=True)).all() and r.constant == 50 * 131 * 97
    with pytest.raises(ValueError, match="overflows int32"):
        quantized_matmul(np.full((1, 40_000), 255), 0, np.full((40_000, 1), 255), 0)


def test_check_matmul_equals_float_product(rng):
    a = rng.normal(0, 1, (16, 64)).astype(np.float32)
    b = np.maximum(rng.normal(0, 1, (64, 8)), 0).astype(np.float32)
    c = check_matmul(a, b)
    # the integer identity is exact; fake_quant carries float32 rounding of (q - z)·S
    np.testing.assert_allclose(c.dequantized, c.fake_quant, rtol=1e-5, atol=1e-5)
    err = c.dequantized - c.exact
    sqnr = 10 * np.log10((c.exact**2).sum() / (err**2).sum())
    assert sqnr > 30  # uint8 both sides


def test_quantized_conv2d_equals_torch(rng):
    qx = rng.integers(0, 256, (2, 3, 9, 8))
    qw = rng.integers(0, 256, (4, 3, 3, 3))
    zx, zw = 121, 140
    for stride, padding in ((1, 0), (2, 1)):
        r = quantized_conv2d(qx, zx, qw, zw, stride=stride, padding=padding)
        ref = torch.nn.functional.conv2d(torch.tensor(qx - zx, dtype=torch.float64), torch.tensor(qw - zw, dtype=torch.float64),
                                         stride=stride, padding=padding)
        assert r.acc.shape == tuple(ref.shape)
        np.testing.assert_array_equal(r.acc, ref.numpy().astype(np.int64))
        total = r.product.astype(np.int64) + r.row_term + r.col_term + r.constant
        np.testing.assert_array_equal(total, r.acc)
        assert r.k == 27 and r.constant == 27 * zx * zw


def test_formats_and_intarith_exported():
    for name in ("FORMATS", "quantize_multiplier", "multiply_by_quantized_multiplier", "requantize", "QFormat",
                 "quantized_matmul", "quantized_conv2d"):
        assert name in qviz.__all__ and hasattr(qviz, name), name
