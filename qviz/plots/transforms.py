"""Transforms-lab figures: SmoothQuant's channel maxima and α curve, rotation histograms and block sizes,
activation granularities, and the KV cache. Pure: binned data in, a small figure out.

Example
-------
>>> import numpy as np, pandas as pd
>>> fig = channel_absmax_figure(np.array([1.0, 50.0]), np.array([0.5, 0.4]))
>>> [t.name for t in fig.data]
['max|X| per channel', 'max|W| per channel']
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..binning import Histogram
from . import style

ACCENT = "#FF7F0E"
GOOD = "#2CA02C"
#: points drawn per channel curve at most (wider layers show the max over runs of channels)
MAX_POINTS = 512


def _reduce(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(channel index, value) with at most :data:`MAX_POINTS` points: the max over equal runs of channels."""
    v = np.asarray(v, np.float64).ravel()
    if v.size <= MAX_POINTS:
        return np.arange(v.size), v
    step = math.ceil(v.size / MAX_POINTS)
    pad = np.full(step * math.ceil(v.size / step), -np.inf)
    pad[: v.size] = v
    return np.arange(0, v.size, step), pad.reshape(-1, step).max(axis=1)


def channel_absmax_figure(x_absmax, w_absmax, x_after=None, w_after=None, title: str | None = None) -> go.Figure:
    """Per-input-channel max|X| and max|W| on a log scale, before (solid) and after smoothing (dotted)."""
    fig = go.Figure()
    for v, name, color, dash in ((x_absmax, "max|X| per channel", style.DATA, None), (w_absmax, "max|W| per channel", ACCENT, None),
                                 (x_after, "max|X/s| after smoothing", style.DATA, "dot"), (w_after, "max|W·s| after smoothing", ACCENT, "dot")):
        if v is None:
            continue
        i, y = _reduce(v)
        fig.add_scatter(x=i, y=np.maximum(y, 1e-12), mode="lines", name=name, line=dict(color=color, dash=dash, width=1.2))
    style.base_layout(fig, title, height=340)
    fig.update_layout(xaxis_title="input channel", yaxis_title="max |value| (log)", yaxis_type="log")
    return fig


def alpha_curve_figure(curves: dict, baselines: dict | None = None, title: str | None = None) -> go.Figure:
    """Output SQNR against α, one line per spec (``{label: alpha_sweep table}``), the best α a star;
    ``baselines`` (``{label: SQNR}``) are the unsmoothed layer, drawn dashed."""
    fig = go.Figure()
    colors = [style.DATA, ACCENT, GOOD, style.CLIP]
    for k, (label, df) in enumerate(curves.items()):
        d = df.dropna(subset=["alpha"])
        c = colors[k % len(colors)]
        fig.add_scatter(x=d["alpha"], y=_finite(d["sqnr_db"]), mode="lines+markers", name=label, line=dict(color=c),
                        marker=dict(size=5))
        if len(d):
            b = d.loc[d["sqnr_db"].idxmax()]
            fig.add_scatter(x=[b["alpha"]], y=[b["sqnr_db"]], mode="markers", name=f"best α = {b['alpha']:.2f} ({label})",
                            marker=dict(symbol="star", size=15, color=c, line=dict(color="black", width=1)))
        if baselines and label in baselines and math.isfinite(baselines[label]):
            fig.add_hline(y=baselines[label], line=dict(color=c, dash="dash", width=1),
                          annotation_text=f"no smoothing ({label})", annotation_position="bottom right")
    style.base_layout(fig, title, height=360)
    fig.update_layout(xaxis_title="migration strength α", yaxis_title="output SQNR (dB)")
    return fig


def _finite(s) -> list:
    v = pd.to_numeric(pd.Series(s), errors="coerce").to_numpy(np.float64)
    return np.where(np.isfinite(v), v, np.nan).tolist()


def rotation_histogram_figure(before: Histogram, after: Histogram, what: str = "X", title: str | None = None) -> go.Figure:
    """Two binned histograms (log counts): a tensor before and after the rotation."""
    fig = go.Figure()
    for h, name, color in ((before, f"{what} before", style.DATA), (after, f"{what} after rotation", ACCENT)):
        fig.add_bar(x=h.centers, y=h.counts, width=h.widths, name=name, marker_color=color, opacity=0.6)
    style.base_layout(fig, title, height=320)
    fig.update_layout(barmode="overlay", xaxis_title="value", yaxis_title="count (log)", yaxis_type="log")
    return fig


