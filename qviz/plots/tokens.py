"""Token × channel figures of an activation (:mod:`qviz.tokens`): |x| heatmap, channel maxima, SQNR per scaling.

Example
-------
>>> import numpy as np, qviz
>>> from qviz.tokens import token_channel
>>> x = np.random.default_rng(0).standard_normal((40, 600)).astype(np.float32); x[:, 7] = 30
>>> v = token_channel(x, qviz.QuantSpec())
>>> [t.name for t in channel_max_figure(v).data]
['channel max |x|', 'outlier channels']
>>> len(channel_max_figure(v, max_bars=100).data[0].x) <= 100
True
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from . import style


def token_heatmap_figure(view, title: str | None = None) -> go.Figure:
    """max |x| over blocks of tokens (rows) × channels (columns), already pooled by :func:`qviz.tokens.token_channel`."""
    te, ce = view.token_edges, view.channel_edges
    fig = go.Figure(go.Heatmap(z=np.round(view.heat, 4), x=ce[:-1], y=te[:-1], colorscale="Viridis", colorbar=dict(title="|x|"),
                               hovertemplate="channels %{x}+ · tokens %{y}+<br>max |x| %{z}<extra></extra>"))
    style.base_layout(fig, title or f"|x| over {view.tokens} tokens × {view.channels} channels", height=380)
    fig.update_xaxes(title="channel")
    fig.update_yaxes(title="token", autorange="reversed")
    return fig


def channel_max_figure(view, *, max_bars: int = 1000, title: str | None = None) -> go.Figure:
    """Per-channel max |x| over tokens, the outlier channels in red, the two outlier rules as lines.

    Over ``max_bars`` channels, neighbours merge into one bar (their max); outliers stay one marker each.
    """
    mx = np.asarray(view.channel_max, np.float64)
    n = mx.size
    step = max(1, -(-n // max_bars))
    pad = np.full(-(-n // step) * step, -np.inf)
    pad[:n] = mx
    merged = pad.reshape(-1, step).max(axis=1)
    xs = np.arange(0, n, step)
    fig = go.Figure(go.Bar(x=xs, y=np.round(merged, 5), name="channel max |x|", marker_color=style.DATA,
                           hovertemplate="channel %{x}" + ("+" if step > 1 else "") + "<br>max |x| %{y}<extra></extra>"))
    out = view.outliers.head(500)
    fig.add_trace(go.Scatter(x=out["channel"], y=out["max_abs"], mode="markers", name="outlier channels",
                             marker=dict(color=style.CLIP, size=8), hovertemplate="channel %{x}<br>max |x| %{y}<extra></extra>"))
    a = view.outliers.attrs
    fig.add_hline(y=a["threshold"], line=dict(color=style.CLIP, dash="dash"), annotation_text=f"|x| = {a['threshold']:g} (LLM.int8)")
    if a["median_max"] == a["median_max"]:
        fig.add_hline(y=a["k"] * a["median_max"], line=dict(color="#FF7F0E", dash="dot"),
                      annotation_text=f"{a['k']:g} × median channel max", annotation_position="bottom right")
    style.base_layout(fig, title or f"Max |x| per channel · {len(view.outliers)} outlier channels", height=340)
    fig.update_xaxes(title="channel")
    fig.update_yaxes(title="max |x| over tokens")
    return fig


def scaling_sqnr_figure(scaling, title: str | None = None) -> go.Figure:
    """SQNR of the activation under per-tensor, per-token (dynamic) and per-channel scaling."""
    y = [float(v) if np.isfinite(v) else None for v in scaling["sqnr_db"]]
    fig = go.Figure(go.Bar(x=list(scaling["scaling"]), y=y, marker_color=[style.DATA, "#FF7F0E", "#2CA02C"][: len(y)],
                           text=[f"{v:.1f} dB" if v is not None else "exact" for v in y], textposition="outside",
                           hovertemplate="%{x}<br>SQNR %{y:.2f} dB<extra></extra>"))
    style.base_layout(fig, title or "SQNR by scaling granularity (higher is better)", height=300)
    fig.update_yaxes(title="SQNR (dB)")
    return fig
