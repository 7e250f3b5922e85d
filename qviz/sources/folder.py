"""A model folder as one source: safetensors shards, PyTorch ``.bin`` shards, or one ONNX file.

Hugging Face folders hold ``model.safetensors`` (or shards and
``model.safetensors.index.json``), older ones ``pytorch_model.bin`` (or shards
and ``pytorch_model.bin.index.json``); exported ones a ``model.onnx`` beside its
external data. :func:`open_folder` picks in that order.

Example
-------
>>> import tempfile, numpy as np, os
>>> from qviz import SourceError
>>> d = tempfile.mkdtemp(); np.save(os.path.join(d, "x.npy"), np.ones(2))
>>> try:
...     open_folder(d, "d")
... except SourceError as e:
...     print(str(e)[:34])
d: is a folder with no model files
"""

from __future__ import annotations

import glob
import json
import os

from .base import DEFAULT_MAX_NUMEL, Source, fail
from .safetensors_src import SafetensorsSource
from .torch_pt import TorchSource
from .onnx_src import OnnxSource


class FolderSource(Source):
    """Several sources (shards) read as one; tensor names must not repeat."""

    def __init__(self, parts: list, label: str, max_numel: int = DEFAULT_MAX_NUMEL):
        super().__init__(label, max_numel)
        self.parts = parts
        self._owner: dict = {}
        for part in parts:
            for name in part.names():
                if name in self._owner:
                    raise fail(
                        label,
                        f"tensor {name!r} appears in {self._owner[name].label} and {part.label}",
                        "the shards are from different models: download them again",
                    )
                self._owner[name] = part
                self._infos[name] = part.info(name)

    def _read(self, name: str):
        return self._owner[name]._read(name)

    def close(self) -> None:
        for part in self.parts:
            part.close()


def shard_index(index_path: str, label: str) -> list[str]:
    """Shard file paths listed by a Hugging Face ``*.index.json`` (``weight_map``), all checked to exist."""
    folder = os.path.dirname(index_path)
    try:
        with open(index_path, encoding="utf-8") as f:
            shards = list(dict.fromkeys(json.load(f)["weight_map"].values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise fail(
            label, f"{os.path.basename(index_path)} is not a valid shard index ({e})", "download the model's index file again"
        ) from None
    for s in shards:
        if not isinstance(s, str) or os.path.basename(s) != s or not os.path.isfile(os.path.join(folder, s)):
            raise fail(label, f"the index lists shard {s!r}, which is not in the folder", "download every shard of the model")
    return [os.path.join(folder, s) for s in shards]


def _torch_shards(folder: str, label: str) -> list[str]:
    index = sorted(glob.glob(os.path.join(folder, "*.bin.index.json")) + glob.glob(os.path.join(folder, "*.pt.index.json")))
    if index:
        return shard_index(index[0], label)
    return sorted(p for ext in ("bin", "pt", "pth") for p in glob.glob(os.path.join(folder, f"*.{ext}")))


def open_folder(folder: str, label: str, max_numel: int = DEFAULT_MAX_NUMEL) -> Source:
    """The model in ``folder`` (see the module docstring)."""
    if glob.glob(os.path.join(folder, "*.safetensors")) or glob.glob(os.path.join(folder, "*.safetensors.index.json")):
        return SafetensorsSource(folder, label, max_numel)
    shards = _torch_shards(folder, label)
    if shards:
        parts = [TorchSource(p, f"{label}/{os.path.basename(p)}", max_numel) for p in shards]
        return parts[0] if len(parts) == 1 else FolderSource(parts, label, max_numel)
    onnx_files = glob.glob(os.path.join(folder, "*.onnx"))
    if len(onnx_files) == 1:
        return OnnxSource(onnx_files[0], f"{label}/{os.path.basename(onnx_files[0])}", max_numel)
    what = f"{len(onnx_files)} .onnx files" if onnx_files else "no model files (.safetensors, .bin/.pt/.pth shards or one .onnx)"
    raise fail(label, f"is a folder with {what}", "choose one .onnx file" if onnx_files else "choose a file or a model folder")
