"""Blocks that are not runs of the row-major tensor (GPTQ act-order, 2-d tiles): ``to_blocks`` / ``from_blocks``."""

from __future__ import annotations

import numpy as np
from conftest import WEIGHTS, bits_equal, write_checkpoint
from hypothesis import given
from hypothesis import strategies as st
from test_gptq import make_gptq

import qviz
from qviz.quantized import QuantizedTensor

Q = list(WEIGHTS)[1]


def _qt(rows, cols, block, meta):
    n = rows * cols
    return QuantizedTensor("w", "demo", (rows, cols), 8, block, codes=np.zeros((n // block, block), np.uint8),
                           scales=np.ones(n // block, np.float32), codebook=np.arange(256, dtype=np.float32), meta=meta)


@given(rt=st.integers(1, 4), ct=st.integers(1, 4), bh=st.integers(1, 5), bw=st.integers(1, 5), seed=st.integers(0, 99))
def test_layouts_round_trip(rt, ct, bh, bw, seed):
    rows, cols = rt * bh, ct * bw
    x = np.random.default_rng(seed).normal(size=(rows, cols)).astype(np.float32)
    tiles = _qt(rows, cols, bh * bw, {"tile": (bh, bw)})
    np.testing.assert_array_equal(tiles.to_blocks(x)[0], x[:bh, :bw].ravel())  # first block = top-left tile
    np.testing.assert_array_equal(tiles.from_blocks(tiles.to_blocks(x)), x)
    perm = np.random.default_rng(seed).permutation(cols)
    cols_qt = _qt(rows, cols, cols, {"column_order": perm})
    np.testing.assert_array_equal(cols_qt.to_blocks(x)[0], x[0, perm])
    np.testing.assert_array_equal(cols_qt.from_blocks(cols_qt.to_blocks(x)), x)
    plain = _qt(rows, cols, cols, {})
    assert np.shares_memory(plain.to_blocks(x), x)


def test_act_order_blocks_hold_their_group(tmp_path, minilm):
    """Each act-order block's values are exactly its codes under its own scale and zero point."""
    write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in make_gptq(minilm[Q], 4, 32, act_order=True).items()})
    src = qviz.open_source(tmp_path)
    qt, x = src.quantized(f"{Q}.weight"), src.load(f"{Q}.weight")
    assert qt.meta["act_order"] and qt.meta["column_order"].shape == (384,)
    by_block = (qt.codebook[qt.codes] - qt.zero_points[:, None]) * qt.scales[:, None]
    assert bits_equal(qt.to_blocks(x), by_block.astype(np.float32)) and bits_equal(qt.dequantize(), x)
