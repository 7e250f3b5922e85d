"""What the inspector shows of an already-quantized tensor, binned: :func:`summarize`.

From a :class:`qviz.QuantizedTensor` (any reader's): the histogram of its decoded values, the level grid
of one chosen block, the distribution of the per-block scales (and mins / zero points), code occupancy
summed over blocks, the saturated share and bits per weight. Everything is binned here, so the figure
never grows with the tensor.

Choosing a block:

* ``"widest"``: the block whose levels span the widest range, ``|s|·(max codebook − min codebook)``;
* ``"worst"``: the block with the largest share of values on its lowest or highest code (saturation:
  where the block's range most likely clipped), the widest among equals;
* an integer: that block.

Example
-------
>>> import numpy as np
>>> from qviz.quantized import QuantizedTensor
>>> qt = QuantizedTensor(name="w", format="demo", shape=(2, 4), bits=2, block_size=4,
...     codes=np.array([[0, 1, 2, 3], [3, 3, 0, 2]]), scales=np.array([1.0, 0.5], np.float32),
...     codebook=np.arange(4, dtype=np.float32) - 2, nbytes=3)
>>> pick_block(qt, "widest"), pick_block(qt, "worst"), pick_block(qt, 1)
(0, 1, 1)
>>> s = summarize(qt, "worst")
>>> s["levels"].tolist(), s["saturated_share"], s["bits_per_weight"]
([-1.0, -0.5, 0.0, 0.5], 0.625, 3.0)
"""

from __future__ import annotations

import numpy as np

from .binning import histogram
from .quantized import QuantizedTensor

PICKS = ("worst", "widest")


def block_spans(qt: QuantizedTensor) -> np.ndarray:
    """Width of each block's level grid, ``|s|·(max codebook − min codebook)``."""
    cb = np.asarray(qt.codebook, np.float64)
    return np.abs(np.asarray(qt.scales, np.float64)) * (float(cb.max() - cb.min()) if cb.size else 0.0)


def saturated_per_block(qt: QuantizedTensor) -> np.ndarray:
    """Share of each block's values on the codebook's lowest or highest code."""
    cb = np.asarray(qt.codebook)
    lo, hi = int(np.argmin(cb)), int(np.argmax(cb))
    c = np.asarray(qt.codes)
    return np.count_nonzero((c == lo) | (c == hi), axis=1) / max(1, qt.block_size)


def pick_block(qt: QuantizedTensor, which="widest") -> int:
    """Index of the ``"worst"`` or ``"widest"`` block, or ``which`` itself when it is an index."""
    if qt.n_blocks == 0:
        raise ValueError(f"{qt.name!r} has no blocks")
    if isinstance(which, (int, np.integer)) and not isinstance(which, bool):
        if not 0 <= int(which) < qt.n_blocks:
            raise ValueError(f"block must be in [0, {qt.n_blocks - 1}], got {which}")
        return int(which)
    spans = block_spans(qt)
    if which == "widest":
        return int(np.argmax(np.nan_to_num(spans, nan=-1.0)))
    if which == "worst":
        sat = saturated_per_block(qt)
        return int(np.lexsort((np.nan_to_num(spans, nan=-1.0), sat))[-1])
    raise ValueError(f"block must be 'worst', 'widest' or an index, got {which!r}")


def summarize(qt: QuantizedTensor, block="widest", bins: int = 240, x_hat: np.ndarray | None = None) -> dict:
    """Binned view of ``qt`` with block ``block``'s levels (see the module docstring)."""
    x_hat = qt.dequantize() if x_hat is None else x_hat
    b = pick_block(qt, block)
    levels = qt.levels(b)
    finite = x_hat[np.isfinite(x_hat)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    lv = levels[np.isfinite(levels)]
    if lv.size:
        lo, hi = min(lo, float(lv.min())), max(hi, float(lv.max()))
    pad = (hi - lo) * 0.02 or 1e-3
    parts = {"scales": qt.scales, "mins": qt.mins, "zero_points": qt.zero_points}
    per_block = {k: histogram(np.asarray(v, np.float32), bins=60) for k, v in parts.items() if v is not None}
    return dict(
        block=b,
        n_blocks=qt.n_blocks,
        levels=levels,
        block_scale=float(np.asarray(qt.scales)[b]),
        hist=histogram(x_hat, bins=bins, range=(lo - pad, hi + pad)),
        per_block=per_block,
        code_counts=qt.code_counts(),
        codebook=np.asarray(qt.codebook, np.float32),
        saturated_share=qt.saturated_share(),
        bits_per_weight=qt.bits_per_weight,
        bits=float(qt.bits),
        block_size=int(qt.block_size),
        format=qt.format,
        meta=dict(qt.meta),
    )
