"""Figures for integer-only arithmetic: the two requantization paths, and a product's correction terms.

Pure: arrays in, ``plotly.graph_objects.Figure`` out; at most ``max_points`` inputs are drawn.

Example
-------
>>> import numpy as np
>>> from qviz.intarith import requantize
>>> r = requantize(np.arange(256), 0.02, 128, 0.05, 100)
>>> len(requant_figure(r.q1, r.q2, r.q2_float).data)
3
"""

from __future__ import annotations

from numpy.typing import ArrayLike

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import style


def requant_figure(q1: ArrayLike, q2_int: ArrayLike, q2_float: ArrayLike, *, max_points: int = 512, title: str | None = None) -> go.Figure:
    """q2 from both paths against the input code, and their difference (in codes) below."""
    q1, q2_int, q2_float = (np.asarray(a).ravel() for a in (q1, q2_int, q2_float))
    order = np.argsort(q1, kind="stable")
    _, first = np.unique(q1[order], return_index=True)
    pick = order[first]
    if pick.size > max_points:
        pick = pick[np.linspace(0, pick.size - 1, max_points).round().astype(int)]
    x, a, b = q1[pick], q2_int[pick], q2_float[pick]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.05)
    fig.add_trace(go.Scatter(x=x, y=b, mode="lines", name="float path", line=dict(color=style.DATA, width=2)), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=a, mode="markers", name="integer path", marker=dict(color=style.CLIP, size=4)), row=1, col=1)
    fig.add_trace(go.Bar(x=x, y=a - b, name="integer − float", marker=dict(color=style.ERROR, line=dict(width=0))), row=2, col=1)
    fig.update_yaxes(title_text="q2", row=1, col=1)
    fig.update_yaxes(title_text="Δ codes", range=[-1.5, 1.5], row=2, col=1)
    fig.update_xaxes(title_text="q1 (input code)", row=2, col=1)
    return style.base_layout(fig, title, height=420)


def terms_waterfall(terms: dict, title: str | None = None) -> go.Figure:
    """One output of a quantized product built up from its integer terms (a waterfall ending at the accumulator)."""
    names = list(terms)
    values = [int(terms[n]) for n in names]
    fig = go.Figure(go.Waterfall(
        x=names + ["accumulator"], y=values + [0], measure=["relative"] * len(values) + ["total"],
        text=[f"{v:+,}" for v in values] + [f"{sum(values):,}"], textposition="outside",
        increasing=dict(marker=dict(color="#2CA02C")), decreasing=dict(marker=dict(color=style.CLIP)),
        totals=dict(marker=dict(color=style.DATA)), connector=dict(line=dict(color=style.LEVEL)),
    ))
    fig.update_layout(yaxis=dict(title="int32 value"), showlegend=False)
    return style.base_layout(fig, title)
