"""multiply_by_quantized_multiplier is bit-exact against gemmlowp's primitives, written here line by line in Python ints."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from qviz.intarith import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


# ---- the reference: gemmlowp fixedpoint.h and TFLite common.h, one scalar at a time ----

def _wrap32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def ref_srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul(int32 a, int32 b)."""
    overflow = a == b and a == I32_MIN
    a_64 = a
    b_64 = b
    ab_64 = a_64 * b_64
    nudge = (1 << 30) if ab_64 >= 0 else (1 - (1 << 30))
    num = ab_64 + nudge
    quot = abs(num) // (1 << 31)  # C++ '/' on int64 truncates toward zero
    ab_x2_high32 = _wrap32(quot if num >= 0 else -quot)
    return I32_MAX if overflow else ab_x2_high32


def ref_rdbpot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT(int32 x, int exponent)."""
    assert 0 <= exponent <= 31
    mask = (1 << exponent) - 1
    zero, one = 0, 1
    remainder = x & mask  # Python's & on a negative int is two's complement, as int32
    threshold = (mask >> 1) + (one if x < zero else zero)
    return (x >> exponent) + (one if remainder > threshold else zero)


def ref_mbqm(x: int, quantized_multiplier: int, shift: int) -> int:
    """TFLite MultiplyByQuantizedMultiplier (reference, double rounding)."""
    left_shift = shift if shift > 0 else 0
    right_shift = 0 if shift > 0 else -shift
    return ref_rdbpot(ref_srdhm(x * (1 << left_shift), quantized_multiplier), right_shift)


def ref_quantize_multiplier(m: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier, with exact rationals instead of frexp."""
    if m == 0:
        return 0, 0
    q, shift = Fraction(m), 0
    while q >= 1:
        q, shift = q / 2, shift + 1
    while q < Fraction(1, 2):
        q, shift = q * 2, shift - 1
    scaled = q * 2**31
    q_fixed = int(scaled) + (1 if scaled - int(scaled) >= Fraction(1, 2) else 0)  # std::round, q > 0
    if q_fixed == 2**31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return I32_MAX, 30
    return q_fixed, shift


EDGES = [I32_MIN, I32_MIN + 1, -(2**30), -65537, -2, -1, 0, 1, 2, 3, 65535, 2**30, I32_MAX - 1, I32_MAX]


def test_srdhm_bit_exact(rng):
    a = np.concatenate([np.repeat(EDGES, len(EDGES)), rng.integers(I32_MIN, I32_MAX, 20_000, endpoint=True)])
    b = np.concatenate([np.tile(EDGES, len(EDGES)), rng.integers(I32_MIN, I32_MAX, 20_000, endpoint=True)])
    got = saturating_rounding_doubling_high_mul(a.astype(np.int32), b.astype(np.int32))
    assert got.dtype == np.int32
    assert got.tolist() == [ref_srdhm(int(p), int(q)) for p, q in zip(a, b)]
    assert int(saturating_rounding_doubling_high_mul(np.int32(I32_MIN), np.int32(I32_MIN))) == I32_MAX  # the saturation


def test_rdbpot_bit_exact(rng):
    x = np.concatenate([np.repeat(EDGES, 32), rng.integers(I32_MIN, I32_MAX, 10_000, endpoint=True)])
    e = np.concatenate([np.tile(np.arange(32), len(EDGES)), rng.integers(0, 31, 10_000, endpoint=True)])
    got = rounding_divide_by_pot(x.astype(np.int32), e)
    assert got.tolist() == [ref_rdbpot(int(p), int(q)) for p, q in zip(x, e)]


def test_multiply_by_quantized_multiplier_bit_exact(rng):
    n = 20_000
    x = rng.integers(I32_MIN, I32_MAX, n, endpoint=True)
    m = rng.integers(1 << 30, I32_MAX, n, endpoint=True)
    shift = rng.integers(-31, 0, n, endpoint=True)
    # edge cases: every edge x with edge multipliers (INT32_MIN too, as the primitive allows) at several shifts
    ex, em, es = np.meshgrid(EDGES, [I32_MIN, -1, 0, 1, 1 << 30, I32_MAX], [-31, -16, -1, 0], indexing="ij")
    x, m, shift = (np.concatenate([a, b.ravel()]) for a, b in ((x, ex), (m, em), (shift, es)))
    got = multiply_by_quantized_multiplier(x.astype(np.int32), m.astype(np.int32), shift)
    assert got.tolist() == [ref_mbqm(int(a), int(b), int(c)) for a, b, c in zip(x, m, shift)]


def test_positive_shift_bit_exact(rng):
    shift = rng.integers(1, 8, 5000, endpoint=True)
    x = rng.integers(-(2**23), 2**23, 5000)  # x · 2**shift stays in int32, where the C++ is defined
    m = rng.integers(1 << 30, I32_MAX, 5000, endpoint=True)
    got = multiply_by_quantized_multiplier(x.astype(np.int32), m.astype(np.int32), shift)
    assert got.tolist() == [ref_mbqm(int(a), int(b), int(c)) for a, b, c in zip(x, m, shift)]


def test_quantize_multiplier_matches_reference(rng):
    reals = np.concatenate([
        10.0 ** rng.uniform(-11, 4, 3000), [1.0, 0.5, 0.25, 2.0, 1 - 2.0**-40, 0.5 - 2.0**-45, 1e-12, 3e-10, 1e12, 0.0],
    ])
    for r in reals:
        got = quantize_multiplier(float(r))
        assert got == ref_quantize_multiplier(float(r)), r
        m0, shift = got
        if m0:
            assert 2**30 <= m0 <= I32_MAX
            if -31 <= shift < 30:
                assert abs(m0 * 2.0 ** (shift - 31) - r) <= 2.0 ** (shift - 32) * 1.0000001
    assert quantize_multiplier(1 - 2.0**-40) == (1 << 30, 1)  # rounds up to 2**31: halved, shift + 1


def test_result_is_x_times_m_to_within_one(rng):
    x = rng.integers(-(2**24), 2**24, 10_000).astype(np.int32)
    for real in (0.000123, 0.0371, 0.4999, 0.75, 0.999999):
        got = multiply_by_quantized_multiplier(x, *quantize_multiplier(real)).astype(np.float64)
        assert np.abs(got - x * real).max() <= 1.0


def test_boundary_errors():
    with pytest.raises(ValueError, match="finite number >= 0"):
        quantize_multiplier(-0.5)
    with pytest.raises(ValueError, match="int32"):
        multiply_by_quantized_multiplier(np.array([2**31]), 1 << 30, 0)
    with pytest.raises(ValueError, match="shift"):
        multiply_by_quantized_multiplier(np.array([1]), 1 << 30, -40)
    with pytest.raises(ValueError, match="integers"):
        multiply_by_quantized_multiplier(np.array([1.5]), 1 << 30, 0)
