"""Which integer codes a tensor uses: the counts behind the code-occupancy chart.

Example
-------
>>> import numpy as np, qviz
>>> x = np.array([40.0, 500.0, 1000.0], dtype=np.float32)
>>> qp = qviz.choose_qparams(0.0, 1000.0, qviz.QuantSpec(signed=False, symmetric=False))
>>> reachable_codes(x, qp)
(10, 255)
"""

from __future__ import annotations

from numpy.typing import ArrayLike

import numpy as np

from .affine import QParams, quantize
from .arrays import as_float32


def code_counts(x: ArrayLike, qparams: QParams) -> np.ndarray:
    """How many finite values map to each code ``qmin … qmax`` (all blocks together)."""
    x32, _ = as_float32(x)
    codes = quantize(x32, qparams)
    finite = np.isfinite(x32)
    spec = qparams.spec
    sel = codes[finite] if not finite.all() else codes.ravel()
    return np.bincount((sel.astype(np.int64) - spec.qmin).ravel(), minlength=spec.n_levels)


def reachable_codes(x: ArrayLike, qparams: QParams) -> tuple[int, int]:
    """Codes of the finite min and max of ``x`` (per-tensor view): the span a value of the data's range can reach."""
    x32, _ = as_float32(x)
    finite = x32[np.isfinite(x32)]
    if finite.size == 0:
        raise ValueError("the tensor has no finite value")
    if qparams.scale.size != 1:
        raise ValueError("reachable_codes needs per-tensor qparams; for per-channel, use error_metrics().wasted_range")
    ends = np.array([finite.min(), finite.max()], dtype=np.float32)
    q = quantize(ends, qparams)
    return int(q[0]), int(q[1])
