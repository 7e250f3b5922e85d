"""One channels view of a Linear/Conv input: calibration (capture) and fake quantization (ModelQuantizer) agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qviz
from qviz.impact.quantized_model import fake_quantize_input
from qviz.models.capture import capture
from qviz.models.channels import from_channels, quant_layers, to_channels

CASES = [
    (torch.nn.Linear(4, 3), (4,)),
    (torch.nn.Linear(4, 3), (6, 4)),
    (torch.nn.Linear(4, 3), (2, 5, 4)),
    (torch.nn.Conv1d(3, 2, 3), (3, 9)),  # unbatched
    (torch.nn.Conv1d(3, 2, 3), (2, 3, 9)),
    (torch.nn.Conv2d(3, 2, 3), (3, 6, 7)),  # unbatched
    (torch.nn.Conv2d(3, 2, 3), (2, 3, 6, 7)),
    (torch.nn.Conv3d(3, 2, 2), (3, 4, 4, 4)),  # unbatched
]


@pytest.mark.parametrize("module, shape", CASES, ids=lambda v: str(v).split("(")[0] if isinstance(v, torch.nn.Module) else str(v))
def test_view_round_trips_and_holds_each_channel(module, shape):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(torch.float16)
    c = to_channels(module, x)
    channels = 4 if isinstance(module, torch.nn.Linear) else 3
    assert c.dtype == np.float32 and c.shape == (channels, x.numel() // channels)
    assert torch.equal(from_channels(module, c, x), x)  # shape and dtype back, bit for bit
    axis = x.ndim - 1 if isinstance(module, torch.nn.Linear) else (0 if x.ndim == len(module.kernel_size) + 1 else 1)
    for k in range(channels):  # row k holds exactly channel k's values
        np.testing.assert_array_equal(np.sort(c[k]), np.sort(x.select(axis, k).float().numpy().ravel()))


@pytest.mark.parametrize("module, shape", [CASES[1], CASES[3], CASES[5], CASES[6]], ids=["linear", "conv1d-unbatched",
                                                                                       "conv2d-unbatched", "conv2d"])
def test_calibrating_and_fake_quantizing_see_the_same_view(module, shape):
    """Per-channel activations: capture's qparams, applied by the fake-quantized model, hit each channel's own range."""
    net = torch.nn.Sequential(module)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1)) * torch.linspace(0.1, 10, shape[-1])
    (act,) = capture(net, [x], qviz.QuantSpec(granularity=qviz.PerChannel(0)), "minmax")
    qp = act.calibration.qparams
    out = fake_quantize_input(module, x, qp)
    assert out.shape == x.shape
    rows = to_channels(module, x)
    np.testing.assert_array_equal(to_channels(module, out), qviz.fake_quantize(rows, qp))
    # each channel is quantized with the scale of its own range (absmax / 127.5, as torch's MinMaxObserver)
    np.testing.assert_allclose(qp.scale.ravel(), np.abs(rows).max(1) / 127.5, rtol=1e-6)


def test_quant_layers_in_module_order():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(2, 1))
    assert [n for n, _ in quant_layers(net)] == ["0", "3"]
