"""mse: the histogram evaluation equals real fake-quantize MSE; the choice beats the references."""

import calib_refs
import numpy as np
import pytest

import qviz

SPECS = [
    qviz.QuantSpec(),
    qviz.QuantSpec(bits=4),
    qviz.QuantSpec(bits=4, quantizer="midrise"),
    qviz.QuantSpec(narrow_range=True),
    qviz.QuantSpec(bits=4, signed=False, symmetric=False),
    qviz.QuantSpec(bits=3, symmetric=False, quantizer="midrise"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
def test_curve_is_the_real_fake_quantize_mse(spec, rng):
    x = rng.standard_t(5, size=100_000).astype(np.float32)
    x[:5000] = 0  # a spike at zero: a point mass, not spread over bin 0
    c = qviz.calibrate(x, spec, "mse")
    cur = c.curve
    for k in np.linspace(5, len(cur) - 1, 7).astype(int):
        t = cur.threshold[k]
        if spec.symmetric:
            lo, hi = -t, t
        else:
            lo, hi = (t, c.clip_max.item()) if t < 0 else (c.clip_min.item(), t)
        real = calib_refs.mse_of(x, qviz.choose_qparams(lo, hi, spec))
        assert cur.value[k] == pytest.approx(real, rel=2e-3)
    # the chosen range is the curve's minimum, and its real MSE is the lowest on the curve (up to model error)
    best = calib_refs.mse_of(x, c.qparams)
    assert best <= cur.value.min() * 1.002


def test_stochastic_rounding_expected_mse(rng):
    x = rng.standard_normal(50_000).astype(np.float32)
    spec = qviz.QuantSpec(bits=4, rounding="stochastic")
    c = qviz.calibrate(x, spec, "mse")
    t = float(c.curve.threshold[len(c.curve) // 2])
    real = np.mean(
        [
            calib_refs.mse_of(x, qviz.choose_qparams(-t, t, qviz.QuantSpec(bits=4, rounding="stochastic", seed=s)))
            for s in range(4)
        ]
    )
    assert c.curve.value[len(c.curve) // 2] == pytest.approx(real, rel=1e-2)


@pytest.mark.parametrize("kind", ["gauss", "laplace", "t3"])
def test_no_worse_than_histogram_observer(kind, rng):
    x = {"gauss": rng.standard_normal, "laplace": lambda n: rng.laplace(size=n), "t3": lambda n: rng.standard_t(3, size=n)}[kind](
        200_000
    ).astype(np.float32)
    s, z = calib_refs.histogram_observer_qparams(x)
    ref = calib_refs.torch_mse(x, s, z)
    c = qviz.calibrate(x, qviz.QuantSpec(signed=False, symmetric=False), "mse")
    assert calib_refs.mse_of(x, c.qparams) <= ref


@pytest.mark.parametrize("bits", [8, 4])
def test_no_worse_than_modelopt_mse_fixed(bits, rng):
    x = rng.laplace(size=200_000).astype(np.float32)
    amax = calib_refs.modelopt_mse_fixed(x, num_bits=bits)
    spec = qviz.QuantSpec(bits=bits, narrow_range=True)  # Model Optimizer's grid: [-(2^(b-1)-1), 2^(b-1)-1]
    ref = calib_refs.mse_of(x, qviz.choose_qparams(-amax, amax, spec))
    c = qviz.calibrate(x, spec, "mse")
    assert calib_refs.mse_of(x, c.qparams) <= ref
