"""Per-layer bars: SQNR or PSNR of every layer, worst layers highlighted, optionally two specs side by side.

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"name": ["a", "b", "c"], "kind": "weight", "sqnr_db": [40.0, 12.0, 35.0]})
>>> fig = layer_bars_figure(df, "sqnr_db", worst=1)
>>> list(fig.data[0].marker.color)[1] == fig.data[0].marker.color[1]
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import style

LABELS = {"sqnr_db": "SQNR (dB)", "psnr_db": "PSNR (dB)", "mse": "MSE", "rmse_over_scale": "RMSE / Δ"}


def worst_layers(df: pd.DataFrame, metric: str = "sqnr_db", n: int = 5) -> pd.DataFrame:
    """The ``n`` rows with the lowest ``metric`` (finite values only)."""
    v = pd.to_numeric(df[metric], errors="coerce")
    return df.loc[v[np.isfinite(v)].nsmallest(n).index]


def _finite(v: pd.Series, cap: float) -> np.ndarray:
    a = pd.to_numeric(v, errors="coerce").to_numpy(np.float64)
    return np.where(np.isposinf(a), cap, a)


def layer_bars_figure(df: pd.DataFrame, metric: str = "sqnr_db", *, other: pd.DataFrame | None = None,
                      names: tuple[str, str] = ("A", "B"), worst: int = 5, title: str | None = None) -> go.Figure:
    """One bar per row of ``df`` (in its order) with ``metric``; the ``worst`` lowest in red.

    With ``other`` (same rows under a second spec), its bars stand beside each one.
    Infinite values (exact layers) are drawn at the top of the finite range and say so on hover.
    """
    label = LABELS.get(metric, metric)
    finite = pd.to_numeric(df[metric], errors="coerce")
    cap = float(np.nanmax(finite[np.isfinite(finite)])) * 1.05 if np.isfinite(finite).any() else 1.0
    y = _finite(df[metric], cap)
    worst = max(1, min(worst, len(df) // 4))  # highlight a few, not most of a small model
    bad = set(worst_layers(df, metric, worst).index)
    colors = [style.CLIP if i in bad else style.DATA for i in df.index]
    names_a = [style.escape(n) for n in df["name"]]  # user file's tensor names: plain text, never markup
    text = [f"{n}<br>{label}: {'∞ (exact)' if np.isposinf(v) else f'{v:.2f}'}" for n, v in zip(names_a, pd.to_numeric(df[metric], errors="coerce"))]
    fig = go.Figure(go.Bar(x=names_a, y=y, marker=dict(color=colors, line=dict(width=0)), name=names[0],
                           hovertext=text, hoverinfo="text"))
    if other is not None:
        yo = _finite(other[metric], cap)
        names_b = [style.escape(n) for n in other["name"]]
        fig.add_trace(go.Bar(x=names_b, y=yo, marker=dict(color="#F2B36B", line=dict(width=0)), name=names[1],
                             hovertext=[f"{n}<br>{label}: {v:.2f}" for n, v in zip(names_b, yo)], hoverinfo="text"))
        fig.update_layout(barmode="group")
    fig.update_layout(xaxis=dict(title="layer", tickangle=-45, automargin=True, showticklabels=len(df) <= 80), yaxis=dict(title=label),
                      bargap=0.15, showlegend=other is not None)
    style.base_layout(fig, title, height=400)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1), margin=dict(t=70))
    return fig
