"""Small ONNX models built in the tests, and the real ones PyPI packages ship (silero-vad, RapidOCR)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest


def package_file(pkg: str, *parts: str) -> str:
    spec = importlib.util.find_spec(pkg)
    if spec is None:
        pytest.fail(f"{pkg} is a test dependency (requirements-test.txt): pip install --no-deps {pkg}")
    return os.path.join(os.path.dirname(spec.origin), *parts)


def silero(name: str = "silero_vad.onnx") -> str:
    return package_file("silero_vad", "data", name)


def rapidocr_cls() -> str:
    return package_file("rapidocr_onnxruntime", "models", "ch_ppocr_mobile_v2.0_cls_infer.onnx")


def silero_data(n: int = 3, seed: int = 0) -> dict:
    """One 512-sample 16 kHz chunk per call (a leading sample axis before each input's shape)."""
    rng = np.random.default_rng(seed)
    return {"input": (rng.standard_normal((n, 1, 512)) * 0.1).astype(np.float32),
            "state": np.zeros((n, 2, 1, 128), np.float32), "sr": np.full((n,), 16000, np.int64)}


def mlp_model(seed: int = 0):
    """x (n, 8, 16) → MatMul → Relu → MatMul → Reshape (−1, 16) → Gemm(transB) → y; an outlier channel in x's weights."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array(rng.standard_normal((16, 32)).astype(np.float32) * 0.3, "W1")
    w2 = numpy_helper.from_array(rng.standard_normal((32, 16)).astype(np.float32) * 0.3, "W2")
    w3 = numpy_helper.from_array(rng.standard_normal((4, 16)).astype(np.float32) * 0.3, "W3")
    shape = numpy_helper.from_array(np.array([-1, 16], np.int64), "shape")
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"], name="mm1"), helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "W2"], ["y2"], name="mm2"), helper.make_node("Reshape", ["y2", "shape"], ["flat"], name="flat"),
             helper.make_node("Gemm", ["flat", "W3"], ["y"], name="gemm", transB=1)]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["m", 4])], [w1, w2, w3, shape])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def mlp_data(n: int = 6, seed: int = 1) -> dict:
    x = np.random.default_rng(seed).standard_normal((n, 8, 16)).astype(np.float32)
    x[..., 3] *= 20  # an outlier channel
    return {"x": x}
