"""Transforms-lab figure builders: small whatever the layer's width, the data they are given drawn faithfully."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qviz.binning import histogram
from qviz.plots.transforms import (MAX_POINTS, alpha_curve_figure, block_sqnr_figure, channel_absmax_figure,
                                   induced_outlier_figure, rotation_histogram_figure)


def test_wide_layers_are_reduced_to_the_max_over_runs_of_channels():
    v = np.arange(14336, dtype=np.float64)  # a 14336-wide FFN input
    v[7001] = 1e6
    fig = channel_absmax_figure(v, v[::-1].copy())
    assert all(len(t.y) <= MAX_POINTS for t in fig.data)
    assert max(fig.data[0].y) == 1e6  # an outlier channel survives the reduction
    assert len(fig.to_json()) < 60_000
    fig = induced_outlier_figure({"a": v, "b": v}, block=128)
    assert len(fig.to_json()) < 60_000


def test_alpha_curve_marks_the_best_alpha_and_the_baseline():
    df = pd.DataFrame({"alpha": [np.nan, 0.0, 0.5, 1.0], "sqnr_db": [30.0, 29.0, 35.0, 31.0]})
    fig = alpha_curve_figure({"W8A8": df}, {"W8A8": 30.0})
    star = [t for t in fig.data if t.name.startswith("best α")][0]
    assert list(star.x) == [0.5] and list(star.y) == [35.0]
    assert fig.layout.shapes[0].y0 == 30.0


def test_block_bars_and_histograms():
    df = pd.DataFrame({"block": [0, 16, 16], "signs": ["none", "+1", "random"], "sqnr_db": [30.0, 36.0, 35.5]})
    fig = block_sqnr_figure(df)
    assert [t.name for t in fig.data] == ["Hadamard, +1 signs", "Hadamard, random signs"]
    assert fig.layout.yaxis.range[0] < 30.0 < fig.layout.yaxis.range[1]
    x = np.random.default_rng(0).standard_normal(1_000_000)
    fig = rotation_histogram_figure(histogram(x, 120), histogram(x / 2, 120))
    assert sum(fig.data[0].y) == 1_000_000 and len(fig.to_json()) < 30_000
