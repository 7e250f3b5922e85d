"""Calibrators: every method's clipping range on one histogram, its search curve, and what it costs — pick by eye."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from qviz.binning import histogram
from qviz.plots import curve_figure, thresholds_figure
from qviz.plots.calibration import color_of
from ui import activations, compute
from ui.glossary import glossary
from ui.routing import leave_legacy_pages_mode
from ui.spec_widgets import CALIBRATOR_TITLES, spec_controls
from ui.tensor_picker import require_tensor

leave_legacy_pages_mode()

QUERY = "query-params"

spec = spec_controls(granularity=True)
st.title("Calibrators")
st.caption("Which clipping range should this tensor get? Every calibrator answers on the same histogram; the table says what each answer costs.")
picked = require_tensor(spec is not None, "calibrate")
pct = float(st.select_slider("Percentile (for the percentile calibrator)", [99.0, 99.9, 99.99, 99.999], value=99.99, key="pct", bind=QUERY))
try:
    results = compute.compare(picked.key, picked.x, spec, pct)
except ValueError as e:
    st.error(str(e))
    st.stop()

names = list(results)
rows = []
for method, (cal, m) in results.items():
    b = cal.curve_block
    rows.append({
        "calibrator": CALIBRATOR_TITLES.get(method, method),
        "clip_min": float(np.ravel(cal.clip_min)[b]), "clip_max": float(np.ravel(cal.clip_max)[b]),
        "SQNR (dB)": m.sqnr_db, "MSE": m.mse,
        "clipping share": (m.clip_mse / m.mse) if m.mse else 0.0, "rounding share": (m.round_mse / m.mse) if m.mse else 0.0,
    })
table = pd.DataFrame(rows)
best = int(table["SQNR (dB)"].idxmax())
n_blocks = int(results[names[0]][0].qparams.scale.size)
block = results[names[0]][0].curve_block

x_lo = float(np.nanmin([r["clip_min"] for r in rows] + [float(np.ravel(results[names[0]][0].data_min)[block])]))
x_hi = float(np.nanmax([r["clip_max"] for r in rows] + [float(np.ravel(results[names[0]][0].data_max)[block])]))
log_y = st.toggle("Log count axis", True, key="log", bind=QUERY)
ranges = {CALIBRATOR_TITLES.get(m, m): (rows[i]["clip_min"], rows[i]["clip_max"]) for i, m in enumerate(names)}
st.plotly_chart(
    thresholds_figure(histogram(picked.x, bins=240, range=(x_lo, x_hi)), ranges, log_y=log_y,
                      title=f"{picked.label} · {spec.describe()}" + (f" · thresholds of block {block}" if n_blocks > 1 else "")),
    key="thresholds_chart", width="stretch",
)
st.caption("Each pair of dashed lines is one calibrator's clipping range: values outside are clamped. Tight ranges clip the tails; wide ones spend the levels on empty space.")

st.subheader("What each choice costs")
st.dataframe(
    table.style.format({"clip_min": "{:.5g}", "clip_max": "{:.5g}", "SQNR (dB)": "{:.2f}", "MSE": "{:.4g}",
                        "clipping share": "{:.1%}", "rounding share": "{:.1%}"})
    .apply(lambda r: ["background-color: #E3F2E1; font-weight: 600" if r.name == best else "" for _ in r], axis=1),
    hide_index=True, width="stretch", key="calib_table",
)
st.caption(f"Green: the highest SQNR on this tensor ({table['calibrator'][best]}). Clipping share + rounding share = 100% of the MSE.")

st.subheader("What each calibrator searched")
searched = [m for m in names if len(results[m][0].curve)]
cols = st.columns(2)
for i, method in enumerate(searched):
    cal = results[method][0]
    b = cal.curve_block
    chosen = (float(np.ravel(cal.clip_min)[b]), float(np.ravel(cal.clip_max)[b]))
    chosen = tuple(c for c in chosen if c > 0) if spec.symmetric else chosen
    with cols[i % 2]:
        st.plotly_chart(
            curve_figure(cal.curve, chosen, cal.criterion, color=color_of(names.index(method)),
                         log_y=cal.criterion in ("KL divergence", "MSE", "model MSE"), title=CALIBRATOR_TITLES.get(method, method)),
            key=f"curve_{method}", width="stretch",
        )
st.caption("Each curve is the criterion the calibrator evaluated at every candidate threshold (KL divergence, MSE, or the CDF); the marker is the threshold it chose. Min-max searches nothing.")

if activations.is_activation(picked):
    activations.token_channel_section(picked, spec)

glossary()
