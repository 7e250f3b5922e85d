"""Activations streamed into :class:`qviz.Calibrator`\\ s, whatever runs the model (ONNX Runtime or torch).

Each observed batch is a ``(C, N)`` view (channels × values); it feeds a Calibrator and the running
statistics of :mod:`qviz.models.capture` and is then dropped, so memory stays bounded by one batch plus
``sample_numel`` kept values per activation (the error metrics and the token × channel view use them).

Example
-------
>>> import numpy as np
>>> from qviz import QuantSpec
>>> s = ActivationStream(QuantSpec(), "minmax")
>>> s.add("x", "mm", np.arange(6, dtype=np.float32).reshape(2, 3))
>>> a = s.results()[0]
>>> a.name, a.shape, a.stats["max"], float(a.calibration.clip_max.max())
('x', (2, 3), 5.0, 5.0)
"""

from __future__ import annotations

import numpy as np

from ..models.capture import DEFAULT_SAMPLE_NUMEL, Activation, _Running, activation_spec
from ..spec import QuantSpec


class ActivationStream:
    """Calibrators and running statistics keyed by activation name, in first-seen order."""

    def __init__(self, spec: QuantSpec, method: str = "minmax", *, sample_numel: int = DEFAULT_SAMPLE_NUMEL, **options):
        self.spec, self.note = activation_spec(spec)
        self.method, self.options, self.sample_numel = method, options, sample_numel
        self._state: dict = {}
        self._layer: dict = {}
        self._errors: dict = {}

    def add(self, name: str, layer: str, x: np.ndarray) -> None:
        """Observe one ``(C, N)`` float32 batch of activation ``name`` (input of ``layer``)."""
        from ..calibrate import Calibrator

        if x.size == 0 or name in self._errors:
            return
        if name not in self._state:
            self._state[name] = (Calibrator(self.spec, self.method, **self.options), _Running(x.shape[0], self.sample_numel))
            self._layer[name] = layer
        cal, run = self._state[name]
        if x.shape[0] != run.channels:
            self._errors[name] = f"its channel count changed between batches ({run.channels} then {x.shape[0]})"
            return
        try:
            cal.observe(x)
        except ValueError as e:
            self._errors[name] = str(e)
        run.add(x)

    def results(self, note: str = "") -> list[Activation]:
        """One :class:`~qviz.models.capture.Activation` per observed name."""
        out = []
        for name, (cal, r) in self._state.items():
            calibration, error = None, self._errors.get(name, "")
            if not error:
                try:
                    calibration = cal.compute()
                except ValueError as e:
                    error = str(e)
            sample = np.concatenate(r.parts, axis=1) if r.parts else np.zeros((r.channels, 0), np.float32)
            notes = "; ".join(n for n in (self.note, note) if n)
            out.append(Activation(name, self._layer[name], (r.channels, r.total // max(r.channels, 1)), r.total, r.stats(),
                                  calibration, sample, self.spec, notes, error))
        return out


def channels_view(x: np.ndarray, axis: int) -> np.ndarray:
    """``x`` as ``(C, N)`` float32 with the channels on ``axis`` first (a 0-d value is one channel)."""
    a = np.asarray(x)
    if a.ndim == 0:
        return a.astype(np.float32).reshape(1, 1)
    return np.ascontiguousarray(np.moveaxis(a, axis % a.ndim, 0).reshape(a.shape[axis % a.ndim], -1), dtype=np.float32)
