"""QuantSpec: the integer range, the quantizer shape, and validation messages that say what to change."""

from __future__ import annotations

import dataclasses

import pytest

from qviz import PerChannel, PerGroup, PerTensor, QuantSpec


@pytest.mark.parametrize("bits", range(1, 17))
def test_integer_range_signed_and_unsigned(bits):
    s = QuantSpec(bits=bits, signed=True)
    u = QuantSpec(bits=bits, signed=False)
    assert (s.qmin, s.qmax) == (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    assert (u.qmin, u.qmax) == (0, 2**bits - 1)
    assert s.n_levels == u.n_levels == 2**bits
    for spec in (s, u):
        assert spec.n_levels == spec.qmax - spec.qmin + 1
        assert isinstance(spec.qmin, int) and isinstance(spec.qmax, int)


@pytest.mark.parametrize("bits", range(2, 17))
def test_narrow_range_drops_the_lowest_code(bits):
    s = QuantSpec(bits=bits, signed=True, narrow_range=True)
    u = QuantSpec(bits=bits, signed=False, narrow_range=True, symmetric=False)
    assert (s.qmin, s.qmax) == (-(2 ** (bits - 1)) + 1, 2 ** (bits - 1) - 1)
    assert s.qmin == -s.qmax  # symmetric codes, as TensorRT/ONNX Runtime int8 [-127, 127]
    assert (u.qmin, u.qmax) == (1, 2**bits - 1)
    assert s.n_levels == u.n_levels == 2**bits - 1


def test_familiar_ranges():
    assert (QuantSpec(bits=8).qmin, QuantSpec(bits=8).qmax) == (-128, 127)
    assert (QuantSpec(bits=8, narrow_range=True).qmin, QuantSpec(bits=8, narrow_range=True).qmax) == (-127, 127)
    assert (QuantSpec(bits=8, signed=False).qmin, QuantSpec(bits=8, signed=False).qmax) == (0, 255)
    assert (QuantSpec(bits=4).qmin, QuantSpec(bits=4).qmax) == (-8, 7)
    assert (QuantSpec(bits=4, signed=False).qmin, QuantSpec(bits=4, signed=False).qmax) == (0, 15)
    assert (QuantSpec(bits=1).qmin, QuantSpec(bits=1).qmax) == (-1, 0)
    assert (QuantSpec(bits=16).qmin, QuantSpec(bits=16).qmax) == (-32768, 32767)


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 16])
def test_steps_and_level_offset(bits):
    tread = QuantSpec(bits=bits, quantizer="midtread")
    rise = QuantSpec(bits=bits, quantizer="midrise")
    assert tread.n_steps == tread.qmax - tread.qmin  # levels sit on both ends of the range
    assert rise.n_steps == rise.qmax - rise.qmin + 1  # cell edges sit on both ends
    assert tread.level_offset == 0.0
    assert rise.level_offset == 0.5


def test_defaults_are_int8_symmetric_midtread_per_tensor_nearest():
    s = QuantSpec()
    assert (s.bits, s.signed, s.symmetric, s.narrow_range) == (8, True, True, False)
    assert s.quantizer == "midtread" and s.rounding == "nearest"
    assert s.granularity == PerTensor()
    assert s.describe() == "int8 symmetric midtread per-tensor"


def test_describe_names_every_choice():
    s = QuantSpec(
        bits=4,
        signed=False,
        symmetric=False,
        narrow_range=True,
        quantizer="midrise",
        granularity=PerGroup(32, axis=1),
        rounding="stochastic",
        seed=7,
    )
    assert s.describe() == "uint4 asymmetric narrow midrise per-group (32 along axis 1) stochastic (seed 7)"
    assert QuantSpec(granularity=PerChannel(1)).describe() == "int8 symmetric midtread per-channel (axis 1)"


