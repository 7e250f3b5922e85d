"""The blocks × roles navigator of the Model layers page: heatmap, filters, worst-N table, pick a tensor.

A click on a heatmap cell (plotly point selection, ``on_select="rerun"``) or on a row of
the worst-N table picks that tensor: the page points its "open in the inspector" link at
it and, unless the toggle "A click opens the inspector" is off, follows that link at once
(:func:`go_to`). Activations pick their layer's weight.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from qviz.plots import layer_heatmap
from qviz.plots.heatmap import HEAT_METRICS, has_blocks, with_derived
from qviz.positions import PARAMS, role_order

from ui.keys import QUERY  # noqa: E402 - beside the page-local keys below
JUMP_KEY = "hjump"  # the toggle "a click opens the inspector"
KINDS = ("weight", "activation")
TABLE = ["name", "kind", "block", "role", "shape", "sqnr_db", "psnr_db", "kurtosis", "clip_share", "max_abs",
         "channel_range_ratio"]

__all__ = ["draw", "go_to", "has_blocks", "worst_n", "tensor_of_point"]


def go_to(url: str) -> None:
    """Open ``url`` (a relative app URL with its settings) in this tab.

    ``st.switch_page`` cannot: it must clear the query string, which it refuses to do
    while URL-bound widgets exist. ``url`` is URL-encoded by :func:`ui.nav.page_url`
    (no ``<``), and ``json.dumps`` quotes it for the script.
    """
    st.html(f"<script>window.location.assign({json.dumps(url)})</script>", unsafe_allow_javascript=True)


def worst_n(df: pd.DataFrame, metric: str, n: int) -> pd.DataFrame:
    """The ``n`` rows with the worst finite ``metric`` (lowest when higher is better, else highest).

    >>> worst_n(pd.DataFrame({"name": list("abc"), "kurtosis": [3.0, 40.0, 5.0]}), "kurtosis", 1)["name"].tolist()
    ['b']
    """
    v = pd.to_numeric(df[metric], errors="coerce")
    v = v[v.abs() != float("inf")].dropna()
    higher_better = HEAT_METRICS.get(metric, (metric, False))[1]
    idx = v.nsmallest(n).index if higher_better else v.nlargest(n).index
    return df.loc[idx]


def tensor_of_point(point: dict, weights: set[str]) -> str | None:
    """The weight a selected heatmap point stands for (``customdata[0]`` is the tensor; ``x:input`` → ``x.weight``).

    >>> tensor_of_point({"customdata": ["fc1:input", "4×8", "30.1", ""]}, {"fc1.weight"})
    'fc1.weight'
    """
    custom = point.get("customdata") or []
    name = str(custom[0]) if custom else None
    if name is None:
        return None
    if name in weights:
        return name
    layer = name.split(":", 1)[0]
    return f"{layer}.weight" if f"{layer}.weight" in weights else None


def _changed(key: str, value) -> bool:
    """True when ``value`` differs from the one seen on the previous run (a new click)."""
    seen = st.session_state.get(f"_seen_{key}")
    st.session_state[f"_seen_{key}"] = value
    return value is not None and value != seen


def draw(df: pd.DataFrame, label: str) -> tuple[str | None, bool]:
    """Draw the navigator for ``df`` (an analyze table).

    Returns the weight last picked by a click on a cell or a row (None before any), and
    whether it was picked in this run (a new click).
    """
    d = with_derived(df)
    weights = set(d.loc[d["kind"] == "weight", "name"])
    st.subheader("Blocks × roles")
    metrics = [m for m in HEAT_METRICS if m in d.columns]
    f = st.columns([2, 4, 2])
    metric = f[0].selectbox("Colour by", metrics, format_func=lambda m: HEAT_METRICS[m][0], key="hmetric", bind=QUERY)
    roles_all = role_order(d["role"])
    bare = [r for r in roles_all if not PARAMS & set(r.split(".")[1:])] or roles_all  # weights: q, not q.bias / q.scales
    roles = f[1].multiselect("Roles", roles_all, default=bare, key="hroles", placeholder="every role",
                             help="Biases and other per-layer tensors (q.bias, q.scales) are left out until you add them.")
    present = [k for k in KINDS if (d["kind"] == k).any()]
    kinds = f[2].multiselect("Kind", present, default=present, key="hkinds")
    view = d[d["role"].isin(roles or roles_all) & d["kind"].isin(kinds or present)]
    if view.empty:
        st.info("No tensor matches these filters.")
        return None, False
    event = st.plotly_chart(layer_heatmap(view, metric, title=f"{label} · {HEAT_METRICS[metric][0]} per block and role"),
                            key="heat", width="stretch", on_select="rerun", selection_mode="points")
    st.caption("Blocks left to right (in: embeddings, out: final norm and head), roles top to bottom; red is worse. "
               "Click a cell (or a row of the table below) to open that tensor in the inspector.")
    st.toggle("A click opens the inspector", True, key=JUMP_KEY, bind=QUERY,
              help="Off: a click only picks the tensor; the link below the table opens it.")
    picked = None
    points = list(getattr(getattr(event, "selection", None), "points", None) or [])
    clicked = tensor_of_point(points[0], weights) if points else None
    if _changed("heat", clicked):
        picked = clicked

    n = st.slider("Worst tensors", 5, 50, 10, key="worst_n", bind=QUERY)
    worst = worst_n(view, metric, n)
    shown = worst[[c for c in TABLE if c in worst.columns]].copy()
    shown["shape"] = shown["shape"].map(lambda s: "×".join(map(str, s)) if isinstance(s, (tuple, list)) else str(s))
    shown["block"] = shown["block"].map(lambda b: "" if b is None else str(b))
    table = st.dataframe(shown, hide_index=True, width="stretch", key="worst_table", on_select="rerun",
                         selection_mode="single-row")
    st.caption(f"The {len(worst)} worst by {HEAT_METRICS[metric][0]} under the filters above. Select a row to pick that tensor.")
    rows = list(getattr(getattr(table, "selection", None), "rows", None) or [])
    chosen = tensor_of_point({"customdata": [shown["name"].iloc[rows[0]]]}, weights) if rows and rows[0] < len(shown) else None
    if _changed("table", chosen):
        picked = chosen
    if picked is not None:
        st.session_state["_nav_pick"] = picked
        return picked, True
    last = st.session_state.get("_nav_pick")
    return (last if last in weights else None), False
