"""Per-layer sensitivity: quantize one layer at a time, and all layers but one.

With ``m(C)`` the task metric under config ``C``, ``Q`` every layer quantized and ``{l}`` layer ``l`` alone::

    one_at_a_time_l  = m(fp32) − m({l})      drop caused by layer l alone
    all_but_one_l    = m(Q \\ {l}) − m(Q)    what keeping layer l in fp32 recovers

Layers are ranked by ``delta = one_at_a_time + all_but_one`` (both say "this layer costs metric"),
most sensitive first.

Example
-------
>>> from qviz.spec import QuantSpec
>>> df, ranking = sensitivity("digits_cnn", QuantSpec(bits=4))
>>> sorted(ranking) == ["conv1", "conv2", "fc1", "fc2"]
True
>>> df.columns.tolist()[:4]
['layer', 'params', 'one_at_a_time', 'all_but_one']
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

import pandas as pd

from ..spec import QuantSpec
from .metric import quantizer_for


def sensitivity(model: Any, spec: QuantSpec, what: str = "weights", method: str = "minmax", *, all_but_one: bool = True,
                progress: Callable[..., Any] | None = None, **options: Any) -> tuple[pd.DataFrame, list[str]]:
    """Sensitivity table and ranking (most sensitive first).

    Parameters
    ----------
    model : str or ModelQuantizer
    spec : QuantSpec
    what : {"weights", "activations", "both"}
    all_but_one : bool
        Also run the all-but-one pass (one more evaluation per layer).
    progress : callable, optional
        ``progress(done, total, name)``.

    Returns
    -------
    (pandas.DataFrame, list of str)
        Columns ``layer``, ``params``, ``one_at_a_time``, ``all_but_one``, ``delta``, ``metric_alone``,
        ``metric_all_but``, sorted by ``delta`` descending; and the layer names in that order.
    """
    mq = quantizer_for(model, method, **options)
    fp32 = mq.evaluate()
    everything = mq.uniform(spec)
    full = mq.evaluate(everything, what)
    total = len(mq.layers) * (2 if all_but_one else 1)
    rows, done = [], 0
    for name in mq.layers:
        alone = mq.evaluate({name: spec}, what)
        done += 1
        if progress:
            progress(done, total, f"{name} alone")
        but = float("nan")
        if all_but_one:
            but = mq.evaluate({**everything, name: None}, what)
            done += 1
            if progress:
                progress(done, total, f"all but {name}")
        rows.append({"layer": name, "params": mq.params[name], "one_at_a_time": fp32 - alone,
                     "all_but_one": (but - full) if all_but_one else 0.0, "metric_alone": alone, "metric_all_but": but})
    df = pd.DataFrame(rows)
    df["delta"] = df["one_at_a_time"] + df["all_but_one"]
    df = df[["layer", "params", "one_at_a_time", "all_but_one", "delta", "metric_alone", "metric_all_but"]]
    df = df.sort_values("delta", ascending=False, kind="stable").reset_index(drop=True)
    df.attrs.update(fp32=fp32, quantized=full, metric=mq.task_metric)
    return df, df["layer"].tolist()


def sensitivity_report(model: Any, spec: QuantSpec, what: str = "weights", method: str = "minmax", **kw: Any) -> dict:
    """``{"metric", "fp32", "quantized", "ranking": [{"layer", "delta", …}]}`` (the CLI's JSON)."""
    df, _ = sensitivity(model, spec, what, method, **kw)
    return {"metric": df.attrs["metric"], "fp32": df.attrs["fp32"], "quantized": df.attrs["quantized"],
            "ranking": [{"layer": r.layer, "delta": float(r.delta), "one_at_a_time": float(r.one_at_a_time),
                         "all_but_one": float(r.all_but_one)} for r in df.itertuples()]}
