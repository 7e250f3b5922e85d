"""Activations of a model's Linear/Conv layers, streamed into :class:`qviz.Calibrator`\\ s.

A forward hook on every ``nn.Linear`` / ``nn.Conv1d/2d/3d`` takes the layer's
*input* (what an int8 kernel quantizes) on each calibration batch and views it
as ``(channels, values)``: ``(…, C)`` for Linear, ``(N, C, …)`` for Conv. Each
batch then feeds, in bounded memory and without keeping the batch:

* a :class:`qviz.Calibrator` (its clip range covers every batch);
* running statistics: count, NaN/Inf, min, max, per-channel min/max, and the
  moments behind mean, std and kurtosis (float64, shifted by the first mean);
* a sample of at most ``sample_numel`` values (the first batches' columns) on
  which :func:`qviz.analyze` measures the error metrics.

Granularity on activations: values are ``(C, N)`` with ``N`` changing from batch
to batch, so per-channel means per input channel (``PerChannel(0)``, whatever the
weights' axis) and per-group falls back to per-tensor.

Example
-------
>>> import torch
>>> from qviz import QuantSpec
>>> net = torch.nn.Sequential(torch.nn.Linear(4, 3))
>>> acts = capture(net, [torch.randn(8, 4), torch.randn(5, 4)], QuantSpec(), "minmax")
>>> acts[0].name, acts[0].numel, acts[0].shape
('0:input', 52, (4, 13))
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..spec import PerChannel, PerGroup, PerTensor, QuantSpec
from ..stats import range_ratio
from ..streaming import Moments
from .channels import quant_layers, to_channels

DEFAULT_SAMPLE_NUMEL = 1 << 18


def activation_spec(spec: QuantSpec) -> tuple[QuantSpec, str]:
    """The spec used on ``(C, N)`` activations, and a note when it differs from ``spec``."""
    g = spec.granularity
    if isinstance(g, PerChannel):
        return dataclasses.replace(
            spec, granularity=PerChannel(0)
        ), "" if g.axis == 0 else "per-channel on activations means per input channel"
    if isinstance(g, PerGroup):
        return dataclasses.replace(spec, granularity=PerTensor()), "per-group does not apply to activations: per-tensor used"
    return spec, ""


@dataclass
class Activation:
    """What :func:`capture` learned about one layer's input.

    ``shape`` is ``(C, N)``: channels × every value observed per channel;
    ``stats`` holds min, max, mean, std, kurtosis, nonfinite, channel_range_ratio;
    ``calibration`` is the Calibrator's result (``None`` with ``error`` set when it failed);
    ``sample`` is the ``(C, n)`` slice the error metrics use.
    """

    name: str
    layer: str
    shape: tuple
    numel: int
    stats: dict
    calibration: object
    sample: np.ndarray
    spec: QuantSpec
    note: str = ""
    error: str = ""


class _Running:
    """Streaming statistics of one layer's ``(C, N)`` batches, plus the first ``sample_numel`` values."""

    def __init__(self, channels: int, sample_numel: int):
        self.channels, self.sample_numel = channels, sample_numel
        self.total = self.nonfinite = self.kept = 0
        self.moments = Moments()
        self.ch_lo = np.full(channels, np.inf)
        self.ch_hi = np.full(channels, -np.inf)
        self.parts: list = []

    def add(self, x: np.ndarray):
        self.total += x.size
        finite = np.isfinite(x)
        if finite.all():
            self.moments.add(x)
            lo, hi = x.min(axis=1, initial=np.inf), x.max(axis=1, initial=-np.inf)
        else:
            self.nonfinite += int(x.size - finite.sum())
            self.moments.add(x[finite])
            lo = np.where(finite, x, np.inf).min(axis=1, initial=np.inf)
            hi = np.where(finite, x, -np.inf).max(axis=1, initial=-np.inf)
        np.minimum(self.ch_lo, lo, out=self.ch_lo)
        np.maximum(self.ch_hi, hi, out=self.ch_hi)
        if self.kept < self.sample_numel:
            cols = max(1, (self.sample_numel - self.kept) // max(self.channels, 1))
            part = np.array(x[:, :cols], dtype=np.float32)
            self.parts.append(part)
            self.kept += part.size

    def stats(self) -> dict:
        out = dict(min=math.nan, max=math.nan, nonfinite=self.nonfinite, channel_range_ratio=math.nan)
        out.update(self.moments.result())
        if self.moments.n:
            seen = np.isfinite(self.ch_lo)
            out.update(min=float(self.ch_lo[seen].min()), max=float(self.ch_hi[seen].max()))
            if seen.sum() > 1:
                out["channel_range_ratio"] = range_ratio(self.ch_lo[seen], self.ch_hi[seen])
        return out


def capture(
    model,
    batches,
    spec: QuantSpec,
    method: str = "minmax",
    *,
    run=None,
    sample_numel: int = DEFAULT_SAMPLE_NUMEL,
    progress=None,
    kinds: tuple | None = None,
    **options,
) -> list[Activation]:
    """Run ``model`` on ``batches`` and calibrate the input of every Linear/Conv.

    Parameters
    ----------
    model : torch.nn.Module
    batches : iterable
        Calibration batches; ``run(model, batch)`` does one forward pass (default ``model(batch)``).
    spec, method, **options
        Passed to :class:`qviz.Calibrator` (granularity adapted by :func:`activation_spec`).
    sample_numel : int
        Values per layer kept for error metrics.
    progress : callable, optional
        ``progress(done, total, message)`` after each batch (``total`` is ``None``: unknown).
    kinds : tuple of module classes, optional
        Layers to hook (default :func:`qviz.models.channels.quant_layers`; :mod:`qviz.capture.hf_capture`
        adds GPT-2's ``Conv1D``).

    Returns
    -------
    list of Activation
        In module order.
    """
    import torch

    from ..calibrate import Calibrator

    act_spec, note = activation_spec(spec)
    layers: list = quant_layers(model) if kinds is None else [(n, m) for n, m in model.named_modules() if isinstance(m, kinds)]
    state: dict = {}
    errors: dict = {}

    def hook(name):
        def fn(module, inputs, output):
            if name in errors or not inputs or not isinstance(inputs[0], torch.Tensor) or inputs[0].numel() == 0:
                return
            x = to_channels(module, inputs[0])
            if name not in state:
                state[name] = (Calibrator(act_spec, method, **options), _Running(x.shape[0], sample_numel))
            cal, run_stats = state[name]
            try:
                cal.observe(x)
            except ValueError as e:
                errors[name] = str(e)
            run_stats.add(x)

        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in layers]
    try:
        with torch.no_grad():
            for i, batch in enumerate(batches):
                (run or (lambda m, b: m(b)))(model, batch)
                if progress:
                    progress(i + 1, None, f"calibration batch {i + 1}")
    finally:
        for h in handles:
            h.remove()
    out = []
    for name, _ in layers:
        if name not in state:
            continue
        cal, r = state[name]
        calibration, error = None, errors.get(name, "")
        if not error:
            try:
                calibration = cal.compute()
            except ValueError as e:
                error = str(e)
        sample = np.concatenate(r.parts, axis=1)
        out.append(
            Activation(
                f"{name}:input",
                name,
                (r.channels, r.total // max(r.channels, 1)),
                r.total,
                r.stats(),
                calibration,
                sample,
                act_spec,
                note,
                error,
            )
        )
    return out
