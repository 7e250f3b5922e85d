"""minmax and moving_average against torch's observers, bit for bit."""

import numpy as np
import pytest
import torch
from qviz_testutil import assert_bitwise_equal
from torch.ao.quantization.observer import (
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    PerChannelMinMaxObserver,
)

import qviz

CONFIGS = [
    (torch.qint8, torch.per_tensor_symmetric, {"signed": True, "symmetric": True}),
    (torch.quint8, torch.per_tensor_affine, {"signed": False, "symmetric": False}),
    (torch.quint8, torch.per_tensor_symmetric, {"signed": False, "symmetric": True}),
    (torch.qint8, torch.per_tensor_affine, {"signed": True, "symmetric": False}),
]


@pytest.mark.parametrize("dtype,qscheme,kw", CONFIGS)
@pytest.mark.parametrize("shift", [0.0, 0.7, -3.0])
def test_minmax_equals_torch_minmax_observer(dtype, qscheme, kw, shift, rng):
    x = (rng.standard_normal((64, 33)) + shift).astype(np.float32)
    obs = MinMaxObserver(dtype=dtype, qscheme=qscheme)
    obs(torch.from_numpy(x))
    scale, zp = obs.calculate_qparams()
    c = qviz.calibrate(x, qviz.QuantSpec(**kw), "minmax")
    assert_bitwise_equal(c.qparams.scale.reshape(-1), scale.numpy())
    assert int(c.qparams.zero_point.reshape(-1)[0]) == int(zp)
    assert c.curve.empty and list(c.curve.columns) == ["threshold", "value"]


@pytest.mark.parametrize(
    "dtype,qscheme,kw",
    [
        (torch.qint8, torch.per_channel_symmetric, {"signed": True, "symmetric": True}),
        (torch.quint8, torch.per_channel_affine, {"signed": False, "symmetric": False}),
    ],
)
@pytest.mark.parametrize("axis", [0, 1])
def test_minmax_per_channel_equals_torch(dtype, qscheme, kw, axis, rng):
    x = (rng.standard_normal((6, 40, 3)) * rng.uniform(0.1, 3, size=(6, 1, 1))).astype(np.float32)
    obs = PerChannelMinMaxObserver(ch_axis=axis, dtype=dtype, qscheme=qscheme)
    obs(torch.from_numpy(x))
    scale, zp = obs.calculate_qparams()
    c = qviz.calibrate(x, qviz.QuantSpec(granularity=qviz.PerChannel(axis), **kw), "minmax")
    assert_bitwise_equal(c.qparams.scale.reshape(-1), scale.numpy())
    np.testing.assert_array_equal(c.qparams.zero_point.reshape(-1), zp.numpy())


def test_minmax_narrow_range_is_absmax_over_127_as_tensorrt_and_onnxruntime(rng):
    from onnxruntime.quantization.quant_utils import compute_scale_zp

    x = rng.standard_normal(5000).astype(np.float32)
    c = qviz.calibrate(x, qviz.QuantSpec(narrow_range=True), "minmax")
    absmax = np.float32(np.abs(x).max())
    assert np.isclose(c.qparams.scale.item(), absmax / 127, rtol=1e-6)
    _, ort_scale = compute_scale_zp(np.float32(x.min()), np.float32(x.max()), np.int8(-127), np.int8(127), symmetric=True)
    assert np.isclose(c.qparams.scale.item(), float(ort_scale), rtol=1e-6)


@pytest.mark.parametrize("per_channel", [False, True])
def test_moving_average_equals_torch(per_channel, rng):
    spec = qviz.QuantSpec(signed=False, symmetric=False, granularity=qviz.PerChannel(1) if per_channel else qviz.PerTensor())
    obs = MovingAveragePerChannelMinMaxObserver(ch_axis=1) if per_channel else MovingAverageMinMaxObserver()
    cal = qviz.Calibrator(spec, "moving_average")
    for i in range(7):
        b = (rng.standard_normal((16, 5)) * (1 + i) + i * 0.3).astype(np.float32)
        obs(torch.from_numpy(b))
        cal.observe(b)
    scale, zp = obs.calculate_qparams()
    c = cal.compute()
    assert_bitwise_equal(c.clip_min.reshape(-1), obs.min_val.numpy().reshape(-1))
    assert_bitwise_equal(c.clip_max.reshape(-1), obs.max_val.numpy().reshape(-1))
    assert_bitwise_equal(c.qparams.scale.reshape(-1), scale.numpy().reshape(-1))
    np.testing.assert_array_equal(c.qparams.zero_point.reshape(-1), zp.numpy().reshape(-1))
