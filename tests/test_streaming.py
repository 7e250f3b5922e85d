"""Large tensors go through row chunks (qviz.streaming) and give the whole-tensor numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import qviz
from qviz.analyze import COLUMNS

NUMERIC = [c for c in COLUMNS if c not in ("name", "kind", "role", "shape", "dtype", "flags", "format", "granularity", "note")]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    rng = np.random.default_rng(3)
    x = rng.standard_t(4, size=(64, 48)).astype(np.float32)
    y = x.copy()
    y[3, 5], y[40, 7], y[41, 0] = np.nan, np.inf, -np.inf
    z = rng.normal(size=(16, 4, 3, 4)).astype(np.float32)
    p = tmp_path_factory.mktemp("s") / "m.safetensors"
    save_file({"x": torch.from_numpy(x), "nan": torch.from_numpy(y), "conv": torch.from_numpy(z)}, p)
    return p


GRANULARITIES = [qviz.PerTensor(), qviz.PerChannel(0), qviz.PerChannel(1), qviz.PerGroup(16), qviz.PerGroup(4, axis=0)]


@pytest.mark.parametrize("g", GRANULARITIES, ids=lambda g: g.describe())
@pytest.mark.parametrize(
    "spec_kw", [dict(bits=8), dict(bits=4, signed=False, symmetric=False), dict(bits=3, quantizer="midrise")]
)
def test_chunked_equals_whole(ckpt, g, spec_kw):
    spec = qviz.QuantSpec(granularity=g, **spec_kw)
    whole = qviz.analyze(ckpt, spec, "minmax").set_index("name")
    parts = qviz.analyze(ckpt, spec, "minmax", chunk_numel=200).set_index("name")
    for name in whole.index:
        for col in NUMERIC:
            a, b = whole.loc[name, col], parts.loc[name, col]
            assert a == pytest.approx(b, rel=1e-6, abs=1e-12, nan_ok=True), (name, col, a, b)
        assert whole.loc[name, "note"] == parts.loc[name, "note"]


@pytest.mark.parametrize("method", ["percentile", "entropy"])
def test_chunked_per_block_methods(tmp_path, method):
    p = tmp_path / "x.npy"
    np.save(p, np.random.default_rng(4).laplace(size=(12, 40)).astype(np.float32))
    spec = qviz.QuantSpec(granularity=qviz.PerChannel(0))
    whole = qviz.analyze(p, spec, method).set_index("name")
    parts = qviz.analyze(p, spec, method, chunk_numel=100).set_index("name")
    for col in ("clip_min", "clip_max", "scale", "mse", "sqnr_db", "code_usage", "wasted_range"):
        assert whole.loc["x", col] == pytest.approx(parts.loc["x", col], rel=1e-6)


def test_moments_match_numpy():
    from qviz.streaming import Moments

    x = np.random.default_rng(0).laplace(5, 2, 100_003)
    m = Moments()
    for part in np.array_split(x, 7):
        m.add(part)
    r = m.result()
    d = x - x.mean()
    assert r["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert r["std"] == pytest.approx(x.std(), rel=1e-12)
    assert r["kurtosis"] == pytest.approx((d**4).mean() / x.var() ** 2 - 3, rel=1e-9)
    assert math.isnan(Moments().result()["mean"])
