"""MiniLM's embedding cosine to fp32: int8 per-tensor against int8 per-channel, and int4 (a handful of forward passes)."""

from __future__ import annotations

from qviz import PerChannel, QuantSpec
from qviz.impact import ModelQuantizer, metric_table


def test_minilm_cosines():
    mq = ModelQuantizer("minilm")
    df = metric_table(mq, {"int8 per-tensor": QuantSpec(bits=8), "int8 per-channel": QuantSpec(bits=8, granularity=PerChannel(0)),
                           "int4 per-channel": QuantSpec(bits=4, granularity=PerChannel(0))}).set_index("label")["metric"]
    assert mq.evaluate() == 1.0
    assert df["int8 per-channel"] > 0.999
    assert df["int8 per-channel"] > df["int8 per-tensor"] > df["int4 per-channel"]
    assert mq.layers[0] == "encoder.layer.0.attention.self.query" and len(mq.layers) == 36
