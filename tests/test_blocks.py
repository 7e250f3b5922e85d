"""Granularity as a block shape: block_size / grid_shape / split / expand / to_blocks / block_min_max."""

from __future__ import annotations

import re

import numpy as np
import pytest

from qviz import PerChannel, PerGroup, PerTensor, block_min_max, block_size, grid_shape
from qviz import blocks


@pytest.mark.parametrize(
    "shape, granularity, bsize, grid",
    [
        ((4, 6), PerTensor(), (4, 6), (1, 1)),
        ((7,), PerTensor(), (7,), (1,)),
        ((), PerTensor(), (), ()),
        ((4, 6), PerChannel(0), (1, 6), (4, 1)),
        ((4, 6), PerChannel(1), (4, 1), (1, 6)),
        ((4, 6), PerChannel(-1), (4, 1), (1, 6)),
        ((8, 3, 5, 5), PerChannel(0), (1, 3, 5, 5), (8, 1, 1, 1)),
        ((8, 3, 5, 5), PerChannel(1), (8, 1, 5, 5), (1, 3, 1, 1)),
        ((4, 64), PerGroup(32), (1, 32), (4, 2)),
        ((4, 64), PerGroup(2, axis=0), (2, 1), (2, 64)),
        ((2, 3, 12), PerGroup(4), (1, 1, 4), (2, 3, 3)),
        ((12,), PerGroup(12), (12,), (1,)),
        ((12,), PerGroup(1), (1,), (12,)),
    ],
)
def test_block_and_grid_shapes(shape, granularity, bsize, grid):
    assert block_size(shape, granularity) == bsize
    assert grid_shape(shape, granularity) == grid
    assert blocks.n_blocks(shape, granularity) == int(np.prod(grid, dtype=np.int64))
    for s, b, g in zip(shape, bsize, grid):
        assert s % b == 0 and s // b == g


@pytest.mark.parametrize("granularity", [PerChannel(2), PerChannel(-3), PerGroup(2, axis=2), PerGroup(2, axis=-3)])
def test_axis_out_of_range(granularity):
    with pytest.raises(ValueError, match=r"axis -?\d+ is out of range for a tensor with 2 axes"):
        block_size((4, 6), granularity)


@pytest.mark.parametrize("granularity", [PerChannel(0), PerGroup(1)])
def test_scalar_needs_per_tensor(granularity):
    with pytest.raises(ValueError, match=r"scalar: use qviz\.PerTensor\(\)"):
        block_size((), granularity)


@pytest.mark.parametrize("size, group", [(100, 32), (7, 3), (96, 64), (4096 * 3, 5000), (30, 7)])
def test_group_not_dividing_names_divisors(size, group):
    with pytest.raises(ValueError) as err:
        block_size((2, size), PerGroup(group))
    msg = str(err.value)
    assert f"group_size {group}" in msg and f"size {size}" in msg
    assert f"choose a divisor of {size}" in msg
    hint = re.search(r"such as ([\d, ]+)$", msg)
    assert hint, msg
    named = [int(v) for v in hint.group(1).split(",")]
    assert named and all(size % d == 0 for d in named), msg


def test_group_of_one_element_axis_has_no_divisor_hint():
    with pytest.raises(ValueError, match=r"choose a divisor of 1$"):
        block_size((3, 1), PerGroup(2))


def _manual_groups(x, g, axis):
    """Reference: loop over every (row, group) and take min/max."""
    xm = np.moveaxis(x, axis, -1)
    lead = xm.shape[:-1]
    n = xm.shape[-1] // g
    lo = np.empty(lead + (n,), np.float32)
    hi = np.empty(lead + (n,), np.float32)
    for idx in np.ndindex(*lead):
        for j in range(n):
            seg = xm[idx][j * g : (j + 1) * g]
            lo[idx + (j,)] = seg.min()
            hi[idx + (j,)] = seg.max()
    return np.moveaxis(lo, -1, axis), np.moveaxis(hi, -1, axis)


def test_block_min_max_per_tensor_channel_group(rng):
    x = rng.normal(size=(6, 4, 8)).astype(np.float32)
    lo, hi = block_min_max(x, PerTensor())
    assert lo.shape == hi.shape == (1, 1, 1)
    assert lo.item() == x.min() and hi.item() == x.max()
    for axis in range(3):
        lo, hi = block_min_max(x, PerChannel(axis))
        others = tuple(d for d in range(3) if d != axis)
        np.testing.assert_array_equal(lo.squeeze(), x.min(axis=others))
        np.testing.assert_array_equal(hi.squeeze(), x.max(axis=others))
    for axis, g in [(2, 4), (0, 3), (1, 2), (-1, 8)]:
        lo, hi = block_min_max(x, PerGroup(g, axis))
        rlo, rhi = _manual_groups(x, g, axis % 3)
        np.testing.assert_array_equal(lo, rlo)
        np.testing.assert_array_equal(hi, rhi)
    assert lo.dtype == np.float32


def test_block_min_max_ignores_nonfinite_and_empty_blocks_get_zero():
    x = np.array(
        [
            [1.0, np.nan, -2.0, np.inf],
            [np.nan, np.nan, np.inf, -np.inf],
            [-np.inf, 5.0, 3.0, 4.0],
        ],
        dtype=np.float32,
    )
    lo, hi = block_min_max(x, PerChannel(0))
    np.testing.assert_array_equal(lo.ravel(), [-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(hi.ravel(), [1.0, 0.0, 5.0])
    assert lo.dtype == hi.dtype == np.float32
    lo, hi = block_min_max(x, PerTensor())
    assert (lo.item(), hi.item()) == (-2.0, 5.0)


def test_block_min_max_empty_raises():
    with pytest.raises(ValueError, match="empty"):
        block_min_max(np.zeros((0, 4), np.float32), PerTensor())


def test_split_and_expand_broadcast_per_group(rng):
    x = rng.normal(size=(3, 8)).astype(np.float32)
    g = PerGroup(4)
    params = np.arange(6, dtype=np.float32).reshape(3, 2) + 1
    v = blocks.split(x, g)
    assert v.shape == (3, 1, 2, 4)
    assert np.shares_memory(v, x)
    out = (v * blocks.expand(params, x.shape, g)).reshape(x.shape)
    ref = x * np.repeat(params, 4, axis=1)
    np.testing.assert_array_equal(out, ref)
    # flat params (one per block, grid C order) and a single value work too
    np.testing.assert_array_equal((v * blocks.expand(params.ravel(), x.shape, g)).reshape(x.shape), ref)
    np.testing.assert_array_equal((v * blocks.expand(2.0, x.shape, g)).reshape(x.shape), 2 * x)


def test_expand_wrong_count_says_recompute():
    with pytest.raises(ValueError, match=r"5 entries .* has 4 blocks; compute them for this tensor"):
        blocks.expand(np.ones(5), (4, 6), PerChannel(0))


def test_to_blocks_rows_follow_grid_order(rng):
    x = rng.normal(size=(4, 6)).astype(np.float32)
    rows = blocks.to_blocks(x, PerChannel(1))
    assert rows.shape == (6, 4)
    np.testing.assert_array_equal(rows, x.T)
    rows = blocks.to_blocks(x, PerGroup(3))
    np.testing.assert_array_equal(rows, x.reshape(8, 3))
    rows = blocks.to_blocks(x, PerGroup(2, axis=0))  # grid (2, 6)
    expected = np.stack([x[2 * i : 2 * i + 2, j] for i in range(2) for j in range(6)])
    np.testing.assert_array_equal(rows, expected)
    assert blocks.to_blocks(x, PerTensor()).shape == (1, 24)
