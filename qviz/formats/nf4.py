"""NF4, QLoRA's 4-bit NormalFloat (Dettmers et al., 2023): 16 levels at normal quantiles, blocks of 64.

Each block of 64 values (``PerGroup(64, axis=-1)`` of :mod:`qviz.blocks`: 64
consecutive values of a row, a partial block at the end of a row that 64 does not
divide, see :func:`qviz.formats.base.group_rows`) is divided by its max |x| (a float32 ``absmax`` per block,
so 4 + 32/64 = 4.5 bits per value before QLoRA's double quantization), rounded
to the nearest of the 16 levels below, and multiplied back. The levels are the
table QLoRA publishes (bitsandbytes ``create_normal_map``): quantiles of N(0, 1)
scaled to [-1, 1], asymmetric so that 0 is exact (7 negative, 8 positive).

Example
-------
>>> len(NF4_LEVELS), float(NF4_LEVELS[7]), float(NF4_LEVELS[-1])
(16, 0.0, 1.0)
>>> NF4().fake_quantize(np.array([1.0, 0.55, -0.1, 0.0])).tolist()
[1.0, 0.5626170039176941, -0.09105003625154495, 0.0]
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from .base import Format, block_absmax, from_group_rows, group_rows, round_to_levels

#: QLoRA's NF4 table (Dettmers et al. 2023, appendix E; bitsandbytes), lowest first
NF4_LEVELS = np.array(
    [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class NF4(Format):
    """NF4 codes with one float32 absmax per ``block_size`` values (QLoRA: 64)."""

    block_size: int = 64  # type: ignore[assignment]  # a field here, a property on Format
    name: str = "nf4"

    def __post_init__(self) -> None:
        if not isinstance(self.block_size, int) or isinstance(self.block_size, bool) or self.block_size < 1:
            raise ValueError(f"block_size must be a positive int (QLoRA uses 64), got {self.block_size!r}")

    @property
    def title(self) -> str:  # type: ignore[override]
        return f"NF4 (QLoRA), blocks of {self.block_size}"

    @property
    def family(self) -> str:
        return "non-uniform"

    @property
    def element_bits(self) -> float:
        return 4

    @property
    def scale_bits(self) -> int:
        return 32

    def _fake_quantize(self, x32: np.ndarray) -> np.ndarray:
        rows = group_rows(x32, self.block_size)
        amax = block_absmax(rows)[:, None]
        safe = np.where(amax > 0, amax, np.float32(1))
        q = round_to_levels((rows / safe).astype(np.float32), NF4_LEVELS)
        return from_group_rows((q * safe).astype(np.float32), x32.shape)

    def _levels(self, x32: np.ndarray) -> np.ndarray:
        amax = float(block_absmax(group_rows(x32, self.block_size)).max()) or 1.0
        return NF4_LEVELS * np.float32(amax)
