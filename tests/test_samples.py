"""Synthetic teaching tensors: deterministic, float32, and with the properties their descriptions claim."""

from __future__ import annotations

import numpy as np
import pytest

import qviz
from qviz import SAMPLES, sample, sample_names

EXPECTED = {
    "gaussian", "laplace", "uniform", "relu", "student_t", "bimodal", "outliers",
    "skewed_40_1000", "layernorm_2000_4000", "image_0_1",
}


def test_names():
    assert set(sample_names()) == EXPECTED
    assert sample_names() == list(SAMPLES)
    for name, s in SAMPLES.items():
        assert s.name == name and s.title and s.description


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_deterministic_float32_finite(name):
    a = sample(name)
    assert a.dtype == np.float32 and a.shape == (1 << 16,)
    assert np.isfinite(a).all()
    b = sample(name)
    np.testing.assert_array_equal(a.view(np.int32), b.view(np.int32))  # same bits
    c = sample(name, seed=1)
    assert not np.array_equal(a, c)
    assert np.array_equal(sample(name, n=1000, seed=3), sample(name, n=1000, seed=3))


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001])
def test_any_size(name, n):
    x = sample(name, n=n)
    assert x.shape == (n,) and x.dtype == np.float32 and np.isfinite(x).all()
    assert sample(name, n=np.int64(n)).shape == (n,)


@pytest.mark.parametrize("n", [0, -1, 2.5, "10", None])
def test_bad_n(n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        sample("gaussian", n=n)


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError) as err:
        sample("normal")
    msg = str(err.value)
    assert "unknown sample 'normal'" in msg
    assert all(name in msg for name in EXPECTED)


def test_distributions_have_their_claimed_shape():
    g = sample("gaussian").astype(np.float64)
    assert abs(g.mean()) < 0.02 and abs(g.std() - 1) < 0.02
    u = sample("uniform")
    assert u.min() >= -1 and u.max() <= 1 and u.max() - u.min() > 1.99
    r = sample("relu")
    assert r.min() == 0.0 and 0.45 < np.mean(r == 0) < 0.55
    b = sample("bimodal")
    assert np.mean(np.abs(b) < 0.5) < 0.01 and abs(np.mean(b > 0) - 0.5) < 0.02
    o = sample("outliers")
    big = np.abs(o) >= 40
    assert 3 <= big.sum() <= 20 and np.abs(o).max() <= 60
    assert np.abs(o[~big]).max() < 10
    t = sample("student_t")
    assert np.abs(t).max() > 10  # heavy tails
    lap = sample("laplace").astype(np.float64)
    assert abs(np.mean(np.abs(lap)) - 1) < 0.03
    s = sample("skewed_40_1000")
    assert s.min() >= 40 and s.max() <= 1000
    ln = sample("layernorm_2000_4000")
    assert ln.min() >= 2000 and ln.max() <= 4000


def test_image_is_exact_under_uint8_with_scale_1_over_255():
    x = sample("image_0_1")
    assert x.min() >= 0 and x.max() <= 1
    k = np.rint(x.astype(np.float64) * 255)
    np.testing.assert_array_equal(x, (k / 255).astype(np.float32))  # only k/255 values
    assert len(np.unique(x)) <= 256
    qp = qviz.choose_qparams(0.0, 1.0, qviz.QuantSpec(bits=8, signed=False, symmetric=False))
    np.testing.assert_array_equal(qviz.quantize(x, qp), k.astype(np.int32))  # every value hits its own code
    # reconstruction is exact up to float32 rounding of k·fl(1/255)
    assert np.abs(qviz.fake_quantize(x, qp) - x).max() <= np.spacing(np.float32(1.0))


def test_docstring_example():
    x = qviz.sample("gaussian")
    spec = qviz.QuantSpec(bits=8, symmetric=True)
    qp = qviz.choose_qparams(x.min(), x.max(), spec)
    m = qviz.error_metrics(x, qviz.fake_quantize(x, qp), qp)
    assert 30 < m.sqnr_db < 45
