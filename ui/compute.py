"""Cached qviz calls shared by the pages, keyed by the tensor's content digest.

A tensor everyone sees alike (a sample, a built-in model's weight, the operator's own file: its key
starts with :data:`SHARED`) has its results in the process-wide cache (:func:`ui.shared.by_content`), so the
next visitor gets them at once. Anything else (uploads) is session-scoped: a result computed from one
user's upload is never served to another, and each session keeps a bounded number of entries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import qviz
from qviz.analyze import weight_spec
from qviz.calibrate.registry import METHODS, compared
from qviz.binning import error_histogram, histogram
from qviz.occupancy import code_counts, reachable_codes
from qviz.plots import display_range
from qviz.stats import channel_ranges, tensor_stats
from ui.shared import SHARED_KEY, by_content

BINS = 240


def _widest_block(cal) -> int:
    return int(np.argmax(np.ravel(cal.clip_max) - np.ravel(cal.clip_min)))


def effective_spec(spec: qviz.QuantSpec, shape: tuple) -> tuple[qviz.QuantSpec, str]:
    """Per-channel on a 0-d or 1-d tensor becomes per-tensor, with the note that says so (as in analyze and the CLI).

    A group size that does not divide its axis stays an error: the page says which sizes would.
    """
    if isinstance(spec.granularity, qviz.PerChannel) and len(shape) < 2:
        return weight_spec(spec, shape)
    return spec, ""


def options_of(name: str) -> set:
    """The option names calibrator ``name`` takes."""
    return {o.name for o in METHODS[name].all_options}


SHARED = SHARED_KEY  # key prefix of tensors that are the same for every visitor


@by_content(max_entries=32, show_spinner="Quantizing…")
def inspect(key: str, _x: np.ndarray, spec: qviz.QuantSpec, method: str, options: tuple, block: int | None = None,
            codes: bool = False) -> dict:
    """Calibration, error metrics, histograms and per-channel ranges of one tensor under one spec.

    ``codes``: also the values per integer code and the reachable codes (``counts``, ``reachable``).
    """
    requested = spec
    spec, fallback = effective_spec(spec, _x.shape)
    cal = qviz.calibrate(_x, spec, method, **dict(options))
    x_hat = qviz.fake_quantize(_x, cal.qparams)
    metrics = qviz.error_metrics(_x, x_hat, cal.qparams)
    stats = tensor_stats(_x, axis=getattr(spec.granularity, "axis", 0) if _x.ndim else 0)
    n_blocks = int(cal.qparams.scale.size)
    block = _widest_block(cal) if block is None else min(max(int(block), 0), n_blocks - 1)
    lo, hi = stats["min"], stats["max"]
    if not np.isfinite(lo):
        lo, hi = 0.0, 0.0
    span = display_range(lo, hi, cal.qparams, block)
    out = dict(
        calibration=cal, metrics=metrics, stats=stats, block=block, n_blocks=n_blocks, span=span,
        hist=histogram(_x, bins=BINS, range=span), errors=error_histogram(_x, x_hat, cal.qparams, bins=120),
        channels=None, note=fallback, spec=spec if fallback else requested,
    )
    if codes:
        out["counts"], out["reachable"] = code_counts(_x, cal.qparams), reachable_codes(_x, cal.qparams)
    if _x.ndim >= 2 and _x.size:
        axis = getattr(spec.granularity, "axis", 0)
        if -_x.ndim <= axis < _x.ndim and _x.shape[axis] > 1:
            out["channels"] = (axis, *channel_ranges(_x, axis))
    return out


TOO_LARGE = "too large a histogram"  # what qviz.calibrate says when a histogram calibrator would exceed its memory cap


@by_content(max_entries=16, show_spinner="Running every calibrator…")
def compare(key: str, _x: np.ndarray, spec: qviz.QuantSpec, options: tuple, methods: tuple | None = None):
    """:func:`qviz.compare_calibrators` on one tensor (``options`` as sorted ``(name, value)`` pairs).

    The calibrators' table; one whose histogram is over the memory cap (tens of thousands of blocks) is skipped.

    The skipped calibrators and why are in ``results.attrs["skipped"]`` (``{name: reason}``), so the page
    shows the rest with a note instead of an error.
    """
    spec, _ = effective_spec(spec, _x.shape)
    opts = dict(options)
    try:
        results = qviz.compare_calibrators(_x, spec, None if methods is None else list(methods), **opts)
        results.attrs["skipped"] = {}
        return results
    except ValueError as e:
        if TOO_LARGE not in str(e):
            raise
    rows, skipped, block = [], {}, None
    for name in compared(None if methods is None else list(methods)):
        try:
            row = qviz.compare_calibrators(_x, spec, [name], block=block, **{k: v for k, v in opts.items() if k in options_of(name)})
        except ValueError as e:
            if TOO_LARGE not in str(e):
                raise
            skipped[name] = str(e).split(";")[0]
            continue
        block = row["calibration"][0].curve_block if block is None else block
        rows.append(row)
    if not rows:
        raise ValueError("every calibrator needs too large a histogram for this many blocks: choose per-tensor or per-group")
    results = pd.concat(rows, ignore_index=True)
    results.attrs["skipped"] = skipped
    return results