def test_spec_is_frozen_and_hashable():
    s = QuantSpec(granularity=PerChannel(0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.bits = 4  # type: ignore[misc]
    assert hash(s) == hash(QuantSpec(granularity=PerChannel(0)))
    assert s == QuantSpec(granularity=PerChannel(0))
    assert s != QuantSpec(granularity=PerChannel(1))


# --- validation: every invalid spec raises ValueError naming what to change ---


@pytest.mark.parametrize("bits", [0, 17, -8, 8.0, 4.5, "8", None, True])
def test_bits_must_be_int_1_to_16(bits):
    with pytest.raises(ValueError, match=r"bits must be an integer from 1 to 16"):
        QuantSpec(bits=bits)


@pytest.mark.parametrize("bits", [1, 16])
def test_bits_bounds_are_allowed(bits):
    assert QuantSpec(bits=bits).bits == bits


@pytest.mark.parametrize("name", ["signed", "symmetric", "narrow_range"])
@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_flags_must_be_bool(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be True or False"):
        QuantSpec(**{name: value})


def test_narrow_one_bit_is_rejected_with_a_fix():
    with pytest.raises(ValueError, match=r"narrow_range.*1-bit.*bits >= 2 or narrow_range=False"):
        QuantSpec(bits=1, narrow_range=True, symmetric=False)


def test_narrow_symmetric_midrise_is_rejected_with_a_fix():
    with pytest.raises(ValueError, match=r"narrow_range=False, or quantizer='midtread'"):
        QuantSpec(bits=8, narrow_range=True, symmetric=True, quantizer="midrise")


def test_neighbours_of_rejected_combinations_are_allowed():
    # Only the exact combinations above are invalid.
    QuantSpec(bits=8, narrow_range=True, symmetric=True, quantizer="midtread")
    QuantSpec(bits=8, narrow_range=True, symmetric=False, quantizer="midrise")
    QuantSpec(bits=8, narrow_range=False, symmetric=True, quantizer="midrise")
    QuantSpec(bits=1, narrow_range=False, quantizer="midrise")
    QuantSpec(bits=2, narrow_range=True, symmetric=False)


@pytest.mark.parametrize("quantizer", ["mid-tread", "MIDTREAD", "uniform", "", None])
def test_bad_quantizer(quantizer):
    with pytest.raises(ValueError, match=r"quantizer must be 'midtread' or 'midrise'"):
        QuantSpec(quantizer=quantizer)


@pytest.mark.parametrize("rounding", ["round", "floor", "Nearest", "", None])
def test_bad_rounding(rounding):
    with pytest.raises(ValueError, match=r"rounding must be 'nearest' or 'stochastic'"):
        QuantSpec(rounding=rounding)


@pytest.mark.parametrize("granularity", ["per-tensor", None, 0, PerTensor, (PerChannel(0),)])
def test_bad_granularity(granularity):
    with pytest.raises(ValueError, match=r"qviz\.PerTensor\(\), qviz\.PerChannel\(axis\) or qviz\.PerGroup"):
        QuantSpec(granularity=granularity)


@pytest.mark.parametrize("seed", [1.5, "0", None, True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match=r"seed must be an int"):
        QuantSpec(seed=seed)


@pytest.mark.parametrize("axis", [1.0, "0", None, True])
def test_bad_axis(axis):
    with pytest.raises(ValueError, match=r"PerChannel axis must be an int"):
        PerChannel(axis)
    with pytest.raises(ValueError, match=r"PerGroup axis must be an int"):
        PerGroup(32, axis)


@pytest.mark.parametrize("group_size", [0, -32, 32.0, "32", None, True])
def test_bad_group_size(group_size):
    with pytest.raises(ValueError, match=r"group_size must be a positive int \(e\.g\. 32, 64, 128\)"):
        PerGroup(group_size)


def test_granularity_describe():
    assert PerTensor().describe() == "per-tensor"
    assert PerChannel().describe() == "per-channel (axis 0)"
    assert PerChannel(-1).describe() == "per-channel (axis -1)"
    assert PerGroup(64).describe() == "per-group (64 along axis -1)"
