"""The layers qviz quantizes inside a torch model, and the ``(channels, values)`` view of their inputs.

One definition, used by activation capture (:mod:`qviz.models.capture`, which
calibrates on the view) and by the fake-quantized model
(:mod:`qviz.impact.quantized_model`, which quantizes on it), so an activation is
quantized on exactly the view it was calibrated on::

    Linear, input (…, C)            →  (C, N):  x.reshape(-1, C).T   (also GPT-2's Conv1D: no kernel_size)
    ConvNd, input (B, C, *spatial)  →  (C, N):  x.transpose(0, 1).reshape(C, -1)
    ConvNd, unbatched (C, *spatial) →  as (1, C, *spatial)

:func:`from_channels` is the exact inverse (same shape and dtype as the input).
torch is imported inside the functions, never at ``import qviz``.

Example
-------
>>> import torch
>>> conv = torch.nn.Conv2d(3, 4, 3)
>>> x = torch.randn(3, 5, 5)  # unbatched
>>> to_channels(conv, x).shape
(3, 25)
>>> bool(torch.equal(from_channels(conv, to_channels(conv, x), x), x))
True
"""

from __future__ import annotations

import numpy as np


def layer_kinds() -> tuple[type, ...]:
    """The module types qviz quantizes: ``nn.Linear`` and ``nn.Conv1d/2d/3d``."""
    import torch

    return (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)


def quant_layers(model) -> list[tuple[str, object]]:
    """``(name, module)`` of every Linear/Conv of ``model``, in module order."""
    kinds = layer_kinds()
    return [(n, m) for n, m in model.named_modules() if isinstance(m, kinds)]


def _linear_like(module) -> bool:
    """Linear, or a Linear-shaped layer without a kernel (transformers' GPT-2 ``Conv1D``)."""
    import torch

    return isinstance(module, torch.nn.Linear) or not hasattr(module, "kernel_size")


def _batched(module, x):
    """``(x with a batch axis, whether one was added)``: only an unbatched conv input gets one."""
    if not _linear_like(module) and x.ndim == len(module.kernel_size) + 1:
        return x.unsqueeze(0), True
    return x, False


def to_channels(module, x) -> np.ndarray:
    """The layer input ``x`` (torch tensor) as a float32 ``(channels, values)`` array (a copy)."""
    import torch

    x = x.detach().to(torch.float32)
    if _linear_like(module):
        return x.reshape(-1, x.shape[-1]).T.contiguous().numpy()
    x, _ = _batched(module, x)
    return x.transpose(0, 1).reshape(x.shape[1], -1).contiguous().numpy()


def from_channels(module, c: np.ndarray, like):
    """The inverse of :func:`to_channels`: ``c`` back to the shape (and dtype) of the input ``like``."""
    import torch

    if _linear_like(module):
        out = torch.from_numpy(np.ascontiguousarray(c.T)).reshape(like.shape)
    else:
        batched, added = _batched(module, like)
        moved = batched.transpose(0, 1).shape
        out = torch.from_numpy(np.ascontiguousarray(c)).reshape(moved).transpose(0, 1)
        out = out.squeeze(0) if added else out
    return out.to(like.dtype)
