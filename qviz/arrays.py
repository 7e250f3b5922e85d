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

import sys

import numpy as np


def _is_torch(x) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def as_float32(x) -> tuple[np.ndarray, bool]:
    """Return ``(float32 ndarray, came_from_torch)``; the array may share memory with ``x`` (read-only use)."""
    if _is_torch(x):
        import torch

        t = x.detach()
        if t.device.type == "meta":
            raise ValueError("the tensor is on the meta device and holds no values: load the real weights first")
        if t.is_quantized:  # qint8/quint8/qint32: its real values, as torch dequantizes them
            t = t.dequantize()
        if t.is_complex():
            raise ValueError("complex tensors cannot be quantized by qviz; pass the real part")
        if t.dtype == torch.float64:
            return _from_float64(t.cpu().numpy()), True
        if t.dtype != torch.float32:
            t = t.to(torch.float32)
        return t.cpu().numpy(), True
    a = np.asarray(x)
    if a.dtype == object:
        raise ValueError("object arrays cannot be quantized: pass a numeric array")
    if np.iscomplexobj(a):
        raise ValueError("complex arrays cannot be quantized by qviz; pass the real part")
    if a.dtype.kind not in "fiub" or a.dtype.fields is not None:
        raise ValueError(f"cannot quantize an array of dtype {a.dtype}: pass numbers")
    if a.dtype == np.float32:
        return a, False
    return (_from_float64(a) if a.dtype.kind == "f" and a.dtype.itemsize > 4 else a.astype(np.float32)), False


F32_MAX = float(np.finfo(np.float32).max)


class Float32RangeError(ValueError):
    """Finite values too large for float32 (they would silently become ±inf)."""


def _from_float64(a: np.ndarray) -> np.ndarray:
    """float64 → float32, refusing finite values that float32 cannot hold (they would become ±inf)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = a.astype(np.float32)
    over = np.isinf(out) & np.isfinite(a)
    if over.any():
        n, big = int(over.sum()), float(np.abs(a[over]).max())
        raise Float32RangeError(
            f"{n:,} finite value{'s' if n > 1 else ''} beyond float32's range (largest |x| = {big:.3g} > {F32_MAX:.3g}): "
            "qviz computes in float32 as torch's fake-quant does; rescale the tensor"
        )
    return out


def wrap(a: np.ndarray, to_torch: bool):
    """Give ``a`` back as a torch tensor when the input was one."""
    if to_torch:
        import torch

        return torch.from_numpy(np.ascontiguousarray(a))
    return a
