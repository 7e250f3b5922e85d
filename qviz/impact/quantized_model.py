"""A built-in model whose chosen Linear/Conv layers run with fake-quantized weights and/or inputs.

Weights: each layer's weight ``W`` is replaced by ``Ŵ = fake_quantize(W, calibrate(W, spec, method).qparams)``
(the granularity adapted to the weight's shape by :func:`qviz.analyze.weight_spec`).
Activations: a forward pre-hook replaces the layer's input ``x`` by ``x̂ = fake_quantize(x, qparams)``,
the qparams calibrated by :class:`qviz.Calibrator` on the fp32 model's calibration data
(:func:`qviz.models.capture.capture`). The numbers are the ones every other page shows.

:meth:`ModelQuantizer.apply` is a context manager: on exit the fp32 weights are back and the hooks gone.

Example
-------
>>> from qviz.spec import QuantSpec
>>> mq = ModelQuantizer("digits_cnn")
>>> mq.layers
['conv1', 'conv2', 'fc1', 'fc2']
>>> with mq.apply(weights={"fc1": QuantSpec(bits=2)}):
...     changed = bool((mq.model.fc1.weight != mq.fp32_weight("fc1")).any())
>>> changed, bool((mq.model.fc1.weight == mq.fp32_weight("fc1")).all())
(True, True)
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

from ..affine import fake_quantize
from ..models.channels import from_channels, quant_layers, to_channels
from ..spec import QuantSpec

WHAT = ("weights", "activations", "both")
WEIGHT_SPECS_KEPT = 4  # fake-quantized copies of every weight for this many specs (MiniLM: about 90 MB each)
ACTIVATION_SPECS_KEPT = 16  # activation QParams (small) for this many specs


def check_what(what: str) -> str:
    if what not in WHAT:
        raise ValueError(f"what must be one of {', '.join(WHAT)}, got {what!r}")
    return what


def fake_quantize_input(module, x, qparams):
    """``x`` fake-quantized on its ``(channels, values)`` view (:mod:`qviz.models.channels`, as capture calibrated it)."""
    return from_channels(module, fake_quantize(to_channels(module, x), qparams), x)


class ModelQuantizer:
    """One built-in model (its own fp32 copy), with cached weight and activation quantizations.

    Parameters
    ----------
    name : str
        ``"digits_cnn"`` or ``"minilm"``.
    method : str
        Calibrator of weights and activations (see :class:`qviz.Calibrator`).
    model : torch.nn.Module, optional
        Use this module instead of the shipped weights (e.g. a QAT-trained or deliberately damaged copy).
    calibration_limit : int, optional
        Calibration examples used for activations (default: the model's whole calibration set).
    **options
        Calibrator options.

    Attributes
    ----------
    layers : list of str
        The Linear/Conv layers, in module order.
    params : dict
        Weight values per layer.
    """

    def __init__(self, name: str, method: str = "minmax", *, model=None, calibration_limit: int | None = None, **options):
        from ..models import MODELS, open_model

        if name not in MODELS:
            raise ValueError(f"{name}: not a built-in model; choose one of {', '.join(MODELS)}")
        self.name, self.method, self.options = name, method, options
        self.source = open_model(name)
        self.module = self.source.module
        self.task_metric = self.source.task_metric
        self.model = model if model is not None else self.module.build()
        self.model.eval()
        self.calibration_limit = calibration_limit
        self._modules = dict(quant_layers(self.model))
        self.layers = list(self._modules)
        self.params = {n: int(m.weight.numel()) for n, m in self._modules.items()}
        self._fp32 = {n: m.weight.detach().clone() for n, m in self._modules.items()}
        # fake-quantized weights per (layer, spec) and activation qparams per spec, least recently used first;
        # bounded so a sweep over specs does not grow a long-lived (shared) quantizer without limit
        self._wq: OrderedDict = OrderedDict()
        self._aq: OrderedDict = OrderedDict()
        self.max_weight_entries = WEIGHT_SPECS_KEPT * max(len(self.layers), 1)
        self._fp32_metric = None

    def fp32_weight(self, layer: str):
        return self._fp32[layer]

    def weight_qparams(self, layer: str, spec: QuantSpec):
        """QParams of a layer's weight (granularity adapted to its shape)."""
        return self._weight(layer, spec)[1]

    def _weight(self, layer: str, spec: QuantSpec):
        key = (layer, spec)
        if key not in self._wq:
            import torch

            from ..affine import fake_quantize
            from ..analyze import weight_spec
            from ..calibrate import calibrate

            w = self._fp32[layer].numpy()
            tspec, _ = weight_spec(spec, w.shape)
            qp = calibrate(w, tspec, self.method, **self.options).qparams
            self._wq[key] = (torch.from_numpy(fake_quantize(w, qp)), qp)
            while len(self._wq) > self.max_weight_entries:
                self._wq.popitem(last=False)
        self._wq.move_to_end(key)
        return self._wq[key]

    def activation_qparams(self, spec: QuantSpec, progress=None) -> dict:
        """``{layer: QParams}`` of every layer's input, calibrated on the fp32 model (cached per spec)."""
        if spec not in self._aq:
            from ..models.capture import capture

            with self.apply():  # fp32
                acts = capture(self.model, self.module.calibration_batches(limit=self.calibration_limit), spec, self.method,
                               run=self.module.run, sample_numel=1, progress=progress, **self.options)
            bad = [a for a in acts if a.calibration is None]
            if bad:
                raise ValueError(f"{bad[0].name}: {bad[0].error}")
            self._aq[spec] = {a.layer: a.calibration.qparams for a in acts}
            while len(self._aq) > ACTIVATION_SPECS_KEPT:
                self._aq.popitem(last=False)
        self._aq.move_to_end(spec)
        return self._aq[spec]

    @contextlib.contextmanager
    def apply(self, weights: dict | None = None, activations: dict | None = None):
        """Quantize ``weights`` ``{layer: spec or None}`` and layer inputs ``activations``; restore on exit."""
        weights, activations = weights or {}, activations or {}
        unknown = [n for n in (*weights, *activations) if n not in self._modules]
        if unknown:
            raise ValueError(f"{unknown[0]}: not a Linear/Conv layer of {self.name}; layers are {', '.join(self.layers)}")
        act_qp = {n: self.activation_qparams(s)[n] for n, s in activations.items() if s is not None}
        handles = []
        try:
            for n, s in weights.items():
                if s is not None:
                    self._modules[n].weight.data = self._weight(n, s)[0]
            for n, qp in act_qp.items():
                handles.append(self._modules[n].register_forward_pre_hook(
                    lambda mod, args, qp=qp: (fake_quantize_input(mod, args[0], qp), *args[1:])))
            yield self.model
        finally:
            for h in handles:
                h.remove()
            for n, m in self._modules.items():
                m.weight.data = self._fp32[n]

    def split(self, config: dict, what: str = "weights") -> tuple[dict, dict]:
        """``config`` ``{layer: spec or None}`` as ``(weights, activations)`` for :meth:`apply`."""
        check_what(what)
        return (config if what in ("weights", "both") else {}), (config if what in ("activations", "both") else {})

    def evaluate(self, config: dict | None = None, what: str = "weights") -> float:
        """Task metric with ``config`` applied (fp32 when empty; the fp32 value is cached)."""
        config = {k: v for k, v in (config or {}).items() if v is not None}
        if not config:
            if self._fp32_metric is None:
                with self.apply():
                    self._fp32_metric = float(self.module.evaluate(self.model))
            return self._fp32_metric
        w, a = self.split(config, what)
        with self.apply(w, a):
            return float(self.module.evaluate(self.model))

    def uniform(self, spec: QuantSpec | None, layers=None) -> dict:
        """``{layer: spec}`` for ``layers`` (default all)."""
        return {n: spec for n in (self.layers if layers is None else layers)}
