"""The quantizer itself: its transfer function (the staircase x → x̂) and the error it leaves.

Example
-------
>>> import qviz
>>> qp = qviz.choose_qparams(-1, 1, qviz.QuantSpec(bits=2))
>>> fig = transfer_figure(qp, -1.5, 1.5)
>>> fig.data[1].line.shape
'hv'
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..affine import QParams
from ..binning import ErrorHistogram
from . import style


def staircase(qparams: QParams, x_min: float, x_max: float, block: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points of the step function x → x̂ over ``[x_min, x_max]`` (for a 'hv' line).

    Steps change at the decision thresholds ``(q - z + o ± ½)·Δ``; beyond the outer
    thresholds the output is clamped to the first/last level.
    """
    levels = qparams.levels(block).astype(np.float64)
    half = float(np.ravel(qparams.scale)[block]) / 2
    thresholds = levels[1:] - half  # x where the output steps up to levels[1:]
    inside = (thresholds > x_min) & (thresholds < x_max)
    first = np.searchsorted(thresholds, x_min, side="right")  # level index at x_min
    xs = np.concatenate([[x_min], thresholds[inside], [x_max]])
    ys = np.concatenate([[levels[first]], levels[1:][inside], [levels[1:][inside][-1] if inside.any() else levels[first]]])
    return xs, ys


def transfer_figure(qparams: QParams, x_min: float, x_max: float, *, block: int = 0, max_steps: int = 2048, title: str | None = None) -> go.Figure:
    """The staircase x → x̂ beside the identity, decision thresholds and the zero level marked."""
    levels = qparams.levels(block)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[x_min, x_max], y=[x_min, x_max], mode="lines", line=dict(color="#BBBBBB", dash="dot"), name="x̂ = x"))
    xs, ys = staircase(qparams, x_min, x_max, block)
    if xs.size > max_steps:  # 16-bit grids: sample the staircase, the step is below a pixel anyway
        keep = np.unique(np.linspace(0, xs.size - 1, max_steps).astype(int))
        xs, ys = xs[keep], ys[keep]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=style.DATA, width=2, shape="hv"), name="x̂ = Q(x)"))
    half = float(np.ravel(qparams.scale)[block]) / 2
    sat = [float(levels[0]) - half, float(levels[-1]) + half]
    fig.add_trace(
        go.Scatter(x=[sat[0], sat[0], None, sat[1], sat[1]], y=[x_min, x_max, None, x_min, x_max], mode="lines",
                   line=dict(color=style.CLIP, dash="dash", width=1.5), name="clamp starts")
    )
    has_zero = bool(np.any(levels == 0))
    fig.add_annotation(
        x=0, y=0, text="0 is a level" if has_zero else "0 is a threshold", showarrow=True, arrowhead=2, ax=40, ay=-40,
        font=dict(size=11),
    )
    fig.update_layout(xaxis=dict(title="input x", range=[x_min, x_max]), yaxis=dict(title="output x̂"))
    return style.base_layout(fig, title)


def error_figure(h: ErrorHistogram, scale: float | None = None, *, log_y: bool = False, title: str | None = None) -> go.Figure:
    """Stacked histogram of x̂ − x: rounding error (inside the clip range) and clipping error (beyond it).

    With ``scale``, dotted lines at ±Δ/2 mark the bound every rounding error stays within.
    """
    widths = np.diff(h.edges)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=h.centers, y=h.rounding, width=widths, name="rounding", marker=dict(color=style.DATA, line=dict(width=0))))
    fig.add_trace(go.Bar(x=h.centers, y=h.clipping, width=widths, name="clipping", marker=dict(color=style.CLIP, line=dict(width=0))))
    if scale:
        for v in (-scale / 2, scale / 2):
            fig.add_vline(x=v, line=dict(color="#555555", dash="dot", width=1))
    top = int((h.rounding + h.clipping).max()) if h.rounding.size else 1
    fig.update_layout(barmode="stack", xaxis=dict(title="error x̂ − x"), yaxis=style.count_axis(log_y, top))
    return style.base_layout(fig, title)
