"""Model-impact figures: sensitivity bars, isolated against accumulated error, the Pareto curve, PTQ against QAT.

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"layer": ["fc1", "conv1"], "one_at_a_time": [0.1, 0.0], "all_but_one": [0.05, 0.01], "delta": [0.15, 0.01]})
>>> [t.name for t in sensitivity_figure(df).data]
['one at a time: fp32 − m(only this layer quantized)', 'all but one: m(all but this layer) − m(all)']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import style

ACCENT = "#FF7F0E"


def sensitivity_figure(df: pd.DataFrame, metric: str = "metric", title: str | None = None) -> go.Figure:
    """Stacked bars per layer (most sensitive first): the one-at-a-time drop and the all-but-one recovery."""
    fig = go.Figure()
    fig.add_bar(x=df["layer"], y=df["one_at_a_time"], name="one at a time: fp32 − m(only this layer quantized)", marker_color=style.DATA)
    fig.add_bar(x=df["layer"], y=df["all_but_one"], name="all but one: m(all but this layer) − m(all)", marker_color=ACCENT)
    style.base_layout(fig, title, height=360)
    fig.update_layout(barmode="relative", bargap=0.25, xaxis_title="layer (most sensitive first)", yaxis_title=f"Δ {metric}")
    return fig


def errors_figure(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Output SQNR per layer in module order: the layer alone (isolated) against everything before it quantized too."""
    fig = go.Figure()
    for col, name, color in (("isolated_sqnr_db", "isolated: only this layer quantized", style.DATA),
                             ("accumulated_sqnr_db", "accumulated: this layer and all before it", style.CLIP)):
        v = pd.to_numeric(df[col], errors="coerce").to_numpy(np.float64)
        fig.add_scatter(x=df["layer"], y=np.where(np.isfinite(v), v, np.nan), mode="lines+markers", name=name,
                        line=dict(color=color))
    style.base_layout(fig, title, height=360)
    fig.update_layout(xaxis_title="layer (forward order)", yaxis_title="output SQNR (dB)")
    return fig


def pareto_figure(points: pd.DataFrame, metric: str = "metric", title: str | None = None) -> go.Figure:
    """Size against task metric for every measured configuration; the frontier joined, the suggestion a star."""
    fig = go.Figure()
    colors = {"fp32": "#7F7F7F", "uniform": style.DATA, "greedy": "#2CA02C", "suggested": style.CLIP}
    for kind in ("fp32", "uniform", "greedy", "suggested"):
        p = points[points["kind"] == kind]
        if p.empty:
            continue
        fig.add_scatter(x=p["size_mb"], y=p["metric"], mode="markers", name=kind, text=p["label"],
                        customdata=p["avg_bits"], hovertemplate="%{text}<br>%{x:.4f} MB · %{customdata:.2f} bits/weight<br>%{y:.4f}<extra></extra>",
                        marker=dict(color=colors[kind], size=16 if kind == "suggested" else 9,
                                    symbol="star" if kind == "suggested" else "circle"))
    front = points[points["pareto"]].sort_values("size_mb")
    fig.add_scatter(x=front["size_mb"], y=front["metric"], mode="lines", name="Pareto frontier", hoverinfo="skip",
                    line=dict(color="rgba(60,60,60,0.5)", dash="dot"))
    style.base_layout(fig, title, height=380)
    fig.update_layout(xaxis_title="model size (MB)", yaxis_title=metric, xaxis_type="log")
    return fig


def qat_figure(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Grouped bars per bit width: accuracy after PTQ and after QAT, the fp32 accuracy as a line."""
    x = [f"{b} bits" for b in df["bits"]]
    fig = go.Figure()
    fig.add_bar(x=x, y=df["ptq"], name="PTQ (quantize the trained model)", marker_color=style.DATA,
                text=[f"{v:.1%}" for v in df["ptq"]], textposition="outside", cliponaxis=False)
    fig.add_bar(x=x, y=df["qat"], name="QAT (fine-tuned with fake quantization + STE)", marker_color="#2CA02C",
                text=[f"{v:.1%}" for v in df["qat"]], textposition="outside", cliponaxis=False)
    fig.add_hline(y=float(df["fp32"].iloc[0]), line=dict(color="#7F7F7F", dash="dash"), annotation_text="fp32",
                  annotation_position="bottom right")  # below the line: the bars' labels sit above it
    style.base_layout(fig, title, height=360)
    fig.update_layout(barmode="group", bargap=0.3, yaxis_title="test accuracy", yaxis_range=[0, 1.15], uniformtext=dict(minsize=9, mode="show"))
    return fig
