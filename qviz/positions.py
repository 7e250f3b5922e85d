"""Where a tensor sits in a model: :func:`layer_position` turns a name into ``(block, role)``.

A checkpoint of a transformer holds the same few tensors (q, k, v, o, gate, up, down,
norms) once per block; naming them by *block index* and *short role* lets hundreds of
tensors be drawn as one blocks × roles grid (:func:`qviz.plots.layer_heatmap`).

The vocabulary is llama.cpp's: ``gguf``'s ``TensorNameMap`` lists, for every
architecture it converts, the Hugging Face module names of each tensor kind
(``model.layers.{bid}.self_attn.q_proj`` → ``blk.{bid}.attn_q``). qviz reads those tables
(suffix after the block index → GGUF name) and shortens the GGUF names
(``attn_q`` → ``q``, ``ffn_down`` → ``down``, ``token_embd`` → ``embed``,
``output`` → ``head``, ``output_norm`` → ``norm``); other GGUF names stay as they are
(``attn_norm``, ``ffn_norm``, ``attn_q_norm``, …). A module literally called ``fc1``/``fc2``
keeps that name. Without ``gguf`` installed, a small built-in table covers Llama-like,
BERT, GPT-2 and CLIP/ViT names.

Rules, in order:

* the text after ``:`` is dropped (``fc1:input`` is where ``fc1`` sits);
* the tensor's parameter is the tail after its module (``weight``, ``bias``,
  ``qweight``, ``scales``, ``weight.absmax``…): ``weight``, ``qweight`` and
  ``weight_packed`` give the bare role, any other tail is appended (``q.bias``);
* the block is the first all-digit component of the name (``layers.17``, ``h.5``,
  ``blk.17``, ``layer.3``); no such component means ``None`` (embeddings, final norm, head);
* an unknown module falls back to its name (after the block index when there is one)
  with every all-digit component replaced by ``#``.

Example
-------
>>> layer_position("model.layers.17.self_attn.q_proj.weight")
(17, 'q')
>>> layer_position("encoder.layer.3.attention.self.query.bias")
(3, 'q.bias')
>>> layer_position("transformer.h.5.mlp.c_fc.weight")
(5, 'up')
>>> layer_position("blk.17.attn_q.weight")
(17, 'q')
>>> layer_position("vision_model.encoder.layers.4.mlp.fc1.weight")
(4, 'fc1')
>>> layer_position("lm_head.weight"), layer_position("model.norm.weight")
((None, 'head'), (None, 'norm'))
>>> layer_position("model.layers.2.mlp.experts.7.w9.weight")
(2, 'mlp.experts.#.w9')
"""

from __future__ import annotations

import functools
import re

#: GGUF tensor names (after ``blk.{bid}.``) → the short roles qviz shows; other names are kept
SHORT = {
    "attn_q": "q", "attn_k": "k", "attn_v": "v", "attn_qkv": "qkv", "attn_output": "o", "attn_out": "o",
    "ffn_gate": "gate", "ffn_up": "up", "ffn_down": "down",
    "token_embd": "embed", "output": "head", "output_norm": "norm", "position_embd": "pos_embed",
    "token_types": "type_embed", "token_embd_norm": "embed_norm",
}
#: Display order of roles (others follow alphabetically)
ROLE_ORDER = ["embed", "pos_embed", "type_embed", "embed_norm", "attn_norm", "norm1", "q", "k", "v", "qkv", "o",
              "attn_output_norm", "ffn_norm", "norm2", "gate", "up", "fc1", "down", "fc2", "layer_output_norm", "norm", "head"]
#: Tensor tails that are the weight itself (no suffix on the role)
WEIGHT_TAILS = ("weight", "qweight", "weight_packed")
#: Components that end a module name: what follows is the parameter
PARAMS = {"weight", "bias", "qweight", "qzeros", "scales", "g_idx", "weight_scale", "weight_zero_point", "weight_packed",
          "weight_shape", "weight_g_idx", "SCB", "weight_format", "input_scale", "zeros"}
#: Suffix choices where gguf's tables name several tensors and Llama-family models mean this one
PREFER = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "ln2": "ffn_norm", "norm": "attn_norm",
          "feed_forward.up_proj": "ffn_up", "feed_forward.down_proj": "ffn_down", "self_attn.q_proj": "attn_q",
          "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
          "mixer.out_proj": "attn_output", "norm1": "norm1", "norm2": "norm2", "layer_norm1": "attn_norm",
          "layer_norm2": "ffn_norm"}
#: Without gguf: the most common Hugging Face names (suffix after the block index → GGUF name)
FALLBACK_BLOCK = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "self_attn.out_proj": "attn_output", "self_attn.qkv_proj": "attn_qkv", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "attention.self.query": "attn_q", "attention.self.key": "attn_k", "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output", "attention.output.LayerNorm": "attn_output_norm", "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down", "output.LayerNorm": "layer_output_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output",
    "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down", "ln_1": "attn_norm", "ln_2": "ffn_norm", "layer_norm1": "attn_norm",
    "layer_norm2": "ffn_norm",
}
FALLBACK_GLOBAL = {"model.embed_tokens": "token_embd", "embed_tokens": "token_embd", "transformer.wte": "token_embd",
                   "embeddings.word_embeddings": "token_embd", "transformer.wpe": "position_embd", "lm_head": "output",
                   "model.norm": "output_norm", "transformer.ln_f": "output_norm", "norm": "output_norm"}

_DIGITS = re.compile(r"^\d+$")


