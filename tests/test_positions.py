"""qviz.layer_position: block index and short role from tensor names, checked against llama.cpp's own name map."""

from __future__ import annotations

import pytest

import qviz
from qviz import positions
from qviz.positions import layer_position, role_order

CASES = {
    # the examples
    "model.layers.17.self_attn.q_proj.weight": (17, "q"),
    "encoder.layer.3.attention.self.query.weight": (3, "q"),
    "transformer.h.5.mlp.c_fc.weight": (5, "up"),
    "blk.17.attn_q.weight": (17, "q"),
    "vision_model.encoder.layers.4.mlp.fc1.weight": (4, "fc1"),
    # Llama / Qwen / Mistral
    "model.layers.0.self_attn.k_proj.weight": (0, "k"),
    "model.layers.0.self_attn.v_proj.weight": (0, "v"),
    "model.layers.0.self_attn.o_proj.weight": (0, "o"),
    "model.layers.31.mlp.gate_proj.weight": (31, "gate"),
    "model.layers.31.mlp.up_proj.weight": (31, "up"),
    "model.layers.31.mlp.down_proj.weight": (31, "down"),
    "model.layers.2.input_layernorm.weight": (2, "attn_norm"),
    "model.layers.2.post_attention_layernorm.weight": (2, "ffn_norm"),
    "model.layers.2.self_attn.q_proj.bias": (2, "q.bias"),
    "model.embed_tokens.weight": (None, "embed"),
    "model.norm.weight": (None, "norm"),
    "lm_head.weight": (None, "head"),
    # BERT
    "encoder.layer.11.attention.output.dense.weight": (11, "o"),
    "encoder.layer.11.intermediate.dense.weight": (11, "up"),
    "encoder.layer.11.output.dense.weight": (11, "down"),
    "embeddings.word_embeddings.weight": (None, "embed"),
    # GPT-2
    "transformer.h.0.attn.c_attn.weight": (0, "qkv"),
    "transformer.h.0.attn.c_proj.weight": (0, "o"),
    "transformer.h.0.mlp.c_proj.weight": (0, "down"),
    "transformer.wte.weight": (None, "embed"),
    "transformer.ln_f.weight": (None, "norm"),
    # GGUF names
    "blk.0.ffn_down.weight": (0, "down"),
    "blk.9.attn_output.weight": (9, "o"),
    "token_embd.weight": (None, "embed"),
    "output_norm.weight": (None, "norm"),
    "output.weight": (None, "head"),
    # CLIP / ViT
    "vision_model.encoder.layers.4.mlp.fc2.weight": (4, "fc2"),
    "vision_model.encoder.layers.4.self_attn.out_proj.weight": (4, "o"),
    # quantized checkpoints: the packed weight is the weight, other tensors keep their tail
    "model.layers.3.self_attn.q_proj.qweight": (3, "q"),
    "model.layers.3.self_attn.q_proj.scales": (3, "q.scales"),
    "model.layers.3.mlp.down_proj.weight_packed": (3, "down"),
    "model.layers.3.mlp.down_proj.weight_scale": (3, "down.weight_scale"),
    # activations of analyze, small models, unknown patterns: numbers replaced
    "model.layers.7.mlp.down_proj:input": (7, "down"),
    "conv1.weight": (None, "conv1"),
    "fc2.bias": (None, "fc2.bias"),
    "model.layers.2.mlp.experts.7.w9.weight": (2, "mlp.experts.#.w9"),
    "features.3.weight": (3, "features.#"),
}


@pytest.mark.parametrize("name", CASES)
def test_known_names(name):
    assert layer_position(name) == CASES[name]


