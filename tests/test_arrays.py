"""The array boundary (:mod:`qviz.arrays`): every kind of input either becomes float32 or is refused in one line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import qviz
from qviz.arrays import Float32RangeError, as_float32

SPEC = qviz.QuantSpec()


def test_quantized_torch_tensor_is_its_real_values():
    with warnings.catch_warnings():  # torch deprecates creating them (warns once per process); users still have them
        warnings.simplefilter("ignore")
        q = torch.quantize_per_tensor(torch.tensor([0.5, -1.0, 0.25]), 0.05, 3, torch.qint8)
    x, is_torch = as_float32(q)
    assert is_torch and np.array_equal(x, q.dequantize().numpy())
    assert qviz.calibrate(q, SPEC, "minmax").clip_max.item() == pytest.approx(1.0)  # symmetric: max|x|


@pytest.mark.parametrize(
    "bad, words",
    [
        (lambda: torch.empty(3, device="meta"), "meta device"),
        (lambda: np.array(["a", "b"]), "dtype <U1"),
        (lambda: np.zeros(2, dtype=[("a", "f4")]), "pass numbers"),
        (lambda: np.array([1e300, 1.0]), "beyond float32's range"),
        (lambda: torch.tensor([-1e300, 1.0], dtype=torch.float64), "beyond float32's range"),
        (lambda: np.array([1, 2j]), "complex"),
    ],
)
def test_boundary_refuses_in_one_line(bad, words):
    for call in (lambda x: qviz.calibrate(x, SPEC, "minmax"), lambda x: qviz.fake_quantize(x, qviz.choose_qparams(-1, 1, SPEC))):
        with pytest.raises(ValueError) as e:
            call(bad())
        assert words in str(e.value) and "\n" not in str(e.value)


def test_float64_overflow_names_the_count_and_magnitude():
    with pytest.raises(Float32RangeError, match=r"2 finite values beyond float32's range \(largest \|x\| = 1e\+300"):
        as_float32(np.array([1e300, -1e40, 1.0, np.inf]))
    x, _ = as_float32(np.array([3e38, -np.inf, np.nan]))  # in range, and NaN/Inf stay what they are
    assert x[0] == np.float32(3e38) and np.isneginf(x[1]) and np.isnan(x[2])
