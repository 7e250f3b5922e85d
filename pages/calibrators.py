"""Calibrators: every method's clipping range on one histogram, its search curve, and what it costs — pick by eye."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from qviz.binning import histogram
from qviz.calibrate.registry import METHODS, STATS_OPTIONS, compared
from qviz.plots import curve_figure, thresholds_figure
from qviz.plots.calibration import color_of
from ui import activations, compute
from ui.glossary import glossary
from ui.keys import QUERY
from ui.spec_widgets import option_controls, spec_controls, title_of
from ui.tensor_picker import require_tensor


spec = spec_controls(granularity=True)
st.title("Calibrators")
st.caption("Which clipping range should this tensor get? Every calibrator answers on the same histogram; the table says what each answer costs.")
picked = require_tensor(spec is not None, "calibrate")
names = compared()
own = [o for n in names for o in METHODS[n].options]
options = option_controls([o for o in own if o.values], st)  # the percentile slider, in view
with st.expander("Every calibrator's options"):
    options.update(option_controls([o for o in own if not o.values], st))
    options.update(option_controls(list(STATS_OPTIONS.values()), st))
fallback = compute.effective_spec(spec, picked.x.shape)[1]
if fallback:
    st.info(fallback.capitalize() + ".")
try:
    results = compute.compare(picked.key, picked.x, spec, tuple(sorted(options.items())), tuple(names))
except ValueError as e:
    st.error(str(e))
    st.stop()
skipped = results.attrs.get("skipped", {})
if skipped:
    st.info(f"Skipped {', '.join(title_of(n) for n in skipped)}: {next(iter(skipped.values()))} for {picked.x.shape} under "
            f"{spec.describe()} (memory cap). The other calibrators are below; per-tensor or per-group runs them all.")
names = [n for n in names if n not in skipped]

table = pd.DataFrame({"calibrator": results["calibrator"].map(title_of), "clip_min": results["clip_min"],
                      "clip_max": results["clip_max"], "SQNR (dB)": results["sqnr_db"], "MSE": results["mse"],
                      "clipping share": results["clip_share"], "rounding share": results["round_share"]})
best = int(table["SQNR (dB)"].idxmax())
first = results["calibration"][0]
n_blocks = int(first.qparams.scale.size)
block = first.curve_block

x_lo = float(np.nanmin([*table["clip_min"], float(np.ravel(first.data_min)[block])]))
x_hi = float(np.nanmax([*table["clip_max"], float(np.ravel(first.data_max)[block])]))
log_y = st.toggle("Log count axis", True, key="log", bind=QUERY)
ranges = dict(zip(table["calibrator"], zip(table["clip_min"], table["clip_max"])))
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
searched = [i for i, m in enumerate(names) if METHODS[m].searches and len(results["calibration"][i].curve)]
cols = st.columns(2)
for k, i in enumerate(searched):
    cal, method = results["calibration"][i], names[i]
    chosen = cal.chosen()
    chosen = tuple(c for c in chosen if c > 0) if spec.symmetric else chosen
    with cols[k % 2]:
        st.plotly_chart(
            curve_figure(cal.curve, chosen, cal.criterion, color=color_of(i), log_y=METHODS[method].log_curve,
                         title=title_of(method)),
            key=f"curve_{method}", width="stretch",
        )
st.caption("Each curve is the criterion the calibrator evaluated at every candidate threshold (KL divergence, MSE, or the CDF); the marker is the threshold it chose. Min-max searches nothing.")

if activations.is_activation(picked):
    activations.token_channel_section(picked, spec)

glossary()
