"""Issue 8 on the digits CNN: task metric, isolated/accumulated errors, sensitivity, mixed precision."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from qviz import PerChannel, QuantSpec, calibrate, fake_quantize
from qviz.impact import (ModelQuantizer, allocate_bits, bits_table, config_json, layer_errors, model_size_mb, pareto,
                         sensitivity, sensitivity_report, task_metric)


@pytest.fixture(scope="module")
def mq():
    return ModelQuantizer("digits_cnn")


def test_int8_within_half_a_point(mq):
    fp32 = mq.evaluate()
    assert fp32 > 0.97
    for what in ("weights", "activations", "both"):
        for g in (None, PerChannel(0)):
            spec = QuantSpec(bits=8) if g is None else QuantSpec(bits=8, granularity=g)
            assert abs(mq.evaluate(mq.uniform(spec), what) - fp32) <= 0.005, (what, g)


def test_two_bits_collapse(mq):
    assert mq.evaluate(mq.uniform(QuantSpec(bits=2)), "both") < 0.5
    assert mq.evaluate(mq.uniform(QuantSpec(bits=2)), "both") < mq.evaluate(mq.uniform(QuantSpec(bits=4)), "both")


def test_weights_are_the_same_numbers_and_restored(mq):
    spec = QuantSpec(bits=4, granularity=PerChannel(0))
    w = mq.fp32_weight("conv2").numpy().copy()
    with mq.apply(weights={"conv2": spec}):
        inside = mq.model.conv2.weight.detach().numpy().copy()
    expected = fake_quantize(w, calibrate(w, spec, "minmax").qparams)
    np.testing.assert_array_equal(inside, expected)
    np.testing.assert_array_equal(mq.model.conv2.weight.detach().numpy(), w)
    with pytest.raises(ValueError, match="not a Linear/Conv layer"):
        with mq.apply(weights={"nope": spec}):
            pass


def test_activation_hook_matches_fake_quantize(mq):
    spec = QuantSpec(bits=4, symmetric=False)
    qp = mq.activation_qparams(spec)["fc2"]
    x = torch.from_numpy(np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32))
    raw, got = {}, {}
    h = mq.model.fc2.register_forward_hook(lambda m, a, o: raw.setdefault("x", a[0].detach().numpy().copy()))
    with torch.no_grad():
        mq.model(x)
    h.remove()
    with mq.apply(activations={"fc2": spec}), torch.no_grad():
        h = mq.model.fc2.register_forward_hook(lambda m, a, o: got.setdefault("x", a[0].detach().numpy().copy()))
        mq.model(x)
        h.remove()
    np.testing.assert_array_equal(got["x"], fake_quantize(raw["x"], qp))


def test_damaged_layer_ranked_first():
    spec = QuantSpec(bits=4)
    clean = ModelQuantizer("digits_cnn")
    _, ranking = sensitivity(clean, spec)
    victim = ranking[-1]  # the least sensitive layer of the healthy model
    model = ModelQuantizer("digits_cnn").model
    with torch.no_grad():  # one output channel 1000× larger, the next layer's matching inputs 1000× smaller: fp32 unchanged
        layers = ["conv1", "conv2", "fc1", "fc2"]
        nxt = layers[layers.index(victim) + 1] if victim != "fc2" else None
        mod = getattr(model, victim)
        if nxt is None:  # the last layer: an outlier weight on an input that never fires cannot exist; scale one logit row
            mod.weight[0] *= 1000
            mod.bias[0] *= 1000
        else:
            mod.weight[0] *= 1000
            mod.bias[0] *= 1000
            w = getattr(model, nxt).weight
            if nxt == "fc1":  # conv2 channel 0 feeds the 16 flattened positions 0..15
                w[:, :16] /= 1000
            else:
                w[:, 0] /= 1000
    damaged = ModelQuantizer("digits_cnn", model=model)
    if victim != "fc2":
        assert abs(damaged.evaluate() - clean.evaluate()) <= 0.003
    df, ranking = sensitivity(damaged, spec)
    assert ranking[0] == victim, df
    assert df.loc[0, "one_at_a_time"] > 0.3


def test_sensitivity_report_shape(mq):
    rep = sensitivity_report(mq, QuantSpec(bits=3), "both", all_but_one=False)
    assert rep["metric"] == "accuracy" and rep["fp32"] > rep["quantized"]
    assert sorted(r["layer"] for r in rep["ranking"]) == mq.layers
    deltas = [r["delta"] for r in rep["ranking"]]
    assert deltas == sorted(deltas, reverse=True)
    json.dumps(rep)


def test_isolated_against_accumulated(mq):
    df = layer_errors(mq, QuantSpec(bits=4), "both")
    assert df["layer"].tolist() == mq.layers
    assert df.loc[0, "isolated_sqnr_db"] == pytest.approx(df.loc[0, "accumulated_sqnr_db"])  # nothing before the first layer
    assert df.loc[3, "accumulated_sqnr_db"] < df.loc[3, "isolated_sqnr_db"]  # error piles up
    eight = layer_errors(mq, QuantSpec(bits=8), "both")
    assert (eight["isolated_sqnr_db"] > df["isolated_sqnr_db"] + 15).all()  # about 6 dB per bit


def test_mixed_precision_budget_and_pareto(mq):
    spec = QuantSpec(bits=8)
    table = bits_table(mq, spec, bits=(8, 4, 2), what="both")
    assert len(table) == 12
    assign, path = allocate_bits(table, mq.params, budget=4.0)
    avg = sum(mq.params[n] * b for n, b in assign.items()) / sum(mq.params.values())
    assert avg <= 4.0 and len(path) > 1
    assert model_size_mb(mq, assign) < model_size_mb(mq, {n: 8 for n in mq.layers}) < model_size_mb(mq, {})
    points, suggested = pareto(mq, spec, table, 4.0, "both")
    assert suggested == assign
    assert {"fp32", "uniform", "greedy", "suggested"} <= set(points["kind"])
    assert points["pareto"].any()
    sug = points[points["kind"] == "suggested"].iloc[0]
    uni2 = points[points["label"] == "all 2 bits"].iloc[0]
    assert sug["metric"] > uni2["metric"]  # the allocation beats spending the budget uniformly at the bottom
    doc = config_json(mq, spec, assign, sug["metric"], 4.0, "both")
    back = json.loads(json.dumps(doc))
    assert set(back["layers"]) == set(mq.layers)
    assert all(back["layers"][n]["spec"]["bits"] == b for n, b in assign.items())


def test_task_metric_by_name():
    assert task_metric("digits_cnn", {"fc1": QuantSpec(bits=8)}) > 0.97
    with pytest.raises(ValueError, match="not a built-in model"):
        task_metric("resnet", {})
