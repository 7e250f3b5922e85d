"""Formats: one tensor under uniform int, log, k-means, NF4, FP8, FP4 and MX — levels, SQNR, MSE, bits per value."""

from __future__ import annotations

import numpy as np
import streamlit as st

import qviz
from qviz.binning import histogram
from qviz.plots.formats import levels_figure, sqnr_bits_figure
from ui.glossary import glossary
from ui.shared import by_content
from ui.tensor_picker import require_tensor
from ui.keys import QUERY


BUDGETS = ["4 bits", "8 bits", "1-2 bits", "all"]  # also their values in the URL (?budget=…)
FAMILY_NOTES = {
    "uniform": "equal steps Δ from a QuantSpec and min-max (per-group: one float32 scale per 64 values)",
    "non-uniform": "log2: powers of two times max|x|; k-means: 2^b levels fitted to this tensor (Lloyd–Max); "
                   "NF4: QLoRA's 16 normal-quantile levels, one absmax per 64 values",
    "floating point": "FP8 E4M3 / E5M2 (torch's casts) and FP4 E2M1, one scale mapping max|x| to 448 / 57344 / 6",
    "block-scaled (MX)": "OCP MX: 32 values share a power-of-two E8M0 scale 2^(floor(log2 amax) − emax)",
    "binary / ternary": "α·sign(x), α = mean|x|; TWN's {−α, 0, α} with threshold 0.7·mean|x|",
}


def _in_budget(bits: float, budget: str) -> bool:
    return {"4 bits": 3.5 <= bits < 5, "8 bits": 7.5 <= bits < 9, "1-2 bits": bits <= 2.5}.get(budget, True)


@by_content(max_entries=16, show_spinner="Quantizing with every format…")
def _compare(key: str, _x: np.ndarray, bins: int):
    """Every format on one tensor: the comparison table, each format's levels, the histogram."""
    names = qviz.format_names()
    table = qviz.compare_formats(_x, names)
    levels = {n: qviz.FORMATS[n].levels(_x) for n in names}
    finite = _x[np.isfinite(_x)]
    span = (float(finite.min()), float(finite.max()))
    pad = (span[1] - span[0]) * 0.03 or 1e-3
    return table, levels, histogram(_x, bins=bins, range=(span[0] - pad, span[1] + pad))


st.title("Formats")
st.caption("One tensor under uniform int, logarithmic, k-means, NF4, FP8, FP4 and MX formats: where each puts its levels, "
           "and what it costs per value once its scales are counted.")
picked = require_tensor()

c1, c2 = st.columns([3, 1])
budget = c1.segmented_control("Compare at about", BUDGETS, default="4 bits", key="budget", bind=QUERY,
                              help="Which formats to put side by side, by bits per value (scales included).") or "4 bits"
log_y = c2.toggle("Log count axis", False, key="log", bind=QUERY)

try:
    table, levels, hist = _compare(picked.key, picked.x, 240)
except ValueError as e:
    st.error(str(e))
    st.stop()
shown = table[[_in_budget(b, budget) for b in table["bits_per_value"]]].reset_index(drop=True)
if shown.empty:
    st.info(f"No format costs about {budget} per value on a tensor of {picked.x.size:,} values (a per-tensor float32 "
            f"scale alone adds {32 / max(picked.x.size, 1):.3g} bits per value): every format is shown.")
    shown = table.reset_index(drop=True)
sqnr = shown["sqnr_db"].replace([np.inf], np.finfo(np.float64).max)
best = int(sqnr.idxmax()) if sqnr.notna().any() else 0

st.dataframe(
    shown[["format", "title", "bits_per_value", "n_levels", "sqnr_db", "mse", "max_abs_error"]]
    .rename(columns={"bits_per_value": "bits / value", "n_levels": "levels", "sqnr_db": "SQNR (dB)", "mse": "MSE", "max_abs_error": "max |error|"})
    .style.format({"bits / value": "{:.3f}", "SQNR (dB)": "{:.2f}", "MSE": "{:.4g}", "max |error|": "{:.4g}"})
    .apply(lambda r: ["background-color: #E3F2E1; font-weight: 600" if r.name == best else "" for _ in r], axis=1),
    hide_index=True, width="stretch", key="formats_table",
)
st.caption(f"Green: the highest SQNR among these ({shown['format'][best]}). Bits per value count every scale: "
           "a float32 per 64 values adds 0.5 bit, an 8-bit E8M0 per 32 adds 0.25, a per-tensor scale adds 32/n.")

fam = dict(zip(table["format"], table["family"]))
st.plotly_chart(
    levels_figure(hist, {n: levels[n] for n in shown["format"]}, fam, log_y=log_y, title=f"{picked.label}: the levels of each format"),
    key="levels_chart", width="stretch",
)
st.caption("Top: the tensor's histogram. Below: one row per format, a tick at every value it can output "
           "(block formats: the levels of the block with the largest |x|; every k-th when there are more than 128) — dense ticks where the data is dense is what a good format does.")

st.plotly_chart(
    sqnr_bits_figure(table["bits_per_value"].tolist(), table["sqnr_db"].tolist(), table["format"].tolist(), table["family"].tolist(),
                     title="SQNR against bits per value, every format"),
    key="sqnr_chart", width="stretch",
)
st.caption("Up and to the left is better: more signal-to-noise for fewer stored bits. Each uniform bit is worth about 6 dB.")

with st.expander("What each family does"):
    st.markdown("\n".join(f"- **{k}** — {v}" for k, v in FAMILY_NOTES.items()))

glossary()
