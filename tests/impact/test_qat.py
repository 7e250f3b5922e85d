"""PTQ against QAT on the digits CNN (article 002): fake quantization with a straight-through estimator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qviz import PerChannel, QuantSpec, calibrate, fake_quantize
from qviz.impact import ModelQuantizer, ptq_vs_qat, qat_finetune, torch_fake_quantize


@pytest.mark.parametrize("spec", [QuantSpec(bits=3), QuantSpec(bits=3, symmetric=False), QuantSpec(bits=4, granularity=PerChannel(0)),
                                  QuantSpec(bits=2, quantizer="midrise"), QuantSpec(bits=8, signed=False, symmetric=False)])
def test_torch_fake_quantize_matches_qviz(spec):
    w = torch.from_numpy(np.random.default_rng(1).standard_normal((16, 4, 3, 3)).astype(np.float32))
    qp = calibrate(w.numpy(), spec, "minmax").qparams
    np.testing.assert_array_equal(torch_fake_quantize(w, qp).numpy(), fake_quantize(w.numpy(), qp))


def test_ste_passes_the_gradient_through():
    w = torch.randn(4, 3, requires_grad=True)
    qp = calibrate(w.detach().numpy(), QuantSpec(bits=2), "minmax").qparams
    y = w + (torch_fake_quantize(w, qp) - w).detach()
    y.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


def test_qat_beats_ptq_at_3_bits():
    spec = QuantSpec(bits=3, symmetric=False)
    df = ptq_vs_qat(spec, bits=(3,))
    row = df.iloc[0]
    assert row["qat"] > row["ptq"] + 0.01, df
    assert row["qat"] >= row["fp32"] - 0.01  # QAT recovers nearly all of the drop


def test_qat_is_deterministic_and_leaves_no_hooks():
    spec = QuantSpec(bits=3, symmetric=False)
    a = qat_finetune(spec, "weights", epochs=1)
    b = qat_finetune(spec, "weights", epochs=1)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not a.fc1._forward_pre_hooks and "forward" not in a.fc1.__dict__
    assert ModelQuantizer("digits_cnn", model=a).evaluate() > 0.9
