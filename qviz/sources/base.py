"""What every reader shares: :class:`TensorInfo`, :class:`SourceError` and :class:`Source`.

A source is lazy: opening it reads headers only; :meth:`Source.info` never touches
tensor data, and :meth:`Source.load` reads one tensor and widens it to float32::

    src = qviz.open_source("model.safetensors")
    for name in src.names():
        info = src.info(name)        # shape, dtype, numel: from the header
        x = src.load(name)           # one float32 ndarray, checked against max_numel

Integer, bool, empty and 0-d tensors load too; :attr:`TensorInfo.flags` names
what is unusual about them so the analysis can treat each on purpose.

Example
-------
>>> info = TensorInfo("fc.weight", (10, 64), "float32")
>>> info.numel, info.flags
(640, ())
>>> TensorInfo("steps", (), "int64").flags
('integer', 'scalar')
"""

from __future__ import annotations

import math
from typing import Any

import os
from dataclasses import dataclass, field

import numpy as np

from ..arrays import Float32RangeError, _from_float64

DEFAULT_MAX_NUMEL = 1 << 31
FLOAT_DTYPES = (
    "float64",
    "float32",
    "float16",
    "bfloat16",
    "float8_e4m3fn",
    "float8_e5m2",
    "float8_e4m3fnuz",
    "float8_e5m2fnuz",
    "float8_e8m0fnu",
)


class SourceError(ValueError):
    """A file or upload qviz cannot read; the message says which, what is wrong and what to do."""


def fail(label: str, what: str, todo: str) -> SourceError:
    """One-line :class:`SourceError`: ``"<label>: <what>; <todo>"``."""
    what = " ".join(str(what).split())
    return SourceError(f"{label}: {what}; {todo}")


@dataclass(frozen=True)
class TensorInfo:
    """Header facts about one tensor (nothing here needs its data).

    Attributes
    ----------
    name : str
        Dotted name (``layer.0.weight``), unique within its source.
    shape : tuple of int
    dtype : str
        Name of the stored type: ``float32``, ``bfloat16``, ``int64``, ``bool``, …
    node : str
        Where it lives when that is more than its name (the ONNX node using it), else ``""``.
    quantized : str
        For a weight the file stores already quantized, its format (``"gguf:Q4_K"``, ``"gptq"``, …;
        :meth:`Source.quantized` gives its codes and scales); ``dtype`` is then the stored element type
        (``"Q4_K"``, ``"int4"``, …) and ``shape`` the dequantized shape.
    """

    name: str
    shape: tuple
    dtype: str
    node: str = ""
    quantized: str = ""
    numel: int = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "numel", math.prod(self.shape))  # exact Python ints; 1 for a 0-d tensor

    @property
    def is_float(self) -> bool:
        """Loads as real values: a float dtype, or a weight stored quantized (dequantized by ``load``)."""
        return self.dtype in FLOAT_DTYPES or bool(self.quantized)

    @property
    def flags(self) -> tuple:
        """What is unusual: ``integer``, ``bool``, ``complex``, ``empty``, ``scalar``, ``low-precision``."""
        out = []
        if self.dtype == "bool":
            out.append("bool")
        elif self.dtype.startswith(("int", "uint")) and not self.quantized:  # int4 codes of a quantized weight load as floats
            out.append("integer")
        elif self.dtype.startswith("complex"):
            out.append("complex")
        elif self.dtype in FLOAT_DTYPES[2:]:
            out.append("low-precision")
        if self.numel == 0:
            out.append("empty")
        if not self.shape:
            out.append("scalar")
        if self.quantized:
            out.append("quantized")
        return tuple(out)


def torch_to_float32(t: Any) -> np.ndarray:
    """A torch tensor (any real dtype, quantized included) as a float32 ndarray."""
    import torch

    t = t.detach()
    if t.is_quantized:
        t = t.dequantize()
    if t.is_complex():
        raise ValueError("complex tensor")
    if t.dtype == torch.bfloat16 and t.is_contiguous() and t.device.type == "cpu":
        # bf16 is the top half of a float32: one shift, exact (NaN payloads too), 2-3× faster than torch's .to()
        out = np.empty(tuple(t.shape), np.float32)
        np.left_shift(t.view(torch.int16).numpy().astype(np.uint32), 16, out=out.view(np.uint32))
        return out
    if t.dtype == torch.float64:
        return np.ascontiguousarray(_from_float64(t.numpy()))
    return t.to(torch.float32, memory_format=torch.contiguous_format, copy=True).numpy()  # a copy: never a view of the file


