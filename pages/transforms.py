"""Transforms lab: SmoothQuant, Hadamard rotations, activation granularity and the KV cache, on real activations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st

import qviz
from qviz import transforms as tf
from qviz.plots.transforms import (alpha_curve_figure, block_sqnr_figure, channel_absmax_figure, granularity_figure,
                                   induced_outlier_figure, kv_bits_figure, kv_heads_figure, rotation_histogram_figure)
from ui import transforms as ut
from ui.glossary import glossary
from ui.keys import QUERY
from ui.spec_widgets import calibrator_control, spec_controls

SEED = 0

spec = spec_controls(granularity=True)
method, _ = calibrator_control()
st.title("Transforms")
st.caption("What SmoothQuant's scale migration, Hadamard rotations, finer activation scales and a quantized KV cache do "
           "to one Linear layer's real inputs X and weight W: Y = X·Wᵀ is unchanged in fp32, the quantized Ŷ is not.")
if spec is None:
    st.stop()
if method in ("entropy", "mse", "aciq", "percentile"):
    st.info("Sweeps use min-max ranges on this page (the other calibrators search a histogram per block and per α).")
method = "minmax"

c = st.columns([2, 3, 2])
model = c[0].selectbox("Model", ut.MODELS, format_func=ut.model_title, key="tmodel", bind=QUERY)
try:
    src = ut.source(model)
except (ValueError, qviz.SourceError) as e:
    st.error(str(e))
    st.stop()
names = src.linear_names()
name = c[1].selectbox("Linear layer", names, key="tlayer", bind=QUERY,
                      help="Layers whose input activations were captured on the model's calibration data.") or names[0]
gran_name = c[2].selectbox("Activation scales", list(tf.ACTIVATION_GRANULARITIES), index=1, key="tgran", bind=QUERY,
                           help="per-tensor: one static scale; per-token: one dynamic scale per row of X; "
                                "per-channel: one per input channel; per-group: runs of G channels within a token.")
x, w = ut.layer(model, name)
try:
    x_spec = dataclasses.replace(spec, granularity=tf.activation_granularity(gran_name))
    qviz.blocks.block_size(x.shape, x_spec.granularity)
except ValueError as e:
    st.error(str(e))
    st.stop()
w_spec = spec
ws8, xs8 = tf.w8a8(x_spec.granularity)
specs = (("W8A8", ws8, xs8), (f"sidebar: W{spec.bits}A{spec.bits}", w_spec, x_spec))
st.caption(f"X: {x.shape[0]} tokens × {x.shape[1]} input channels · W: {w.shape[0]} × {w.shape[1]} · "
           f"W8A8 = int8 weights per output channel, int8 activations {gran_name}; sidebar: weights {w_spec.describe()}, "
           f"activations {dataclasses.replace(spec, granularity=qviz.PerTensor()).describe().replace('per-tensor', gran_name)}.")

st.header("SmoothQuant: migrate the outliers into the weights")
alpha = st.slider("α (migration strength)", 0.0, 1.0, 0.5, 0.05, key="alpha", bind=QUERY,
                  help="s_j = max|X_j|^α / max|W_j|^(1−α); X is divided by s, W multiplied by it.")
sm = ut.smoothing(model, name, float(alpha))
st.plotly_chart(channel_absmax_figure(sm["x"], sm["w"], sm["x_after"], sm["w_after"],
                                      title=f"Per-input-channel max|X| and max|W| · α = {alpha:.2f}"), key="smooth_channels", width="stretch")
st.caption("Solid: before; dotted: after smoothing. Spikes in max|X| are outlier channels; smoothing flattens X and moves "
           "the spikes into W. At α = 0.5 the two dotted lines coincide: max|X_j/s_j| = max|W_j·s_j| = √(max|X_j|·max|W_j|).")
curves = ut.alpha_curves(model, name, specs, method)
base = {k: float(d["sqnr_db"].iloc[0]) for k, d in curves.items()}
st.plotly_chart(alpha_curve_figure(curves, base, title="Output SQNR against α"), key="alpha_curve", width="stretch")
m = st.columns(len(curves))
for col, (label, d) in zip(m, curves.items()):
    b = tf.best_alpha(d)
    best = float(d.dropna(subset=["alpha"])["sqnr_db"].max())
    col.metric(f"best α · {label}", f"{b:.2f}", f"{best - base[label]:+.2f} dB vs no smoothing")
st.caption("Each point quantizes X/s and W·s and measures Ŷ against the fp32 Y; the star is the best α, the dashed line the layer without smoothing.")
if st.toggle("Best α for every layer of the model", False, key="tall", bind=QUERY,
             help="Sweeps α for every Linear layer (seconds to a minute), with the gain of a Hadamard rotation beside it."):
    table = ut.model_alpha_table(model, specs, method)
    st.dataframe(table.round(3), hide_index=True, width="stretch", key="alpha_table")

st.header("Rotation: spread the outliers over every channel")
n = x.shape[1]
blocks = tf.rotation_blocks(n)
if not blocks:
    st.info(f"Width {n}: no Hadamard block of 16 … 128 divides it, so no rotation applies to this layer.")
else:
    r = st.columns([2, 2])
    block = r[0].selectbox("Hadamard block size", blocks, index=len(blocks) - 1, key="tblock", bind=QUERY,
                           help=f"Block-diagonal Hadamard diag(H_b, …, H_b)/√b; {n} = {n // blocks[-1]}·{blocks[-1]}.")
    signs = r[1].toggle("Random signs (QuaRot)", True, key="tsigns", bind=QUERY, help="R = D·H with D = diag(±1).")
    rot = ut.rotation(model, name, int(block), SEED if signs else None)
    h = st.columns(2)
    for col, what in zip(h, ("X", "W")):
        before, after = rot["hist"][what]
        col.plotly_chart(rotation_histogram_figure(before, after, what, title=f"{what} before and after"), key=f"rot_hist_{what}", width="stretch")
    st.dataframe(pd.DataFrame(rot["stats"]).round(3), hide_index=True, key="rot_stats")
    st.caption("max|·|, excess kurtosis (0 = Gaussian) and the largest over the smallest per-channel max|·|: a rotation "
               "pulls all three towards a Gaussian's.")
    bt = ut.blocks(model, name, ws8, xs8, method, SEED)
    st.plotly_chart(block_sqnr_figure(bt, title="W8A8 output SQNR per Hadamard block size"), key="block_sqnr", width="stretch")
    st.subheader("The induced outlier")
    st.plotly_chart(induced_outlier_figure({"X, +1 signs (plain Hadamard)": rot["plain_absmax"], "X, random signs": rot["random_absmax"],
                                            f"X + {rot['offset']:.2g} (one σ), +1 signs": rot["offset_plain_absmax"],
                                            f"X + {rot['offset']:.2g} (one σ), random signs": rot["offset_random_absmax"]}, int(block),
                                           title="max|X·R| per channel: the first row of a Hadamard block is all +1"),
                    key="induced", width="stretch")
    first = rot["plain_absmax"][:: int(block)]
    rest = np.delete(rot["plain_absmax"], np.arange(0, n, int(block)))
    st.caption(f"Channel 0 of each block receives Σ x_j/√b: a token's mean times √b. On this layer's real inputs the mean "
               f"|token mean| is {rot['mean_abs_token_mean']:.3g}, so the first channels reach {float(first.max()):.3g} against "
               f"{float(rest.max()):.3g} elsewhere: no induced outlier here. Shift every token by one σ ({rot['offset']:.2g}, as a "
               f"DC offset or a one-signed activation would) and the plain Hadamard puts √{int(block)}·σ = "
               f"{np.sqrt(int(block)) * rot['offset']:.3g} on those channels ({float(rot['offset_plain_absmax'][::int(block)].max()):.3g} "
               f"measured); random signs spread it ({float(rot['offset_random_absmax'].max()):.3g}).")

st.header("Activation granularity")
gt = ut.granularities(model, name, w_spec, dataclasses.replace(x_spec, granularity=qviz.PerTensor()), method)
st.plotly_chart(granularity_figure(gt, title=f"SQNR of X and Y at {spec.bits} bits"), key="granularity", width="stretch")
st.dataframe(gt.round(3), hide_index=True, key="gran_table")
st.caption("Finer scales follow the outliers: per-token scales are dynamic (computed per row at run time), per-channel "
           "scales cannot be folded out of an integer matmul unless smoothed into W, per-group needs a scale per group in the kernel.")

st.header("KV cache")
attn = src.attention_names()
if not attn:
    st.info(f"{ut.model_title(model)} has no attention: the KV-cache view needs MiniLM.")
else:
    k = st.columns([3, 2])
    block_name = k[0].selectbox("Attention block", attn, key="tattn", bind=QUERY)
    kv_bits = k[1].slider("Cache bits", 2, 8, 4, key="kvbits", bind=QUERY)
    kv = ut.kv(model, block_name, spec.symmetric)
    st.plotly_chart(kv_bits_figure(kv, title="Attention output SQNR against cache bits (all heads)"), key="kv_bits", width="stretch")
    st.plotly_chart(kv_heads_figure(kv, int(kv_bits), title=f"Per head at {kv_bits} bits"), key="kv_heads", width="stretch")
    st.caption("softmax(Q·K̂ᵀ/√d)·V̂ against fp32, summed over the calibration sentences (each its own cache). "
               "Per token: one scale per (token, head); per channel: one per (channel, head) over the sentence's tokens. "
               f"Ranges are {'symmetric' if spec.symmetric else 'asymmetric'} (the sidebar's Range).")

glossary()
