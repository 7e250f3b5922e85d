"""Cached computations of the Transforms page.

The activation sources are built-in models (the same for everyone), so the caches are
global and keyed by the model name, the layer and the specs; a source for user models
(captured activations of an uploaded file) would key on its content digest instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import qviz
from qviz import transforms as tf
from qviz.binning import histogram
from qviz.models import model_names, model_title  # noqa: F401 (the page's label)

#: activation sources: the built-in models (qviz.models.MODELS, the one list), MiniLM first
MODELS = sorted(model_names(), key=lambda n: n != "minilm")




@st.cache_resource(show_spinner="Capturing activations (one forward pass)…", max_entries=2)
def source(model: str) -> tf.BuiltinActivations:
    return tf.open_activations(model)


def layer(model: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    return source(model).linear(name)


@st.cache_data(show_spinner=False, max_entries=64)
def smoothing(model: str, name: str, alpha: float) -> dict:
    """Per-input-channel max|X| and max|W|, before and after smoothing at ``alpha``, and the scales."""
    x, w = layer(model, name)
    xa, wa = tf.channel_absmax(x, 0), tf.channel_absmax(w, 0)
    s = tf.smooth_scales(xa, wa, alpha)
    return {"x": xa, "w": wa, "x_after": xa / s, "w_after": wa * s, "scales": s}


@st.cache_data(show_spinner="Sweeping α…", max_entries=64)
def alpha_curves(model: str, name: str, specs: tuple, method: str) -> dict:
    """``{label: alpha_sweep table (first row: no smoothing)}`` for each ``(label, w_spec, x_spec)``."""
    x, w = layer(model, name)
    return {label: tf.alpha_sweep(x, w, ws, xs, alphas=[None, *tf.ALPHAS], w_method=method, x_method=method)
            for label, ws, xs in specs}


@st.cache_data(show_spinner=False, max_entries=16)
def model_alpha_table(model: str, specs: tuple, method: str) -> pd.DataFrame:
    """Best α and the smoothing / rotation gains of every Linear layer (progress bar)."""
    bar = st.progress(0.0, text="Every layer…")

    def progress(done, total, label):
        bar.progress(min(done / max(total, 1), 1.0), text=f"Every layer: {done}/{total} · {label}")

    try:
        return tf.model_table(source(model), {label: (ws, xs) for label, ws, xs in specs}, progress=progress)
    finally:
        bar.empty()


@st.cache_data(show_spinner="Rotating…", max_entries=64)
def rotation(model: str, name: str, block: int, seed: int | None) -> dict:
    """Histograms and statistics of X and W before and after the rotation, and max|X·R| per channel, plain and random signs."""
    x, w = layer(model, name)
    r = tf.hadamard(x.shape[1], block=block, seed=seed)
    t = tf.as_transform(r, x.shape[1])
    xr, wr = t.apply(x, w)
    plain = tf.as_transform(tf.hadamard(x.shape[1], block=block), x.shape[1]).apply(x, w)[0]
    signed = tf.as_transform(tf.hadamard(x.shape[1], block=block, seed=seed if seed is not None else 0), x.shape[1]).apply(x, w)[0]
    out = {"hist": {}, "stats": []}
    for what, before, after in (("X", x, xr), ("W", w, wr)):
        lim = float(max(np.abs(before).max(), np.abs(after).max()))
        out["hist"][what] = (histogram(before, 120, (-lim, lim)), histogram(after, 120, (-lim, lim)))
        for when, a in (("before", before), ("after", after)):
            out["stats"].append({"tensor": what, "": when, **tf.output_error.operand_stats(a)})
    out["plain_absmax"] = tf.channel_absmax(plain, 0)
    out["random_absmax"] = tf.channel_absmax(signed, 0)
    # the induced-outlier case made visible: every token shifted by one standard deviation of X
    out["offset"] = float(x.std())
    shifted = x + np.float32(out["offset"])
    out["offset_plain_absmax"] = tf.channel_absmax(tf.as_transform(tf.hadamard(x.shape[1], block=block), x.shape[1]).apply(shifted, w)[0], 0)
    out["offset_random_absmax"] = tf.channel_absmax(
        tf.as_transform(tf.hadamard(x.shape[1], block=block, seed=seed if seed is not None else 0), x.shape[1]).apply(shifted, w)[0], 0)
    out["x_absmax"] = tf.channel_absmax(x, 0)
    out["mean_abs_token_mean"] = float(np.abs(x.mean(axis=1)).mean())
    return out


@st.cache_data(show_spinner="Trying every block size…", max_entries=64)
def blocks(model: str, name: str, w_spec: qviz.QuantSpec, x_spec: qviz.QuantSpec, method: str, seed: int) -> pd.DataFrame:
    x, w = layer(model, name)
    return tf.block_sweep(x, w, w_spec, x_spec, seed=seed, w_method=method, x_method=method)


@st.cache_data(show_spinner="Quantizing at every granularity…", max_entries=64)
def granularities(model: str, name: str, w_spec: qviz.QuantSpec, x_spec: qviz.QuantSpec, method: str) -> pd.DataFrame:
    x, w = layer(model, name)
    return tf.granularity_table(x, w, w_spec, x_spec, w_method=method, x_method=method)


@st.cache_data(show_spinner="Quantizing the KV cache…", max_entries=32)
def kv(model: str, attention: str, symmetric: bool) -> pd.DataFrame:
    return tf.kv_cache_error(source(model).attention(attention), bits=tuple(range(2, 9)), symmetric=symmetric)
