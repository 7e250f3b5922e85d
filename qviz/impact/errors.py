"""Isolated against accumulated error at each layer's output (ONNX Runtime's ``qdq_err`` / ``xmodel_err``).

For layer ``l`` with fp32 input ``x_l`` and output ``y_l = f_l(x_l)``::

    isolated     ŷ_l = f̂_l(x_l)      only layer l quantized, fed the fp32 input
    accumulated  ŷ_l = f̂_l(x̂_l)     every layer quantized, x̂_l carries the error of all before it
    SQNR_l       = 10·log10(Σ y_l² / Σ (y_l − ŷ_l)²)   (dB; higher is better)

A layer whose accumulated SQNR falls far below its isolated one suffers from what comes before it;
a low isolated SQNR marks the layer itself (PPQ's layerwise against graphwise analysis).

Example
-------
>>> from qviz.spec import QuantSpec
>>> df = layer_errors("digits_cnn", QuantSpec(bits=4))
>>> df.columns.tolist()
['layer', 'isolated_sqnr_db', 'accumulated_sqnr_db']
>>> bool((df.isolated_sqnr_db >= df.accumulated_sqnr_db - 1).all())
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..spec import QuantSpec
from .metric import quantizer_for


def sqnr_db(ref, got) -> float:
    """``10·log10(Σ ref² / Σ (ref − got)²)``; ``inf`` when exact."""
    ref = np.asarray(ref, dtype=np.float64)
    err = float(((ref - np.asarray(got, dtype=np.float64)) ** 2).sum())
    sig = float((ref**2).sum())
    return float("inf") if err == 0 else float(10 * np.log10(max(sig, 1e-300) / err))


def _record(mq, batches, keep_inputs: bool) -> tuple[dict, dict]:
    import torch

    ins: dict = {}
    outs: dict = {}
    mods = dict((n, m) for n, m in mq.model.named_modules() if n in mq.layers)

    def hook(name):
        def fn(module, args, out):
            if keep_inputs:
                ins.setdefault(name, []).append(args[0].detach().clone())
            outs.setdefault(name, []).append(out.detach().clone())

        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in mods.items()]
    try:
        with torch.no_grad():
            for b in batches:
                mq.module.run(mq.model, b)
    finally:
        for h in handles:
            h.remove()
    return ins, outs


def layer_errors(model, spec: QuantSpec, what: str = "weights", method: str = "minmax", *, limit: int = 128,
                 progress=None, **options) -> pd.DataFrame:
    """Isolated and accumulated output SQNR of every Linear/Conv under ``spec``.

    Parameters
    ----------
    model : str or ModelQuantizer
    spec : QuantSpec
        Applied to every layer's weights, inputs or both (``what``).
    limit : int
        Calibration examples the outputs are measured on.

    Returns
    -------
    pandas.DataFrame
        ``layer``, ``isolated_sqnr_db``, ``accumulated_sqnr_db``, in module order.
    """
    mq = quantizer_for(model, method, **options)
    if hasattr(mq, "layer_errors"):  # an ONNX model (qviz.impact.user_model): its own graph rewrite
        return mq.layer_errors(spec, what, progress=progress)
    import torch
    batches = list(mq.module.calibration_batches(limit=limit))
    with mq.apply():
        ins, ref = _record(mq, batches, keep_inputs=True)
    w, a = mq.split(mq.uniform(spec), what)
    with mq.apply(w, a):
        _, acc = _record(mq, batches, keep_inputs=False)
    mods = dict(mq.model.named_modules())
    rows = []
    for i, name in enumerate(mq.layers):
        one_w, one_a = mq.split({name: spec}, what)
        with mq.apply(one_w, one_a), torch.no_grad():
            iso = [mods[name](x) for x in ins[name]]
        r = torch.cat([t.flatten() for t in ref[name]])
        rows.append({"layer": name, "isolated_sqnr_db": sqnr_db(r, torch.cat([t.flatten() for t in iso])),
                     "accumulated_sqnr_db": sqnr_db(r, torch.cat([t.flatten() for t in acc[name]]))})
        if progress:
            progress(i + 1, len(mq.layers), name)
    return pd.DataFrame(rows)
