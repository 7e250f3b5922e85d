"""Granularity as a block shape: the one reshape every kernel uses.

As torchao's ``block_size``, every granularity is a block shape ``b`` with
``b[d]`` dividing ``shape[d]``; the tensor splits into a grid of
``shape[d] // b[d]`` blocks per axis, and each block gets one scale and zero point::

    per-tensor            b = shape                      grid = (1, …, 1)
    per-channel(axis=a)   b[a] = 1, b[d] = shape[d]      grid = (1, …, C, …, 1)
    per-group(g, axis=a)  b[a] = g, b[d] = 1             grid = (…, shape[a] // g)

Parameters (scale, zero point, min, max) live on the grid. :func:`split` views a
tensor as ``(g0, b0, g1, b1, …)`` and :func:`expand` views grid parameters as
``(g0, 1, g1, 1, …)`` so that they broadcast against it: no copy, no loop.

Example
-------
>>> from qviz.spec import PerGroup
>>> block_size((4, 64), PerGroup(32))
(1, 32)
>>> grid_shape((4, 64), PerGroup(32))
(4, 2)
"""

from __future__ import annotations

import numpy as np

from .spec import Granularity, PerChannel, PerGroup, PerTensor


def _axis(axis: int, ndim: int, what: str) -> int:
    if ndim == 0:
        raise ValueError(f"{what} needs a tensor with at least one axis; this one is a scalar: use qviz.PerTensor()")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what} axis {axis} is out of range for a tensor with {ndim} axes")
    return axis % ndim


def block_size(shape: tuple, granularity: Granularity) -> tuple:
    """Block shape of ``granularity`` on a tensor of ``shape``.

    Raises ``ValueError`` when the granularity does not fit the shape.
    """
    shape = tuple(int(s) for s in shape)
    if isinstance(granularity, PerTensor):
        return shape
    if isinstance(granularity, PerChannel):
        a = _axis(granularity.axis, len(shape), "per-channel")
        return tuple(1 if d == a else s for d, s in enumerate(shape))
    if isinstance(granularity, PerGroup):
        a = _axis(granularity.axis, len(shape), "per-group")
        g = granularity.group_size
        if shape[a] % g:
            divisors = [d for d in range(2, min(shape[a], 4096) + 1) if shape[a] % d == 0][-3:]
            hint = f" such as {', '.join(map(str, divisors))}" if divisors else ""
            raise ValueError(
                f"per-group: axis {granularity.axis} has size {shape[a]}, which group_size {g} does not divide; "
                f"choose a divisor of {shape[a]}{hint}"
            )
        return tuple(g if d == a else 1 for d in range(len(shape)))
    raise ValueError(f"unknown granularity {granularity!r}")


def grid_shape(shape: tuple, granularity: Granularity) -> tuple:
    """Number of blocks along each axis (the shape of the scale array)."""
    b = block_size(shape, granularity)
    return tuple(s // bs if bs else 0 for s, bs in zip(shape, b))


def n_blocks(shape: tuple, granularity: Granularity) -> int:
    return int(np.prod(grid_shape(shape, granularity), dtype=np.int64))


def split(x: np.ndarray, granularity: Granularity) -> np.ndarray:
    """View ``x`` as ``(g0, b0, g1, b1, …)`` (a reshape, no copy for contiguous ``x``)."""
    b = block_size(x.shape, granularity)
    inter = []
    for s, bs in zip(x.shape, b):
        inter += [s // bs if bs else 0, bs]
    return x.reshape(inter)


def expand(params: np.ndarray, shape: tuple, granularity: Granularity) -> np.ndarray:
    """View grid parameters as ``(g0, 1, g1, 1, …)`` to broadcast against :func:`split`.

    ``params`` may have the grid shape, be flat with one entry per block, or be a
    single value.
    """
    grid = grid_shape(shape, granularity)
    params = np.asarray(params)
    count = int(np.prod(grid, dtype=np.int64))
    if params.size == 1:
        params = np.broadcast_to(params.reshape(()), grid)
    elif params.size != count:
        raise ValueError(
            f"the quantization parameters have {params.size} entries but {granularity.describe()} on a tensor of "
            f"shape {tuple(shape)} has {count} blocks; compute them for this tensor and granularity"
        )
    inter = []
    for g in grid:
        inter += [g, 1]
    return params.reshape(grid).reshape(inter) if inter else params.reshape(())


def to_blocks(x: np.ndarray, granularity: Granularity) -> np.ndarray:
    """``(n_blocks, block_numel)`` array, one row per block in grid (C) order.

    Copies when the block axes are not already last; for per-tensor and
    per-channel on axis 0 it is a view.
    """
    v = split(x, granularity)
    nd = x.ndim
    order = [2 * d for d in range(nd)] + [2 * d + 1 for d in range(nd)]
    b = block_size(x.shape, granularity)
    return v.transpose(order).reshape(n_blocks(x.shape, granularity), int(np.prod(b, dtype=np.int64)))


def block_min_max(x: np.ndarray, granularity: Granularity) -> tuple[np.ndarray, np.ndarray]:
    """Per-block min and max of the finite values, on the grid.

    NaN and ±Inf are ignored; a block with no finite value gets ``(0, 0)``.
    """
    v = split(x, granularity)
    axes = tuple(range(1, v.ndim, 2))
    if v.size == 0:
        raise ValueError("the tensor is empty: there is no range to quantize")
    finite = np.isfinite(v)
    if finite.all():
        lo, hi = v.min(axis=axes), v.max(axis=axes)
    else:
        lo = np.where(finite, v, np.inf).min(axis=axes)
        hi = np.where(finite, v, -np.inf).max(axis=axes)
        empty = ~finite.any(axis=axes)
        lo = np.where(empty, 0, lo).astype(v.dtype)
        hi = np.where(empty, 0, hi).astype(v.dtype)
    return lo, hi
