"""Shared look of qviz figures: one palette, one layout, so every page reads alike."""

from __future__ import annotations

import plotly.graph_objects as go

DATA = "#4C78A8"  # the tensor
LEVEL = "rgba(60, 60, 60, 0.35)"  # quantization levels
CLIP = "#D62728"  # clipping thresholds
WASTED = "rgba(255, 127, 14, 0.18)"  # codes no value reaches
ERROR = "#9467BD"  # quantization error
CALIBRATOR_COLORS = ["#D62728", "#2CA02C", "#FF7F0E", "#9467BD", "#17BECF", "#8C564B", "#E377C2", "#7F7F7F"]


def escape(text) -> str:
    """``text`` shown literally in a figure: Plotly reads ``<a>``, ``<b>``, ``<br>`` … in titles, ticks and hovers.

    Every user-provided string (file and tensor names) goes through this before it reaches a figure.

    >>> escape('<a href="javascript:alert(2)">x</a>.npy')
    '&lt;a href="javascript:alert(2)"&gt;x&lt;/a&gt;.npy'
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def base_layout(fig: go.Figure, title: str | None = None, height: int = 380) -> go.Figure:
    """The shared look; ``title`` is plain text (escaped), never markup."""
    fig.update_layout(
        title=dict(text=escape(title), x=0.01, xanchor="left") if title else None,
        template="plotly_white",
        height=height,
        margin=dict(l=60, r=20, t=50 if title else 20, b=40),
        legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0),
        bargap=0,
    )
    return fig


def count_axis(log_y: bool, max_count: float = 1.0, title: str = "count") -> dict:
    """A count axis that does not mislead: from zero when linear, clean decades (1, 10, 100, 1k…) when log.

    >>> count_axis(False)["rangemode"], count_axis(True, 5000)["dtick"]
    ('tozero', 1)
    """
    if not log_y:
        return dict(title=title, type="linear", rangemode="tozero")
    import math

    top = math.log10(max(float(max_count), 1.0))
    return dict(title=title, type="log", dtick=1, tickformat="~s", range=[-0.3, top + 0.25], minor=dict(ticks=""))
