"""PyTorch ``.pt`` / ``.pth`` / ``.bin`` files and TorchScript archives, never unpickling code.

State dicts (nested dicts, lists and tuples of tensors, named with dots:
``{"model": {"fc": {"weight": t}}}`` → ``model.fc.weight``) are read with
``torch.load(weights_only=True, mmap=True)``: torch's restricted unpickler builds
tensors, containers and numbers only and refuses every other global, so a
pickle that is not plain weights raises :class:`SourceError` without running.
Non-tensor leaves (an ``epoch`` counter, a config string) are skipped.

TorchScript archives (``torch.jit.save``) hold the same tensor records plus
module objects named ``__torch__.*``; ``torch.load`` refuses them under
``weights_only``. qviz runs the same restricted unpickler on the archive's
``data.pkl`` with inert placeholder classes standing in for the
``__torch__.*`` modules (found by scanning the pickle's opcodes, not running
them), so the parameters load and no TorchScript or Python code runs.

Example
-------
>>> import io, torch
>>> buf = io.BytesIO(); torch.save({"fc": {"weight": torch.ones(2, 3)}}, buf)
>>> TorchSource(buf.getvalue(), "m.pt").names()
['fc.weight']
"""

from __future__ import annotations

from typing import Any

import io
import os
import pickle
import struct
import pickletools
import re
import warnings
import zipfile

from .base import DEFAULT_MAX_NUMEL, Source, TensorInfo, fail

_STATE_DICT = "save the weights with torch.save(model.state_dict(), path) or as .safetensors"


class _Placeholder:
    """Stands in for a ``__torch__.*`` TorchScript module: it only keeps its attribute dict."""

    def __setstate__(self, state):
        self.__dict__["_state"] = state


def _identity(value, *_):
    return value


def _dtype_name(t) -> str:
    return str(t.dtype).replace("torch.", "")


def flatten(obj: Any, prefix: str = "", out: dict | None = None, depth: int = 0) -> dict:
    """``{dotted name: tensor}`` from nested dicts / lists / tuples / TorchScript placeholders."""
    import torch

    out = {} if out is None else out
    if depth > 64:
        return out
    if isinstance(obj, torch.Tensor):
        out[prefix or "tensor"] = obj
    elif isinstance(obj, _Placeholder):
        flatten(obj.__dict__.get("_state", {}), prefix, out, depth + 1)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}" if prefix else str(i), out, depth + 1)
    return out


def _short(e: Exception) -> str:
    """The reason inside torch's long weights-only message (``it needs posix.system``, ``Unsupported operand 149``)."""
    text = str(e)
    m = re.search(r"GLOBAL ([\w.]+)", text)
    if m:
        return f"it needs {m.group(1)}"
    m = re.search(r"WeightsUnpickler error:\s*(.*?)\s*(?:Check the documentation|$)", text, re.DOTALL)
    text = " ".join((m.group(1) if m else text).split())
    return text[:120]


class TorchSource(Source):
    """A pickled state dict or TorchScript archive (path or bytes), loaded lazily with ``mmap``."""

    def __init__(self, data: Any, label: str, max_numel: int = DEFAULT_MAX_NUMEL):
        super().__init__(label, max_numel)
        import torch

        is_bytes = isinstance(data, (bytes, bytearray, memoryview))
        size = len(data) if is_bytes else os.path.getsize(data)
        if size == 0:
            raise fail(label, "is empty (0 bytes)", "choose the real checkpoint file")
        fp = io.BytesIO(bytes(data)) if is_bytes else data
        is_zip = zipfile.is_zipfile(fp)
        if not is_zip:
            if is_bytes:
                fp.seek(0)
                head = fp.read(2)
            else:
                with open(data, "rb") as f:
                    head = f.read(2)
            if head == b"PK":
                raise fail(
                    label, "is a zip checkpoint whose end is missing (truncated or corrupted)", "download or save it again"
                )
            if head[:1] != b"\x80":  # neither torch's zip format nor a pickle (protocol 2+)
                raise fail(
                    label,
                    "is not a PyTorch checkpoint (no zip or pickle header)",
                    "choose the checkpoint file itself, or fix its extension",
                )
        try:
            if is_zip and self._is_torchscript(fp):
                obj = self._load_torchscript(fp)
            else:
                if is_bytes:
                    fp.seek(0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    obj = torch.load(fp, map_location="cpu", weights_only=True, mmap=is_zip and not is_bytes)
        except pickle.UnpicklingError as e:
            if "GLOBAL" in str(e):
                raise fail(
                    label, f"holds Python objects, not plain weights ({_short(e)}); qviz never unpickles code", _STATE_DICT
                ) from None
            raise fail(
                label,
                f"is not a plain-weights PyTorch file (the safe loader stopped at: {_short(e)}); qviz never unpickles code",
                f"if it is corrupted save it again; else {_STATE_DICT}",
            ) from None
        except (
            RuntimeError,
            EOFError,
            ValueError,
            OSError,
            zipfile.BadZipFile,
            KeyError,
            IndexError,
            TypeError,
            AttributeError,
            struct.error,
            UnicodeDecodeError,
        ) as e:
            raise fail(
                label,
                f"is not a readable PyTorch file ({_short(e)})",
                "the file is corrupted, truncated or not a torch checkpoint: save it again",
            ) from None
        tensors = flatten(obj)
        if not tensors:
            raise fail(label, "holds no tensors", _STATE_DICT)
        self._tensors = tensors
        for name, t in tensors.items():
            self._infos[name] = TensorInfo(name, tuple(t.shape), _dtype_name(t))

    @staticmethod
    def _is_torchscript(fp) -> bool:
        if not isinstance(fp, (str, os.PathLike)):
            fp.seek(0)
        with zipfile.ZipFile(fp) as z:
            return any(n == "constants.pkl" or n.endswith("/constants.pkl") for n in z.namelist())

    def _load_torchscript(self, fp):
        import torch
        import torch.serialization as ts

        if not isinstance(fp, (str, os.PathLike)):
            fp.seek(0)
        with zipfile.ZipFile(fp) as z:
            pkl = [n for n in z.namelist() if n == "data.pkl" or (n.endswith("/data.pkl") and n.count("/") == 1)]
            if not pkl:
                raise fail(self.label, "is a TorchScript archive without data.pkl", _STATE_DICT)
            names = set()
            for op, arg, _ in pickletools.genops(z.read(pkl[0])):
                if op.name == "GLOBAL":
                    names.add(arg.replace(" ", "."))
                elif op.name == "STACK_GLOBAL":
                    raise pickle.UnpicklingError("Unsupported global: GLOBAL (protocol 4 STACK_GLOBAL in a TorchScript archive)")
        allowed = [(type(n, (_Placeholder,), {}), n) for n in names if n.startswith("__torch__.")]
        allowed += [(_identity, n) for n in names if n.startswith("torch.jit._pickle.")]
        if not isinstance(fp, (str, os.PathLike)):
            fp.seek(0)
        reader = torch._C.PyTorchFileReader(fp if isinstance(fp, (str, os.PathLike)) else fp)
        with ts.safe_globals(allowed):
            return ts._load(reader, "cpu", torch._weights_only_unpickler, pickle_file="data.pkl")

    def _read(self, name: str):
        t = self._tensors[name]
        if t.layout != __import__("torch").strided:
            t = t.to_dense()
        return t
