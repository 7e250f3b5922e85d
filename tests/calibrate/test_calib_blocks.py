"""Per-channel / per-group calibration equals the per-tensor calibrator on each block alone."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qviz
from qviz.blocks import to_blocks


def _weights(rng, shape=(6, 96)):
    scales = rng.uniform(0.05, 4, size=(shape[0], 1))
    x = rng.standard_t(4, size=shape) * scales + rng.normal(0, 0.3, size=(shape[0], 1))
    return x.astype(np.float32)


@pytest.mark.parametrize("method", qviz.CALIBRATORS)
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("gran", [qviz.PerChannel(0), qviz.PerChannel(1), qviz.PerGroup(32)], ids=str)
def test_block_equals_per_tensor_on_each_block(method, symmetric, gran, rng):
    x = _weights(rng, (6, 96))
    spec = qviz.QuantSpec(bits=4, symmetric=symmetric, granularity=gran)
    opts = {"num_bins": 256} if method == "entropy" else {}
    c = qviz.calibrate(x, spec, method, **opts)
    assert c.clip_min.shape == qviz.grid_shape(x.shape, gran)
    rows = to_blocks(x, gran)
    one = qviz.QuantSpec(bits=4, symmetric=symmetric)
    for i, row in enumerate(rows):
        r = qviz.calibrate(row, one, method, **opts)
        np.testing.assert_allclose(c.clip_min.reshape(-1)[i], r.clip_min.item(), rtol=1e-6, err_msg=f"block {i}")
        np.testing.assert_allclose(c.clip_max.reshape(-1)[i], r.clip_max.item(), rtol=1e-6, err_msg=f"block {i}")
    # the curve is for the block with the widest range, unless asked
    widest = int(np.argmax(rows.max(1) - rows.min(1)))
    assert c.curve_block == widest
    if method not in ("minmax", "moving_average"):
        r = qviz.calibrate(rows[2], one, method, **opts)
        c2 = qviz.Calibrator(spec, method, **opts).observe(x).compute(curve_block=2)
        np.testing.assert_allclose(c2.curve.value, r.curve.value, rtol=1e-6)


def test_many_channels_bounded_histogram(rng):
    x = rng.standard_normal((512, 64)).astype(np.float32)
    cal = qviz.Calibrator(qviz.QuantSpec(granularity=qviz.PerChannel(0)), "mse")
    cal.observe(x)
    assert cal._hist._fine.size <= (1 << 24)
    c = cal.compute()
    assert c.clip_max.shape == (512, 1) and (c.clip_max > 0).all()


@settings(max_examples=25)
@given(
    st.integers(1, 4),
    st.integers(1, 40),
    st.sampled_from(qviz.CALIBRATORS),
    st.booleans(),
    st.booleans(),
    st.integers(0, 2**31 - 1),
)
def test_invariants(rows, cols, method, symmetric, signed, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, cols)) * rng.uniform(0.01, 10)).astype(np.float32)
    spec = qviz.QuantSpec(symmetric=symmetric, signed=signed, granularity=qviz.PerChannel(0))
    c = qviz.calibrate(x, spec, method, num_bins=256)
    lo, hi = c.clip_min.reshape(-1), c.clip_max.reshape(-1)
    # mse may go up to one bin past the data, when that puts a level on the extreme value
    absmax = np.abs(x).max(1) * (1 + (1 / 256 if method == "mse" else 1e-5))
    assert np.all(lo <= hi) and np.all(-absmax <= lo) and np.all(hi <= absmax)
    ref = qviz.choose_qparams(c.clip_min, c.clip_max, spec)
    np.testing.assert_array_equal(c.qparams.scale, ref.scale)
    np.testing.assert_array_equal(c.qparams.zero_point, ref.zero_point)
    assert list(c.curve.columns) == ["threshold", "value"]
