"""The quantizer controls every page shares, bound to the URL so a link reproduces the view."""

from __future__ import annotations

import streamlit as st

import qviz

QUERY = "query-params"


def spec_controls() -> qviz.QuantSpec | None:
    """Sidebar widgets → a :class:`qviz.QuantSpec`; on an invalid combination, a one-line error and ``None``."""
    sb = st.sidebar
    sb.header("Quantizer")
    bits = sb.slider("Bits", 1, 16, 8, key="bits", bind=QUERY, help="Bit width of the integer codes.")
    signed = sb.toggle("Signed codes", True, key="signed", bind=QUERY, help="int (e.g. [-128, 127]) or uint (e.g. [0, 255]).")
    mode = sb.segmented_control(
        "Range", ["symmetric", "asymmetric"], default="symmetric", key="mode", bind=QUERY,
        help="Symmetric: [-max|x|, max|x|], zero point in the middle. Asymmetric (affine): [min, max] widened to hold 0.",
    ) or "symmetric"
    narrow = sb.toggle("Narrow range", False, key="narrow", bind=QUERY, help="Drop the lowest code: int8 becomes [-127, 127] (TensorRT, ONNX Runtime).")
    quantizer = sb.segmented_control(
        "Quantizer", ["midtread", "midrise"], default="midtread", key="quantizer", bind=QUERY,
        help="Mid-tread: 0 is an output level. Mid-rise: 0 is a decision threshold; outputs ±Δ/2, ±3Δ/2, …",
    ) or "midtread"
    rounding = sb.segmented_control(
        "Rounding", ["nearest", "stochastic"], default="nearest", key="rounding", bind=QUERY,
        help="Nearest (ties to even, as torch) or stochastic (unbiased on average).",
    ) or "nearest"
    try:
        return qviz.QuantSpec(
            bits=int(bits), signed=bool(signed), symmetric=mode == "symmetric", narrow_range=bool(narrow),
            quantizer=quantizer, rounding=rounding,
        )
    except ValueError as e:
        sb.error(str(e))
        return None
