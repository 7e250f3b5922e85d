"""Where the transforms lab gets a Linear layer's input activations ``X`` and weight ``W``.

The page and the CLI take any *activation source*: an object with

* ``title`` (str), ``linear_names() -> list[str]`` (Linear layers with captured inputs),
* ``linear(name) -> (X, W)``: ``X`` float32 tokens × in (the layer's real inputs,
  padding excluded), ``W`` float32 out × in (torch ``Linear.weight``),
* optionally ``attention_names()`` and ``attention(name) -> [(Q, K, V), …]``, one
  ``(heads, tokens, head_dim)`` triple per sequence, for the KV-cache view.

:class:`BuiltinActivations` is that source for the built-in models (MiniLM by
default): one forward pass over the calibration data with hooks on every
``nn.Linear``; each sentence runs alone, so no padding token reaches ``X``. A
capture for user ONNX / Hugging Face models plugs in by providing the same methods.

Example
-------
>>> src = open_activations("digits_cnn", limit=64)
>>> x, w = src.linear("fc2")
>>> x.shape[0], x.shape[1] == w.shape[1]
(64, True)
"""

from __future__ import annotations

import functools
import json
import os

import numpy as np

#: tokens kept per layer (the first ones seen); MiniLM's 32 calibration sentences are 385 tokens
MAX_TOKENS = 4096


class BuiltinActivations:
    """Captured Linear inputs (and MiniLM's per-head Q, K, V) of a built-in model.

    Parameters
    ----------
    name : str
        A built-in model, ``"minilm"`` or ``"digits_cnn"``.
    limit : int, optional
        Use only the first ``limit`` calibration samples.
    max_tokens : int
        Rows of ``X`` kept per layer.
    """

    def __init__(self, name: str, limit: int | None = None, max_tokens: int = MAX_TOKENS):
        import torch

        from ..models import MODELS

        if name not in MODELS:
            raise ValueError(f"{name}: no captured activations for it; choose a built-in model: {', '.join(MODELS)}")
        self.name = name
        self.module = MODELS[name]
        self.title = self.module.TITLE
        model = self.module.build()
        self._inputs: dict[str, list] = {}
        self._weights: dict[str, np.ndarray] = {}
        self._qkv: dict[str, dict[str, list]] = {}
        self.heads = _heads(self.module)
        counts: dict[str, int] = {}
        mask: list = [None]  # the current batch's token mask (batch, tokens), when it has one

        def real_tokens(t):
            """Rows of ``t`` (…, features) that are real tokens (all rows when the batch has no mask)."""
            m = mask[0]
            if m is not None and t.ndim == 3 and tuple(m.shape) == tuple(t.shape[:2]):
                return t[m.bool()]
            return t.reshape(-1, t.shape[-1])

        def linear_hook(layer):
            def fn(mod, inputs, output):
                if counts.get(layer, 0) >= max_tokens:
                    return
                x = real_tokens(inputs[0].detach().to(torch.float32))[: max_tokens - counts.get(layer, 0)]
                self._inputs.setdefault(layer, []).append(x.numpy().copy())
                counts[layer] = counts.get(layer, 0) + x.shape[0]

            return fn

        def qkv_hook(attn, part):
            def fn(mod, inputs, output):
                o = output.detach().to(torch.float32)
                b, t, h = o.shape
                heads = o.reshape(b, t, self.heads, h // self.heads).permute(0, 2, 1, 3).numpy()
                m = mask[0]
                lengths = m.sum(1).tolist() if m is not None and tuple(m.shape) == (b, t) else [t] * b
                seqs = [heads[i][:, : int(n)].copy() for i, n in enumerate(lengths)]  # right padding: the first n are real
                self._qkv.setdefault(attn, {}).setdefault(part, []).extend(seqs)

            return fn

        handles = []
        for n, m in model.named_modules():
            if isinstance(m, torch.nn.Linear):
                self._weights[n] = m.weight.detach().to(torch.float32).numpy().copy()
                handles.append(m.register_forward_hook(linear_hook(n)))
                parent, _, leaf = n.rpartition(".")
                if self.heads and leaf in ("query", "key", "value"):
                    handles.append(m.register_forward_hook(qkv_hook(parent, leaf)))
        try:
            with torch.no_grad():
                for batch in self.module.calibration_batches(limit=limit):
                    mask[0] = _token_mask(batch)
                    self.module.run(model, batch)
        finally:
            for h in handles:
                h.remove()

    def linear_names(self) -> list[str]:
        """Linear layers with captured inputs, in module order."""
        return [n for n in self._weights if n in self._inputs]

    def linear(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X, W)``: inputs tokens × in and weight out × in, float32."""
        if name not in self._inputs:
            raise ValueError(f"{self.name}: no Linear layer {name!r} with captured inputs; choose one of "
                             f"{', '.join(self.linear_names()[:6])}{', …' if len(self.linear_names()) > 6 else ''}")
        return np.concatenate(self._inputs[name]), self._weights[name]

    def attention_names(self) -> list[str]:
        """Attention blocks whose Q, K and V were captured (empty for models without attention)."""
        return [a for a, parts in self._qkv.items() if {"query", "key", "value"} <= set(parts)]

    def attention(self, name: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per sequence, ``(Q, K, V)`` each ``(heads, tokens, head_dim)`` (before the 1/√d scaling)."""
        if name not in self.attention_names():
            raise ValueError(f"{self.name}: no attention block {name!r}; choose one of {', '.join(self.attention_names()) or '(none)'}")
        p = self._qkv[name]
        return list(zip(p["query"], p["key"], p["value"]))


def _token_mask(batch):
    """The attention mask of a ``(ids, mask)`` batch (integer, same shape as ids), else None."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        ids, m = batch
        if getattr(m, "shape", None) is not None and tuple(m.shape) == tuple(getattr(ids, "shape", ())) and not m.is_floating_point():
            return m
    return None


def _heads(module) -> int:
    """Attention heads of a built-in model (0 when it has no attention)."""
    if not hasattr(module, "model_dir"):
        return 0
    with open(os.path.join(module.model_dir(), "config.json"), encoding="utf-8") as f:
        return int(json.load(f).get("num_attention_heads", 0))


@functools.lru_cache(maxsize=2)
def open_activations(name: str, limit: int | None = None) -> BuiltinActivations:
    """The activation source of a built-in model by name (see :class:`BuiltinActivations`).

    Built-ins are the same on every call, so the last two captures are kept (treat them as read-only).
    """
    return BuiltinActivations(name, limit=limit)
