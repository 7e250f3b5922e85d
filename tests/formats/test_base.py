"""Formats group on qviz.blocks (PerGroup(g, axis=-1), NaN-padded partial blocks) and are dataclasses with true ==, hash, repr."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

import qviz
from qviz import PerGroup, PerTensor, QuantSpec
from qviz.formats import FORMATS, NF4, KMeansFormat, Log2Format, UniformFormat, base
from qviz.formats.binary import BinaryFormat, TernaryFormat
from qviz.formats.fp import Element, FloatFormat
from qviz.formats.mx import MXFormat


@pytest.mark.parametrize("name,g", [("nf4", 64), ("mxfp4", 32), ("mxint8", 32), ("int4_g64", 64)])
def test_block_formats_are_pergroup_on_the_last_axis(name, g, rng):
    f = FORMATS[name]
    assert f.granularity == PerGroup(g, axis=-1) and f.block_size == g
    # rows of different scale: a block never mixes two rows, so each row equals the format on that row alone
    x = rng.normal(0, 1, (3, 2 * g)).astype(np.float32) * np.array([[1e-3], [1.0], [1e3]], dtype=np.float32)
    out = f.fake_quantize(x)
    for row, o in zip(x, out):
        np.testing.assert_array_equal(o, f.fake_quantize(row))
    rows = qviz.blocks.to_blocks(x, PerGroup(g))
    np.testing.assert_array_equal(base.group_rows(x, g), rows)


@pytest.mark.parametrize("name,g", [("nf4", 64), ("mxfp4", 32), ("int4_g64", 64)])
def test_undivisible_last_axis_ends_each_row_in_a_partial_block(name, g, rng):
    f = FORMATS[name]
    x = rng.normal(0, 1, (3, g + 6)).astype(np.float32)
    x[:, g:] *= 50  # the partial block's scale must come from its own 6 values only
    out = f.fake_quantize(x)
    assert out.shape == x.shape and np.isfinite(out).all()
    for row, o in zip(x, out):
        np.testing.assert_array_equal(o[:g], f.fake_quantize(row[:g]))
        np.testing.assert_array_equal(o[g:], f.fake_quantize(row[g:]))
    # a whole scale per partial block: 3 rows × 2 blocks
    assert f.bits_per_value_for(x.shape) == pytest.approx(f.element_bits + 6 * f.scale_bits / x.size)


@pytest.mark.parametrize("method", ["minmax", "percentile", "mse"])
def test_partial_group_range_ignores_the_padding(method, rng):
    # the partial group is calibrated on its own values: as if the 20 tail values were a tensor of their own
    spec = QuantSpec(bits=4, signed=False, symmetric=False, granularity=PerGroup(64))
    f = UniformFormat("u4_g64", "uint4 asym, groups of 64", spec, method)
    x = rng.normal(3, 1, (2, 84)).astype(np.float32)
    out = f.fake_quantize(x)
    for row, o in zip(x, out):
        tail = qviz.calibrate(row[64:], dataclasses.replace(spec, granularity=PerTensor()), method).qparams
        np.testing.assert_array_equal(o[64:], qviz.fake_quantize(row[64:], tail))


def test_group_rows_round_trip_and_scalars(rng):
    for shape in [(), (5,), (2, 3), (2, 3, 70)]:
        x = rng.normal(0, 1, shape).astype(np.float32)
        rows = base.group_rows(x, 32)
        assert rows.shape[1] == 32
        np.testing.assert_array_equal(base.from_group_rows(rows, x.shape), x)
    assert FORMATS["nf4"].fake_quantize(np.float32(0.3)).shape == ()


def test_formats_are_dataclasses_with_true_eq_hash_and_repr():
    ns = dict(UniformFormat=UniformFormat, Log2Format=Log2Format, KMeansFormat=KMeansFormat, NF4=NF4, FloatFormat=FloatFormat,
              MXFormat=MXFormat, BinaryFormat=BinaryFormat, TernaryFormat=TernaryFormat, Element=Element, QuantSpec=QuantSpec,
              PerGroup=PerGroup, PerTensor=PerTensor)
    for f in FORMATS.values():
        assert dataclasses.is_dataclass(f)
        again = eval(repr(f), ns)
        assert again == f and hash(again) == hash(f) and repr(again) == repr(f)
        with pytest.raises(dataclasses.FrozenInstanceError):
            f.name = "x"  # type: ignore[misc]
    assert Log2Format(4) == Log2Format(4, "log2_4") != Log2Format(3)
    assert KMeansFormat(2) != KMeansFormat(4) and NF4(32) != NF4()
    spec = QuantSpec(bits=4, granularity=PerGroup(64))
    assert UniformFormat("a", "t", spec) != UniformFormat("a", "t", spec, method="mse")  # the calibrator is part of it
    assert {FORMATS["int8"]: 1}[UniformFormat("int8", "int8 symmetric, per-tensor", QuantSpec(bits=8))] == 1


def test_no_object_setattr_in_formats():
    import qviz.formats as pkg
    for mod in (base, *(getattr(pkg, m) for m in ("uniform", "fp", "kmeans", "log2", "mx", "nf4", "binary"))):
        assert "object.__setattr__" not in inspect.getsource(mod), mod.__name__


def test_bad_parameters_say_what_is_wrong():
    with pytest.raises(ValueError, match="QuantSpec"):
        UniformFormat("x", "x", "int4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2 to 8 bits"):
        Log2Format(1)
    with pytest.raises(ValueError, match="block_size"):
        NF4(0)
