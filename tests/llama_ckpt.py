"""A small Llama-shaped sharded checkpoint for tests: real Llama tensor names, bf16 shards and an index.

``write_llama(folder)`` writes ``model-0000i-of-0000n.safetensors`` shards, the
``model.safetensors.index.json`` that maps each tensor to its shard (as Hugging Face
saves it) and a ``config.json``. One tensor, ``model.layers.{OUTLIER_BLOCK}.mlp.down_proj.weight``,
holds a few huge outliers, so under per-tensor int8 it is by far the worst weight.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

OUTLIER_BLOCK = 2
WORST = f"model.layers.{OUTLIER_BLOCK}.mlp.down_proj.weight"


def llama_tensors(blocks: int = 4, hidden: int = 32, inter: int = 64, vocab: int = 96, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def w(*shape):
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    out = {"model.embed_tokens.weight": w(vocab, hidden)}
    for b in range(blocks):
        p = f"model.layers.{b}."
        out |= {p + "input_layernorm.weight": np.ones(hidden, np.float32) + w(hidden),
                p + "self_attn.q_proj.weight": w(hidden, hidden), p + "self_attn.k_proj.weight": w(hidden // 2, hidden),
                p + "self_attn.v_proj.weight": w(hidden // 2, hidden), p + "self_attn.o_proj.weight": w(hidden, hidden),
                p + "post_attention_layernorm.weight": np.ones(hidden, np.float32) + w(hidden),
                p + "mlp.gate_proj.weight": w(inter, hidden), p + "mlp.up_proj.weight": w(inter, hidden),
                p + "mlp.down_proj.weight": w(hidden, inter)}
    out[WORST][0, :3] = [40.0, -35.0, 30.0]  # outliers: the range is 1000× the typical value
    out["model.norm.weight"] = np.ones(hidden, np.float32)
    out["lm_head.weight"] = w(vocab, hidden)
    return out


def write_llama(folder, blocks: int = 4, shards: int = 2, **kw) -> Path:
    """Write the checkpoint into ``folder`` (created); returns it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = llama_tensors(blocks, **kw)
    names = list(tensors)
    per = -(-len(names) // shards)
    weight_map = {}
    for i in range(shards):
        file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = names[i * per:(i + 1) * per]
        save_file({n: torch.from_numpy(tensors[n]).to(torch.bfloat16) for n in part}, folder / file, metadata={"format": "pt"})
        weight_map |= dict.fromkeys(part, file)
    total = sum(t.size * 2 for t in tensors.values())
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                                                     "num_hidden_layers": blocks, "hidden_size": tensors["model.norm.weight"].size}))
    return folder
