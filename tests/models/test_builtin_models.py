"""Built-in models load offline, compute what their references compute, and stream activations."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch

import qviz
from qviz.models import digits_cnn, minilm
from qviz.models.capture import activation_spec, capture

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_digits_cnn_offline(offline):
    src = qviz.open_source("digits_cnn")
    assert src.names() == [
        "conv1.bias",
        "conv1.weight",
        "conv2.bias",
        "conv2.weight",
        "fc1.bias",
        "fc1.weight",
        "fc2.bias",
        "fc2.weight",
    ]
    assert src.total_numel() == 38_282
    assert src.info("conv2.weight").shape == (32, 16, 3, 3)
    assert src.task_metric == "accuracy"
    assert src.evaluate() >= 0.97
    x_train, y_train, x_test, y_test = digits_cnn.dataset()
    assert x_train.shape == (1437, 1, 8, 8) and x_test.shape == (360, 1, 8, 8) and 0 <= x_train.min() and x_train.max() <= 1


def test_training_script_reproduces(tmp_path):
    import runpy

    mod = runpy.run_path(os.path.join(digits_cnn.ROOT, "sample_tensors", "train_digits_cnn.py"))
    out = tmp_path / "d.safetensors"
    acc = mod["main"](epochs=3, out=str(out))
    assert acc > 0.85 and qviz.open_source(out).total_numel() == 38_282


def test_minilm_weights_and_offline_embeddings(offline):
    src = qviz.open_source("minilm")
    assert len(src.names()) == 104
    assert 22_500_000 < src.total_numel() < 23_000_000
    assert src.info("embeddings.word_embeddings.weight").shape == (30522, 384)
    assert src.info("embeddings.position_ids").flags == ("integer",)
    ref = np.load(os.path.join(HERE, "data", "minilm_reference.npy"))
    got = minilm.embed(src.model(), minilm.sentences()[: len(ref)])
    cos_dist = 1 - (got * ref).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos_dist.max() < 1e-4, cos_dist
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)


def test_minilm_matches_sentence_transformers_live(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    texts = [
        "Quantization maps real numbers onto a small set of integers.",
        "Hi!",
        " ".join(["word"] * 300),
    ]  # the last is truncated at 256 tokens
    st = SentenceTransformer(minilm.model_dir(), device="cpu")
    ref = st.encode(texts, convert_to_numpy=True)
    got = minilm.embed(minilm.build(), texts)
    cos = (got * ref).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
    assert (1 - cos).max() < 1e-4


def test_minilm_task_metric_is_one_for_fp32():
    src = qviz.open_source("minilm")
    assert src.evaluate() == pytest.approx(1.0, abs=1e-6)


def _two_layer_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(3 * 16, 5)
    )


def test_capture_streams_exact_statistics():
    net = _two_layer_net()
    batches = [torch.randn(n, 2, 4, 4) for n in (3, 5, 2)]
    acts = capture(net, batches, qviz.QuantSpec(granularity=qviz.PerChannel(0)), "minmax", sample_numel=64)
    assert [a.name for a in acts] == ["0:input", "3:input"]
    conv_in = np.concatenate([b.numpy().transpose(1, 0, 2, 3).reshape(2, -1) for b in batches], axis=1)
    a = acts[0]
    assert a.shape == (2, 160) and a.numel == 320
    assert a.stats["min"] == conv_in.min() and a.stats["max"] == conv_in.max()
    assert a.stats["mean"] == pytest.approx(conv_in.mean(dtype=np.float64), rel=1e-9)
    assert a.stats["std"] == pytest.approx(conv_in.std(dtype=np.float64), rel=1e-9)
    ranges = conv_in.max(1) - conv_in.min(1)
    assert a.stats["channel_range_ratio"] == pytest.approx(ranges.max() / ranges.min())
    np.testing.assert_array_equal(np.ravel(a.calibration.clip_max), conv_in.max(1))  # per input channel, over every batch
    assert a.sample.shape[0] == 2 and a.sample.size <= 64 + 2 * 16  # bounded sample
    with torch.no_grad():
        lin_in = np.concatenate([torch.relu(net[0](b)).flatten(1).numpy() for b in batches]).T
    assert acts[1].shape == (48, 10)
    assert acts[1].stats["max"] == pytest.approx(lin_in.max())


def test_capture_removes_hooks_and_handles_nonfinite():
    net = _two_layer_net()
    x = torch.randn(4, 2, 4, 4)
    x[0, 0, 0, 0] = float("nan")
    x[1, 1, 1, 1] = float("inf")
    acts = capture(net, [x], qviz.QuantSpec(), "minmax")
    assert acts[0].stats["nonfinite"] == 2 and np.isfinite(acts[0].stats["max"])
    assert not any(m._forward_hooks for m in net.modules())


def test_activation_spec_granularity():
    s, note = activation_spec(qviz.QuantSpec(granularity=qviz.PerGroup(32)))
    assert isinstance(s.granularity, qviz.PerTensor) and "per-tensor" in note
    s, note = activation_spec(qviz.QuantSpec(granularity=qviz.PerChannel(1)))
    assert s.granularity == qviz.PerChannel(0) and "input channel" in note
