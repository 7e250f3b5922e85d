"""Figures of an already-quantized tensor (pure: binned data in, ``go.Figure`` out).

* :func:`decoded_histogram_figure`: the decoded values with one block's level grid;
* :func:`per_block_figure`: how the per-block scales (or mins, zero points) are spread;
* :func:`code_occupancy_figure`: values per code, summed over blocks, labelled by codebook value;
* :func:`compare_figure`: the shipped quantization's SQNR per layer beside qviz's at the same bits.

Example
-------
>>> import numpy as np
>>> from qviz.binning import histogram
>>> fig = decoded_histogram_figure(histogram(np.arange(8, dtype=np.float32), bins=8), np.array([0.0, 3.5, 7.0]))
>>> len(fig.data)
2
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..binning import Histogram
from . import style
from .distribution import _vlines

PART_LABELS = {"scales": "scale per block", "mins": "min per block", "zero_points": "zero point per block"}


def decoded_histogram_figure(hist: Histogram, levels: np.ndarray, *, block: int = 0, log_y: bool = False,
                             max_levels: int = 256, title: str | None = None) -> go.Figure:
    """Bars of the decoded values; grey lines at the levels of ``block`` (at most ``max_levels``)."""
    fig = go.Figure(go.Bar(x=hist.centers, y=hist.counts, width=hist.widths, marker=dict(color=style.DATA, line=dict(width=0)),
                           name="decoded values"))
    lv = np.asarray(levels, np.float64)
    lv = lv[np.isfinite(lv)]
    if lv.size:
        if lv.size > max_levels:
            lv = lv[np.linspace(0, lv.size - 1, max_levels).astype(int)]
        px, py = _vlines(lv)
        fig.add_trace(go.Scatter(x=px, y=py, mode="lines", yaxis="y2", line=dict(color=style.LEVEL, width=1),
                                 name=f"levels of block {block}", hoverinfo="skip"))
    fig.update_layout(xaxis=dict(title="decoded value"), yaxis=dict(title="count", type="log" if log_y else "linear"),
                      yaxis2=dict(overlaying="y", range=[0, 1], visible=False))
    return style.base_layout(fig, title)


def per_block_figure(per_block: dict, title: str | None = None) -> go.Figure:
    """One histogram per stored per-block parameter (``scales``, ``mins``, ``zero_points``)."""
    fig = go.Figure()
    colors = [style.DATA, style.CLIP, style.ERROR]
    for (name, h), color in zip(per_block.items(), colors):
        fig.add_trace(go.Bar(x=h.centers, y=h.counts, width=h.widths, name=PART_LABELS.get(name, name), opacity=0.75,
                             marker=dict(color=color, line=dict(width=0))))
    fig.update_layout(barmode="overlay", xaxis=dict(title="value"), yaxis=dict(title="blocks"))
    return style.base_layout(fig, title)


def code_occupancy_figure(code_counts: np.ndarray, codebook: np.ndarray, title: str | None = None) -> go.Figure:
    """Values per code summed over blocks; the hover gives each code's codebook value (before the block's scale)."""
    counts = np.asarray(code_counts)
    cb = np.asarray(codebook, np.float64)
    codes = np.arange(counts.size)
    colors = [style.CLIP if (i in (int(np.argmin(cb)), int(np.argmax(cb)))) else style.DATA for i in codes] if cb.size else style.DATA
    fig = go.Figure(go.Bar(x=codes, y=counts, marker=dict(color=colors, line=dict(width=0)), name="values per code",
                           hovertext=[f"code {i} · codebook value {cb[i]:g} · {n:,} values" for i, n in zip(codes, counts)] if cb.size == counts.size else None,
                           hoverinfo="text"))
    fig.update_layout(xaxis=dict(title="code (index into the codebook)"), yaxis=dict(title="count"), bargap=0.1)
    return style.base_layout(fig, title)


def compare_figure(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Per paired quantized tensor: the shipped SQNR and qviz's at the same bits and block size."""
    d = df[df["paired"] & df["qviz_sqnr_db"].notna()]
    names = list(d["name"])
    fig = go.Figure(go.Bar(x=names, y=d["sqnr_db"], name="shipped", marker=dict(color=style.DATA, line=dict(width=0)),
                           hovertext=[f"{n}<br>{f} · {b:.3g} bits/weight<br>SQNR {s:.2f} dB" for n, f, b, s in
                                      zip(names, d["format"], d["bits_per_weight"], d["sqnr_db"])], hoverinfo="text"))
    fig.add_trace(go.Bar(x=names, y=d["qviz_sqnr_db"], name="qviz at the same bits", marker=dict(color="#F2B36B", line=dict(width=0)),
                         hovertext=[f"{n}<br>{s}<br>SQNR {v:.2f} dB" for n, s, v in zip(names, d["qviz_spec"], d["qviz_sqnr_db"])],
                         hoverinfo="text"))
    fig.update_layout(barmode="group", bargap=0.15, xaxis=dict(title="tensor", tickangle=-45, automargin=True,
                                                               showticklabels=len(d) <= 80), yaxis=dict(title="SQNR (dB)"))
    style.base_layout(fig, title, height=400)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1), margin=dict(t=70))
    return fig
