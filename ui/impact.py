"""Cached model-impact computations for the Model impact page, each with a progress bar.

Built-in models are the same for everyone, so the caches are global. One :class:`qviz.impact.ModelQuantizer`
per (model, calibrator) is shared (``cache_resource``); a lock serialises its use, because quantizing swaps
the module's weights in place.
"""

from __future__ import annotations

import dataclasses
import threading

import pandas as pd
import streamlit as st

import qviz
from qviz import impact

_LOCK = threading.Lock()


@st.cache_resource(show_spinner=False, max_entries=4)
def quantizer(model: str, method: str, options: tuple) -> impact.ModelQuantizer:
    return impact.ModelQuantizer(model, method, **dict(options))


def _bar(label: str):
    bar = st.progress(0.0, text=label)

    def progress(done, total, name):
        bar.progress(min(done / max(total or 1, 1), 1.0), text=f"{label}: {done}/{total} · {name}")

    return bar, progress


def _run(label: str, fn):
    bar, progress = _bar(label)
    try:
        with _LOCK:
            return fn(progress)
    finally:
        bar.empty()


@st.cache_data(show_spinner=False, max_entries=32)
def summary(model: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple) -> dict:
    """fp32 and quantized task metric (every layer under ``spec``)."""
    mq = quantizer(model, method, options)

    def fn(progress):
        fp32 = mq.evaluate()
        progress(1, 2, "fp32")
        q = mq.evaluate(mq.uniform(spec), what)
        progress(2, 2, spec.describe())
        return {"metric": mq.task_metric, "fp32": fp32, "quantized": q, "layers": len(mq.layers)}

    return _run("Task metric", fn)


@st.cache_data(show_spinner=False, max_entries=32)
def sensitivity(model: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple, all_but_one: bool) -> pd.DataFrame:
    mq = quantizer(model, method, options)
    return _run("Sensitivity", lambda p: impact.sensitivity(mq, spec, what, all_but_one=all_but_one, progress=p)[0])


@st.cache_data(show_spinner=False, max_entries=32)
def errors(model: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple) -> pd.DataFrame:
    mq = quantizer(model, method, options)
    return _run("Isolated and accumulated error", lambda p: impact.layer_errors(mq, spec, what, progress=p))


@st.cache_data(show_spinner=False, max_entries=32)
def bits_table(model: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple, bits: tuple) -> pd.DataFrame:
    mq = quantizer(model, method, options)
    return _run("Per-layer bit widths", lambda p: impact.bits_table(mq, spec, bits, what, progress=p))


@st.cache_data(show_spinner=False, max_entries=32)
def mixed(model: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple, bits: tuple, budget: float):
    """Pareto points, the suggested bit widths and their JSON."""
    table = bits_table(model, spec, what, method, options, bits)
    mq = quantizer(model, method, options)

    def fn(progress):
        points, suggested = impact.pareto(mq, spec, table, budget, what, progress=progress)
        value = float(points[points["kind"] == "suggested"]["metric"].iloc[0])
        return points, suggested, impact.config_json(mq, spec, suggested, value, budget, what)

    return _run("Pareto curve", fn)


@st.cache_data(show_spinner=False, max_entries=16)
def qat(spec: qviz.QuantSpec, what: str, method: str, options: tuple, bits: tuple) -> pd.DataFrame:
    return _run("PTQ against QAT", lambda p: impact.ptq_vs_qat(spec, bits, what, method, progress=p, **dict(options)))


MINILM_SPECS = {
    "int8 per-tensor": qviz.QuantSpec(bits=8),
    "int8 per-channel": qviz.QuantSpec(bits=8, granularity=qviz.PerChannel(0)),
    "int4 per-tensor": qviz.QuantSpec(bits=4),
    "int4 per-channel": qviz.QuantSpec(bits=4, granularity=qviz.PerChannel(0)),
}


@st.cache_data(show_spinner=False, max_entries=8)
def minilm_cosines(method: str, options: tuple, what: str = "weights") -> pd.DataFrame:
    """MiniLM's embedding cosine to fp32 with every Linear weight under each of :data:`MINILM_SPECS`."""
    mq = quantizer("minilm", method, options)
    specs = {k: dataclasses.replace(v) for k, v in MINILM_SPECS.items()}
    return _run("MiniLM cosines", lambda p: impact.metric_table(mq, specs, what, progress=p))
