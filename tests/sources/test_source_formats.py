"""Every reader on small fixtures written by the test: names, lazy info, exact float32 loads, flags."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import qviz
from qviz.sources import open_source

RNG = np.random.default_rng(0)
W = RNG.normal(size=(4, 6)).astype(np.float32)
B = RNG.normal(size=(6,)).astype(np.float32)


def _odd_tensors():
    """Tensors the analysis must treat on purpose: NaN/Inf, integer, bool, empty, 0-d."""
    nan = np.array([1.0, np.nan, np.inf, -np.inf, 2.0], np.float32)
    return {
        "nan": nan,
        "ints": np.arange(5, dtype=np.int64),
        "mask": np.array([True, False, True]),
        "empty": np.zeros((0, 3), np.float32),
        "scalar": np.array(3.5, np.float32),
    }


def _check_odd(src):
    assert src.info("ints").flags == ("integer",)
    assert src.info("mask").flags == ("bool",)
    assert "empty" in src.info("empty").flags and src.info("empty").numel == 0
    assert src.info("scalar").flags == ("scalar",) and src.info("scalar").shape == ()
    x = src.load("nan")
    assert x.dtype == np.float32 and np.isnan(x[1]) and np.isposinf(x[2]) and np.isneginf(x[3])
    np.testing.assert_array_equal(src.load("ints"), np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(src.load("mask"), [1.0, 0.0, 1.0])
    assert src.load("empty").shape == (0, 3)
    assert float(src.load("scalar")) == 3.5


def test_npy_file_and_bytes(tmp_path):
    p = tmp_path / "weights.npy"
    np.save(p, W)
    for src in (open_source(p), open_source(p.read_bytes(), name="weights.npy")):
        assert src.names() == ["weights"]
        info = src.info("weights")
        assert (info.shape, info.dtype, info.numel) == ((4, 6), "float32", 24)
        np.testing.assert_array_equal(src.load("weights"), W)


def test_npy_float16_and_fortran(tmp_path):
    p = tmp_path / "h.npy"
    np.save(p, np.asfortranarray(W.astype(np.float16)))
    src = open_source(p)
    assert src.info("h").dtype == "float16" and "low-precision" in src.info("h").flags
    np.testing.assert_array_equal(src.load("h"), W.astype(np.float16).astype(np.float32))


def test_npz_with_odd_tensors(tmp_path):
    p = tmp_path / "m.npz"
    np.savez_compressed(p, w=W, b=B, **_odd_tensors())
    src = open_source(p)
    assert set(src.names()) == {"w", "b", *_odd_tensors()}
    np.testing.assert_array_equal(src.load("w"), W)
    _check_odd(src)


def test_torch_nested_state_dict_all_dtypes(tmp_path):
    state = {
        "model": {
            "encoder": {"weight": torch.from_numpy(W), "bias": torch.from_numpy(B)},
            "layers": [torch.ones(2), torch.zeros(3)],
        },
        "half": torch.from_numpy(W).half(),
        "bf16": torch.from_numpy(W).bfloat16(),
        "fp8": torch.from_numpy(W).to(torch.float8_e4m3fn),
        "epoch": 7,
        "config": {"lr": 0.1, "name": "x"},
        **{k: torch.from_numpy(v) for k, v in _odd_tensors().items()},
    }
    for ext in (".pt", ".pth", ".bin"):
        p = tmp_path / f"ckpt{ext}"
        torch.save(state, p)
        src = open_source(p)
        names = src.names()
        assert {"model.encoder.weight", "model.encoder.bias", "model.layers.0", "model.layers.1", "half", "bf16", "fp8"} <= set(
            names
        )
        assert "epoch" not in names and not any(n.startswith("config") for n in names)
        np.testing.assert_array_equal(src.load("model.encoder.weight"), W)
        assert src.info("bf16").dtype == "bfloat16"
        np.testing.assert_array_equal(src.load("bf16"), torch.from_numpy(W).bfloat16().float().numpy())
        np.testing.assert_array_equal(src.load("fp8"), torch.from_numpy(W).to(torch.float8_e4m3fn).float().numpy())
        _check_odd(src)


def test_torch_legacy_format_and_bytes(tmp_path):
    p = tmp_path / "old.pt"
    torch.save({"w": torch.from_numpy(W)}, p, _use_new_zipfile_serialization=False)
    np.testing.assert_array_equal(open_source(p).load("w"), W)
    np.testing.assert_array_equal(open_source(p.read_bytes(), name="old.pt").load("w"), W)
    buf = io.BytesIO()
    torch.save({"w": torch.from_numpy(W)}, buf)
    np.testing.assert_array_equal(open_source(buf.getvalue(), name="upload.pth").load("w"), W)


def test_torchscript_parameters_without_running_code(tmp_path):
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)))
    p = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(net), str(p))
    src = open_source(p)
    assert set(src.names()) == {"0.weight", "0.bias", "1.0.weight", "1.0.bias"}
    np.testing.assert_array_equal(src.load("0.weight"), net[0].weight.detach().numpy())
    np.testing.assert_array_equal(src.load("1.0.weight"), net[1][0].weight.detach().numpy())
    assert open_source(p.read_bytes(), name="upload.pt").names() == src.names()


def test_safetensors_file_bytes_and_dtypes(tmp_path):
    t = {
        "w": torch.from_numpy(W),
        "bf16": torch.from_numpy(W).bfloat16(),
        "fp16": torch.from_numpy(W).half(),
        "e4m3": torch.from_numpy(W).to(torch.float8_e4m3fn),
        "e5m2": torch.from_numpy(W).to(torch.float8_e5m2),
        **{k: torch.from_numpy(v) for k, v in _odd_tensors().items()},
    }
    p = tmp_path / "m.safetensors"
    save_file(t, p)
    for src in (open_source(p), open_source(p.read_bytes(), name="m.safetensors")):
        for k in ("w", "bf16", "fp16", "e4m3", "e5m2"):
            np.testing.assert_array_equal(src.load(k), t[k].float().numpy())
        assert src.info("e4m3").dtype == "float8_e4m3fn"
        _check_odd(src)


def test_safetensors_shard_folder_is_one_model(tmp_path):
    save_file({"a.weight": torch.from_numpy(W)}, tmp_path / "model-00001-of-00002.safetensors")
    save_file({"b.weight": torch.from_numpy(B)}, tmp_path / "model-00002-of-00002.safetensors")
    index = {
        "metadata": {},
        "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"},
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    for target in (tmp_path, tmp_path / "model.safetensors.index.json"):
        src = open_source(target)
        assert src.names() == ["a.weight", "b.weight"]
        np.testing.assert_array_equal(src.load("b.weight"), B)


def test_info_reads_no_data(tmp_path, monkeypatch):
    p = tmp_path / "m.safetensors"
    save_file({"w": torch.from_numpy(W)}, p)
    src = open_source(p)
    monkeypatch.setattr(type(src), "_read", lambda *a: pytest.fail("info must not read tensor data"))
    assert src.info("w").shape == (4, 6)


def test_builtins_and_samples():
    assert qviz.builtin_names() == ["samples", "digits_cnn", "minilm"]
    src = open_source("samples")
    assert src.names() == qviz.sample_names()
    np.testing.assert_array_equal(src.load("laplace"), qviz.sample("laplace"))
    assert open_source("builtin:samples").names() == src.names()


def test_file_named_like_a_builtin_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "samples", W)  # writes samples.npy; a file literally called "samples":
    os.rename(tmp_path / "samples.npy", tmp_path / "samples")
    assert open_source("samples").names() == ["samples"]
    assert len(open_source("builtin:samples").names()) == len(qviz.sample_names())


def test_loads_are_fresh_copies(tmp_path):
    torch.save({"w": torch.from_numpy(W)}, tmp_path / "m.pt")
    src = open_source(tmp_path / "m.pt")
    x = src.load("w")
    x[:] = 0
    np.testing.assert_array_equal(src.load("w"), W)


def test_import_qviz_leaves_format_libraries_unloaded():
    import subprocess
    import sys

    code = "import sys, qviz; print(sorted(m for m in ('onnx', 'sklearn', 'tokenizers', 'safetensors', 'sentence_transformers') if m in sys.modules))"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr[-500:]


def test_torch_shard_folder_and_onnx_folder(tmp_path):
    torch.save({"a.weight": torch.from_numpy(W)}, tmp_path / "pytorch_model-00001-of-00002.bin")
    torch.save({"b.weight": torch.from_numpy(B)}, tmp_path / "pytorch_model-00002-of-00002.bin")
    index = {"weight_map": {"a.weight": "pytorch_model-00001-of-00002.bin", "b.weight": "pytorch_model-00002-of-00002.bin"}}
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    src = open_source(tmp_path)
    assert src.names() == ["a.weight", "b.weight"]
    np.testing.assert_array_equal(src.load("b.weight"), B)
    from onnx import helper, numpy_helper

    onnx_dir = tmp_path / "onnx"
    onnx_dir.mkdir()
    g = helper.make_graph([], "g", [], [], [numpy_helper.from_array(W, "w")])
    (onnx_dir / "model.onnx").write_bytes(helper.make_model(g).SerializeToString())
    np.testing.assert_array_equal(open_source(onnx_dir).load("w"), W)
