"""Streaming: 16 batches give the same min-max as one batch, entropy/percentile within one bin."""

import numpy as np
import pytest

import qviz


def _stream(x, spec, method, n=16, **opts):
    cal = qviz.Calibrator(spec, method, **opts)
    for part in np.array_split(x, n):
        cal.observe(part)
    return cal.compute()


@pytest.fixture
def growing(rng):
    # batches whose range keeps widening, so the histogram re-bins several times
    parts = [rng.standard_t(3, size=20_000) * (1 + 0.4 * i) for i in range(16)]
    return np.concatenate(parts).astype(np.float32)


@pytest.mark.parametrize("symmetric", [True, False])
def test_minmax_same_as_one_batch(growing, symmetric):
    spec = qviz.QuantSpec(symmetric=symmetric)
    one = qviz.calibrate(growing, spec, "minmax")
    many = _stream(growing, spec, "minmax")
    assert many.n_batches == 16 and many.n == growing.size
    np.testing.assert_array_equal(many.clip_min, one.clip_min)
    np.testing.assert_array_equal(many.clip_max, one.clip_max)
    np.testing.assert_array_equal(many.qparams.scale, one.qparams.scale)


@pytest.mark.parametrize(
    "method,opts", [("entropy", {}), ("percentile", {"percentile": 99.9}), ("percentile", {"percentile": 99.0})]
)
@pytest.mark.parametrize("symmetric", [True, False])
def test_histogram_methods_within_one_bin(growing, method, opts, symmetric):
    spec = qviz.QuantSpec(symmetric=symmetric)
    one = qviz.calibrate(growing, spec, method, **opts)
    many = _stream(growing, spec, method, **opts)
    w_hi = float(growing.max() if not symmetric else np.abs(growing).max()) / 2048
    w_lo = float(-growing.min() if not symmetric else np.abs(growing).max()) / 2048
    assert abs(many.clip_max.item() - one.clip_max.item()) <= w_hi
    assert abs(many.clip_min.item() - one.clip_min.item()) <= w_lo


def test_mse_stream_close_to_one_batch(growing):
    spec = qviz.QuantSpec(bits=4)
    one = qviz.calibrate(growing, spec, "mse")
    many = _stream(growing, spec, "mse")
    assert abs(many.clip_max.item() - one.clip_max.item()) <= 2 * np.abs(growing).max() / 2048


def test_memory_is_bounded(rng):
    cal = qviz.Calibrator(qviz.QuantSpec(), "entropy")
    sizes = set()
    for i in range(10):
        cal.observe((rng.standard_normal(1000) * 10.0**i).astype(np.float32))
        sizes.add(cal._hist._fine.shape)
    assert len(sizes) == 1
    c = cal.compute()
    assert c.n == 10_000 and np.isfinite(c.clip_max).all()


def test_per_channel_stream(rng):
    x = rng.standard_normal((8, 4000)).astype(np.float32) * np.arange(1, 9, dtype=np.float32)[:, None]
    spec = qviz.QuantSpec(granularity=qviz.PerChannel(0))
    one = qviz.calibrate(x, spec, "percentile", percentile=99.9)
    cal = qviz.Calibrator(spec, "percentile", percentile=99.9)
    for part in np.array_split(x, 16, axis=1):
        cal.observe(part)
    many = cal.compute()
    w = np.abs(x).max(1, keepdims=True) / 2048
    assert np.all(np.abs(many.clip_max - one.clip_max) <= w)
    with pytest.raises(ValueError, match="block grid"):
        cal.observe(rng.standard_normal((4, 10)).astype(np.float32))
