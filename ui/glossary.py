"""What the numbers mean, and which values are good or bad: shown at the foot of every page."""

from __future__ import annotations

import streamlit as st

GLOSSARY = [
    ("SQNR", "10·log10(Σx² / Σ(x−x̂)²): signal power over error power.",
     "Each bit adds about 6 dB. int8 on Gaussian-like weights: ≈ 38–42 dB per-tensor. Below ≈ 20 dB a layer usually hurts accuracy; above ≈ 30 dB it rarely does."),
    ("PSNR", "10·log10(max|x|² / MSE): error against the tensor's peak.",
     "Higher is better; above SQNR by the tensor's crest factor. Compare layers of the same kind."),
    ("MSE", "mean((x̂ − x)²), split into clipping (values beyond the clamp) + rounding (inside).",
     "Lower is better; only comparable within one tensor."),
    ("RMSE / Δ", "root-mean-square error in units of the step Δ.",
     "≈ 0.29 (1/√12) is pure rounding noise: the ideal. Well above 0.3 means clipping dominates; below, values sit on the grid (e.g. an 8-bit image)."),
    ("clipping share", "part of the MSE from values the clamp changed.",
     "0% with min-max. A good calibrator accepts some clipping to get a finer step; above ≈ 50% the range is too tight."),
    ("codes used", "share of the integer codes at least one value maps to.",
     "Near 100% is efficient. Low values mean outliers stretched the range or the range is skewed."),
    ("range wasted", "share of the integer range no value between the tensor's own min and max can reach.",
     "0% ideal. [40, 1000] in uint8 wastes 3.92% (the range is widened to hold 0: Jacob et al., CVPR 2018, §2.1); symmetric int8 on one-sided data wastes half or more."),
    ("kurtosis", "excess kurtosis E[(x−μ)⁴]/σ⁴ − 3.",
     "0 for a Gaussian, 3 for Laplace; above ≈ 10 means heavy tails or outliers: try percentile, entropy or MSE calibration, or per-channel."),
    ("channel range ratio", "widest per-channel range over the narrowest.",
     "Near 1: per-tensor is fine. Above ≈ 10: per-channel scales pay off."),
    ("cosine", "x·x̂ / (‖x‖‖x̂‖).", "int8 usually gives > 0.999; below 0.99 the layer is badly hurt."),
    ("bits per value", "stored bits per number, scales included: element bits + scale bits / block size (NF4: 4 + 32/64 = 4.5; MXFP4: 4 + 8/32 = 4.25).",
     "Compare formats at equal bits per value, not equal element bits: finer blocks buy SQNR with scale bits."),
    ("NF4 / FP8 / MX", "NF4: 16 normal-quantile levels per 64-value block (QLoRA). FP8 E4M3/E5M2: 8-bit floats. MX: 32 values share a power-of-two scale (OCP).",
     "On Gaussian-like weights at ≈ 4 bits, NF4 and k-means beat a per-tensor int4 grid by ≈ 5 dB; FP formats shine on heavy tails."),
    ("M0, shift", "a real multiplier M = S1/S2 stored as an int32 M0 (Q0.31, in [0.5, 1)) and a power of two: M = M0 · 2^(shift − 31).",
     "The integer path then matches the float path to within one code; more than one code off means a bug."),
]


def glossary() -> None:
    with st.expander("Glossary: what the numbers mean, and what is good or bad"):
        st.markdown("\n".join(f"- **{name}** — {what} *{good}*" for name, what, good in GLOSSARY))