def numpy_to_float32(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind not in "fiub":
        raise ValueError(f"dtype {a.dtype}")
    if a.dtype.kind == "f" and a.dtype.itemsize > 4:
        out = _from_float64(a)
        return out if out.flags.c_contiguous else np.ascontiguousarray(out)
    out = a.astype(np.float32, order="C", copy=False)
    return out if out.flags.writeable else out.copy()  # readers hand over fresh arrays; read-only views get copied


class Source:
    """Base of every reader: a name → :class:`TensorInfo` table and a one-tensor loader.

    Subclasses fill ``self._infos`` (ordered) when opened and implement
    ``_read(name)`` returning an ndarray or a torch tensor.

    Parameters
    ----------
    label : str
        What messages call it (the file name).
    max_numel : int
        Largest tensor :meth:`load` accepts (checked from the header, before reading).
    """

    kind = "file"

    def __init__(self, label: str, max_numel: int = DEFAULT_MAX_NUMEL):
        if not isinstance(max_numel, int) or max_numel < 1:
            raise ValueError(f"max_numel must be a positive int, got {max_numel!r}")
        self.label = label
        self.max_numel = max_numel
        self._infos: dict[str, TensorInfo] = {}

    def names(self) -> list[str]:
        """Tensor names in file order."""
        return list(self._infos)

    def info(self, name: str) -> TensorInfo:
        """Shape, dtype and numel of ``name``, from the header."""
        try:
            return self._infos[name]
        except KeyError:
            some = ", ".join(list(self._infos)[:5])
            raise fail(
                self.label, f"has no tensor named {name!r}", f"choose one of its {len(self._infos)} tensors ({some}, …)"
            ) from None

    def load(self, name: str) -> np.ndarray:
        """``name`` as a float32 ndarray (bf16/fp16/fp8 widened exactly, integers and bool cast)."""
        info = self.info(name)
        if info.numel > self.max_numel:
            raise fail(
                self.label,
                f"tensor {name!r} has {info.numel:,} elements, over the limit of {self.max_numel:,}",
                "pass a larger max_numel to qviz.open_source if the machine has the memory",
            )
        if info.dtype.startswith("complex"):
            raise fail(
                self.label, f"tensor {name!r} is complex ({info.dtype})", "qviz quantizes real tensors; save its real part"
            )
        try:
            raw = self._read(name)
            x = numpy_to_float32(raw) if isinstance(raw, np.ndarray) else torch_to_float32(raw)
        except SourceError:
            raise
        except MemoryError:
            what = f"tensor {name!r} ({info.numel:,} values) does not fit in memory"
            raise fail(self.label, what, "use a smaller max_numel or more RAM") from None
        except Float32RangeError as e:
            raise fail(self.label, f"tensor {name!r} has {e}".split(":")[0], str(e).split(": ", 1)[1]) from None
        except (ValueError, TypeError, RuntimeError) as e:
            raise fail(
                self.label,
                f"tensor {name!r} cannot be converted to float32 ({str(e)[:100]})",
                "the file may be corrupted: save it again",
            ) from None
        if x.shape != info.shape:
            raise fail(
                self.label,
                f"tensor {name!r} has shape {x.shape} but its header says {info.shape}",
                "the file is corrupted: save it again",
            )
        return x

    def _read(self, name: str):  # pragma: no cover - abstract
        raise NotImplementedError

    def quantized(self, name: str) -> Any:
        """``name`` as stored, a :class:`qviz.quantized.QuantizedTensor` (quantized checkpoints only)."""
        info = self.info(name)
        raise fail(self.label, f"tensor {name!r} is stored as {info.dtype}, not quantized", "open a quantized checkpoint")

    def total_numel(self) -> int:
        return sum(i.numel for i in self._infos.values())

    def close(self) -> None:
        """Release open files (sources also close when garbage collected)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self) -> int:
        return len(self._infos)

    def __iter__(self):
        return iter(self._infos)

    def __contains__(self, name) -> bool:
        return name in self._infos

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label!r}: {len(self)} tensors, {self.total_numel():,} values>"


def label_of(path: Any, name: str | None) -> str:
    """The file name messages use."""
    if name:
        return os.path.basename(str(name)) or str(name)
    return os.path.basename(os.fspath(path).rstrip("/\\")) if path is not None else "upload"
