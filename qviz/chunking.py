"""Row chunks of a tensor, each with the slice of its per-block parameters: bounded working memory.

Whole-tensor computations (:func:`qviz.fake_quantize`, :func:`qviz.error_metrics`,
the histograms, the statistics) walk a large tensor in runs of rows along axis 0,
so their temporaries are a few chunks, not a few tensors. Chunks are aligned to
the blocks on axis 0 (a per-group block on axis 0 is never cut), so each chunk's
parameters are rows ``grid_rows`` of the block grid — or all of them when one
block row spans axis 0 (per-tensor, per-channel or per-group on another axis).

Example
-------
>>> from qviz.spec import PerGroup
>>> [(r.start, r.stop, g) for r, g in row_chunks((8, 4), PerGroup(2, axis=0), chunk_numel=12)]
[(0, 2, slice(0, 1, None)), (2, 4, slice(1, 2, None)), (4, 6, slice(2, 3, None)), (6, 8, slice(3, 4, None))]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from . import blocks

CHUNK = 1 << 20  # values per chunk (4 MB of float32): large enough to keep numpy's per-call cost negligible


def row_chunks(shape: tuple, granularity, chunk_numel: int = CHUNK) -> Iterator[tuple[slice, slice | None]]:
    """``(rows, grid_rows)`` per chunk: rows of axis 0, and the grid rows they hold (``None``: every chunk shares them)."""
    shape = tuple(int(s) for s in shape)
    if not shape:
        yield slice(None), None
        return
    bs0 = blocks.block_size(shape, granularity)[0]
    grid0 = shape[0] // bs0 if bs0 else 1
    per_row = max(int(np.prod(shape[1:], dtype=np.int64)), 1)
    step = max(1, chunk_numel // per_row)
    if grid0 > 1:
        step = max(bs0, step - step % bs0)
    for a in range(0, max(shape[0], 1), step):
        b = min(a + step, shape[0])
        yield slice(a, b), (slice(a // bs0, b // bs0) if grid0 > 1 else None)


def is_chunked(shape: tuple, granularity, chunk_numel: int = CHUNK) -> bool:
    """True when ``shape`` is walked in more than one chunk."""
    return len(shape) >= 1 and int(np.prod(shape, dtype=np.int64)) > chunk_numel and shape[0] > 1


def chunk_qparams(qparams, shape: tuple, grid_rows: slice | None):
    """The :class:`qviz.QParams` of the rows ``grid_rows`` of the block grid (all of it for ``None``)."""
    if grid_rows is None:
        return qparams
    grid = blocks.grid_shape(shape, qparams.spec.granularity)
    scale = np.broadcast_to(np.asarray(qparams.scale), grid) if np.size(qparams.scale) == 1 else np.asarray(qparams.scale).reshape(grid)
    zp = np.broadcast_to(np.asarray(qparams.zero_point), grid) if np.size(qparams.zero_point) == 1 else np.asarray(qparams.zero_point).reshape(grid)
    return type(qparams)(scale[grid_rows], zp[grid_rows], qparams.spec)
