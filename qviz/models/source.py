"""A built-in model as a :class:`~qviz.Source`: :class:`ModelSource`.

Its weights read like any safetensors file (the reader in :mod:`qviz.sources`);
on top it has the model, its calibration data and its task metric, and
:meth:`ModelSource.capture` runs the model with hooks on every Linear/Conv
(:mod:`qviz.models.capture`). :mod:`qviz.models` registers one per entry of
``MODELS`` with :func:`qviz.sources.builtin.register_builtin`.

Example
-------
>>> from qviz.models import digits_cnn
>>> src = ModelSource(digits_cnn)
>>> src.title.startswith("Digits CNN"), src.task_metric
(True, 'accuracy')
"""

from __future__ import annotations

from types import ModuleType

from ..sources.base import DEFAULT_MAX_NUMEL
from ..sources.safetensors_src import SafetensorsSource
from .capture import capture


class ModelSource(SafetensorsSource):
    """A built-in model: its weights as a safetensors source, plus the model, its data and its metric.

    Attributes
    ----------
    module : module
        :mod:`qviz.models.digits_cnn` or :mod:`qviz.models.minilm` (``NAME``, ``TITLE``, ``TASK_METRIC``,
        ``weights_path()``, ``build()``, ``calibration_batches()``, ``run(model, batch)``, ``evaluate(model)``).
    task_metric : str
        What :meth:`evaluate` measures.
    """

    kind = "builtin-model"

    def __init__(self, module: ModuleType, max_numel: int = DEFAULT_MAX_NUMEL):
        self.module = module
        super().__init__(module.weights_path(), module.NAME, max_numel)
        self.title = module.TITLE
        self.task_metric = module.TASK_METRIC
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
        batches = self.module.calibration_batches(limit=limit)
        return capture(self.model(), batches, spec, method, run=self.module.run, progress=progress, **options)
