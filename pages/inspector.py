"""Tensor inspector: one tensor's statistics, ranges per channel, and what a quantizer does to it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from qviz.plots import channel_range_figure, error_figure, histogram_figure, outlier_channels
from ui import activations, compute
from ui import quantized as quantized_view
from ui.glossary import glossary
from ui.spec_widgets import calibrator_control, spec_controls
from ui.tensor_picker import require_tensor
from ui.keys import QUERY
from ui.dependent import follow


spec = spec_controls(granularity=True)
method, options = calibrator_control()
st.title("Tensor inspector")
st.caption("Load a tensor (a sample, a built-in model's weight or your own file) and see its ranges and its quantization error.")
picked = require_tensor(spec is not None)
# the block follows its tensor and granularity: a new tensor opens on its own widest block
follow("block", (picked.key, repr(spec.granularity)))
try:
    view = compute.inspect(picked.key, picked.x, spec, method, tuple(sorted(options.items())), st.session_state.get("block"))
except ValueError as e:  # e.g. a group size that does not divide the axis
    st.error(str(e))
    st.stop()

cal, m, s = view["calibration"], view["metrics"], view["stats"]
if view["note"]:
    st.info(view["note"].capitalize() + ".")
if s["nonfinite"]:
    st.warning(f"{s['nonfinite']:,} NaN/Inf values are left out of every statistic below.")

st.subheader("Statistics")
table = pd.DataFrame(
    {
        "shape": [str(tuple(picked.x.shape))], "dtype": [getattr(picked.info, "dtype", "float32")], "numel": [s["numel"]],
        "min": [s["min"]], "max": [s["max"]], "mean": [s["mean"]], "std": [s["std"]], "kurtosis": [s["kurtosis"]],
        "NaN/Inf": [s["nonfinite"]], "channel range ratio": [s["channel_range_ratio"]],
    }
)
st.dataframe(table, hide_index=True, width="stretch", key="stats_table")

if getattr(picked.info, "quantized", "") and picked.source is not None:  # an already-quantized checkpoint's tensor
    quantized_view.show(picked)
    st.caption("Below: what the sidebar's quantizer would do to the decoded values (a re-quantization).")

c = st.columns(5)
c[0].metric("SQNR", f"{m.sqnr_db:.2f} dB")
c[1].metric("MSE", f"{m.mse:.4g}")
c[2].metric("clipping share of MSE", f"{m.clip_share:.1%}")
c[3].metric("RMSE / Δ", f"{m.rmse_over_scale:.3f}", help="≈ 0.29 is pure rounding noise; more means clipping.")
c[4].metric("codes used", f"{m.code_usage:.1%}")

n_blocks = view["n_blocks"]
st.subheader("Histogram")
cols = st.columns([1, 1, 2])
log_y = cols[0].toggle("Log count axis", False, key="log", bind=QUERY)
if n_blocks > 1:
    cols[1].number_input(f"Levels of block (0–{n_blocks - 1})", 0, n_blocks - 1, view["block"], key="block", bind=QUERY,
                         help="Per-channel/per-group: whose grid to draw. Defaults to the widest block.")
b = view["block"]


def clip_note(clip_mse: float, n: int) -> str:
    """What the clamp lines do for this tensor: say "clipped" only when something is."""
    if clip_mse > 0:
        return "Values beyond them are clipped" + (" (each block against its own lines)." if n > 1 else ".")
    return "No value of this tensor is clipped: every block's values lie within its lines." if n > 1 else "No value lies beyond them: nothing is clipped."


st.plotly_chart(
    histogram_figure(view["hist"], cal.qparams, block=b, data_range=(s["min"], s["max"]), log_y=log_y,
                     title=f"{picked.label} · {spec.describe()} · {method}"),
    key="hist_chart", width="stretch",
)
st.caption(
    "Bars: all values of the tensor. Grey lines: the output levels" + (f" of block {b}" if n_blocks > 1 else "")
    + "; red dashes: where the clamp starts, half a step beyond the end levels. " + clip_note(m.clip_mse, n_blocks)
)

left, right = st.columns(2)
with left:
    st.subheader("Error: clipping vs rounding")
    st.plotly_chart(error_figure(view["errors"], float(np.ravel(cal.qparams.scale)[b]), log_y=True), key="error_chart", width="stretch")
    st.caption(
        f"Rounding error (blue) stays within ±Δ/2; clipping error (red) comes from values beyond the clamp. "
        f"Here clipping is {m.clip_mse:.3g} and rounding {m.round_mse:.3g} of the MSE {m.mse:.3g}."
    )
with right:
    st.subheader("Range per channel")
    if view["channels"] is None:
        st.info("Per-channel ranges need a tensor with at least two axes and two channels on the chosen one.")
    else:
        axis, lo, hi = view["channels"]
        sort = st.toggle("Sort by range", False, key="sortch", bind=QUERY)
        st.plotly_chart(channel_range_figure(lo, hi, sort=sort), key="channel_chart", width="stretch")
        out = outlier_channels(lo, hi)
        st.caption(
            f"One bar per channel along axis {axis}, from its min to its max; red: {len(out)} channel(s) wider than 3× the median range. "
            "Wide spreads between channels are why per-channel scales help."
        )

if activations.is_activation(picked):
    activations.token_channel_section(picked, spec)

glossary()
