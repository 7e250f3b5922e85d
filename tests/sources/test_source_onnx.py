"""ONNX: weights in initializers, Constant nodes, If/Loop subgraphs and external data, each with its node."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qviz import SourceError, open_source

RNG = np.random.default_rng(1)
W1 = RNG.normal(size=(4, 4)).astype(np.float32)
W2 = RNG.normal(size=(4, 4)).astype(np.float32)
C1 = RNG.normal(size=(4,)).astype(np.float32)
THEN_W = RNG.normal(size=(4, 4)).astype(np.float32)
ELSE_C = RNG.normal(size=(4,)).astype(np.float32)
LOOP_W = RNG.normal(size=(4, 4)).astype(np.float32)
BIG = RNG.normal(size=(64, 64)).astype(np.float32)


def _vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def _model() -> onnx.ModelProto:
    """x ─MatMul(W1)─ Add(const C1) ─ If(cond: MatMul THEN_W | Add Constant ELSE_C) ─ Loop(MatMul LOOP_W) ─ MatMul(BIG[:4,:4]…)."""
    then_g = helper.make_graph(
        [helper.make_node("MatMul", ["h1", "then_w"], ["t_out"], name="then_matmul")],
        "then",
        [],
        [_vi("t_out", [1, 4])],
        [numpy_helper.from_array(THEN_W, "then_w")],
    )
    else_g = helper.make_graph(
        [
            helper.make_node("Constant", [], ["else_c"], name="else_const", value=numpy_helper.from_array(ELSE_C)),
            helper.make_node("Add", ["h1", "else_c"], ["e_out"], name="else_add"),
        ],
        "else",
        [],
        [_vi("e_out", [1, 4])],
    )
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_cond"),
            helper.make_node("MatMul", ["v_in", "loop_w"], ["v_out"], name="body_matmul"),
        ],
        "body",
        [_vi("iter", [], TensorProto.INT64), _vi("cond_in", [], TensorProto.BOOL), _vi("v_in", [1, 4])],
        [_vi("cond_out", [], TensorProto.BOOL), _vi("v_out", [1, 4])],
        [numpy_helper.from_array(LOOP_W, "loop_w")],
    )
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h0"], name="mm1"),
        helper.make_node("Constant", [], ["c1"], name="const_c1", value=numpy_helper.from_array(C1)),
        helper.make_node("Constant", [], ["alpha"], name="const_alpha", value_float=0.5),
        helper.make_node("Add", ["h0", "c1"], ["h1"], name="add1"),
        helper.make_node("If", ["cond"], ["h2"], name="branch", then_branch=then_g, else_branch=else_g),
        helper.make_node("Loop", ["trip", "cond"], ["h3"], name="loop", body=body),
        helper.make_node("MatMul", ["h3", "W2"], ["h4"], name="mm2"),
        helper.make_node("MatMul", ["big_in", "BIG"], ["big_out"], name="mm_big"),
    ]
    nodes[5].input.append("h2")
    graph = helper.make_graph(
        nodes,
        "g",
        [_vi("x", [1, 4]), _vi("cond", [], TensorProto.BOOL), _vi("trip", [], TensorProto.INT64), _vi("big_in", [1, 64])],
        [_vi("h4", [1, 4]), _vi("big_out", [1, 64])],
        [numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(W2, "W2"), numpy_helper.from_array(BIG, "BIG")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


EXPECTED = {
    "W1": (W1, "mm1"),
    "W2": (W2, "mm2"),
    "BIG": (BIG, "mm_big"),
    "c1": (C1, "const_c1"),
    "alpha": (np.array(0.5, np.float32), "const_alpha"),
    "then_w": (THEN_W, "branch/then_branch/then_matmul"),
    "else_c": (ELSE_C, "branch/else_branch/else_const"),
    "loop_w": (LOOP_W, "loop/body/body_matmul"),
}


def _check_all(src):
    assert set(src.names()) == set(EXPECTED)
    for name, (value, node) in EXPECTED.items():
        assert src.info(name).node == node, name
        assert src.info(name).shape == value.shape
        np.testing.assert_array_equal(src.load(name), value)


def test_every_weight_found_with_its_node(tmp_path):
    m = _model()
    onnx.checker.check_model(m)
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    _check_all(open_source(p))
    _check_all(open_source(p.read_bytes(), name="m.onnx"))


def test_external_data(tmp_path):
    p = tmp_path / "ext.onnx"
    onnx.save(_model(), p, save_as_external_data=True, all_tensors_to_one_file=True, location="ext.weights", size_threshold=64)
    assert (tmp_path / "ext.weights").stat().st_size >= BIG.nbytes
    src = open_source(p)
    from onnx import TensorProto as TP

    assert src._protos["BIG"].data_location == TP.EXTERNAL  # really external
    _check_all(src)


def test_external_data_missing_or_outside(tmp_path):
    p = tmp_path / "ext.onnx"
    onnx.save(_model(), p, save_as_external_data=True, location="ext.weights", size_threshold=64)
    with pytest.raises(
        SourceError,
        match=r"ext.onnx: tensor 'BIG' is stored in the external file 'ext.weights', which an upload does not include",
    ):
        open_source(p.read_bytes(), name="ext.onnx").load("BIG")
    (tmp_path / "ext.weights").unlink()
    with pytest.raises(
        SourceError, match="needs the external data file 'ext.weights', which is missing; copy it next to the .onnx file"
    ):
        open_source(p).load("BIG")
    m = onnx.load(p, load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../../etc/passwd"
    onnx.save(m, tmp_path / "evil.onnx")
    with pytest.raises(SourceError, match="outside the model's folder; refused for safety"):
        open_source(tmp_path / "evil.onnx").load("BIG")


def test_corrupted_onnx(tmp_path):
    p = tmp_path / "m.onnx"
    raw = _model().SerializeToString()
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SourceError, match=r"^m.onnx: is not a readable ONNX model .*; the file is corrupted or truncated"):
        open_source(p)


def test_sparse_initializer_is_densified():
    vals = numpy_helper.from_array(np.array([1.5, -2.0], np.float32), "sp")
    sp = helper.make_sparse_tensor(vals, numpy_helper.from_array(np.array([1, 5], np.int64), "sp_idx"), [2, 4])
    g = helper.make_graph(
        [helper.make_node("Identity", ["sp"], ["y"], name="use_sp")], "g", [], [_vi("y", [2, 4])], [], sparse_initializer=[sp]
    )
    src = open_source(helper.make_model(g).SerializeToString(), name="sp.onnx")
    np.testing.assert_array_equal(src.load("sp"), [[0, 1.5, 0, 0], [0, -2.0, 0, 0]])
    assert src.info("sp").node == "use_sp"
