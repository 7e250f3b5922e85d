"""Per-layer analysis for the Model layers page, cached and with a progress bar."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import qviz
from qviz.progress import ScanMeter
from ui.shared import shared


def _run(source, spec: qviz.QuantSpec, method: str, activations: bool, label: str, options: tuple = ()) -> pd.DataFrame:
    bar = st.progress(0.0, text=f"Scanning {label}…")
    meter = ScanMeter()

    def progress(done: int, total: int, name: str, values: tuple[int, int] | None = None) -> None:
        # tensors, values/s and the ETA (qviz.progress.ScanMeter)
        bar.progress(min(done / max(total, 1), 1.0), text=f"{label}: {meter.line(done, total, values)} · {name}")

    try:  # every core; a checkpoint path is cached on disk (qviz.scan_cache), built-ins and uploads are not
        return qviz.analyze(source, spec, method, activations=activations, progress=progress, cache=True, **dict(options))
    finally:
        bar.empty()


@shared(max_entries=16)
def builtin(model: str, spec: qviz.QuantSpec, method: str, activations: bool, options: tuple = ()) -> pd.DataFrame:
    """Analysis of a built-in model (the same for every user: :mod:`ui.shared`); ``options``: the calibrator's, as pairs."""
    return _run(model, spec, method, activations, model, options)


@st.cache_data(show_spinner=False, max_entries=4, scope="session")
def uploaded(digest: str, _source, spec: qviz.QuantSpec, method: str, label: str, options: tuple = ()) -> pd.DataFrame:
    """Analysis of an uploaded checkpoint (this session only)."""
    return _run(_source, spec, method, False, label, options)


@st.cache_data(show_spinner=False, max_entries=8)
def local(path: str, version: str, spec: qviz.QuantSpec, method: str, options: tuple, label: str) -> pd.DataFrame:
    """Analysis of a checkpoint on the server's disk (``version``: its size/mtime stamp, so a rewritten file is re-read).

    Shared by every user of this server: it is the operator's file (see :mod:`ui.local_path`).
    """
    from ui import local_path

    return _run(local_path.source(path, version), spec, method, False, label, options)


@st.cache_data(show_spinner=False, max_entries=4, scope="session")
def compared(digest_q: str, _quantized, digest_r: str, _reference, method: str) -> pd.DataFrame:
    """:func:`qviz.compare` of an already-quantized checkpoint against its original (this session only)."""
    from qviz.compare import compare

    bar = st.progress(0.0, text="Comparing with the original…")

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"against the original: {done}/{total} · {name}")

    try:
        return compare(_quantized, _reference, method=method, progress=progress)
    finally:
        bar.empty()
