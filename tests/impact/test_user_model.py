"""Output error of user models: the ONNX rewrite equals qviz.fake_quantize bit for bit; fidelity, sensitivity, layer errors."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import qviz
from qviz.impact.user_model import OnnxQuantizer, _fq_nodes, output_cosine, user_quantizer
from tests.capture.onnx_models import mlp_data, mlp_model, silero, silero_data
from tests.qviz_testutil import assert_bitwise_equal


def _run_fq(x, qp, axis):
    """Run the ONNX fake-quantization chain alone on ``x``."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    nodes = _fq_nodes("x", "y", qp, axis, x.ndim, "fq")
    g = helper.make_graph(nodes, "fq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(x.shape))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@pytest.mark.parametrize("spec", [qviz.QuantSpec(bits=8), qviz.QuantSpec(bits=4, symmetric=False, signed=False),
                                  qviz.QuantSpec(bits=3, quantizer="midrise"),
                                  qviz.QuantSpec(bits=6, symmetric=False, granularity=qviz.PerChannel(0))])
def test_onnx_fake_quant_chain_is_qviz_bit_for_bit(spec):
    from qviz.capture.stream import channels_view

    x = (np.random.default_rng(0).standard_t(3, size=(2, 5, 7)) * 3).astype(np.float32)
    x[0, 0, 0] = 0.5 * float(np.abs(x).max())  # ties and clipping happen
    c = channels_view(x, -1)  # (7, 10): channels on the last axis, as for a MatMul input
    qp = qviz.calibrate(c * 0.8, spec, "minmax").qparams  # a range narrower than x: some values clip
    got = _run_fq(x, qp, -1)
    want = np.moveaxis(qviz.fake_quantize(c, qp).reshape(7, 2, 5), 0, -1)
    assert_bitwise_equal(got, want)


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    p = tmp_path_factory.mktemp("mlpq") / "mlp.onnx"
    onnx.save(mlp_model(), str(p))
    return user_quantizer(str(p), data=mlp_data(), batch_size=3)


def test_mlp_fidelity_sensitivity_and_errors(mlp):
    assert isinstance(mlp, OnnxQuantizer) and mlp.layers == ["mm1", "mm2", "gemm"] and mlp.evaluate() == 1.0
    # a weight-only rewrite equals running the numpy model with fake-quantized weights
    spec = qviz.QuantSpec(bits=4, granularity=qviz.PerChannel(0))
    x = mlp_data()["x"]
    w = {n: mlp.fq_weight(n, spec) for n in mlp.layers}
    ref = mlp.outputs({})
    got = mlp.outputs(mlp.uniform(spec), "weights")
    y = (np.maximum(x @ w["mm1"], 0) @ w["mm2"]).reshape(-1, 16) @ w["gemm"].T
    np.testing.assert_allclose(np.concatenate(got), y, rtol=2e-5, atol=2e-5)
    assert w["mm1"].shape == (16, 32)
    qp = qviz.calibrate(mlp._w["W1"], qviz.QuantSpec(bits=4, granularity=qviz.PerChannel(1)), "minmax").qparams
    assert_bitwise_equal(w["mm1"], qviz.fake_quantize(mlp._w["W1"], qp))  # per output channel: MatMul's last axis
    cos = output_cosine(ref, got)
    assert cos == pytest.approx(mlp.evaluate(mlp.uniform(spec), "weights")) and 0.9 < cos < 1.0
    fid = qviz.output_fidelity(mlp, qviz.QuantSpec(bits=4))
    assert fid["what"].tolist() == ["weights", "activations", "both"] and (fid["output_cosine"] < 1).all()
    rep = qviz.impact.sensitivity_report(mlp, qviz.QuantSpec(bits=3), "both", all_but_one=False)
    assert list(rep) == ["metric", "fp32", "quantized", "ranking"] and rep["metric"] == "output_cosine" and rep["fp32"] == 1.0
    assert sorted(r["layer"] for r in rep["ranking"]) == ["gemm", "mm1", "mm2"]
    err = qviz.layer_errors(mlp, qviz.QuantSpec(bits=4), "both")
    assert err["layer"].tolist() == mlp.layers
    first = err.iloc[0]
    assert first.isolated_sqnr_db == first.accumulated_sqnr_db  # nothing before the first layer
    assert (err["isolated_sqnr_db"] >= err["accumulated_sqnr_db"] - 1).all()


def test_silero_only_the_branch_that_runs(tmp_path):
    mq = user_quantizer(silero(), data=silero_data(3))
    assert len(mq.layers) == 6 and all(n.startswith("If_0_then_branch") for n in mq.layers)
    sq = [mq.fidelity(mq.uniform(qviz.QuantSpec(bits=b)), "both")[1] for b in (16, 8, 4)]
    assert sq[0] > 30 and sq[0] > sq[1] > sq[2]  # the output's SQNR to fp32 falls with the bits
