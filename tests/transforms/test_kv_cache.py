"""KV-cache quantization: attention against torch's, per-token / per-channel against a plain numpy quantizer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qviz.transforms import attention, kv_cache_error
from qviz.transforms.kv_cache import _quant_cache


@pytest.fixture(scope="module")
def qkv():
    rng = np.random.default_rng(0)
    seqs = []
    for t in (7, 12):
        q, k, v = (rng.standard_normal((3, t, 8)).astype(np.float32) for _ in range(3))
        k[:, :, 2] += 6.0  # a shifted K channel (as real keys have): per-channel handles it, per-token does not
        seqs.append((q, k, v))
    return seqs


def test_attention_is_torchs(qkv):
    q, k, v = qkv[0]
    want = torch.nn.functional.scaled_dot_product_attention(*(torch.from_numpy(a).double() for a in (q, k, v))).numpy()
    np.testing.assert_allclose(attention(q, k, v), want, rtol=1e-12, atol=1e-12)


def reference_cache(c: np.ndarray, gran: str, bits: int) -> np.ndarray:
    """Asymmetric min-max fake quantization, one range per (head, token) or per (head, channel), plain numpy."""
    axis = 2 if gran == "per-token" else 1
    c = c.astype(np.float64)
    lo = np.minimum(c.min(axis=axis, keepdims=True), 0)
    hi = np.maximum(c.max(axis=axis, keepdims=True), 0)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    delta = (hi - lo) / (qmax - qmin)
    z = qmin - np.round(lo / delta)
    q = np.clip(np.round(c / delta) + z, qmin, qmax)
    return (q - z) * delta


@pytest.mark.parametrize("gran", ["per-token", "per-channel"])
def test_cache_blocks_are_per_token_and_per_channel(qkv, gran):
    k = qkv[1][1]
    got = _quant_cache(k, gran, 4, symmetric=False)
    want = reference_cache(k, gran, 4)
    assert np.abs(got - want).max() < 1e-5 * np.abs(k).max() + 1e-3 * np.abs(want - k).max()


def test_sqnr_rises_with_bits_and_per_channel_k_wins_on_a_shifted_channel(qkv):
    df = kv_cache_error(qkv, bits=(2, 4, 8))
    assert set(df["head"]) == {-1, 0, 1, 2}
    tot = df[df["head"] == -1].set_index(["k", "v", "bits"])["sqnr_db"]
    for k in ("per-token", "per-channel"):
        for v in ("per-token", "per-channel"):
            assert tot[(k, v, 2)] < tot[(k, v, 4)] < tot[(k, v, 8)]
    kc = df[(df["head"] == -1) & (df["v"] == "per-token")].set_index(["k", "bits"])["k_sqnr_db"]
    assert kc[("per-channel", 4)] > kc[("per-token", 4)]
    # the total is the energy-weighted combination of the heads: between the worst and the best head
    one = df[(df["k"] == "per-token") & (df["v"] == "per-token") & (df["bits"] == 4)]
    total, heads = one[one["head"] == -1]["sqnr_db"].item(), one[one["head"] >= 0]["sqnr_db"]
    assert heads.min() <= total <= heads.max()


def test_no_sequences_is_a_clear_error():
    with pytest.raises(ValueError, match="no sequences"):
        kv_cache_error([])
    assert math.isinf(kv_cache_error([(np.ones((1, 2, 2), np.float32),) * 3], bits=(8,), symmetric=False)["sqnr_db"].max())
