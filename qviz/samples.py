"""Deterministic synthetic tensors for teaching: one per distribution a quantizer meets.

Each is float32, drawn from ``numpy.random.default_rng(seed)``, so the same
name, size and seed give the same bits on every machine.

Example
-------
>>> x = sample("gaussian", n=1000)
>>> x.shape, x.dtype
((1000,), dtype('float32'))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

DEFAULT_N = 1 << 16


def _image(rng: np.random.Generator, n: int) -> np.ndarray:
    side = max(int(np.ceil(np.sqrt(n))), 1)
    yy, xx = np.mgrid[0:side, 0:side] / max(side - 1, 1)
    img = 0.45 + 0.35 * np.sin(6 * xx) * np.cos(4 * yy) + 0.2 * ((xx - 0.6) ** 2 + (yy - 0.4) ** 2 < 0.05)
    img = img + rng.normal(0, 0.03, img.shape)
    return np.round(np.clip(img, 0, 1) * 255).ravel()[:n] / 255.0


def _outliers(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(0, 1, n)
    k = max(n // 10000, 3) if n >= 3 else n
    idx = rng.choice(n, size=min(k, n), replace=False)
    x[idx] = rng.choice([-1, 1], size=idx.size) * rng.uniform(40, 60, idx.size)
    return x


@dataclass(frozen=True)
class Sample:
    name: str
    title: str
    description: str
    make: Callable[[np.random.Generator, int], np.ndarray]


SAMPLES: dict[str, Sample] = {
    s.name: s
    for s in [
        Sample("gaussian", "Gaussian", "N(0, 1): what most trained weights look like.", lambda r, n: r.normal(0, 1, n)),
        Sample("laplace", "Laplace", "Laplace(0, 1): sharper peak, heavier tails than a Gaussian.", lambda r, n: r.laplace(0, 1, n)),
        Sample("uniform", "Uniform", "U(-1, 1): the one case a uniform grid fits perfectly.", lambda r, n: r.uniform(-1, 1, n)),
        Sample("relu", "Post-ReLU", "max(0, N(0, 1)): half the values are exactly 0; suits unsigned codes.", lambda r, n: np.maximum(r.normal(0, 1, n), 0)),
        Sample("student_t", "Student-t (heavy tails)", "Student-t with 3 degrees of freedom: rare large values stretch min-max ranges.", lambda r, n: r.standard_t(3, n)),
        Sample("bimodal", "Bimodal", "Two Gaussians at ±2: the middle of the range is nearly empty.", lambda r, n: r.normal(0, 0.5, n) + np.where(r.random(n) < 0.5, -2.0, 2.0)),
        Sample("outliers", "Gaussian + outliers", "N(0, 1) with a few values near ±50, as in LLM activations: min-max wastes the grid.", _outliers),
        Sample("skewed_40_1000", "Skewed range [40, 1000]", "Uniform on [40, 1000]: affine quantization widens the range to 0 and wastes codes.", lambda r, n: r.uniform(40, 1000, n)),
        Sample("layernorm_2000_4000", "Offset range [2000, 4000]", "Uniform on [2000, 4000]: symmetric int8 leaves the negative half of the codes unused.", lambda r, n: r.uniform(2000, 4000, n)),
        Sample("image_0_1", "8-bit image in [0, 1]", "A synthetic 8-bit image scaled to [0, 1]: only 256 distinct values, exact under uint8 with scale 1/255.", _image),
    ]
}


def sample_names() -> list[str]:
    """Names accepted by :func:`sample`."""
    return list(SAMPLES)


def sample(name: str, n: int = DEFAULT_N, seed: int = 0) -> np.ndarray:
    """A deterministic float32 sample of ``n`` values from the named distribution.

    Examples
    --------
    >>> float(sample("relu", n=10).min())
    0.0
    """
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose one of: {', '.join(SAMPLES)}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    return np.asarray(SAMPLES[name].make(rng, int(n)), dtype=np.float32)
