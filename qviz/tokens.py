"""Token × channel view of an activation: where the outliers sit and what each scaling granularity costs.

A transformer's Linear input is ``(tokens, channels)``. LLM.int8 (Dettmers et al. 2022) and SmoothQuant
(Xiao et al. 2023) showed that a few *channels* carry outliers across most tokens, so per-tensor scaling
wastes the grid on them; per-token (dynamic) scaling does not help, per-channel does. This view shows:

* ``heat``: max |x| over blocks of tokens × channels, downsampled to at most ``max_tokens × max_channels``
  (max pooling, so an outlier is never averaged away);
* ``channel_max``: max |x| of each channel over tokens, with the outlier channels of
  :func:`qviz.stats.outlier_channels` (``|x| > 6``, or ``> k ×`` the median channel max);
* ``scaling``: the SQNR of the activation fake-quantized with the spec's bits under per-tensor, per-token
  and per-channel min-max scaling, side by side.

Example
-------
>>> import numpy as np, qviz
>>> x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32); x[:, 5] *= 40
>>> v = token_channel(x, qviz.QuantSpec(bits=8))
>>> v.outliers["channel"].tolist(), v.heat.shape
([5], (64, 32))
>>> s = v.scaling.set_index("scaling")["sqnr_db"]
>>> bool(s["per-channel"] > s["per-token"] and s["per-channel"] > s["per-tensor"])
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .arrays import as_float32
from .spec import PerChannel, PerTensor, QuantSpec
from .stats import outlier_channels

SCALINGS: dict[str, PerTensor | PerChannel] = {"per-tensor": PerTensor(), "per-token": PerChannel(0), "per-channel": PerChannel(1)}


@dataclass
class TokenChannelView:
    """What :func:`token_channel` computes (all small: binned, never the raw tensor)."""

    heat: np.ndarray
    token_edges: np.ndarray
    channel_edges: np.ndarray
    channel_max: np.ndarray
    outliers: pd.DataFrame
    scaling: pd.DataFrame
    tokens: int
    channels: int


def _pool_max(a: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t, c = a.shape
    br, bc = -(-t // rows), -(-c // cols)
    pr, pc = -(-t // br) * br, -(-c // bc) * bc
    pad = np.zeros((pr, pc), np.float32)
    pad[:t, :c] = a
    pooled = pad.reshape(pr // br, br, pc // bc, bc).max(axis=(1, 3))
    return pooled, np.minimum(np.arange(0, pr + 1, br), t), np.minimum(np.arange(0, pc + 1, bc), c)


def scaling_sqnr(x, spec: QuantSpec) -> pd.DataFrame:
    """SQNR/MSE of ``x`` (tokens × channels) under per-tensor, per-token and per-channel min-max scaling."""
    from .affine import fake_quantize
    from .calibrate import calibrate
    from .metrics import error_metrics

    x32, _ = as_float32(x)
    rows = []
    for label, g in SCALINGS.items():
        s = dataclasses.replace(spec, granularity=g)
        qp = calibrate(x32, s, "minmax").qparams
        m = error_metrics(x32, fake_quantize(x32, qp), qp)
        rows.append({"scaling": label, "sqnr_db": m.sqnr_db, "mse": m.mse, "scales": int(np.size(qp.scale))})
    return pd.DataFrame(rows)


def token_channel(x, spec: QuantSpec, *, max_tokens: int = 128, max_channels: int = 256, threshold: float = 6.0,
                  k: float = 6.0) -> TokenChannelView:
    """The token × channel view of ``x`` (2-D: tokens × channels; see the module docstring)."""
    x32, _ = as_float32(x)
    if x32.ndim != 2 or 0 in x32.shape:
        raise ValueError(f"the token × channel view needs a non-empty 2-D (tokens, channels) tensor, got shape {x32.shape}")
    if max_tokens < 1 or max_channels < 1:
        raise ValueError("max_tokens and max_channels must be at least 1")
    a = np.abs(np.where(np.isfinite(x32), x32, 0)).astype(np.float32)
    heat, te, ce = _pool_max(a, max_tokens, max_channels)
    finite = np.where(np.isfinite(x32), x32, np.nan)
    clean = np.nan_to_num(finite, nan=0.0)
    return TokenChannelView(heat, te, ce, a.max(axis=0), outlier_channels(x32, 1, threshold=threshold, k=k),
                            scaling_sqnr(clean, spec), int(x32.shape[0]), int(x32.shape[1]))
