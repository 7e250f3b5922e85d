"""KV-cache quantization, per attention head: K and V per token or per channel, and what attention sees.

For one sequence and head, ``Q, K, V`` are ``(tokens, d)`` and attention is
``O = softmax(Q·Kᵀ/√d)·V``. Quantizing the cache replaces ``K, V`` by ``K̂, V̂``::

    per-token    one scale per (token, head): the d values a token writes     (PerGroup(d) on tokens × heads·d)
    per-channel  one scale per (channel, head) over the sequence's tokens      (PerChannel(1) on tokens × heads·d)

    SQNR(O) = 10·log10(Σ O² / Σ (O − Ô)²)     summed over sequences (and heads, for the total)

KIVI (Liu et al., 2024) quantizes K per channel (its outliers sit in fixed channels) and
V per token. Both are :mod:`qviz.blocks` granularities on the ``tokens × (heads·d)`` cache.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> qkv = [tuple(rng.standard_normal((2, 5, 4)).astype(np.float32) for _ in range(3))]
>>> df = kv_cache_error(qkv, bits=(8,))
>>> sorted(df["k"].unique().tolist()), bool((df["sqnr_db"] > 30).all())
(['per-channel', 'per-token'], True)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..affine import fake_quantize
from ..calibrate import calibrate
from ..spec import PerChannel, PerGroup, QuantSpec

KV_GRANULARITIES = ("per-token", "per-channel")
KV_BITS = (2, 3, 4, 5, 6, 8)


def _quant_cache(c: np.ndarray, gran: str, bits: int, symmetric: bool) -> np.ndarray:
    """Fake-quantize a ``(heads, tokens, d)`` cache with one scale per (token, head) or per (channel, head)."""
    h, t, d = c.shape
    flat = np.ascontiguousarray(c.transpose(1, 0, 2).reshape(t, h * d))
    g = PerGroup(d, -1) if gran == "per-token" else PerChannel(1)
    spec = QuantSpec(bits=bits, symmetric=symmetric, granularity=g)
    out = fake_quantize(flat, calibrate(flat, spec, "minmax").qparams)
    return out.reshape(t, h, d).transpose(1, 0, 2)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``softmax(Q·Kᵀ/√d)·V`` per head, float64: ``(heads, tokens, d)``."""
    s = np.einsum("htd,hsd->hts", q.astype(np.float64), k.astype(np.float64)) / math.sqrt(q.shape[-1])
    s -= s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum("hts,hsd->htd", p, v.astype(np.float64))


def kv_cache_error(qkv, bits=KV_BITS, symmetric: bool = False) -> pd.DataFrame:
    """Attention-output SQNR per head for K and V quantized per token / per channel at each bit width.

    Parameters
    ----------
    qkv : sequence of (Q, K, V)
        One triple per sequence, each ``(heads, tokens, head_dim)``.
    bits : iterable of int
        Bit widths of the cache (2–8).
    symmetric : bool
        Symmetric ranges; asymmetric (the default, as KIVI) suits K's shifted channels.

    Returns
    -------
    DataFrame
        Columns ``k, v`` (granularities), ``bits``, ``head`` (−1 = all heads), ``sqnr_db``,
        ``k_sqnr_db``, ``v_sqnr_db`` (of the cache itself).
    """
    qkv = list(qkv)
    if not qkv:
        raise ValueError("kv_cache_error: no sequences; capture Q, K and V of at least one sequence")
    h = qkv[0][0].shape[0]
    refs = [attention(q, k, v) for q, k, v in qkv]
    rows = []
    for b in bits:
        quant = {(part, g): [_quant_cache(t[i], g, int(b), symmetric) for t in qkv]
                 for i, part in ((1, "k"), (2, "v")) for g in KV_GRANULARITIES}
        cache_err = {}
        for (part, g), qs in quant.items():
            i = 1 if part == "k" else 2
            c_sig = sum(float(np.square(t[i], dtype=np.float64).sum()) for t in qkv)
            c_err = sum(float(np.square(t[i].astype(np.float64) - qc).sum()) for t, qc in zip(qkv, qs))
            cache_err[(part, g)] = _db(c_sig, c_err)
        for kg in KV_GRANULARITIES:
            for vg in KV_GRANULARITIES:
                sig, err = np.zeros(h), np.zeros(h)
                for j, ((q, _, _), ref) in enumerate(zip(qkv, refs)):
                    o = attention(q, quant[("k", kg)][j], quant[("v", vg)][j])
                    sig += np.square(ref).sum(axis=(1, 2))
                    err += np.square(o - ref).sum(axis=(1, 2))
                base = {"k": kg, "v": vg, "bits": int(b), "k_sqnr_db": cache_err[("k", kg)], "v_sqnr_db": cache_err[("v", vg)]}
                rows.append({**base, "head": -1, "sqnr_db": _db(sig.sum(), err.sum())})
                rows += [{**base, "head": i, "sqnr_db": _db(sig[i], err[i])} for i in range(h)]
    return pd.DataFrame(rows)


def _db(signal: float, noise: float) -> float:
    if noise == 0:
        return math.inf
    return 10.0 * math.log10(signal / noise) if signal > 0 else -math.inf
