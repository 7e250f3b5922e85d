"""The quantizer controls every page shares, bound to the URL so a link reproduces the view."""

from __future__ import annotations

import streamlit as st

import qviz
from qviz.calibrate.registry import METHODS, Option
from ui import keys
from ui.keys import QUERY
GRANULARITIES = {"tensor": "per-tensor", "channel": "per-channel", "group": "per-group"}
GROUP_SIZES = [8, 16, 32, 64, 128, 256]
PICKED_SHAPE = "_picked_shape"  # session_state: the shape of the tensor the page picked last (ui.tensor_picker)
MAX_GROUP_CHOICES = 48


def group_sizes(shape: tuple | None, axis: int) -> list[int]:
    """The group sizes to offer for a tensor of ``shape`` grouped along ``axis``: never a dead end.

    The usual sizes (8 … 256) that divide the axis; when none does, every divisor of the axis length
    (at least 2 when there is one) up to :data:`MAX_GROUP_CHOICES` of them. Unknown shape: the usual sizes.

    >>> group_sizes((4, 3), -1), group_sizes((4, 384), 1)[:3], group_sizes(None, 0)[0]
    ([3], [8, 16, 32], 8)
    """
    if not shape or not -len(shape) <= axis < len(shape):
        return list(GROUP_SIZES)
    n = int(shape[axis])
    usual = [g for g in GROUP_SIZES if n % g == 0]
    if usual:
        return usual
    divisors = [d for d in range(2, n + 1) if n % d == 0] or [1]
    return divisors[:MAX_GROUP_CHOICES]


def _granularity(sb) -> qviz.PerTensor | qviz.PerChannel | qviz.PerGroup:
    g = sb.segmented_control("Granularity", list(GRANULARITIES), format_func=GRANULARITIES.get, default="tensor",
                             key=keys.GRANULARITY, bind=QUERY, help="Which values share one scale and zero point.") or "tensor"
    if g == "channel":
        return qviz.PerChannel(axis=int(sb.number_input("Channel axis", -4, 3, 0, key=keys.AXIS, bind=QUERY)))
    if g == "group":
        axis = int(sb.number_input("Group axis", -4, 3, -1, key=keys.GROUP_AXIS, bind=QUERY))
        shape = st.session_state.get(PICKED_SHAPE)
        sizes = group_sizes(shape, axis)
        if st.session_state.get(keys.GROUP) is not None and st.session_state.get(keys.GROUP) not in sizes:
            st.session_state.pop(keys.GROUP)  # a size that does not divide this tensor's axis: offer one that does
        default = min(sizes, key=lambda g: abs(g - 32))
        size = sb.selectbox("Group size", sizes, index=sizes.index(default), key=keys.GROUP, bind=QUERY,
                            help=None if sizes[0] in GROUP_SIZES else f"Divisors of axis {axis}'s length {shape[axis]}: no usual size (8–256) divides it.")
        return qviz.PerGroup(group_size=int(size), axis=axis)
    return qviz.PerTensor()


def spec_controls(granularity: bool = False) -> qviz.QuantSpec | None:
    """Sidebar widgets → a :class:`qviz.QuantSpec`; on an invalid combination, a one-line error and ``None``."""
    sb = st.sidebar
    sb.header("Quantizer")
    bits = sb.slider("Bits", 1, 16, 8, key=keys.BITS, bind=QUERY, help="Bit width of the integer codes.")
    signed = sb.toggle("Signed codes", True, key=keys.SIGNED, bind=QUERY, help="int (e.g. [-128, 127]) or uint (e.g. [0, 255]).")
    mode = sb.segmented_control(
        "Range", ["symmetric", "asymmetric"], default="symmetric", key=keys.MODE, bind=QUERY,
        help="Symmetric: [-max|x|, max|x|], zero point in the middle. Asymmetric (affine): [min, max] widened to hold 0.",
    ) or "symmetric"
    narrow = sb.toggle("Narrow range", False, key=keys.NARROW, bind=QUERY, help="Drop the lowest code: int8 becomes [-127, 127] (TensorRT, ONNX Runtime).")
    quantizer = sb.segmented_control(
        "Quantizer", ["midtread", "midrise"], default="midtread", key=keys.QUANTIZER, bind=QUERY,
        help="Mid-tread: 0 is an output level. Mid-rise: 0 is a decision threshold; outputs ±Δ/2, ±3Δ/2, …",
    ) or "midtread"
    rounding = sb.segmented_control(
        "Rounding", ["nearest", "stochastic"], default="nearest", key=keys.ROUNDING, bind=QUERY,
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


def title_of(method: str) -> str:
    """How the app names a calibrator."""
    m = METHODS.get(method)
    return m.title if m else method


def option_widget(o: Option, container):
    """One URL-bound widget for a calibrator option; returns its value (``None``: the method's default)."""
    key, label = keys.option_key(o.name), o.name.replace("_", " ").capitalize()
    if o.values and o.default is not None:
        return o.type(container.select_slider(label, list(o.values), value=o.default, key=key, bind=QUERY, help=o.help))
    if o.values or o.choices:
        choices = list(o.choices or o.values)
        choices = choices if o.default is not None else [None, *choices]
        return container.selectbox(label, choices, index=choices.index(o.default), key=key, bind=QUERY, help=o.help,
                                   format_func=lambda v: "default" if v is None else str(v))
    if o.type is int:
        v = container.number_input(label, min_value=1, value=o.default, step=1, key=key, bind=QUERY, help=o.help)
        return None if v is None else int(v)
    v = container.number_input(label, value=o.default, format="%.4g", key=key, bind=QUERY, help=o.help)
    return None if v is None else float(v)


def option_controls(options, container=None) -> dict:
    """Widgets for ``options`` (:class:`~qviz.calibrate.registry.Option` records) → ``{name: value}``.

    Options left at ``None`` (the method decides) are not returned.
    """
    c = container or st.sidebar
    out = {o.name: option_widget(o, c) for o in options}
    return {k: v for k, v in out.items() if v is not None}


def calibrator_control(container=None) -> tuple[str, dict]:
    """Calibrator choice and every option it takes (the histogram's under "Histogram") → (method, options)."""
    c = container or st.sidebar
    names = qviz.calibrator_names()
    method = c.selectbox("Calibrator", names, key=keys.CALIBRATOR, bind=QUERY, format_func=title_of,
                         help="How the clipping range is chosen from the data.")
    record = METHODS[method]
    options = option_controls(record.options, c)
    stats = record.all_options[len(record.options):]
    if stats:
        options.update(option_controls(stats, c.expander("Histogram")))
    return method, options
