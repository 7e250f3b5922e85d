"""Blocks × roles: one coloured cell per tensor of a model, weights and activations as two panels.

:func:`layer_heatmap` draws an ``analyze`` table as a grid: the repeated blocks of a
transformer on the x axis (tensors outside the blocks in two extra columns, ``in`` for
embeddings and ``out`` for the final norm and head), the short roles of
:func:`qviz.layer_position` on the y axis, and the colour of any metric column.
Colours run from red (bad) to blue (good) whatever the metric's direction, on one colour
scale for both panels. Each cell is also an invisible square marker carrying the
tensor's name, shape and value: the hover, and the point a click selects
(Streamlit's ``on_select`` reports scatter points, not heatmap cells).

The figure stays small at LLM scale: 80 blocks × 10 roles × 2 kinds is about 150 KB
of JSON (tested ≤ 300 KB).

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"name": [f"model.layers.{b}.self_attn.{r}_proj.weight" for b in range(3) for r in "qk"],
...                    "kind": "weight", "shape": [(4, 4)] * 6, "sqnr_db": [40.0, 41, 20, 42, 43, 44]})
>>> fig = layer_heatmap(df, "sqnr_db")
>>> fig.data[0].type, list(fig.data[0].x), list(fig.data[0].y)
('heatmap', ['0', '1', '2'], ['q', 'k'])
>>> fig.data[1].customdata[2][0]   # the cell of block 1, role q
'model.layers.1.self_attn.q_proj.weight'
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..positions import layer_position, role_order
from . import style

#: Metrics a user can colour by: column → (label, higher is better)
HEAT_METRICS = {
    "sqnr_db": ("SQNR (dB)", True),
    "psnr_db": ("PSNR (dB)", True),
    "kurtosis": ("kurtosis", False),
    "clip_share": ("clipping share of the MSE", False),
    "max_abs": ("max |x|", False),
    "channel_range_ratio": ("channel range ratio", False),
    "mse": ("MSE", False),
    "rmse_over_scale": ("RMSE / Δ", False),
    "code_usage": ("code usage", True),
}
EMBED_ROLES = ("embed", "pos_embed", "type_embed", "embed_norm")
IN, OUT = "in", "out"  # columns for tensors outside the blocks


def with_derived(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with ``block``/``role`` (when missing), ``clip_share`` = clip_mse / mse and ``max_abs`` = max(|min|, |max|).

    >>> with_derived(pd.DataFrame({"name": ["blk.2.attn_q.weight"], "min": [-3.0], "max": [2.0],
    ...                            "clip_mse": [1.0], "mse": [4.0]}))[["block", "role", "clip_share", "max_abs"]].values.tolist()
    [[2, 'q', 0.25, 3.0]]
    """
    out = df.copy()
    if "block" not in out.columns or "role" not in out.columns:
        pos = [layer_position(str(n)) for n in out["name"]]
        out["block"] = pd.Series([p[0] for p in pos], index=out.index, dtype=object)
        out["role"] = [p[1] for p in pos]
    if "clip_share" not in out.columns and {"clip_mse", "mse"} <= set(out.columns):
        mse = pd.to_numeric(out["mse"], errors="coerce").to_numpy(np.float64)
        clip = pd.to_numeric(out["clip_mse"], errors="coerce").to_numpy(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["clip_share"] = np.where(mse > 0, clip / np.where(mse > 0, mse, 1.0), np.where(mse == 0, 0.0, np.nan))
    if "max_abs" not in out.columns and {"min", "max"} <= set(out.columns):
        lo = pd.to_numeric(out["min"], errors="coerce").abs().to_numpy(np.float64)
        hi = pd.to_numeric(out["max"], errors="coerce").abs().to_numpy(np.float64)
        out["max_abs"] = np.fmax(lo, hi)
    return out


def has_blocks(df: pd.DataFrame, min_blocks: int = 2) -> bool:
    """True when the tensors of ``df`` fall into at least ``min_blocks`` repeated blocks (a heatmap is worth drawing).

    >>> has_blocks(pd.DataFrame({"name": ["conv1.weight", "fc1.weight"]}))
    False
    """
    blocks = with_derived(df[["name"]] if "block" not in df.columns else df)["block"]
    return len({b for b in blocks if b is not None and not pd.isna(b)}) >= min_blocks


def _column(block, role: str) -> str:
    if block is None or pd.isna(block):
        return IN if role.split(".")[0] in EMBED_ROLES else OUT
    return str(int(block))


def _fmt(v: float) -> str:
    if np.isposinf(v):
        return "∞ (exact)"
    if np.isnan(v):
        return "—"
    return f"{v:.4g}"


def _shape(s) -> str:
    if isinstance(s, (tuple, list)):
        return "×".join(map(str, s)) or "scalar"
    return str(s)


def layer_heatmap(df: pd.DataFrame, metric: str = "sqnr_db", *, title: str | None = None,
                  kinds: tuple[str, ...] = ("weight", "activation")) -> go.Figure:
    """Blocks × roles heatmap of ``metric``, one panel per tensor kind present in ``df``.

    Parameters
    ----------
    df : pandas.DataFrame
        An :func:`qviz.analyze` table (``name``, ``kind``, ``shape`` and the metric; ``block``
        and ``role`` are computed from the names when missing, as are ``clip_share`` and
        ``max_abs``, see :func:`with_derived`).
    metric : str
        Any numeric column (:data:`HEAT_METRICS` has labels and directions; other columns
        count as "higher is worse").
    title : str, optional
    kinds : tuple of str
        Panels, top to bottom, for the kinds present.

    Returns
    -------
    plotly.graph_objects.Figure
        Per panel a ``Heatmap`` (the colour; ±∞ drawn at the end of the finite range, NaN
        blank) and an invisible ``Scatter`` of the cells whose ``customdata`` is
        ``[name, shape, value, note]`` (hover and click). When several tensors share a cell
        (e.g. two towers' block 3 ``q``), the worst is drawn and the hover counts the others.
    """
    d = with_derived(df)
    if metric not in d.columns:
        known = ", ".join(c for c in HEAT_METRICS if c in d.columns)
        raise ValueError(f"layer_heatmap: no column {metric!r}; choose one of {known}")
    label, higher_better = HEAT_METRICS.get(metric, (metric, False))
    d = d.assign(_v=pd.to_numeric(d[metric], errors="coerce").astype(np.float64))
    d["_col"] = [_column(b, r) for b, r in zip(d["block"], d["role"])]
    panels = [k for k in kinds if (d["kind"] == k).any()] if "kind" in d.columns else ["weight"]
    if "kind" not in d.columns:
        d["kind"] = "weight"
    blocks = sorted({int(b) for b in d["block"] if b is not None and not pd.isna(b)})
    cols = ([IN] if (d["_col"] == IN).any() else []) + [str(b) for b in blocks] + ([OUT] if (d["_col"] == OUT).any() else [])
    finite = d["_v"][np.isfinite(d["_v"])]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    rows = max(len(panels), 1)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.12 if rows > 1 else 0.0,
                        subplot_titles=[f"{k}s" for k in panels] if rows > 1 else None)
    for i, kind in enumerate(panels, start=1):
        part = d[d["kind"] == kind]
        roles = role_order(part["role"])
        ri, ci = {r: j for j, r in enumerate(roles)}, {c: j for j, c in enumerate(cols)}
        z = np.full((len(roles), len(cols)), np.nan)
        cells: dict[tuple[int, int], list] = {}
        shapes = part["shape"] if "shape" in part.columns else [""] * len(part)
        for name, shape, role, col, v in zip(part["name"], shapes, part["role"], part["_col"], part["_v"]):
            cells.setdefault((ri[role], ci[col]), []).append((name, shape, v))
        xs, ys, custom = [], [], []
        for (r, c), members in cells.items():
            # the worst tensor of the cell is the one drawn (NaN last)
            def badness(m):
                v = m[2]
                return (np.isnan(v), v if higher_better else -v)

            name, shape, v = sorted(members, key=badness)[0]
            z[r, c] = min(max(v, lo), hi) if np.isinf(v) else v
            more = f" (+{len(members) - 1} more in this cell)" if len(members) > 1 else ""
            xs.append(cols[c])
            ys.append(roles[r])
            custom.append([str(name), _shape(shape), _fmt(v), more])
        fig.add_trace(go.Heatmap(
            x=cols, y=roles, z=[[None if np.isnan(v) else round(float(v), 4) for v in row] for row in z], coloraxis="coloraxis",
            hoverinfo="skip", xgap=1, ygap=1, name=kind,
        ), row=i, col=1)
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="markers", customdata=custom, name=kind, showlegend=False,
            marker=dict(symbol="square", size=max(6, min(22, 900 // max(len(cols), 1))), opacity=0,
                        color="rgba(0,0,0,0)", line=dict(width=2, color="#111")),
            selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=0)),
            hovertemplate=(f"%{{customdata[0]}}%{{customdata[3]}}<br>block %{{x}} · %{{y}}<br>shape %{{customdata[1]}}"
                           f"<br>{label}: %{{customdata[2]}}<extra></extra>"),
        ), row=i, col=1)
        fig.update_yaxes(type="category", categoryorder="array", categoryarray=roles, autorange="reversed",
                         title_text="role", row=i, col=1)
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=cols, row=i, col=1)
    fig.update_xaxes(title_text="block", row=rows, col=1)
    scale = "RdYlBu" if higher_better else "RdYlBu_r"
    fig.update_layout(coloraxis=dict(colorscale=scale, cmin=lo, cmax=hi, colorbar=dict(title=dict(text=label, side="right"))),
                      clickmode="event+select", dragmode=False, hovermode="closest")
    n_roles = sum(len(role_order(d[d["kind"] == k]["role"])) for k in panels)
    style.base_layout(fig, title, height=int(min(1200, 160 + 22 * n_roles + 60 * rows)))
    return fig
