"""Calibrators side by side: every threshold on one histogram, and each criterion curve with its choice.

Example
-------
>>> import numpy as np, qviz
>>> from qviz.binning import histogram
>>> x = qviz.sample("laplace", n=5000)
>>> cals = {m: qviz.calibrate(x, qviz.QuantSpec(bits=4), m) for m in ("minmax", "mse")}
>>> fig = thresholds_figure(histogram(x, 100), {m: (c.clip_min.item(), c.clip_max.item()) for m, c in cals.items()})
>>> [t.name for t in fig.data][1:]
['minmax', 'mse']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..binning import Histogram
from . import style


def color_of(i: int) -> str:
    return style.CALIBRATOR_COLORS[i % len(style.CALIBRATOR_COLORS)]


def thresholds_figure(hist: Histogram, ranges: dict, *, log_y: bool = True, title: str | None = None) -> go.Figure:
    """The histogram with each calibrator's (clip_min, clip_max) as a pair of coloured dashed lines."""
    fig = go.Figure(go.Bar(x=hist.centers, y=hist.counts, width=hist.widths, marker=dict(color="#9DB6D3", line=dict(width=0)),
                           name="values", hovertemplate="%{x:.4g}: %{y}<extra></extra>"))
    dashes = ["dash", "dot", "dashdot", "longdash", "solid", "longdashdot"]
    for i, (name, (lo, hi)) in enumerate(ranges.items()):
        fig.add_trace(go.Scatter(
            x=[lo, lo, None, hi, hi], y=[0, 1, None, 0, 1], mode="lines", yaxis="y2", name=name,
            line=dict(color=color_of(i), width=2.5, dash=dashes[i % len(dashes)]),
            hovertemplate=f"{name}: %{{x:.4g}}<extra></extra>",
        ))
    fig.update_layout(
        xaxis=dict(title="value"), yaxis=style.count_axis(log_y, int(hist.counts.max()) if hist.counts.size else 1),
        yaxis2=dict(overlaying="y", range=[0, 1], visible=False, fixedrange=True),
    )
    return style.base_layout(fig, title, height=420)


def curve_figure(curve: pd.DataFrame, chosen: tuple[float, float], criterion: str, *, color: str = style.CLIP,
                 log_y: bool = False, max_points: int = 500, title: str | None = None) -> go.Figure:
    """A calibrator's criterion against the threshold it tried, with the chosen threshold(s) marked.

    Only finite values are drawn (at most ``max_points``, the minimum always kept). A KL divergence is
    infinite where the reference histogram has empty bins that the quantized one fills; when some
    candidates are infinite the figure says how many and why, so the chart is never silently empty.
    """
    t = curve["threshold"].to_numpy(np.float64)
    v = curve["value"].to_numpy(np.float64)
    finite = np.isfinite(v) & np.isfinite(t)
    n_all, n_inf = int(t.size), int(t.size - finite.sum())
    t, v = t[finite], v[finite]
    if t.size > max_points:
        keep = np.unique(np.concatenate([np.linspace(0, t.size - 1, max_points).astype(int), [int(np.argmin(v))]]))
        t, v = t[keep], v[keep]
    mode = "lines" if t.size > 60 else "lines+markers"
    fig = go.Figure(go.Scatter(x=t, y=v, mode=mode, line=dict(color=color, width=2), marker=dict(size=4), name=criterion))
    for c in sorted(set(chosen)):
        if t.size and t.min() <= c <= t.max():
            fig.add_vline(x=c, line=dict(color="#333333", dash="dash", width=1.5))
            y = float(np.interp(c, t, v)) if t.size > 1 else float(v[0])
            fig.add_trace(go.Scatter(x=[c], y=[y], mode="markers", marker=dict(size=11, color=color, line=dict(color="#333", width=1.5)),
                                     name=f"chosen {c:.4g}", showlegend=False, hovertemplate=f"chosen: {c:.4g}<extra></extra>"))
    if n_inf:
        why = "<br>(empty reference bins: the quantized histogram puts mass where the data has none)" if "KL" in criterion else ""
        fig.add_annotation(text=f"{n_inf:,} of {n_all:,} candidates are infinite, not drawn{why}" if t.size else
                           f"all {n_all:,} candidates are infinite{why}",
                           xref="paper", yref="paper", x=0.01, y=0.98, xanchor="left", yanchor="top", showarrow=False, align="left",
                           bgcolor="rgba(255,255,255,0.8)", font=dict(size=11, color="#555"))
    fig.update_layout(xaxis=dict(title="threshold"), yaxis=dict(title=criterion, type="log" if log_y else "linear"), showlegend=False)
    return style.base_layout(fig, title, height=300)
