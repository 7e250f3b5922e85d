"""Issue 17 item 5: the entropy (KL) curve is never an empty chart."""

from __future__ import annotations

import numpy as np
import pandas as pd

import qviz
from qviz.plots import curve_figure


def test_kl_curve_with_few_finite_candidates_draws_them_and_says_why():
    x = qviz.open_source("samples").load("outliers")
    cal = qviz.calibrate(x, qviz.QuantSpec(bits=4), "entropy")
    v = cal.curve["value"].to_numpy()
    finite = int(np.isfinite(v).sum())
    assert 0 < finite < 100 < v.size  # the case of the issue: 25 of 1,921 finite
    fig = curve_figure(cal.curve, cal.chosen(), cal.criterion)
    line = np.asarray(fig.data[0].y, dtype=float)
    assert line.size == finite and np.isfinite(line).all()  # every finite candidate drawn, nothing else
    np.testing.assert_array_equal(line, v[np.isfinite(v)])
    note = " ".join(a.text for a in fig.layout.annotations)
    assert f"{v.size - finite:,} of {v.size:,} candidates are infinite" in note and "empty reference bins" in note


def test_curve_downsamples_finite_points_and_keeps_the_minimum():
    t = np.linspace(0.1, 1, 3000)
    v = (t - 0.537) ** 2
    v[::2] = np.inf
    fig = curve_figure(pd.DataFrame({"threshold": t, "value": v}), (0.537,), "MSE", max_points=100)
    y = np.asarray(fig.data[0].y, dtype=float)
    assert np.isfinite(y).all() and 100 <= y.size <= 101 and y.min() == v[np.isfinite(v)].min()
    assert "1,500 of 3,000" in fig.layout.annotations[0].text and "reference" not in fig.layout.annotations[0].text


def test_all_infinite_curve_says_so():
    fig = curve_figure(pd.DataFrame({"threshold": [1.0, 2.0], "value": [np.inf, np.inf]}), (1.0,), "KL divergence")
    assert "all 2 candidates are infinite" in fig.layout.annotations[0].text
