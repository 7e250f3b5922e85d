"""Built-in models: a digits CNN trained in this repo and all-MiniLM-L6-v2, plus activation capture.

Each model module exposes ``NAME``, ``TITLE``, ``TASK_METRIC``, ``weights_path()``,
``build()`` (an eval-mode ``torch.nn.Module``), ``calibration_batches()``,
``run(model, batch)`` and ``evaluate(model)`` (the task metric). torch is
imported inside them, never at ``import qviz``.

:data:`MODELS` is the one list of built-in models (the CLI, the impact code and
the app read it); importing this package registers each as a built-in source
(``qviz.open_source("digits_cnn")``) through :func:`qviz.sources.builtin.register_builtin`.

Example
-------
>>> list(MODELS), model_title("minilm")
(['digits_cnn', 'minilm'], 'all-MiniLM-L6-v2 (22.7M params, sentence embeddings)')
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from ..sources.base import Source, SourceError
from ..sources.builtin import register_builtin
from . import digits_cnn, minilm
from .source import ModelSource

#: name -> model module, in the order the app lists them
MODELS: dict[str, ModuleType] = {m.NAME: m for m in (digits_cnn, minilm)}


def model_names() -> list[str]:
    """The built-in models' names."""
    return list(MODELS)


def model_title(name: str) -> str:
    """The built-in model's title (what the app shows)."""
    return MODELS[name].TITLE


def open_model(name: str, max_numel: int | None = None) -> ModelSource:
    """The :class:`ModelSource` of a built-in model (``SourceError`` naming the choices otherwise)."""
    if name not in MODELS:
        raise SourceError(f"{name}: is not a built-in model; choose one of {', '.join(MODELS)}")
    return ModelSource(MODELS[name]) if max_numel is None else ModelSource(MODELS[name], max_numel)


def _opener(name: str) -> Callable[[int], Source]:
    def open_it(max_numel: int) -> Source:
        return open_model(name, max_numel)
    return open_it


for _name in MODELS:
    register_builtin(_name, _opener(_name))

__all__ = ["MODELS", "ModelSource", "model_names", "model_title", "open_model"]
