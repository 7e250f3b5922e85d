"""percentile: within one histogram bin of the exact percentile (of |x|, or of each tail)."""

import calib_refs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import qviz


@pytest.mark.parametrize("p", [90.0, 99.0, 99.9, 99.99, 100.0])
def test_symmetric_within_one_bin_of_exact(p, rng):
    x = rng.standard_t(4, size=300_000).astype(np.float32)
    x[:1000] = 0
    c = qviz.calibrate(x, qviz.QuantSpec(), "percentile", percentile=p)
    w = np.abs(x).max() / 2048
    assert abs(c.clip_max.item() - np.percentile(np.abs(x), p)) <= w
    assert c.criterion == "CDF" and c.curve.value.is_monotonic_increasing


@pytest.mark.parametrize("p", [99.0, 99.99])
def test_asymmetric_within_one_bin_of_each_tail(p, rng):
    x = np.concatenate([rng.exponential(2.0, 200_000), -rng.exponential(0.3, 50_000)]).astype(np.float32)
    c = qviz.calibrate(x, qviz.QuantSpec(signed=False, symmetric=False), "percentile", percentile=p)
    lo, hi = c.chosen()
    assert abs(hi - np.percentile(x, p)) <= x.max() / 2048
    assert abs(lo - np.percentile(x, 100 - p)) <= -x.min() / 2048


def test_within_one_bin_of_modelopt(rng):
    x = rng.laplace(size=200_000).astype(np.float32)
    ref = calib_refs.modelopt_percentile(x, 99.9)
    c = qviz.calibrate(x, qviz.QuantSpec(), "percentile", percentile=99.9)
    assert abs(c.clip_max.item() - ref) <= np.abs(x).max() / 2048


@given(st.lists(st.floats(-1e3, 1e3, width=32), min_size=1, max_size=300), st.floats(50, 100))
def test_clip_inside_data_range(values, p):
    x = np.array(values, np.float32)
    for sym in (True, False):
        c = qviz.calibrate(x, qviz.QuantSpec(symmetric=sym), "percentile", percentile=p)
        lo, hi = c.chosen()
        a = float(np.abs(x).max())
        assert -a * (1 + 1e-6) <= lo <= hi <= a * (1 + 1e-6)
        if not sym:
            assert x.min() - 1e-6 * a <= lo and hi <= x.max() + 1e-6 * a


def test_bad_percentile():
    with pytest.raises(ValueError, match="percentile"):
        qviz.calibrate(np.ones(3, np.float32), qviz.QuantSpec(), "percentile", percentile=0)
