"""entropy against Model Optimizer's HistogramCalibrator / _compute_amax_entropy (TensorRT's method)."""

import calib_refs
import numpy as np
import pytest

import qviz
from qviz.calibrate.entropy import kl_curves


def _data(kind, n, rng):
    if kind == "gauss":
        return rng.standard_normal(n).astype(np.float32)
    if kind == "laplace":
        return rng.laplace(size=n).astype(np.float32)
    if kind == "t3":
        return rng.standard_t(3, size=n).astype(np.float32)
    return np.maximum(rng.standard_normal(n), 0).astype(np.float32)  # relu


@pytest.mark.parametrize("kind", ["gauss", "laplace", "t3", "relu"])
@pytest.mark.parametrize("unsigned", [False, True])
def test_same_threshold_as_modelopt_512_bins(kind, unsigned, rng):
    x = _data(kind, 200_000, rng)
    ref = calib_refs.modelopt_entropy(x, unsigned=unsigned, num_bins=512)
    c = qviz.calibrate(x, qviz.QuantSpec(signed=not unsigned), "entropy", num_bins=512)
    w = np.abs(x).max() / 512
    assert abs(c.clip_max.item() - ref) <= 1.001 * w  # within one bin (measured: identical)
    assert c.clip_min.item() == -c.clip_max.item()


def test_same_threshold_as_modelopt_2048_bins(rng):
    x = _data("laplace", 300_000, rng)
    ref = calib_refs.modelopt_entropy(x)
    c = qviz.calibrate(x, qviz.QuantSpec(), "entropy")
    assert abs(c.clip_max.item() - ref) <= 1.001 * np.abs(x).max() / 2048
    assert c.criterion == "KL divergence"
    assert len(c.curve) == 2048 - 128 + 1
    # the choice is the curve's (last) minimum
    assert np.isclose(c.curve.threshold[c.curve.value.idxmin()], c.clip_max.item(), rtol=1e-6)


@pytest.mark.parametrize("bits,unsigned", [(8, False), (8, True), (6, False)])
def test_kl_search_on_the_same_histogram_picks_the_same_bin(bits, unsigned, rng):
    x = _data("t3", 100_000, rng)
    hist, edges = calib_refs.modelopt_histogram(x, num_bins=384)
    ref = calib_refs.modelopt_entropy_on(hist, edges, bits, unsigned)
    cand, kl = kl_curves(hist[None].astype(float), np.array([1 << (bits - 1 + unsigned)]), 128)
    best = cand[len(cand) - 1 - np.argmin(kl[0][::-1])]
    assert edges[best] == np.float32(ref)


def test_histogram_equals_modelopt_histc(rng):
    from qviz.calibrate.histogram import BlockHistogram

    x = _data("gauss", 100_000, rng)
    hist, _ = calib_refs.modelopt_histogram(x)
    h = BlockHistogram(qviz.QuantSpec())
    h.observe(x)
    ours, _ = h.stats().abs_hist()
    np.testing.assert_array_equal(ours[0], hist)


def test_asymmetric_searches_each_tail(rng):
    x = np.concatenate([rng.laplace(size=50_000) * 3, -np.abs(rng.standard_normal(20_000))]).astype(np.float32)
    c = qviz.calibrate(x, qviz.QuantSpec(symmetric=False), "entropy")
    lo, hi = c.chosen()
    assert x.min() <= lo < 0 < hi <= x.max()
    assert (c.curve.threshold < 0).any() and (c.curve.threshold > 0).any()


def test_entropy_needs_more_bins_than_start_bin():
    with pytest.raises(ValueError, match="start_bin"):
        qviz.Calibrator(qviz.QuantSpec(), "entropy", num_bins=64)
