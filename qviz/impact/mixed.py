"""Mixed precision: per-layer bit widths under an average-bits budget, the size–metric Pareto curve, JSON.

With ``p_l`` weights in layer ``l`` at ``b_l`` bits::

    average bits  = Σ p_l·b_l / Σ p_l
    size (MB)     = (Σ p_l·b_l + 32·other parameters) / 8 / 10⁶

Greedy allocation: start every layer at the widest bit width; while the average exceeds the budget,
lower by one step the layer with the smallest extra metric drop per bit saved,
``(drop_l(b') − drop_l(b)) / (p_l·(b − b'))``, where ``drop_l(b)`` is the one-at-a-time drop of
:func:`bits_table`. Every step of the path is a candidate point of the Pareto curve.

Example
-------
>>> import pandas as pd
>>> t = pd.DataFrame({"layer": ["a", "a", "b", "b"], "bits": [8, 4, 8, 4], "drop": [0.0, 0.3, 0.0, 0.01]})
>>> allocate_bits(t, {"a": 100, "b": 100}, budget=6.0)[0]
{'a': 8, 'b': 4}
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable
from collections.abc import Sequence

import dataclasses

import numpy as np
import pandas as pd

from ..spec import QuantSpec
from .metric import quantizer_for
from ..export import jsonable, spec_dict

BITS = (8, 6, 4, 3, 2)


def bits_table(model: Any, spec: QuantSpec, bits: Sequence[int] = BITS, what: str = "weights", method: str = "minmax", progress: Callable[..., Any] | None = None,
               **options: Any) -> pd.DataFrame:
    """One-at-a-time metric of every layer at every bit width: ``layer``, ``bits``, ``params``, ``metric``, ``drop``."""
    mq = quantizer_for(model, method, **options)
    fp32 = mq.evaluate()
    rows, total = [], len(mq.layers) * len(bits)
    for name in mq.layers:
        for b in bits:
            m = mq.evaluate({name: dataclasses.replace(spec, bits=int(b))}, what)
            rows.append({"layer": name, "bits": int(b), "params": mq.params[name], "metric": m, "drop": fp32 - m})
            if progress:
                progress(len(rows), total, f"{name} at {b} bits")
    df = pd.DataFrame(rows)
    df.attrs.update(fp32=fp32, metric=mq.task_metric)
    return df


def average_bits(assign: dict, params: dict) -> float:
    return sum(params[n] * b for n, b in assign.items()) / max(sum(params[n] for n in assign), 1)


def allocate_bits(table: pd.DataFrame, params: dict, budget: float) -> tuple[dict, list[dict]]:
    """Greedy bit widths ``{layer: bits}`` with average ≤ ``budget`` (or the narrowest everywhere), and the path."""
    options = {n: sorted(g["bits"].unique(), reverse=True) for n, g in table.groupby("layer", sort=False)}
    drop = {(r.layer, int(r.bits)): float(r.drop) for r in table.itertuples()}
    assign = {n: int(b[0]) for n, b in options.items()}
    path = [dict(assign)]
    while average_bits(assign, params) > budget + 1e-9:
        best = None
        for n, b in assign.items():
            lower = [x for x in options[n] if x < b]
            if not lower:
                continue
            nb = int(lower[0])
            cost = (max(drop[(n, nb)], 0.0) - max(drop[(n, b)], 0.0)) / (params[n] * (b - nb))
            key = (cost, -params[n] * (b - nb))
            if best is None or key < best[0]:
                best = (key, n, nb)
        if best is None:
            break
        assign[best[1]] = best[2]
        path.append(dict(assign))
    return assign, path


def model_size_mb(model: Any, assign: dict) -> float:
    """Size with layer weights at ``assign`` bits and every other parameter in fp32."""
    qp = sum(model.params[n] * b for n, b in assign.items())
    other = sum(p.numel() for p in model.model.parameters()) - sum(model.params[n] for n in assign)
    return (qp + 32 * other) / 8 / 1e6


def pareto(model: Any, spec: QuantSpec, table: pd.DataFrame, budget: float, what: str = "weights", method: str = "minmax",
           max_points: int = 12, progress: Callable[..., Any] | None = None, **options: Any) -> tuple[pd.DataFrame, dict]:
    """Measured points of size against metric: the greedy path, uniform bit widths and fp32.

    Returns
    -------
    (pandas.DataFrame, dict)
        Columns ``kind`` (fp32 / uniform / greedy / suggested), ``label``, ``avg_bits``, ``size_mb``, ``metric``,
        ``pareto`` (on the frontier), ``bits`` (the assignment); and the suggested ``{layer: bits}``.
    """
    mq = quantizer_for(model, method, **options)
    suggested, path = allocate_bits(table, mq.params, budget)
    keep = np.unique(np.linspace(0, len(path) - 1, min(max_points, len(path))).round().astype(int))
    cand = [("fp32", "fp32", None)] + [("uniform", f"all {b} bits", {n: int(b) for n in mq.layers})
                                       for b in sorted(table["bits"].unique(), reverse=True)]
    cand += [("greedy", f"greedy step {i}", path[i]) for i in keep] + [("suggested", f"suggested ≤ {budget:g} bits", suggested)]
    rows = []
    for i, (kind, label, assign) in enumerate(cand):
        if assign is None:
            m, size, avg = mq.evaluate(), model_size_mb(mq, {}), 32.0
        else:
            m = mq.evaluate({n: dataclasses.replace(spec, bits=b) for n, b in assign.items()}, what)
            size, avg = model_size_mb(mq, assign), average_bits(assign, mq.params)
        rows.append({"kind": kind, "label": label, "avg_bits": avg, "size_mb": size, "metric": m, "bits": assign})
        if progress:
            progress(i + 1, len(cand), label)
    df = pd.DataFrame(rows)
    order = df.sort_values(["size_mb", "metric"], ascending=[True, False])
    best, front = -np.inf, set()
    for idx, r in order.iterrows():
        if r.metric > best + 1e-12:
            front.add(idx)
            best = r.metric
    df["pareto"] = df.index.isin(front)
    return df, suggested


def config_json(model: Any, spec: QuantSpec, assign: dict, metric: float | None = None, budget: float | None = None,
                what: str = "weights") -> dict:
    """The per-layer configuration as JSON-ready dict (each layer's full spec, see :func:`qviz.export.spec_dict`)."""
    return jsonable({
        "model": model.name, "what": what, "calibrator": model.method, "budget_avg_bits": budget,
        "avg_bits": average_bits(assign, model.params), "size_mb": model_size_mb(model, assign),
        "metric": model.task_metric, "value": metric,
        "layers": {n: {"bits": b, "params": model.params[n], "spec": spec_dict(dataclasses.replace(spec, bits=b))}
                   for n, b in assign.items()},
    })
