"""Hadamard matrices: orthonormal, Sylvester = scipy's, block-diagonal for non-power-of-two widths, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import qviz
from qviz.transforms.hadamard import block_structure, rotate, valid_blocks


@pytest.mark.parametrize("n", [1, 2, 4, 8, 64, 512])
def test_sylvester_is_scipys_hadamard_and_orthonormal(n):
    r = qviz.hadamard(n)
    assert r.dtype == np.float32
    np.testing.assert_allclose(r * np.sqrt(n), scipy.linalg.hadamard(n), atol=1e-5)
    np.testing.assert_allclose(r.astype(np.float64) @ r.T.astype(np.float64), np.eye(n), atol=2e-6)


@pytest.mark.parametrize("n,block", [(384, 16), (384, 32), (384, 64), (384, 128), (1536, 128), (96, 32), (192, 64)])
@pytest.mark.parametrize("seed", [None, 7])
def test_block_and_randomised_are_orthonormal(n, block, seed):
    r = qviz.hadamard(n, block=block, seed=seed).astype(np.float64)
    np.testing.assert_allclose(r @ r.T, np.eye(n), atol=2e-6)
    assert block_structure(r.astype(np.float32)) == block
    h = scipy.linalg.hadamard(block) / np.sqrt(block)
    signs = np.sign(r[np.arange(n), (np.arange(n) // block) * block])  # the first column of each block: ±1/√b
    np.testing.assert_allclose(r[:block, :block], signs[:block, None] * h, atol=1e-6)
    if seed is None:
        assert (signs > 0).all()
    else:
        assert 0.3 < (signs > 0).mean() < 0.7  # random ±1, both present
        assert not np.array_equal(r, qviz.hadamard(n, block=block, seed=seed + 1))
        np.testing.assert_array_equal(r, qviz.hadamard(n, block=block, seed=seed))


def test_default_block_for_widths():
    assert block_structure(qviz.hadamard(384)) == 128  # 384 = 3·128: the largest block that fits
    assert block_structure(qviz.hadamard(48)) == 16
    assert block_structure(qviz.hadamard(512)) == 512


def test_errors_name_the_widths_that_work():
    with pytest.raises(ValueError, match=r"width 100 .* none of the blocks 16, 32, 64, 128 divides it.*96 or 112"):
        qviz.hadamard(100)
    with pytest.raises(ValueError, match=r"block 48 .*blocks that work for 384: 2, 4, 8, 16, 32, 64, 128"):
        qviz.hadamard(384, block=48)
    with pytest.raises(ValueError, match="odd"):
        qviz.hadamard(7, block=2)
    with pytest.raises(ValueError, match="positive int"):
        qviz.hadamard(0)
    assert valid_blocks(384) == [2, 4, 8, 16, 32, 64, 128]


def test_rotate_block_by_block_equals_the_dense_product():
    rng = np.random.default_rng(0)
    for r in (qviz.hadamard(384, 64, seed=1), qviz.hadamard(256)):
        x = rng.standard_normal((37, r.shape[0])).astype(np.float32)
        got = rotate(x, r).astype(np.float64)
        want = x.astype(np.float64) @ r.astype(np.float64)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_rotation_spreads_a_planted_outlier_channel():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 128)).astype(np.float32)
    x[:, 5] *= 100
    xr = x @ qviz.hadamard(128, seed=0)
    assert np.abs(xr).max() < np.abs(x).max() / 5
    np.testing.assert_allclose(np.linalg.norm(xr, axis=1), np.linalg.norm(x, axis=1), rtol=1e-5)  # energy kept


def test_the_induced_outlier_of_the_first_row_and_random_signs():
    """A shared offset c on every channel lands on channel 0 of each block as √b·c; random signs spread it."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((64, 384)) * 0.1 + 1.0).astype(np.float32)  # every token ≈ +1 on every channel
    plain = np.abs(rotate(x, qviz.hadamard(384, block=128))).max(0)
    first = plain[::128]
    assert np.allclose(first, np.sqrt(128), rtol=0.05)  # √b · mean
    assert np.delete(plain, [0, 128, 256]).max() < first.min() / 5
    signed = np.abs(rotate(x, qviz.hadamard(384, block=128, seed=0))).max(0)
    assert signed.max() < first.min() / 2
