"""The shared bit unpacking against compressed-tensors' ``pack_to_int32`` (any width 1–8) and GPTQ's 3-bit layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from qviz.sources.quantized.packing import unpack, unpack_nibbles

import compressed_tensors.compressors.pack_quantized.helpers as helpers  # noqa: E402


@given(bits=st.integers(1, 8), rows=st.integers(1, 4), cols=st.integers(1, 80), seed=st.integers(0, 2**31))
def test_unpack_inverts_compressed_tensors_pack(bits, rows, cols, seed):
    rng = np.random.default_rng(seed)
    lo = -(1 << (bits - 1))
    q = rng.integers(lo, -lo, size=(rows, cols)).astype(np.int8)
    packed = helpers.pack_to_int32(torch.from_numpy(q), bits).numpy()
    got = unpack(packed, bits, cols).astype(np.int16) + lo  # stored with the offset 2^(b-1)
    np.testing.assert_array_equal(got, q)
    ref = helpers.unpack_from_int32(torch.from_numpy(packed), bits, torch.Size((rows, cols))).numpy()
    np.testing.assert_array_equal(got, ref)


def test_gptq_3bit_words_straddle():
    """GPTQ packs 32 3-bit values into 3 words: value 10 spans words 0/1, value 21 words 1/2."""
    vals = np.arange(32) % 8
    stream = sum(int(v) << (3 * i) for i, v in enumerate(vals))
    words = np.array([[(stream >> (32 * k)) & 0xFFFFFFFF for k in range(3)]], dtype=np.uint32)
    np.testing.assert_array_equal(unpack(words, 3, 32)[0], vals)


def test_nibble_order():
    np.testing.assert_array_equal(unpack_nibbles(np.array([0x1F], np.uint8), high_first=True), [1, 15])
    np.testing.assert_array_equal(unpack_nibbles(np.array([0x1F], np.uint8), high_first=False), [15, 1])


def test_bad_arguments():
    with pytest.raises(ValueError, match="bits must be 1 to 8"):
        unpack(np.zeros((1, 1), np.int32), 9, 1)
    with pytest.raises(ValueError, match="cannot hold 9 codes of 4 bits"):
        unpack(np.zeros((1, 1), np.int32), 4, 9)
