"""The tensor's histogram with the quantization grid, clip thresholds and wasted range drawn over it.

Pure: a :class:`~qviz.binning.Histogram` (already binned, so the figure's size
does not grow with the tensor) and optional :class:`~qviz.affine.QParams` in,
a ``plotly.graph_objects.Figure`` out.

Example
-------
>>> import numpy as np, qviz
>>> from qviz.binning import histogram
>>> x = qviz.sample("gaussian", n=1000)
>>> qp = qviz.choose_qparams(x.min(), x.max(), qviz.QuantSpec(bits=3))
>>> fig = histogram_figure(histogram(x, 50), qp, data_range=(x.min(), x.max()))
>>> len(fig.data) >= 2
True
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..affine import QParams
from ..binning import Histogram
from . import style


def display_range(data_min: float, data_max: float, qparams: QParams | None = None, block: int = 0) -> tuple[float, float]:
    """x-axis span covering the data and, when given, the whole quantization grid of one block."""
    lo, hi = float(data_min), float(data_max)
    if qparams is not None:
        half = float(np.ravel(qparams.scale)[block]) / 2
        lo = min(lo, float(np.ravel(qparams.level_min)[block]) - half)
        hi = max(hi, float(np.ravel(qparams.level_max)[block]) + half)
    pad = (hi - lo) * 0.02 or max(abs(lo) * 0.05, 1e-3)
    return lo - pad, hi + pad


def _vlines(xs: np.ndarray) -> tuple[list, list]:
    """Coordinates of vertical lines from y=0 to y=1 as one trace (None separates them)."""
    px, py = [], []
    for v in xs:
        px += [float(v), float(v), None]
        py += [0, 1, None]
    return px, py


def histogram_figure(
    hist: Histogram,
    qparams: QParams | None = None,
    *,
    block: int = 0,
    clip: tuple[float, float] | None = None,
    data_range: tuple[float, float] | None = None,
    log_y: bool = False,
    max_levels: int = 256,
    title: str | None = None,
) -> go.Figure:
    """Histogram bars, the output levels of one block as a grid, the clip thresholds, the wasted range.

    Parameters
    ----------
    hist : Histogram
        The binned tensor.
    qparams : QParams, optional
        Draws the levels ``(q - z + o)·Δ`` of block ``block`` (every k-th when
        there are more than ``max_levels``) and the unreachable-code regions.
    clip : (float, float), optional
        Thresholds to mark; by default, with qparams, where the clamp starts: half a step
        beyond the lowest and highest level. (A calibrator's range is not always that: in
        symmetric signed mode the extra negative code puts the clamp at −(n/2 + ½)·Δ, below −max|x|.)
    data_range : (float, float), optional
        The tensor's own min and max; the grid beyond them is shaded as wasted.
    log_y : bool
        Logarithmic count axis (tails and outliers become visible).
    """
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=hist.centers,
            y=hist.counts,
            width=hist.widths,
            marker=dict(color=style.DATA, line=dict(width=0)),
            name="values",
            hovertemplate="[%{customdata[0]:.4g}, %{customdata[1]:.4g}): %{y} values<extra></extra>",
            customdata=np.stack([hist.edges[:-1], hist.edges[1:]], axis=1),
        )
    )
    if qparams is not None:
        levels = qparams.levels(block)
        step = max(1, math.ceil(levels.size / max_levels))
        shown = levels[::step]
        px, py = _vlines(shown)
        name = "levels" if step == 1 else f"levels (every {step}th of {levels.size})"
        fig.add_trace(
            go.Scatter(x=px, y=py, mode="lines", yaxis="y2", line=dict(color=style.LEVEL, width=1), name=name, hoverinfo="skip")
        )
        half = float(np.ravel(qparams.scale)[block]) / 2
        clip_default = clip is None
        if clip is None:
            clip = (float(levels[0]) - half, float(levels[-1]) + half)
        if data_range is not None:
            dlo, dhi = float(data_range[0]), float(data_range[1])
            if dlo > levels[0] + half:
                fig.add_vrect(x0=float(levels[0]) - half, x1=dlo, fillcolor=style.WASTED, line_width=0, layer="below")
            if dhi < levels[-1] - half:
                fig.add_vrect(x0=dhi, x1=float(levels[-1]) + half, fillcolor=style.WASTED, line_width=0, layer="below")
            fig.add_trace(
                go.Scatter(x=[None], y=[None], mode="markers", marker=dict(color=style.WASTED, size=12, symbol="square"), name="codes no value reaches")
            )
    if clip is not None:
        px, py = _vlines(np.asarray(clip, dtype=np.float64))
        fig.add_trace(
            go.Scatter(x=px, y=py, mode="lines", yaxis="y2", line=dict(color=style.CLIP, width=2, dash="dash"),
                       name="clamp starts" if qparams is not None and clip_default else "clip thresholds", hoverinfo="x")
        )
    fig.update_layout(
        xaxis=dict(title="value"),
        yaxis=style.count_axis(log_y, int(hist.counts.max()) if hist.counts.size else 1),
        yaxis2=dict(overlaying="y", range=[0, 1], visible=False, fixedrange=True),
    )
    return style.base_layout(fig, title)


def codes_figure(code_counts: np.ndarray, qmin: int, reachable: tuple[int, int] | None = None, title: str | None = None,
                 max_bars: int = 256) -> go.Figure:
    """Occupancy of the integer codes: how many values landed on each code.

    ``reachable`` (lowest, highest code that a value of the data's own range can
    reach) shades the codes outside it as wasted. Past ``max_bars`` codes (more than
    8 bits) neighbouring codes share a bar, whose height is their mean count per code,
    so the figure stays small at any bit width.

    >>> fig = codes_figure(np.ones(65536), -32768)
    >>> len(fig.data[0].x), fig.data[0].name
    (256, 'values per code (mean over 256 codes a bar)')
    """
    counts = np.asarray(code_counts, dtype=np.float64)
    n = len(counts)
    group = max(1, math.ceil(n / max_bars))
    if group == 1:
        x, y, width, name = np.arange(qmin, qmin + n), counts, None, "values per code"
    else:
        pad = (-n) % group
        sums = np.concatenate([counts, np.zeros(pad)]).reshape(-1, group).sum(1)
        sizes = np.full(sums.size, group, dtype=np.float64)
        sizes[-1] -= pad
        x = qmin + np.arange(sums.size) * group + (sizes - 1) / 2
        y, width, name = sums / sizes, sizes, f"values per code (mean over {group} codes a bar)"
    fig = go.Figure(go.Bar(x=x, y=y, width=width, marker=dict(color=style.DATA, line=dict(width=0)), name=name))
    last = qmin + n - 1
    if reachable is not None:
        lo, hi = reachable
        if lo > qmin:
            fig.add_vrect(x0=qmin - 0.5, x1=lo - 0.5, fillcolor=style.WASTED, line_width=0, layer="below")
        if hi < last:
            fig.add_vrect(x0=hi + 0.5, x1=last + 0.5, fillcolor=style.WASTED, line_width=0, layer="below")
    fig.update_layout(xaxis=dict(title="integer code q"), yaxis=dict(title="count" if group == 1 else "count per code", rangemode="tozero"))
    return style.base_layout(fig, title)
