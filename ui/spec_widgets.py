"""The quantizer controls every page shares, bound to the URL so a link reproduces the view."""

from __future__ import annotations

import streamlit as st

import qviz

QUERY = "query-params"
GRANULARITIES = {"tensor": "per-tensor", "channel": "per-channel", "group": "per-group"}
GROUP_SIZES = [8, 16, 32, 64, 128, 256]


def _granularity(sb) -> qviz.PerTensor | qviz.PerChannel | qviz.PerGroup:
    g = sb.segmented_control("Granularity", list(GRANULARITIES), format_func=GRANULARITIES.get, default="tensor",
                             key="gran", bind=QUERY, help="Which values share one scale and zero point.") or "tensor"
    if g == "channel":
        return qviz.PerChannel(axis=int(sb.number_input("Channel axis", -4, 3, 0, key="axis", bind=QUERY)))
    if g == "group":
        size = sb.selectbox("Group size", GROUP_SIZES, index=GROUP_SIZES.index(32), key="group", bind=QUERY)
        return qviz.PerGroup(group_size=int(size), axis=int(sb.number_input("Group axis", -4, 3, -1, key="gaxis", bind=QUERY)))
    return qviz.PerTensor()


def spec_controls(granularity: bool = False) -> qviz.QuantSpec | None:
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
    gran = _granularity(sb) if granularity else qviz.PerTensor()
    try:
        return qviz.QuantSpec(
            bits=int(bits), signed=bool(signed), symmetric=mode == "symmetric", narrow_range=bool(narrow),
            quantizer=quantizer, rounding=rounding, granularity=gran,
        )
    except ValueError as e:
        sb.error(str(e))
        return None


CALIBRATOR_TITLES = {
    "minmax": "min-max", "moving_average": "moving-average min-max", "percentile": "percentile",
    "entropy": "entropy (KL, TensorRT)", "mse": "MSE search", "aciq": "ACIQ (analytic)",
}


def calibrator_control(container=None) -> tuple[str, dict]:
    """Calibrator choice (and its percentile option) → (method, options)."""
    c = container or st.sidebar
    names = qviz.calibrator_names()
    method = c.selectbox("Calibrator", names, key="calib", bind=QUERY, format_func=lambda n: CALIBRATOR_TITLES.get(n, n),
                         help="How the clipping range is chosen from the data.")
    options = {}
    if method == "percentile":
        options["percentile"] = float(c.select_slider("Percentile", [99.0, 99.9, 99.99, 99.999, 100.0], value=99.99, key="pct", bind=QUERY))
    return method, options
