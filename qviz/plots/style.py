"""Shared look of qviz figures: one palette, one layout, so every page reads alike."""

from __future__ import annotations

import plotly.graph_objects as go

DATA = "#4C78A8"  # the tensor
LEVEL = "rgba(60, 60, 60, 0.35)"  # quantization levels
CLIP = "#D62728"  # clipping thresholds
WASTED = "rgba(255, 127, 14, 0.18)"  # codes no value reaches
ERROR = "#9467BD"  # quantization error
CALIBRATOR_COLORS = ["#D62728", "#2CA02C", "#FF7F0E", "#9467BD", "#17BECF", "#8C564B", "#E377C2", "#7F7F7F"]


def base_layout(fig: go.Figure, title: str | None = None, height: int = 380) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left") if title else None,
        template="plotly_white",
        height=height,
        margin=dict(l=60, r=20, t=50 if title else 20, b=40),
        legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0),
        bargap=0,
    )
    return fig