def block_sqnr_figure(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Output SQNR per Hadamard block size (plain and random signs), the unrotated layer a dashed line."""
    fig = go.Figure()
    base = df[df["signs"] == "none"]
    for signs, color in (("+1", style.DATA), ("random", ACCENT)):
        d = df[df["signs"] == signs]
        if len(d):
            fig.add_bar(x=[str(b) for b in d["block"]], y=_finite(d["sqnr_db"]), name=f"Hadamard, {signs} signs",
                        marker_color=color)
    if len(base) and math.isfinite(float(base["sqnr_db"].iloc[0])):
        fig.add_hline(y=float(base["sqnr_db"].iloc[0]), line=dict(color="black", dash="dash", width=1),
                      annotation_text="no rotation", annotation_position="bottom right")
    style.base_layout(fig, title, height=340)
    fig.update_layout(barmode="group", bargap=0.3, xaxis_title="block size", xaxis_type="category", yaxis_title="output SQNR (dB)")
    v = pd.to_numeric(df["sqnr_db"], errors="coerce").to_numpy(np.float64)
    v = v[np.isfinite(v)]
    if v.size:  # the differences between block sizes are a few dB: do not start the bars at 0
        fig.update_yaxes(range=[float(v.min()) - 3, float(v.max()) + 1])
    return fig


def granularity_figure(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """SQNR of X and of Y = X·Wᵀ for each activation granularity."""
    fig = go.Figure()
    fig.add_bar(x=df["granularity"], y=_finite(df["x_sqnr_db"]), name="X (activations)", marker_color=style.DATA)
    fig.add_bar(x=df["granularity"], y=_finite(df["y_sqnr_db"]), name="Y = X·Wᵀ (output)", marker_color=ACCENT)
    style.base_layout(fig, title, height=340)
    fig.update_layout(barmode="group", bargap=0.3, xaxis_title="activation scales", yaxis_title="SQNR (dB)")
    return fig


def kv_bits_figure(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Attention-output SQNR (all heads) against the cache's bits, one line per (K, V) granularity pair."""
    fig = go.Figure()
    d = df[df["head"] == -1]
    dashes = {"per-token": None, "per-channel": "dot"}
    colors = {"per-token": style.DATA, "per-channel": ACCENT}
    for (k, v), g in d.groupby(["k", "v"], sort=False):
        fig.add_scatter(x=g["bits"], y=_finite(g["sqnr_db"]), mode="lines+markers", name=f"K {k} · V {v}",
                        line=dict(color=colors[k], dash=dashes[v]))
    style.base_layout(fig, title, height=340)
    fig.update_layout(xaxis_title="KV-cache bits", yaxis_title="attention output SQNR (dB)")
    return fig


def kv_heads_figure(df: pd.DataFrame, bits: int, title: str | None = None) -> go.Figure:
    """Attention-output SQNR per head at one bit width, one bar group per (K, V) granularity pair."""
    fig = go.Figure()
    d = df[(df["head"] >= 0) & (df["bits"] == bits)]
    for (k, v), g in d.groupby(["k", "v"], sort=False):
        fig.add_bar(x=g["head"], y=_finite(g["sqnr_db"]), name=f"K {k} · V {v}")
    style.base_layout(fig, title, height=320)
    fig.update_layout(barmode="group", bargap=0.2, xaxis_title="head", yaxis_title="attention output SQNR (dB)")
    return fig


def induced_outlier_figure(curves: dict, block: int, title: str | None = None) -> go.Figure:
    """max|X·R| per channel for each ``{label: per-channel maxima}``; the first channel of every Hadamard block marked.

    The first row of a (plain) Hadamard block is all +1, so a shared offset of the tokens lands on those channels.
    """
    fig = go.Figure()
    colors = [style.DATA, ACCENT, GOOD, style.CLIP]
    for k, (label, v) in enumerate(curves.items()):
        i, y = _reduce(v)
        fig.add_scatter(x=i, y=y, mode="lines", name=label, line=dict(color=colors[k % len(colors)], width=1.2,
                                                                        dash=None if k % 2 == 0 else "dot"))
    n = max((len(v) for v in curves.values()), default=0)
    if block and n and n // block <= 64:
        for s in range(0, n, block):
            fig.add_vline(x=s, line=dict(color="rgba(60,60,60,0.25)", width=1))
    style.base_layout(fig, title, height=340)
    fig.update_layout(xaxis_title="channel after rotation (grey: first channel of each block)", yaxis_title="max |x·R|")
    return fig