# Hugging Face module names per llama.cpp architecture; gguf's map gives the GGUF name of each
HF = {
    "LLAMA": ["model.layers.{b}.self_attn.q_proj", "model.layers.{b}.self_attn.k_proj", "model.layers.{b}.self_attn.v_proj",
              "model.layers.{b}.self_attn.o_proj", "model.layers.{b}.mlp.gate_proj", "model.layers.{b}.mlp.up_proj",
              "model.layers.{b}.mlp.down_proj", "model.layers.{b}.input_layernorm", "model.layers.{b}.post_attention_layernorm",
              "model.embed_tokens", "model.norm", "lm_head"],
    "BERT": ["encoder.layer.{b}.attention.self.query", "encoder.layer.{b}.attention.self.key", "encoder.layer.{b}.attention.self.value",
             "encoder.layer.{b}.attention.output.dense", "encoder.layer.{b}.intermediate.dense", "encoder.layer.{b}.output.dense",
             "encoder.layer.{b}.attention.output.LayerNorm", "encoder.layer.{b}.output.LayerNorm", "embeddings.word_embeddings"],
    "GPT2": ["transformer.h.{b}.attn.c_attn", "transformer.h.{b}.attn.c_proj", "transformer.h.{b}.mlp.c_fc", "transformer.h.{b}.mlp.c_proj",
             "transformer.h.{b}.ln_1", "transformer.h.{b}.ln_2", "transformer.wte", "transformer.ln_f"],
}


@pytest.mark.parametrize("arch", HF)
def test_same_position_as_the_gguf_name(arch):
    """A Hugging Face name and the GGUF name llama.cpp's converter gives it sit in the same cell."""
    import gguf
    tmap = gguf.get_tensor_name_map(getattr(gguf.MODEL_ARCH, arch), 12)
    for pattern in HF[arch]:
        hf = pattern.format(b=11)
        g = tmap.get_name(hf)
        assert g is not None, hf
        assert layer_position(hf + ".weight") == layer_position(g + ".weight"), (hf, g)
        assert layer_position(hf + ".weight")[0] == (11 if "{b}" in pattern else None)


def test_without_gguf_the_common_names_still_parse(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_gguf(name, *a, **k):
        if name == "gguf" or name.startswith("gguf."):
            raise ImportError("no gguf")
        return real(name, *a, **k)

    positions._tables.cache_clear()
    positions.layer_position.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_gguf)
    try:
        for name in ["model.layers.17.self_attn.q_proj.weight", "encoder.layer.3.attention.self.query.weight",
                     "transformer.h.5.mlp.c_fc.weight", "model.layers.2.post_attention_layernorm.weight", "lm_head.weight",
                     "model.embed_tokens.weight", "vision_model.encoder.layers.4.mlp.fc1.weight"]:
            assert layer_position(name) == CASES[name], name
    finally:
        monkeypatch.undo()
        positions._tables.cache_clear()
        positions.layer_position.cache_clear()


def test_bad_input_and_edge_names():
    with pytest.raises(ValueError, match="tensor name"):
        layer_position(3)
    assert layer_position("") == (None, "")
    assert layer_position("weight") == (None, "weight")


def test_role_order_reads_like_a_block():
    assert role_order(["head", "down", "up", "gate", "o", "v", "k", "q", "embed", "norm", "q.bias", "zz"]) == \
        ["embed", "q", "q.bias", "k", "v", "o", "gate", "up", "down", "norm", "head", "zz"]


def test_analyze_has_block_and_role(tmp_path):
    from tests.llama_ckpt import WORST, write_llama

    df = qviz.analyze(write_llama(tmp_path / "llama", blocks=3), qviz.QuantSpec(), "minmax")
    assert list(df.columns[:4]) == ["name", "kind", "block", "role"]
    by = df.set_index("name")
    assert by.loc[WORST, "block"] == 2 and by.loc[WORST, "role"] == "down"
    assert by.loc["lm_head.weight", "block"] is None and by.loc["lm_head.weight", "role"] == "head"
    assert {type(b) for b in df["block"]} == {int, type(None)}  # ints, not floats with NaN
    assert sorted(df.loc[df["block"] == 1, "role"]) == sorted(["attn_norm", "q", "k", "v", "o", "ffn_norm", "gate", "up", "down"])
    digits = qviz.analyze("digits_cnn", qviz.QuantSpec(), "minmax", activations=False)
    assert digits["block"].isna().all() and "fc1" in set(digits["role"])
