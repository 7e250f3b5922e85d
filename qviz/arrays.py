"""Array boundary: numpy or torch in, float32 numpy inside, the caller's kind out.

qviz computes in float32, as torch's fake-quant kernels do. bf16, fp16 and fp8
torch tensors are widened through torch (exactly); float64 is rounded to the
nearest float32. Inputs are never modified.

Example
-------
>>> x, is_torch = as_float32([1, 2, 3])
>>> x.dtype, is_torch
(dtype('float32'), False)
"""

from __future__ import annotations

from typing import Any

import sys

import numpy as np


def _is_torch(x) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def as_float32(x: Any) -> tuple[np.ndarray, bool]:
    """Return ``(float32 ndarray, came_from_torch)``; the array may share memory with ``x`` (read-only use)."""
    if _is_torch(x):
        import torch

        t = x.detach()
        if t.is_complex():
            raise ValueError("complex tensors cannot be quantized by qviz; pass the real part")
        if t.dtype != torch.float32:
            t = t.to(torch.float32)
        return t.cpu().numpy(), True
    a = np.asarray(x)
    if a.dtype == object:
        raise ValueError("object arrays cannot be quantized: pass a numeric array")
    if np.iscomplexobj(a):
        raise ValueError("complex arrays cannot be quantized by qviz; pass the real part")
    if a.dtype.kind not in "fiub":
        raise ValueError(f"cannot quantize an array of dtype {a.dtype}: pass numbers")
    return (a if a.dtype == np.float32 else a.astype(np.float32)), False


def wrap(a: np.ndarray, to_torch: bool) -> Any:
    """Give ``a`` back as a torch tensor when the input was one."""
    if to_torch:
        import torch

        return torch.from_numpy(np.ascontiguousarray(a))
    return a
