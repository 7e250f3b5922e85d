"""Boundary behaviour: NaN/Inf, empty input, options, torch input, the exported API."""

import doctest
import importlib

import numpy as np
import pytest
import torch

import qviz

# ``qviz.calibrate`` is the function; the modules of the package are reached by name
MODULES = [
    importlib.import_module(f"qviz.calibrate.{m}")
    for m in ("aciq", "calibrator", "entropy", "histogram", "minmax", "mse", "percentile", "result")
]


@pytest.mark.parametrize("method", qviz.CALIBRATORS)
def test_nonfinite_excluded_and_counted(method, rng):
    x = rng.standard_normal(5000).astype(np.float32)
    dirty = x.copy()
    dirty[[3, 10, 50]] = [np.nan, np.inf, -np.inf]
    clean = np.delete(x, [3, 10, 50])
    a = qviz.calibrate(dirty, qviz.QuantSpec(), method)
    b = qviz.calibrate(clean, qviz.QuantSpec(), method)
    assert a.nonfinite == 3 and a.n == clean.size
    np.testing.assert_array_equal(a.clip_max, b.clip_max)
    np.testing.assert_array_equal(a.clip_min, b.clip_min)


def test_nonfinite_per_channel(rng):
    x = rng.standard_normal((3, 100)).astype(np.float32)
    x[1, :] = np.nan
    x[2, 5] = np.inf
    c = qviz.calibrate(x, qviz.QuantSpec(granularity=qviz.PerChannel(0)), "entropy", num_bins=256)
    assert c.nonfinite == 101
    assert c.clip_max[1, 0] == 0 and c.clip_max[0, 0] > 0


def test_errors():
    spec = qviz.QuantSpec()
    with pytest.raises(ValueError, match="empty"):
        qviz.calibrate(np.zeros(0, np.float32), spec, "minmax")
    with pytest.raises(ValueError, match="NaN"):
        qviz.calibrate(np.array([np.nan, np.inf], np.float32), spec, "mse")
    with pytest.raises(ValueError, match="unknown calibration method"):
        qviz.calibrate(np.ones(3, np.float32), spec, "kl")
    with pytest.raises(ValueError, match="does not take"):
        qviz.calibrate(np.ones(3, np.float32), spec, "minmax", percentile=99)
    with pytest.raises(ValueError, match="observe"):
        qviz.Calibrator(spec, "mse").compute()
    with pytest.raises(ValueError, match="QuantSpec"):
        qviz.Calibrator("int8", "mse")


def test_torch_input_and_all_zero(rng):
    t = torch.randn(1000)
    a = qviz.calibrate(t, qviz.QuantSpec(), "mse")
    b = qviz.calibrate(t.numpy(), qviz.QuantSpec(), "mse")
    np.testing.assert_array_equal(a.clip_max, b.clip_max)
    z = qviz.calibrate(np.zeros(10, np.float32), qviz.QuantSpec(), "entropy")
    assert z.clip_max.item() == 0 and z.qparams.scale.item() > 0


def test_aciq_recovers_banner_constants(rng):
    lap = rng.laplace(size=400_000).astype(np.float32)
    gau = rng.standard_normal(400_000).astype(np.float32)
    a4 = qviz.calibrate(lap, qviz.QuantSpec(bits=4), "aciq").clip_max.item()
    g4 = qviz.calibrate(gau, qviz.QuantSpec(bits=4), "aciq").clip_max.item()
    assert a4 == pytest.approx(5.03, rel=0.03)  # Banner et al.: alpha* = 5.03 b, b = 1
    assert g4 == pytest.approx(2.55, rel=0.03)  # and 2.55 sigma


def test_exports():
    assert set(qviz.calibrator_names()) >= {"minmax", "percentile", "entropy", "mse", "moving_average", "aciq"}
    for name in ("Calibration", "Calibrator", "calibrate", "CALIBRATORS", "calibrator_names"):
        assert name in qviz.__all__


@pytest.mark.parametrize("mod", MODULES, ids=lambda m: m.__name__)
def test_doctests(mod):
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0
