"""Figures for number formats: every format's levels over one histogram, and SQNR against bits per value.

Pure: binned data and level arrays in, ``plotly.graph_objects.Figure`` out. At most
``max_levels`` levels per format are drawn, so the figure stays small.

Example
-------
>>> import numpy as np, qviz
>>> from qviz.binning import histogram
>>> x = qviz.sample("gaussian", n=1000)
>>> fig = levels_figure(histogram(x, 50), {"nf4": qviz.FORMATS["nf4"].levels(x)})
>>> len(fig.data)
2
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..binning import Histogram
from . import style

FAMILY_COLORS = {
    "uniform": "#4C78A8", "non-uniform": "#2CA02C", "floating point": "#D62728",
    "block-scaled (MX)": "#FF7F0E", "binary / ternary": "#9467BD",
}


def _thin(levels: np.ndarray, max_levels: int) -> np.ndarray:
    levels = np.asarray(levels, dtype=np.float64)
    step = max(1, math.ceil(levels.size / max_levels))
    return levels[::step]


def levels_figure(hist: Histogram, levels: dict, families: dict | None = None, *, log_y: bool = False,
                  max_levels: int = 128, title: str | None = None) -> go.Figure:
    """The histogram on top; below it one row per format with a tick at each of its levels.

    Parameters
    ----------
    hist : Histogram
    levels : dict of name -> 1-D array
        The levels of each format (for block formats, those of one block).
    families : dict of name -> family, optional
        Colours the rows by family.
    """
    names = list(levels)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        row_heights=[0.5, 0.5])
    fig.add_trace(go.Bar(x=hist.centers, y=hist.counts, width=hist.widths, marker=dict(color=style.DATA, line=dict(width=0)),
                         name="values", showlegend=False, hovertemplate="%{x:.4g}: %{y} values<extra></extra>"), row=1, col=1)
    lo, hi = float(hist.edges[0]), float(hist.edges[-1])
    for name in names:
        lv = _thin(levels[name], max_levels)
        inside = lv[(lv >= lo) & (lv <= hi)]
        color = FAMILY_COLORS.get((families or {}).get(name), style.LEVEL)
        fig.add_trace(go.Scatter(
            x=inside, y=[name] * inside.size, mode="markers", name=name, showlegend=False,
            marker=dict(symbol="line-ns-open", size=14, line=dict(width=1.5, color=color), color=color),
            hovertemplate=f"{name}: %{{x:.4g}}<extra></extra>",
        ), row=2, col=1)
    fig.update_yaxes(**style.count_axis(log_y, int(hist.counts.max()) if hist.counts.size else 1), row=1, col=1)
    fig.update_yaxes(categoryorder="array", categoryarray=names[::-1], row=2, col=1)
    fig.update_xaxes(title_text="value", range=[lo, hi], row=2, col=1)
    style.base_layout(fig, title, height=max(420, 260 + 22 * len(names)))
    return fig


def sqnr_bits_figure(bits: list, sqnr_db: list, names: list, families: list, title: str | None = None) -> go.Figure:
    """SQNR (dB) of each format against its bits per value (scale overhead included), coloured by family."""
    fig = go.Figure()
    fam = np.asarray(families, dtype=object)
    pos = label_positions(bits, sqnr_db)
    for family in dict.fromkeys(families):
        sel = np.flatnonzero(fam == family)
        fig.add_trace(go.Scatter(
            x=[float(bits[i]) for i in sel], y=[float(sqnr_db[i]) for i in sel], text=[names[i] for i in sel],
            mode="markers+text", textposition=[pos[i] for i in sel], name=family, cliponaxis=False,
            marker=dict(size=11, color=FAMILY_COLORS.get(family, style.DATA)),
            hovertemplate="%{text}: %{x:.3g} bits, %{y:.2f} dB<extra></extra>",
        ))
    xs, ys = np.asarray(bits, float), np.asarray(sqnr_db, float)
    ys = ys[np.isfinite(ys)]
    xpad = 0.15 * max(float(np.ptp(xs)) if xs.size else 1.0, 1.0)
    ypad = 0.12 * max(float(np.ptp(ys)) if ys.size else 1.0, 1.0)
    fig.update_layout(xaxis=dict(title="bits per value (scale included)", range=[xs.min() - xpad, xs.max() + xpad] if xs.size else None),
                      yaxis=dict(title="SQNR (dB)", range=[ys.min() - ypad, ys.max() + ypad] if ys.size else None))
    return style.base_layout(fig, title)


POSITIONS = ("top center", "bottom center", "middle right", "middle left", "top right", "bottom left", "top left", "bottom right")


def label_positions(x, y, near_x: float = 0.15, near_y: float = 0.08) -> list[str]:
    """A text position per point so that labels of nearby points do not overlap.

    Points are near when they are within ``near_x`` of the x span and ``near_y`` of the y span (labels
    are wider than tall); each takes the first place in :data:`POSITIONS` no near, earlier point took.

    >>> label_positions([1, 1, 5], [10, 10.1, 30])
    ['top center', 'bottom center', 'top center']
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    sx = max(float(np.ptp(x[np.isfinite(x)])) if np.isfinite(x).any() else 1.0, 1e-12)
    sy = max(float(np.ptp(y[np.isfinite(y)])) if np.isfinite(y).any() else 1.0, 1e-12)
    out: list[str] = []
    for i in range(x.size):
        taken = {out[j] for j in range(i) if abs(x[i] - x[j]) <= near_x * sx and abs(y[i] - y[j]) <= near_y * sy}
        out.append(next((p for p in POSITIONS if p not in taken), POSITIONS[i % len(POSITIONS)]))
    return out
