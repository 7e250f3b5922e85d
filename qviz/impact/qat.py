"""Quantization-aware training of the digits CNN (Jacob et al., CVPR 2018), against post-training quantization.

QAT fine-tunes the trained fp32 weights while the forward pass sees them fake-quantized; the rounding
has no useful gradient, so the straight-through estimator (STE) passes it through unchanged::

    ŵ = w + (fq(w) − w).detach()        forward: fq(w);   backward: ∂L/∂w = ∂L/∂ŵ
    fq(w) = (clamp(round(w·fl(1/Δ) − o) + z, qmin, qmax) − z + o)·Δ

with Δ, z from :func:`qviz.calibrate` on the current weights at every step (the same code PTQ uses),
and the same formula as :func:`qviz.fake_quantize` in torch ops (:func:`torch_fake_quantize`).
Input activations (``what="both"``) use fixed ranges calibrated on the fp32 model.
Deterministic: seed 0, ``torch.set_num_threads(1)`` (the 38k-parameter CNN trains in about a second).

Example
-------
>>> import numpy as np, torch
>>> from qviz import QuantSpec, calibrate, fake_quantize
>>> w = torch.randn(8, 5)
>>> qp = calibrate(w.numpy(), QuantSpec(bits=3), "minmax").qparams
>>> bool((torch_fake_quantize(w, qp) == torch.from_numpy(fake_quantize(w.numpy(), qp))).all())
True
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..spec import PerChannel, PerTensor, QuantSpec
from .quantized_model import ModelQuantizer, quant_layers


def torch_fake_quantize(x, qparams, channel_dim: int | None = None):
    """:func:`qviz.fake_quantize` in differentiable-shape torch ops (per-tensor or per-channel, nearest rounding).

    ``channel_dim`` places per-channel parameters on that dimension of ``x`` (default: the spec's axis).
    """
    import torch

    spec = qparams.spec
    if spec.rounding != "nearest":
        raise ValueError("QAT fake quantization rounds to nearest; choose rounding nearest")
    if not isinstance(spec.granularity, (PerTensor, PerChannel)):
        raise ValueError("QAT supports per-tensor and per-channel granularity; choose one of those")
    scale = torch.from_numpy(np.ascontiguousarray(qparams.scale, dtype=np.float32)).flatten()
    zp = torch.from_numpy(np.ascontiguousarray(qparams.zero_point).astype(np.float32)).flatten()
    if scale.numel() > 1:
        dim = (spec.granularity.axis if channel_dim is None else channel_dim) % x.ndim
        shape = [1] * x.ndim
        shape[dim] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    else:
        scale, zp = scale.reshape(()), zp.reshape(())
    inv = (torch.tensor(1.0, dtype=torch.float32) / scale).to(torch.float32)
    t = x * inv
    if spec.level_offset:
        t = t - spec.level_offset
    t = torch.clamp(torch.round(t) + zp, spec.qmin, spec.qmax) - zp
    if spec.level_offset:
        t = t + spec.level_offset
    return t * scale


def _weight_qparams(w, spec: QuantSpec, method: str, options: dict):
    """The weight's QParams: min-max directly (what ``calibrate(w, spec, "minmax")`` computes), else the calibrator."""
    from ..affine import choose_qparams
    from ..calibrate import calibrate

    if method != "minmax":
        return calibrate(w.numpy(), spec, method, **options).qparams
    if isinstance(spec.granularity, PerChannel):
        flat = w.movedim(spec.granularity.axis, 0).reshape(w.shape[spec.granularity.axis], -1)
        shape = [1] * w.ndim
        shape[spec.granularity.axis] = -1
        lo, hi = flat.min(1).values.reshape(shape).numpy(), flat.max(1).values.reshape(shape).numpy()
    else:
        lo, hi = w.min().numpy(), w.max().numpy()
    return choose_qparams(lo, hi, spec)


def _ste(x, fq):
    return x + (fq - x).detach()


def qat_finetune(spec: QuantSpec, what: str = "both", method: str = "minmax", *, epochs: int = 3,
                 lr: float = 3e-4, batch_size: int = 64, seed: int = 0, progress=None, **options):
    """The digits CNN fine-tuned with fake quantization and the STE; returns the fp32 module (eval mode).

    Evaluate it quantized with ``ModelQuantizer("digits_cnn", model=returned)``.
    """
    import torch

    from ..analyze import weight_spec
    from ..models import digits_cnn
    from ..models.capture import activation_spec

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        mq = ModelQuantizer("digits_cnn", method, **options)
        act = mq.activation_qparams(spec) if what in ("activations", "both") else {}
        model = mq.model
        layers = quant_layers(model)
        tspecs = {n: weight_spec(spec, tuple(m.weight.shape))[0] for n, m in layers}
        handles = []
        for n, m in layers:
            if n in act:
                qp = act[n]
                if isinstance(activation_spec(spec)[0].granularity, PerChannel) and isinstance(m, torch.nn.Linear):
                    dim = -1
                else:
                    dim = 1
                handles.append(m.register_forward_pre_hook(
                    lambda mod, args, qp=qp, dim=dim: (_ste(args[0], torch_fake_quantize(args[0], qp, dim)), *args[1:])))
        x_train, y_train, _, _ = digits_cnn.dataset()
        x, y = torch.from_numpy(x_train), torch.from_numpy(y_train)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        mods = dict(layers)
        originals = {n: m.forward for n, m in layers}

        def patched(n):
            m = mods[n]
            is_linear = isinstance(m, torch.nn.Linear)

            def forward(inp):
                w = m.weight
                qp = _weight_qparams(w.detach(), tspecs[n], method, options)
                wq = _ste(w, torch_fake_quantize(w, qp))
                if is_linear:
                    return torch.nn.functional.linear(inp, wq, m.bias)
                return m._conv_forward(inp, wq, m.bias)

            return forward

        try:
            for n in mods:
                mods[n].forward = patched(n)
            for e in range(epochs):
                digits_cnn.train_epoch(model, opt, x, y, batch_size, gen)
                if progress:
                    progress(e + 1, epochs, f"QAT epoch {e + 1}")
        finally:
            for n, m in mods.items():
                m.forward = originals[n]
                del m.forward  # back to the class's forward
            for h in handles:
                h.remove()
        return model.eval()
    finally:
        torch.set_num_threads(threads)


def ptq_vs_qat(spec: QuantSpec, bits=(4, 3, 2), what: str = "both", method: str = "minmax", *, epochs: int = 3,
               lr: float = 3e-4, progress=None, **options) -> pd.DataFrame:
    """Test accuracy of the digits CNN quantized after training (PTQ) and after QAT, at each bit width.

    Returns
    -------
    pandas.DataFrame
        ``bits``, ``fp32``, ``ptq``, ``qat``, ``recovered`` (qat − ptq).
    """
    ptq_model = ModelQuantizer("digits_cnn", method, **options)
    fp32 = ptq_model.evaluate()
    rows = []
    for i, b in enumerate(bits):
        s = dataclasses.replace(spec, bits=int(b))
        ptq = ptq_model.evaluate(ptq_model.uniform(s), what)
        trained = qat_finetune(s, what, method, epochs=epochs, lr=lr, **options)
        qmq = ModelQuantizer("digits_cnn", method, model=trained, **options)
        if what in ("activations", "both"):  # the ranges QAT trained with (fp32 model's calibration)
            qmq._aq[s] = ptq_model.activation_qparams(s)
        qat = qmq.evaluate(qmq.uniform(s), what)
        rows.append({"bits": int(b), "fp32": fp32, "ptq": ptq, "qat": qat, "recovered": qat - ptq})
        if progress:
            progress(i + 1, len(bits), f"{b} bits")
    return pd.DataFrame(rows)