def _short(gguf_name: str) -> str:
    """``blk.{bid}.attn_q`` → ``q``; ``v.blk.{bid}.ffn_up`` → ``up``; ``output_norm`` → ``norm``."""
    tail = gguf_name.split("{bid}.", 1)[-1]
    return SHORT.get(tail, tail)


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    """(suffix after the block index → GGUF name, whole module name → GGUF name), from gguf's tables."""
    block, glob = dict(FALLBACK_BLOCK), dict(FALLBACK_GLOBAL)
    try:
        import gguf
        from gguf.tensor_mapping import TensorNameMap
    except ImportError:  # the small table above still covers the common families
        return block, glob
    names = gguf.TENSOR_NAMES
    votes: dict[str, dict[str, int]] = {}
    for kind, patterns in TensorNameMap.block_mappings_cfg.items():
        target = names.get(kind)
        if target is None:
            continue
        for p in patterns:
            if "{bid}" in p:
                suffix = p.split("{bid}", 1)[1].lstrip(".")
                if suffix:
                    score = votes.setdefault(suffix, {})
                    # a text model's own tensor (blk.) outranks vision/audio towers' (v.blk., a.blk.)
                    score[target] = score.get(target, 0) + (100 if target.startswith("blk.") else 1)
        tail = target.split("{bid}.", 1)[-1] if "{bid}" in target else None
        if tail:
            block.setdefault(tail, target)  # GGUF names themselves: blk.17.attn_q
    for suffix, score in votes.items():
        best = max(score, key=lambda t: (score[t], t.startswith("blk."), -len(t)))
        block[suffix] = best
    for suffix, prefer in PREFER.items():
        block[suffix] = "blk.{bid}." + prefer
    for kind, patterns in TensorNameMap.mappings_cfg.items():
        target = names.get(kind)
        if target is None or "{bid}" in target:
            continue
        for p in patterns:
            glob.setdefault(p, target)
        glob.setdefault(target, target)  # GGUF names themselves: token_embd, output_norm, output
    for p in FALLBACK_GLOBAL:
        glob[p] = FALLBACK_GLOBAL[p]
    return block, glob


def _split_param(parts: list[str]) -> tuple[list[str], str]:
    """Module components and the parameter tail: ``[.., q_proj, weight, absmax]`` → ``[.., q_proj]``, ``weight.absmax``."""
    for i, p in enumerate(parts):
        if p in PARAMS and i > 0:
            return parts[:i], ".".join(parts[i:])
    return parts, ""


def _with_param(role: str, param: str) -> str:
    return role if not param or param in WEIGHT_TAILS else f"{role}.{param}"


@functools.lru_cache(maxsize=65536)
def layer_position(name: str) -> tuple[int | None, str]:
    """The block index (or ``None``) and the short role of a tensor name.

    Parameters
    ----------
    name : str
        A tensor name as checkpoints spell it (Hugging Face, GGUF, ONNX, torch), or an
        ``analyze`` activation name (``layer:input``).

    Returns
    -------
    (int | None, str)
        ``block``: the first all-digit component (``None`` for tensors outside the
        repeated blocks); ``role``: ``q``, ``k``, ``v``, ``o``, ``qkv``, ``gate``, ``up``,
        ``down``, ``fc1``, ``fc2``, ``attn_norm``, ``ffn_norm``, ``norm``, ``embed``,
        ``head``, … (see the module docstring), with the parameter appended when it is
        not the weight (``q.bias``).

    Examples
    --------
    >>> layer_position("model.layers.0.mlp.down_proj.weight")
    (0, 'down')
    >>> layer_position("conv1.weight")
    (None, 'conv1')
    >>> layer_position("fc1:input")
    (None, 'fc1')
    """
    if not isinstance(name, str):
        raise ValueError(f"layer_position takes a tensor name (str), got {type(name).__name__}")
    parts = [p for p in name.split(":", 1)[0].split(".") if p]
    if not parts:
        return None, name
    module, param = _split_param(parts)
    block_table, global_table = _tables()
    at = next((i for i, p in enumerate(module) if _DIGITS.match(p)), None)
    last = module[-1]
    if at is None:
        for i in range(len(module)):  # the whole name, then without its leading components (a tower's prefix)
            hit = global_table.get(".".join(module[i:]))
            if hit:
                return None, _with_param(_short(hit), param)
        if last in ("fc1", "fc2"):
            return None, _with_param(last, param)
        return None, _with_param(".".join(module), param) if module else param
    block = int(module[at])
    rest = module[at + 1:]
    if rest and rest[-1] in ("fc1", "fc2"):
        return block, _with_param(rest[-1], param)
    suffix = ".".join(rest)
    hit = block_table.get(suffix)
    if hit is None and len(rest) > 1:
        hit = block_table.get(".".join(rest[1:])) if rest[0] in ("layer", "block") else None
    if hit is not None and suffix:
        return block, _with_param(_short(hit), param)
    generic = [("#" if _DIGITS.match(p) else p) for p in (rest or module[:at] + ["#"])]
    return block, _with_param(".".join(generic), param)


def role_order(roles) -> list[str]:
    """``roles`` (unique) in reading order: embeddings, attention, MLP, final norm, head, then the rest.

    >>> role_order(["down", "q", "embed", "zz", "o"])
    ['embed', 'q', 'o', 'down', 'zz']
    """
    rank = {r: i for i, r in enumerate(ROLE_ORDER)}
    uniq = list(dict.fromkeys(roles))

    def key(r: str):
        base, _, tail = r.partition(".")
        return (rank.get(base, len(rank)), base if base not in rank else "", tail)

    return sorted(uniq, key=key)
