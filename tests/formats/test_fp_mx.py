"""FP8 equals torch's float8 casts; FP4 and MX follow the OCP MX v1.0 definitions (hand-worked blocks + ml_dtypes)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import qviz
from qviz.formats import FORMATS

FP8 = {"fp8_e4m3": (torch.float8_e4m3fn, 448.0), "fp8_e5m2": (torch.float8_e5m2, 57344.0)}


def _tensor(rng):
    x = rng.standard_t(3, 20_000).astype(np.float32)
    x[:5] = [0.0, -0.0, 1e-30, -7e-8, 3e-6]  # zeros and values that land in the subnormals
    return x


@pytest.mark.parametrize("name", list(FP8))
def test_fp8_equals_torch_cast_of_scaled_clamped_tensor(name, rng):
    dtype, fmax = FP8[name]
    x = _tensor(rng)
    s = np.float32(np.abs(x).max() / np.float32(fmax))
    scaled = torch.from_numpy(x) / torch.tensor(s)
    expected = scaled.clamp(-fmax, fmax).to(dtype).to(torch.float32) * torch.tensor(s)
    got = FORMATS[name].fake_quantize(x)
    np.testing.assert_array_equal(got, expected.numpy())
    assert np.abs(got).max() == pytest.approx(np.abs(x).max(), rel=1e-6)  # max|x| maps onto the largest value


@pytest.mark.parametrize("name", list(FP8))
def test_fp8_levels_are_the_format_values(name):
    dtype, fmax = FP8[name]
    lv = FORMATS[name].levels(np.array([-fmax, fmax], dtype=np.float32))  # scale 1
    assert lv.max() == fmax and lv.min() == -fmax and 0.0 in lv
    assert np.array_equal(torch.from_numpy(lv).to(dtype).to(torch.float32).numpy(), lv)  # every level is representable
    assert lv.size == {"fp8_e4m3": 253, "fp8_e5m2": 247}[name]  # 256 codes - NaN(s)/Inf - the duplicate -0


def test_fp4_rounds_to_nearest_even_and_saturates():
    f = FORMATS["fp4_e2m1"]
    # scale 1 (max|x| = 6): ties go to the even code, as OCP MX v1.0 §5.3.3 asks
    x = np.array([6, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, -5.0, 0.2, -0.3, 4.9], dtype=np.float32)
    assert f.fake_quantize(x).tolist() == [6, 0, 1, 1, 2, 2, 4, 4, -4, 0, -0.5, 4]
    assert f.levels(x).tolist() == [-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 6]


def test_fp4_matches_ml_dtypes(rng):
    import ml_dtypes as ml
    x = rng.normal(0, 1, 50_000).astype(np.float32)
    s = np.float32(np.abs(x).max() / np.float32(6))
    ref = np.clip(x / s, -6, 6).astype(ml.float4_e2m1fn).astype(np.float32) * s
    np.testing.assert_array_equal(FORMATS["fp4_e2m1"].fake_quantize(x), ref)


# ---- MX: hand-worked blocks (OCP MX v1.0 §6.3: X = 2^(floor(log2 amax) - emax_elem), P = cast(V / X)) ----

def _block(values):
    return np.array(list(values) + [0.0] * (32 - len(values)), dtype=np.float32)


def test_mxfp4_hand_worked_blocks():
    f = FORMATS["mxfp4"]
    # amax 7.5: floor(log2 7.5) = 2 = emax(E2M1) -> X = 1. 7.5 saturates to 6, 5 is a tie -> 4 (even),
    # 0.3 -> 0.5, -2.6 -> -3, 0.74 -> 0.5, 1.25 is a tie -> 1 (even)
    assert f.fake_quantize(_block([7.5, 5.0, 0.3, -2.6, 0.74, 1.25]))[:6].tolist() == [6, 4, 0.5, -3, 0.5, 1]
    # amax 0.1: floor(log2 0.1) = -4 -> X = 2^-6; 0.1/X = 6.4 -> 6, 0.03/X = 1.92 -> 2
    assert f.fake_quantize(_block([0.1, 0.03]))[:2].tolist() == [6 / 64, 2 / 64]
    # two blocks keep their own scales; an all-zero block stays zero
    two = np.concatenate([_block([0.1]), _block([100.0]), np.zeros(32, np.float32)])
    out = f.fake_quantize(two)
    assert out[0] == 6 / 64 and out[32] == 96.0 and not out[64:].any()  # 100: X = 2^(6-2) = 16, 6.25 -> 6


def test_mxfp8_hand_worked_block():
    f = FORMATS["mxfp8_e4m3"]
    # amax 1.9: floor(log2 1.9) = 0, emax(E4M3) = 8 -> X = 2^-8; 1.9·256 = 486.4 saturates to 448 -> 1.75;
    # 0.3·256 = 76.8 -> 80 (E4M3 steps by 8 in [64, 128)) -> 0.3125; 1.0 -> 256 exactly
    assert f.fake_quantize(_block([1.9, 0.3, 1.0]))[:3].tolist() == [1.75, 0.3125, 1.0]


def test_mxint8_hand_worked_block():
    f = FORMATS["mxint8"]
    # amax 3: floor(log2 3) = 1, emax(INT8) = 0 -> X = 2; elements are k/64: 3/2 = 1.5 = 96/64,
    # -2.9/2 = -1.45 -> -92.8/64 -> -93/64 -> -2.90625; 0.3/2 -> 9.6/64 -> 10/64 -> 0.3125
    assert f.fake_quantize(_block([3.0, -2.9, 0.3]))[:3].tolist() == [3.0, -2.90625, 0.3125]


def _mx_reference(x, emax, cast, block=32):
    """OCP MX v1.0 §6.3 written out block by block with math.log2 (independent of qviz's frexp path)."""
    out = np.empty_like(x)
    for i in range(0, x.size, block):
        v = x[i:i + block]
        amax = float(np.abs(v).max())
        e = max(min(math.floor(math.log2(amax)) - emax, 127), -127) if amax > 0 else -127
        out[i:i + block] = cast(v / np.float32(2.0**e)) * np.float32(2.0**e)
    return out


def test_mx_formats_match_reference_on_random_blocks(rng):
    import ml_dtypes as ml
    x = (rng.standard_t(3, 32 * 300) * np.exp(rng.normal(0, 3, 32 * 300).repeat(1))).astype(np.float32)
    casts = {
        "mxfp4": (2, lambda v: np.clip(v, -6, 6).astype(ml.float4_e2m1fn).astype(np.float32)),
        "mxfp8_e4m3": (8, lambda v: np.clip(v, -448, 448).astype(ml.float8_e4m3fn).astype(np.float32)),
        "mxint8": (0, lambda v: np.clip(np.round(v * 64), -127, 127).astype(np.float32) / 64),
    }
    for name, (emax, cast) in casts.items():
        np.testing.assert_array_equal(FORMATS[name].fake_quantize(x), _mx_reference(x, emax, cast), err_msg=name)


def test_mx_shared_scale_is_e8m0():
    # the scale is a power of two that torch's E8M0 dtype stores exactly
    f = FORMATS["mxfp8_e4m3"]
    exp, _ = f.encode(np.linspace(-3, 3, 64, dtype=np.float32))
    x = torch.tensor(2.0 ** exp.astype(np.float64), dtype=torch.float32)
    assert torch.equal(x.to(torch.float8_e8m0fnu).to(torch.float32), x)
    assert exp.tolist() == [-7, -7]  # floor(log2 3) - 8


def test_bits_per_value_counts_block_scales():
    assert FORMATS["mxfp4"].bits_per_value == 4 + 8 / 32
    assert FORMATS["mxfp8_e4m3"].bits_per_value == FORMATS["mxint8"].bits_per_value == 8 + 8 / 32
    assert FORMATS["nf4"].bits_per_value == 4 + 32 / 64
    assert FORMATS["int4_g64"].bits_per_value == 4 + 32 / 64
    assert FORMATS["fp8_e4m3"].bits_per_value == 8
    # with the tensor's size, a per-tensor scale adds 32/n and a partial last block a whole scale
    assert FORMATS["fp4_e2m1"].bits_per_value_for((1000,)) == pytest.approx(4 + 32 / 1000)
    assert FORMATS["mxfp4"].bits_per_value_for((40,)) == pytest.approx(4 + 2 * 8 / 40)


def test_torch_input_and_nan(rng):
    x = rng.normal(0, 1, 256).astype(np.float32)
    x[3] = np.nan
    for name in ("fp8_e4m3", "fp4_e2m1", "mxfp4", "mxint8"):
        out = FORMATS[name].fake_quantize(torch.from_numpy(x))
        assert isinstance(out, np.ndarray) and out.dtype == np.float32 and np.isnan(out[3])
        assert np.isfinite(np.delete(out, 3)).all()
    assert qviz.formats.get_format("mxfp4") is FORMATS["mxfp4"]
