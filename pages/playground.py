"""Playground: one tensor, the quantizer from the sidebar, and what it does to the values."""

from __future__ import annotations

import streamlit as st

import qviz
from qviz.plots import codes_figure, error_figure, histogram_figure, transfer_figure
from ui import compute
from ui.glossary import glossary
from ui.spec_widgets import calibrator_control, spec_controls
from ui.tensor_picker import SAMPLE, require_tensor
from ui.keys import QUERY



EXAMPLES = {
    "ex_skew": ("[40, 1000] → uint8", dict(src=SAMPLE, sample="skewed_40_1000", signed=False, mode="asymmetric", bits=8, narrow=False)),
    "ex_offset": ("[2000, 4000] → int8", dict(src=SAMPLE, sample="layernorm_2000_4000", signed=True, mode="symmetric", bits=8, narrow=False)),
}


def _apply(values: dict) -> None:
    for k, v in values.items():
        st.session_state[k] = v


spec = spec_controls()
method, options = calibrator_control()
st.title("Playground")
st.caption("Pick a distribution and a quantizer (sidebar): see where the levels fall, what gets clipped, and what it costs.")

left, right = st.columns([3, 2])
with right:
    st.write("Textbook examples of wasted codes")
    for key, (label, values) in EXAMPLES.items():
        st.button(label, key=key, on_click=_apply, args=(values,))
with left:
    picked = require_tensor(spec is not None)
if picked.info is not None and picked.info.name in qviz.SAMPLES:
    st.caption(qviz.SAMPLES[picked.info.name].description + f" {picked.x.size:,} values, fixed seed.")

try:
    view = compute.inspect(picked.key, picked.x, spec, method, tuple(sorted(options.items())), codes=True)
except ValueError as e:
    st.error(str(e))
    st.stop()
cal, m = view["calibration"], view["metrics"]
if view["note"]:
    st.info(view["note"].capitalize() + ".")
qp = cal.qparams

if spec.bits == 1 and spec.quantizer == "midtread" and spec.symmetric:
    lv = qp.levels()
    st.warning(f"1-bit symmetric mid-tread is degenerate: its two levels are {lv[0]:.4g} and {lv[-1]:.4g} (0 must be one), with "
               f"Δ = max|x|/(n_steps/2) = 2·max|x|, so every value within ±max|x| rounds to 0: one code used, "
               f"{m.wasted_range:.0%} of the range wasted. Choose mid-rise (levels ±Δ/2) or the Formats page's binary α·sign(x).")
reference = 6.02 * spec.bits + 1.76
c = st.columns(5)
c[0].metric("SQNR", f"{m.sqnr_db:.2f} dB", f"{m.sqnr_db - reference:+.1f} dB vs 6.02·b+1.76", delta_color="off",
            help="10·log10(Σx² / Σ(x−x̂)²). The reference 6.02·bits + 1.76 dB holds for a full-scale sine with no clipping.")
c[1].metric("scale Δ", f"{qp.scale.item():.5g}")
c[2].metric("zero point z", f"{qp.zero_point.item()}")
c[3].metric("qmin", f"{spec.qmin}")
c[4].metric("qmax", f"{spec.qmax}")
c = st.columns(5)
c[0].metric("codes used", f"{m.code_usage:.1%}", help="Share of the integer codes at least one value maps to.")
c[1].metric("range wasted", f"{m.wasted_range:.2%}", help="Share of the integer range that no value between the tensor's min and max can reach.")
c[2].metric("clipping share", f"{m.clip_share:.1%}", help="Share of the MSE from values beyond the clamp.")
c[3].metric("RMSE / Δ", f"{m.rmse_over_scale:.3f}", help="≈ 0.29 (1/√12) is pure rounding noise; larger means clipping.")
c[4].metric("PSNR", f"{m.psnr_db:.2f} dB", help="10·log10(max|x|² / MSE).")

log_y = st.toggle("Log count axis", False, key="log", bind=QUERY)
st.plotly_chart(
    histogram_figure(view["hist"], qp, data_range=(cal.data_min.item(), cal.data_max.item()), log_y=log_y, title=f"{picked.label} under {spec.describe()} · {method}"),
    key="hist_chart", width="stretch",
)
st.caption(
    "Blue bars: how many values fall in each bin. Grey lines: the values the quantizer can output. Red dashes: where the clamp starts (half a step beyond the end levels): values beyond them are clipped. "
    "Orange: grid the data never reaches — codes wasted because the range was widened to hold 0 or made symmetric."
)

left, right = st.columns(2)
with left:
    st.plotly_chart(transfer_figure(qp, *view["span"], title="Transfer function x → x̂"), key="transfer_chart", width="stretch")
    st.caption("The staircase maps every input to its output level; each riser is a decision threshold. Dotted: the identity. Red: where the clamp starts.")
with right:
    st.plotly_chart(error_figure(view["errors"], qp.scale.item(), log_y=log_y, title="Error x̂ − x"), key="error_chart", width="stretch")
    st.caption("Rounding errors (blue) stay within ±Δ/2 (dotted lines); clipping errors (red) are the values beyond the clamp, and can be far larger.")

st.plotly_chart(codes_figure(view["counts"], spec.qmin, view["reachable"], title="Code occupancy"), key="codes_chart", width="stretch")
st.caption("How many values land on each integer code; orange codes are ones no value of this tensor's range can reach.")

o = r"+ \tfrac{1}{2}" if spec.quantizer == "midrise" else ""
minus_o = r"- \tfrac{1}{2}" if o else ""
st.subheader("The formulas, with these numbers")
lo_c, hi_c = cal.chosen()
lo_n, hi_p = min(lo_c, 0.0), max(hi_c, 0.0)
if spec.symmetric:
    st.latex(rf"\Delta = \frac{{\max|x|}}{{n_\text{{steps}}/2}} = \frac{{{max(-lo_n, hi_p):.5g}}}{{{spec.n_steps}/2}} = {qp.scale.item():.5g}"
             rf"\qquad z = {qp.zero_point.item()}\ \text{{(the middle code)}}")
else:
    st.latex(rf"\Delta = \frac{{\max^+ - \min^-}}{{n_\text{{steps}}}} = \frac{{{hi_p:.5g} - ({lo_n:.5g})}}{{{spec.n_steps}}} = {qp.scale.item():.5g}"
             rf"\qquad z = q_\min - \mathrm{{round}}(\min^- / \Delta) = {spec.qmin} - \mathrm{{round}}({lo_n:.5g} / {qp.scale.item():.5g}) = {qp.zero_point.item()}")
st.caption(f"The range [{lo_c:.5g}, {hi_c:.5g}] ({method}) widened to hold 0 gives the step Δ and the zero point z "
           f"(n_steps = qmax − qmin{' + 1 for mid-rise' if spec.quantizer == 'midrise' else ''} = {spec.n_steps}); then:")
st.latex(
    rf"q = \mathrm{{clamp}}\big(\mathrm{{round}}(x / {qp.scale.item():.5g} {minus_o}) + ({qp.zero_point.item()}),\ {spec.qmin},\ {spec.qmax}\big)"
    rf"\qquad \hat x = (q - ({qp.zero_point.item()}) {o})\cdot {qp.scale.item():.5g}"
)

glossary()
