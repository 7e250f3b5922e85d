"""Cached model-impact computations for the Model impact page, each with a progress bar.

Built-in models are the same for everyone, so results live in the process-wide :func:`ui.shared.shared`
cache (out of reach of Streamlit's ``clear_cache``): a second visitor gets them at once. Quantizing swaps a module's weights, so a :class:`qviz.impact.ModelQuantizer`
is never shared between two running computations: each (model, calibrator) has a small pool of
them (:class:`QuantizerPool`), one per computation in flight, and different models never wait
for each other. Results that take long (MiniLM) are computed only when the user asks
(:func:`started`), never on a page view.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading

import pandas as pd
import streamlit as st

import qviz
from qviz import impact
from ui.shared import shared

POOL_SIZE = 2  # quantizers per (model, calibrator): as many computations at once as the 2 cores can run


class QuantizerPool:
    """Up to ``size`` private :class:`qviz.impact.ModelQuantizer` copies, lent to one computation at a time."""

    def __init__(self, make, size: int = POOL_SIZE):
        self._make, self.size = make, size
        self._free: queue.LifoQueue = queue.LifoQueue()
        self._made = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def use(self):
        try:
            mq = self._free.get_nowait()
        except queue.Empty:
            with self._lock:
                make = self._made < self.size
                self._made += make
            mq = self._make() if make else self._free.get()  # all lent out: wait for one, never share it
        try:
            yield mq
        finally:
            self._free.put(mq)


@shared(max_entries=4)
def pool(model: str, method: str, options: tuple) -> QuantizerPool:
    return QuantizerPool(lambda: impact.ModelQuantizer(model, method, **dict(options)))


@shared(max_entries=1)
def _done() -> set:
    """Keys of the long computations already in the shared cache (so their views need no button)."""
    return set()


def started(key: tuple, label: str, seconds: str) -> bool:
    """True when ``key`` was computed before or the user just asked for it; else a start button is shown."""
    if key in _done():
        return True
    if st.button(f"Compute {label} (about {seconds})", key=f"start_{abs(hash(key))}"):
        return True
    st.caption(f"{label.capitalize()} is computed on request: it runs the model many times.")
    return False


def finished(key: tuple) -> None:
    _done().add(key)


def _bar(label: str):
    bar = st.progress(0.0, text=label)

    def progress(done, total, name):
        bar.progress(min(done / max(total or 1, 1), 1.0), text=f"{label}: {done}/{total} · {name}")

    return bar, progress


def _run(label: str, fn, model: str | None = None, method: str = "", options: tuple = ()):
    """``fn(progress)``, or ``fn(mq, progress)`` with a quantizer of ``model`` lent for the call."""
    bar, progress = _bar(label)
    try:
        if model is None:
            return fn(progress)
        with pool(model, method, options).use() as mq:
            return fn(mq, progress)
    finally:
        bar.empty()


@shared(max_entries=32)
def summary(model: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple) -> dict:
    """fp32 and quantized task metric (every layer under ``spec``)."""
    def fn(mq, progress):
        fp32 = mq.evaluate()
        progress(1, 2, "fp32")
        q = mq.evaluate(mq.uniform(spec), what)
        progress(2, 2, spec.describe())
        return {"metric": mq.task_metric, "fp32": fp32, "quantized": q, "layers": len(mq.layers)}

    return _run("Task metric", fn, model, method, options)


@shared(max_entries=32)
def sensitivity(model: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple, all_but_one: bool) -> pd.DataFrame:
    return _run("Sensitivity", lambda mq, p: impact.sensitivity(mq, spec, what, all_but_one=all_but_one, progress=p)[0],
                model, method, options)


@shared(max_entries=32)
def errors(model: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple) -> pd.DataFrame:
    return _run("Isolated and accumulated error", lambda mq, p: impact.layer_errors(mq, spec, what, progress=p), model, method, options)


@shared(max_entries=32)
def bits_table(model: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple, bits: tuple) -> pd.DataFrame:
    return _run("Per-layer bit widths", lambda mq, p: impact.bits_table(mq, spec, bits, what, progress=p), model, method, options)


@shared(max_entries=32)
def mixed(model: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple, bits: tuple, budget: float):
    """Pareto points, the suggested bit widths and their JSON."""
    table = bits_table(model, spec, what, method, options, bits)

    def fn(mq, progress):
        points, suggested = impact.pareto(mq, spec, table, budget, what, progress=progress)
        value = float(points[points["kind"] == "suggested"]["metric"].iloc[0])
        return points, suggested, impact.config_json(mq, spec, suggested, value, budget, what)

    return _run("Pareto curve", fn, model, method, options)


@shared(max_entries=16)
def qat(spec: qviz.QuantSpec, what: str, method: str, options: tuple, bits: tuple) -> pd.DataFrame:
    return _run("PTQ against QAT", lambda p: impact.ptq_vs_qat(spec, bits, what, method, progress=p, **dict(options)))


MINILM_SPECS = {
    "int8 per-tensor": qviz.QuantSpec(bits=8),
    "int8 per-channel": qviz.QuantSpec(bits=8, granularity=qviz.PerChannel(0)),
    "int4 per-tensor": qviz.QuantSpec(bits=4),
    "int4 per-channel": qviz.QuantSpec(bits=4, granularity=qviz.PerChannel(0)),
}


@shared(max_entries=8)
def minilm_cosines(method: str, options: tuple, what: str = "weights") -> pd.DataFrame:
    """MiniLM's embedding cosine to fp32 with every Linear weight under each of :data:`MINILM_SPECS`."""
    specs = {k: dataclasses.replace(v) for k, v in MINILM_SPECS.items()}
    return _run("MiniLM cosines", lambda mq, p: impact.metric_table(mq, specs, what, progress=p), "minilm", method, options)
