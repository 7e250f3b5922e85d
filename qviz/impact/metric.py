"""A built-in model's task metric under a per-layer quantization config.

``config`` is ``{layer: QuantSpec or None}`` (``None`` or absent: the layer stays fp32); ``what`` says
whether the spec applies to the layer's weights, its input activations, or both::

    digits_cnn   accuracy = mean(argmax f̂(x) == y) on the 360 test images
    minilm       cosine   = mean_i  ê_i·e_i / (‖ê_i‖‖e_i‖) of held-out sentence embeddings to fp32

Example
-------
>>> from qviz.spec import QuantSpec
>>> mq = ModelQuantizer("digits_cnn")
>>> fp32 = task_metric(mq, {})
>>> abs(task_metric(mq, mq.uniform(QuantSpec(bits=8))) - fp32) <= 0.005
True
"""

from __future__ import annotations

from ..spec import QuantSpec
from .quantized_model import ModelQuantizer


def quantizer_for(model, method: str = "minmax", **options) -> ModelQuantizer:
    """``model`` if it is a :class:`ModelQuantizer`, else a new one for the built-in named ``model``."""
    if isinstance(model, ModelQuantizer) or (hasattr(model, "evaluate") and hasattr(model, "layers")):  # also qviz.impact.user_model
        return model
    return ModelQuantizer(model, method, **options)


def task_metric(model, config: dict | None = None, what: str = "weights", method: str = "minmax", **options) -> float:
    """Task metric of ``model`` (a built-in name or a :class:`ModelQuantizer`) under ``config``."""
    return quantizer_for(model, method, **options).evaluate(config, what)


def metric_table(model, specs: dict, what: str = "weights", method: str = "minmax", progress=None, **options):
    """Task metric with every layer under each spec of ``specs`` ``{label: spec or None}``.

    Returns
    -------
    pandas.DataFrame
        Columns ``label``, ``metric``, ``delta`` (metric minus fp32).
    """
    import pandas as pd

    mq = quantizer_for(model, method, **options)
    fp32 = mq.evaluate()
    rows = []
    for i, (label, spec) in enumerate(specs.items()):
        value = mq.evaluate(mq.uniform(spec), what) if isinstance(spec, QuantSpec) else fp32
        rows.append({"label": label, "metric": value, "delta": value - fp32})
        if progress:
            progress(i + 1, len(specs), label)
    return pd.DataFrame(rows)
