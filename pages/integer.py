"""Integer arithmetic: requantization with a fixed-point multiplier, Qm.n, and a quantized matrix product term by term."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import qviz
from qviz.intarith import QFormat, check_matmul, requantize
from qviz.plots.intarith import requant_figure, terms_waterfall
from ui.glossary import glossary
from ui.shared import by_content
from ui.tensor_picker import require_tensor
from ui.keys import QUERY


MAX_ROWS, MAX_K, N_COLS = 32, 256, 8
UINT8 = qviz.QuantSpec(bits=8, signed=False, symmetric=False)


@by_content(max_entries=16, show_spinner="Multiplying in integers…")
def _product(key: str, _x: np.ndarray):
    """A layer's weight (up to 32 × 256) times a fixed N(0.5, 1) input (K × 8), both quantized to uint8, in int32."""
    flat = _x.ravel()
    w = _x.reshape(_x.shape[0], -1) if _x.ndim >= 2 else flat[: max(flat.size // 64, 1) * 64].reshape(-1, min(64, flat.size))
    w = np.nan_to_num(w[:MAX_ROWS, :MAX_K].astype(np.float32))
    a = np.random.default_rng(0).normal(0.5, 1, (w.shape[1], N_COLS)).astype(np.float32)  # an input whose Z_x is not 0
    check = check_matmul(w, a, UINT8)
    out = qviz.calibrate(check.exact.astype(np.float32), UINT8, "minmax").qparams
    return check, float(np.ravel(out.scale)[0]), int(np.ravel(out.zero_point)[0])


st.title("Integer arithmetic")
st.caption("How a quantized network computes with integers only (Jacob et al., “Quantization and Training of Neural Networks for "
           "Efficient Integer-Arithmetic-Only Inference”, CVPR 2018): "
           "a real multiplier becomes an int32 and a shift, and a product of codes needs zero-point corrections.")

picked = require_tensor()
check, s_out, z_out = _product(picked.key, picked.x)

# ---- requantization --------------------------------------------------------------------------------
st.header("Requantize: from (S1, Z1) to (S2, Z2)")
source = st.segmented_control("Scales from", ["manual", "layer"], default="manual", key="from", bind=QUERY,
                              help="Manual: type S1, Z1, S2, Z2. Layer: its int32 accumulators (S1 = S_w·S_x, Z1 = 0) requantized to its uint8 output.") or "manual"
if source == "manual":
    c = st.columns(4)
    s1 = float(c[0].number_input("S1", 1e-6, 100.0, 0.02, format="%.6g", key="s1", bind=QUERY))
    z1 = int(c[1].number_input("Z1", 0, 255, 128, key="z1", bind=QUERY))
    s2 = float(c[2].number_input("S2", 1e-6, 100.0, 0.05, format="%.6g", key="s2", bind=QUERY))
    z2 = int(c[3].number_input("Z2", 0, 255, 100, key="z2", bind=QUERY))
    q1_all = np.arange(256)
    q1_one = int(st.slider("q1 to follow step by step", 0, 255, 102, key="q1", bind=QUERY))
else:
    s1, z1 = check.scale_a * check.scale_b, 0
    s2, z2 = s_out, z_out
    q1_all = check.ints.acc.ravel()
    q1_one = int(q1_all[0])
    st.caption(f"S1 = S_w·S_x = {check.scale_a:.5g} × {check.scale_b:.5g}, Z1 = 0 (int32 accumulators); "
               f"S2, Z2 = the float output's uint8 min-max range.")
try:
    r = requantize(q1_all, s1, z1, s2, z2)
    one = requantize(np.array([q1_one]), s1, z1, s2, z2)
except ValueError as e:
    st.error(str(e))
    st.stop()

c = st.columns(4)
c[0].metric("M = S1 / S2", f"{r.multiplier:.8g}")
c[1].metric("M0 (int32, Q0.31)", f"{r.m0}", help="M0 / 2^31 lies in [0.5, 1).")
c[2].metric("shift", f"{r.shift}", help="M = M0 · 2^(shift − 31): a negative shift is a rounding right shift.")
c[3].metric("paths differ on", f"{int((r.diff != 0).sum())} of {r.diff.size}", help="Integer path − float path is 0 or ±1 code.")
st.latex(rf"M = S_1 / S_2 = {s1:.6g} / {s2:.6g} = {r.multiplier:.8g} \approx M_0 \cdot 2^{{\mathrm{{shift}} - 31}}"
         rf" = {r.m0} \cdot 2^{{{r.shift - 31}}} = {r.effective_multiplier:.10g}")

left, right = st.columns([2, 3])
with right:
    n_diff, worst = int((r.diff != 0).sum()), int(np.abs(r.diff).max()) if r.diff.size else 0
    st.plotly_chart(requant_figure(r.q1, r.q2, r.q2_float, title="Both paths over every input"), key="requant_chart", width="stretch")
    st.caption(f"Measured here: the paths differ on {n_diff} of {r.diff.size} inputs, by at most {worst} code. The integer path rounds "
               "twice — the high multiply to an integer, then the right shift (half away from zero) — and the float path once, "
               "so an input whose first rounding lands on a half moves by one code (e.g. −20.8 → −21 → −10.5 → −11 against −10.4 → −10).")
with left:
    steps = pd.DataFrame([
        ("integer", "acc = q1 − Z1", f"{q1_one} − {z1}", int(one.acc[0])),
        ("integer", "× 2^max(shift, 0)", f"{int(one.acc[0])} · 2^{max(r.shift, 0)}", int(one.scaled[0])),
        ("integer", "high = SRDHM(·, M0)", "round(2·acc·M0 / 2^32)", int(one.high[0])),
        ("integer", "÷ 2^max(−shift, 0), rounded", f"{int(one.high[0])} / 2^{max(-r.shift, 0)}", int(one.shifted[0])),
        ("integer", "q2 = clamp(Z2 + ·)", f"{z2} + {int(one.shifted[0])}", int(one.q2[0])),
        ("float", "r = S1·(q1 − Z1)", f"{s1:.6g} · {int(one.acc[0])}", float(one.real[0])),
        ("float", "q2 = clamp(round(r / S2) + Z2)", f"round({float(one.real[0]) / s2:.6g}) + {z2}", int(one.q2_float[0])),
    ], columns=["path", "step", "with the numbers", "value"])
    steps["value"] = steps["value"].map(lambda v: f"{v:.6g}" if isinstance(v, float) else f"{v}")
    st.dataframe(steps, hide_index=True, width="stretch", key="steps_table",
                 column_config={"path": st.column_config.TextColumn(width="small"), "value": st.column_config.TextColumn(width="small"),
                                "with the numbers": st.column_config.TextColumn(width="medium")})
    st.caption(f"q1 = {q1_one}: the integer path gives {int(one.q2[0])}, the float path {int(one.q2_float[0])}. "
               "SRDHM is gemmlowp's saturating rounding doubling high multiply.")

# ---- Qm.n ------------------------------------------------------------------------------------------
st.header("Fixed point Qm.n: Z = 0, S = 2^−n")
c = st.columns(3)
m = int(c[0].number_input("m (integer bits, sign included)", 1, 15, 4, key="qm", bind=QUERY))
n = int(c[1].number_input("n (fraction bits)", 0, 15, 3, key="qn", bind=QUERY))
try:
    qf = QFormat(m, n)
except ValueError as e:
    st.error(str(e))
else:
    c[2].metric(f"Q{m}.{n}", f"[{qf.min_value:g}, {qf.max_value:g}]", help=qf.describe())
    xs = np.array([qf.min_value - 1, -1.3, 0.06, 1.0 / 3, 3.14159, qf.max_value + 1], dtype=np.float32)
    st.dataframe(pd.DataFrame({"x": xs, "code q": qf.quantize(xs), "x̂ = q·2^−n": qf.fake_quantize(xs)}),
                 hide_index=True, key="qmn_table")
    st.caption(f"{qf.describe()}: an affine quantizer whose zero point is 0 and whose scale is a power of two (Q4.3: 4 integer bits with the sign, 3 fraction bits, −8 … 7.875).")

# ---- quantized matrix product ----------------------------------------------------------------------
st.header("A quantized matrix product, term by term")
ints = check.ints
rows, cols = ints.acc.shape
c = st.columns(2)
i = int(c[0].number_input("output row", 0, rows - 1, 0, key="mi", bind=QUERY))
j = int(c[1].number_input("output column", 0, cols - 1, 0, key="mj", bind=QUERY))
LABELS = {"Σ q_a·q_b": "Σ q_w·q_x", "−Z_b·Σ q_a": "−Z_x·Σ q_w", "−Z_a·Σ q_b": "−Z_w·Σ q_x", "K·Z_a·Z_b": "K·Z_w·Z_x"}
terms = {LABELS[k]: int(v[i, j]) for k, v in ints.terms().items()}
left, right = st.columns([3, 2])
with left:
    st.plotly_chart(terms_waterfall(terms, title=f"Output ({i}, {j}): Σ(q_w − Z_w)(q_x − Z_x), K = {ints.k}"), key="terms_chart", width="stretch")
    st.caption("Each bar is one term of the expansion Σ(q_w − z_w)(q_x − z_x) (Jacob et al., CVPR 2018, eq. 7); they add up to the int32 accumulator, which times S_w·S_x is the output.")
with right:
    exact, deq = check.exact, check.dequantized
    sqnr = qviz.error_metrics(exact, deq).sqnr_db
    st.metric("Z_w, Z_x", f"{check.zero_a}, {check.zero_b}")
    st.metric("output (float / integer path)", f"{exact[i, j]:.5g} / {deq[i, j]:.5g}")
    st.metric("SQNR of the integer product", f"{sqnr:.2f} dB", help="S_w·S_x·acc against the float product of the unquantized operands.")
    st.metric("|S·acc − fake-quant product| max", f"{np.abs(deq - check.fake_quant).max():.2g}", help="The integer identity is exact; this is float rounding.")
mean_abs = {LABELS[k]: float(np.abs(v).mean()) for k, v in ints.terms().items()}
st.dataframe(pd.DataFrame({"term": list(mean_abs), "mean |value| over outputs": list(mean_abs.values())}).style.format({"mean |value| over outputs": "{:,.0f}"}),
             hide_index=True, key="terms_table")
st.caption(f"{picked.label}: the first {rows} rows × {ints.k} columns of the weight (uint8 affine, min-max) times a fixed N(0.5, 1) input "
           f"({ints.k} × {cols}). −Z_x·Σ q_w and the constant are known offline (folded into the bias); −Z_w·Σ q_x depends on the input "
           "and costs work at run time, which is why weights are usually symmetric (Z_w = 0).")

glossary()
