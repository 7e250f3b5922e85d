"""Token × channel view and qviz.stats.outlier_channels against brute-force references."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import qviz
from qviz.plots import channel_max_figure, scaling_sqnr_figure, token_heatmap_figure
from qviz.stats import outlier_channels
from qviz.tokens import token_channel

RNG = np.random.default_rng(7)


def test_outlier_channels_matches_a_loop():
    x = RNG.standard_normal((50, 40)).astype(np.float32)
    x[:, 4] *= 12
    x[7, 30] = -7.5
    x[3, 11] = np.nan
    df = outlier_channels(x, axis=1, threshold=6.0, k=3.0)
    mx = np.array([np.nanmax(np.abs(x[:, c])) for c in range(40)])
    med = np.median(mx)
    want = sorted([c for c in range(40) if mx[c] > 6 or mx[c] > 3 * med], key=lambda c: -mx[c])
    assert df["channel"].tolist() == want
    np.testing.assert_array_equal(df["max_abs"].to_numpy(), mx[want].astype(np.float32).astype(float))
    assert df.attrs["median_max"] == pytest.approx(float(np.median(mx.astype(np.float32))))
    assert bool(df.set_index("channel").loc[30, "over_threshold"])
    same = outlier_channels(x.T, axis=0, threshold=6.0, k=3.0)
    assert same["channel"].tolist() == want
    with pytest.raises(ValueError, match="out of range"):
        outlier_channels(x, axis=2)


def test_token_view_pools_max_and_scaling_sqnr_is_the_real_error():
    x = RNG.standard_normal((160, 300)).astype(np.float32)
    x[:, 123] *= 50
    spec = qviz.QuantSpec(bits=8)
    v = token_channel(x, spec, max_tokens=64, max_channels=100)  # pooled 3×3
    assert v.heat.shape[0] <= 64 and v.heat.shape[1] <= 100
    assert float(v.heat.max()) == float(np.abs(x).max())  # max pooling keeps the outlier
    np.testing.assert_array_equal(v.channel_max, np.abs(x).max(axis=0))
    assert v.outliers["channel"].iloc[0] == 123
    for row in v.scaling.itertuples():
        g = {"per-tensor": qviz.PerTensor(), "per-token": qviz.PerChannel(0), "per-channel": qviz.PerChannel(1)}[row.scaling]
        s = dataclasses.replace(spec, granularity=g)
        qp = qviz.calibrate(x, s, "minmax").qparams
        assert row.sqnr_db == qviz.error_metrics(x, qviz.fake_quantize(x, qp), qp).sqnr_db
    s = v.scaling.set_index("scaling")["sqnr_db"]
    assert s["per-channel"] > s["per-tensor"] + 10  # the outlier channel only hurts the shared scales
    figs = [token_heatmap_figure(v), channel_max_figure(v), scaling_sqnr_figure(v.scaling)]
    assert all(len(f.to_json()) < 120_000 for f in figs)
    with pytest.raises(ValueError, match="non-empty 2-D"):
        token_channel(np.zeros(5, np.float32), spec)
