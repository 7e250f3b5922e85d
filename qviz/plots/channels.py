"""Per-channel ranges: one bar from min to max per channel, outlier channels flagged.

Example
-------
>>> import numpy as np
>>> lo, hi = -np.ones(8), np.ones(8); hi[3] = 20
>>> fig = channel_range_figure(lo, hi)
>>> [t.name for t in fig.data]
['channel range', 'outlier channels']
"""

from __future__ import annotations

from numpy.typing import ArrayLike

import numpy as np
import plotly.graph_objects as go

from . import style

OUTLIER_FACTOR = 3.0


def outlier_channels(lo: np.ndarray, hi: np.ndarray, factor: float = OUTLIER_FACTOR) -> np.ndarray:
    """Indices of channels whose range exceeds ``factor`` × the median channel range."""
    r = np.asarray(hi, np.float64) - np.asarray(lo, np.float64)
    if r.size == 0:
        return np.array([], dtype=int)
    med = float(np.median(r))
    # with a zero median (mostly constant channels), any channel that varies stands out
    return np.nonzero(r > factor * med)[0] if med > 0 else np.nonzero(r > 0)[0]


def channel_range_figure(lo: ArrayLike, hi: ArrayLike, *, sort: bool = False, max_bars: int = 1000, title: str | None = None) -> go.Figure:
    """Min–max bar per channel (sorted by range when ``sort``); channels beyond 3× the median range in red.

    Over ``max_bars`` channels, neighbouring channels are merged into one bar
    spanning their lowest min and highest max, so the figure stays small; the
    outliers are still drawn one by one (at most 500, the widest).
    """
    lo = np.asarray(lo, np.float64).ravel()
    hi = np.asarray(hi, np.float64).ravel()
    idx = np.argsort(hi - lo, kind="stable")[::-1] if sort else np.arange(lo.size)
    slo, shi = lo[idx], hi[idx]
    pos = np.arange(lo.size)
    if lo.size > max_bars:
        edges = np.linspace(0, lo.size, max_bars + 1).astype(int)
        starts = edges[:-1]
        blo, bhi = np.minimum.reduceat(slo, starts), np.maximum.reduceat(shi, starts)
        bx = (edges[:-1] + edges[1:] - 1) / 2
        width = np.diff(edges)
        hover = "channels %{customdata[0]}–%{customdata[1]}: [%{base:.4g}, %{customdata[2]:.4g}]<extra></extra>"
        custom = np.stack([edges[:-1], edges[1:] - 1, bhi], axis=1)
    else:
        blo, bhi, bx, width = slo, shi, pos, np.ones(lo.size)
        hover = "channel %{customdata[0]}: [%{base:.4g}, %{customdata[2]:.4g}]<extra></extra>"
        custom = np.stack([idx, idx, shi], axis=1)
    fig = go.Figure(go.Bar(x=bx, y=bhi - blo, base=blo, width=width, marker=dict(color=style.DATA, line=dict(width=0)),
                           name="channel range", customdata=custom, hovertemplate=hover))
    out = outlier_channels(lo, hi)
    if out.size:
        out = out[np.argsort(hi[out] - lo[out])[::-1][:500]]
        where = np.empty(lo.size, int)
        where[idx] = pos
        fig.add_trace(go.Bar(x=where[out], y=hi[out] - lo[out], base=lo[out], width=max(1.0, lo.size / max_bars),
                             marker=dict(color=style.CLIP, line=dict(width=0)), name="outlier channels",
                             customdata=np.stack([out, out, hi[out]], axis=1), hovertemplate="channel %{customdata[0]}: [%{base:.4g}, %{customdata[2]:.4g}]<extra>outlier</extra>"))
    fig.update_layout(barmode="overlay", xaxis=dict(title="channel (sorted by range)" if sort else "channel"), yaxis=dict(title="value"))
    return style.base_layout(fig, title)
