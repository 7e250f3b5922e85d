"""Where X and W come from: MiniLM's captured Linear inputs, padding excluded, and its per-head Q, K, V."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qviz.transforms import open_activations


@pytest.fixture(scope="module")
def minilm():
    return open_activations("minilm")  # the capture the page and the CLI use (cached per process)


def test_linear_inputs_are_the_real_tokens_only(minilm):
    import qviz.models.minilm as mm

    names = minilm.linear_names()
    assert len(names) == 36 and names[0] == "encoder.layer.0.attention.self.query"
    x, w = minilm.linear("encoder.layer.1.output.dense")
    assert w.shape == (384, 1536) and x.shape[1] == 1536 and x.dtype == np.float32
    model = mm.build()
    texts = mm.sentences()[:32]
    tok = mm.tokenizer()
    lengths = [len(tok.encode(t).ids) for t in texts]
    assert x.shape[0] == sum(lengths)  # padding tokens left out
    got = {}
    layer = model.encoder.layer[1].output.dense
    h = layer.register_forward_hook(lambda m, i, o: got.update(x=i[0][0].numpy()))  # returns None: output kept
    with torch.no_grad():
        model(*mm.encode([texts[2]]))  # one sentence alone: no padding at all
    h.remove()
    start = sum(lengths[:2])
    np.testing.assert_allclose(x[start:start + lengths[2]], got["x"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(w, layer.weight.detach().numpy())


def test_attention_q_k_v_per_head(minilm):
    names = minilm.attention_names()
    assert names == [f"encoder.layer.{i}.attention.self" for i in range(6)]
    seqs = minilm.attention(names[0])
    assert len(seqs) == 32
    q, k, v = seqs[0]
    assert q.shape[0] == 12 and q.shape[2] == 32 and k.shape == v.shape == q.shape
    x, w = minilm.linear("encoder.layer.0.attention.self.key")
    n = q.shape[1]
    k_full = x[:n] @ w.T + minilm_bias(minilm, "encoder.layer.0.attention.self.key")
    np.testing.assert_allclose(k.transpose(1, 0, 2).reshape(n, 384), k_full, rtol=1e-4, atol=1e-4)


def minilm_bias(src, name):
    from qviz import open_source

    return open_source("minilm").load(name + ".bias")


def test_unknown_model_and_layer():
    with pytest.raises(ValueError, match="choose a built-in model"):
        open_activations("resnet")


def test_unknown_layer(minilm):
    with pytest.raises(ValueError, match="no Linear layer 'nope'"):
        minilm.linear("nope")
    with pytest.raises(ValueError, match="no attention block"):
        minilm.attention("nope")
