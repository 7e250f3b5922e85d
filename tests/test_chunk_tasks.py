"""qviz.chunk_tasks: a large tensor as row-chunk tasks gives weight_row's row to the bit (graph run in-process).

The task graph is the one the cluster runs; here an inline client executes each task as it is
submitted (futures are values), so every granularity × calibrator × symmetry runs fast. The real
cluster runs the same graph in tests/test_distributed.py.
"""

from __future__ import annotations

import sys

import math

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

import qviz
from qviz import chunk_tasks, distributed
from qviz.analyze import frame, weight_row
from qviz.sources import open_source

RNG = np.random.default_rng(3)
CHUNK = 400


class InlineClient:
    """``submit`` runs the task now (future arguments are already values); records the keys."""

    def __init__(self):
        self.keys = []

    def submit(self, fn, *args, key=None, pure=None):
        self.keys.append(key)
        return fn(*args)


def _tensors():
    big = RNG.standard_t(4, size=(48, 40)).astype(np.float32)
    big[5, 3], big[30, 7], big[47, 0] = np.nan, np.inf, -np.inf
    nanrows = RNG.normal(size=(24, 32)).astype(np.float32)
    nanrows[:12] = np.nan  # whole chunks without a finite value
    wide = RNG.laplace(size=(20, 48)).astype(np.float32)
    wide[:, 5] *= 40  # an outlier channel
    return {
        "big": big,
        "nanrows": nanrows,
        "allnan": np.full((30, 16), np.nan, np.float32),
        "vec": RNG.normal(size=1000).astype(np.float32),
        "const": np.ones((30, 20), np.float32),
        "wide": wide,
        "small": RNG.normal(size=(8, 8)).astype(np.float32),
    }


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("chunks")
    t = {k: torch.from_numpy(v) for k, v in _tensors().items()}
    t["bf16"] = torch.from_numpy(RNG.normal(size=(16, 64)).astype(np.float32)).bfloat16()
    t["f16"] = torch.from_numpy(RNG.normal(size=(20, 30)).astype(np.float32)).half()
    p = d / "m.safetensors"
    save_file(t, p)
    np.savez(d / "m.npz", **_tensors())
    return p, d / "m.npz"


def _rows_by_chunks(path, spec, method, options=None):
    client = InlineClient()
    src = open_source(str(path))
    rows = []
    for i, name in enumerate(src.names()):
        info = src.info(name)
        rows.append(chunk_tasks.submit_weight(client, str(path), name, info.numel, spec, method, options or {}, CHUNK,
                                              key=f"t{i}", info=info))
    return frame(rows), client.keys



@pytest.fixture(autouse=True)
def numpy_path(monkeypatch):
    """The chunk graph mirrors weight_row's numpy path; a tensor the fused kernels take is one task (tests/test_distributed.py)."""
    monkeypatch.setattr(sys.modules["qviz.analyze"], "fused_applies", lambda shape, spec: False)

GRANULARITIES = [qviz.PerTensor(), qviz.PerChannel(0), qviz.PerChannel(1), qviz.PerGroup(8, -1), qviz.PerGroup(8, 0)]


@pytest.mark.parametrize("gran", GRANULARITIES, ids=lambda g: g.describe())
def test_chunk_graph_equals_weight_row_for_every_calibrator(ckpt, gran, monkeypatch):
    path = ckpt[0]
    src = open_source(str(path))
    original = distributed.weight_task
    combos = [(m, True) for m in qviz.CALIBRATORS] + [("minmax", False), ("mse", False)]
    for method, symmetric in combos:
        spec = qviz.QuantSpec(bits=4, symmetric=symmetric, granularity=gran)
        split = {n for n in src.names() if chunk_tasks.plan_chunks(src.info(n), spec, method, CHUNK)}

        def no_fallback(path, name, *a, split=split):
            assert name not in split, f"the chunk graph of {name} fell back to weight_row"
            return original(path, name, *a)

        expected = qviz.analyze(path, spec, method, chunk_numel=CHUNK, num_bins=128)  # small histograms: fast
        with monkeypatch.context() as m:
            m.setattr(distributed, "weight_task", no_fallback)
            got, keys = _rows_by_chunks(path, spec, method, {"num_bins": 128})
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=f"{gran.describe()} {method} sym={symmetric}")
        assert any("scan" in k for k in keys), "no tensor was split into chunk tasks"


@pytest.mark.parametrize("method", ["entropy", "mse"])
def test_default_histograms_and_notes(ckpt, method):
    path = ckpt[0]
    spec = qviz.QuantSpec(bits=8)
    got, keys = _rows_by_chunks(path, spec, method)
    pd.testing.assert_frame_equal(got, qviz.analyze(path, spec, method, chunk_numel=CHUNK), check_exact=True)
    big = got.set_index("name")
    assert big.loc["allnan", "note"] == "no finite values: nothing to quantize"
    assert big.loc["big", "note"] == "3 NaN/Inf values left out of calibration and metrics"
    assert big.loc["nanrows", "nonfinite"] == 12 * 32
    n_scan = sum("scan" in k for k in keys)
    # big: 1920 values → 5 chunks of 10 rows; every float tensor over 400 values is split
    assert n_scan >= 5 + 2 + 2 + 3 + 2 + 3 + 3 + 2
    assert any(k.endswith("-cal") for k in keys)  # a spanning histogram calibrator: the merged-histogram task ran


def test_percentile_option_reaches_chunk_tasks(ckpt):
    spec = qviz.QuantSpec(bits=6, granularity=qviz.PerChannel(1))
    expected = qviz.analyze(ckpt[0], spec, "percentile", chunk_numel=CHUNK, percentile=99.0)
    got, _ = _rows_by_chunks(ckpt[0], spec, "percentile", {"percentile": 99.0})
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_other_formats_slice_one_load(ckpt):
    """A format without row reads (.npz) loads the tensor once per worker and slices it: same rows."""
    spec = qviz.QuantSpec(bits=4, symmetric=False, granularity=qviz.PerChannel(0))
    expected = qviz.analyze(ckpt[1], spec, "mse", chunk_numel=CHUNK)
    got, keys = _rows_by_chunks(ckpt[1], spec, "mse")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert any("scan" in k for k in keys)


@pytest.mark.parametrize("name", ["big", "bf16", "f16", "vec"])
def test_read_rows_equals_the_loaded_slice(ckpt, name):
    src = open_source(str(ckpt[0]))
    x = src.load(name)
    for a, b in [(0, 1), (3, 11), (x.shape[0] - 5, x.shape[0])]:
        np.testing.assert_array_equal(chunk_tasks.read_rows(src, name, a, b), x[a:b], strict=True)
    with pytest.raises(ValueError, match="outside"):
        chunk_tasks.read_rows(src, name, 0, x.shape[0] + 1)


def test_unreadable_chunk_falls_back_to_the_single_process_row(ckpt, monkeypatch):
    """A chunk that cannot be read: the merge runs weight_row, so the row and its note are the scan's."""
    path = str(ckpt[0])
    spec = qviz.QuantSpec()
    calls = []

    def broken(src, name, a, b):
        calls.append(name)
        raise OSError("disk went away")

    monkeypatch.setattr(chunk_tasks, "read_rows", broken)
    got, _ = _rows_by_chunks(path, spec, "minmax")
    expected = qviz.analyze(path, spec, "minmax", chunk_numel=CHUNK)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert calls


def test_small_integer_and_one_row_tensors_stay_one_task():
    spec = qviz.QuantSpec()
    assert chunk_tasks.plan_chunks(qviz.TensorInfo("w", (8, 8), "float32"), spec, "minmax", CHUNK) is None
    assert chunk_tasks.plan_chunks(qviz.TensorInfo("ids", (5000,), "int64"), spec, "minmax", CHUNK) is None
    assert chunk_tasks.plan_chunks(qviz.TensorInfo("row", (1, 5000), "float32"), spec, "minmax", CHUNK) is None
    # per-channel off axis 0 with a histogram calibrator over many blocks: one task (its histogram would be big)
    many = qviz.TensorInfo("w", (100, 64), "float32")
    assert chunk_tasks.plan_chunks(many, qviz.QuantSpec(granularity=qviz.PerChannel(1)), "mse", CHUNK) is None
    rows, spans = chunk_tasks.plan_chunks(many, qviz.QuantSpec(granularity=qviz.PerChannel(1)), "minmax", CHUNK)
    assert spans and rows[0] == (0, 6) and rows[-1][1] == 100


def test_weight_row_is_what_one_task_returns(ckpt):
    src = open_source(str(ckpt[0]))
    row = distributed.weight_task(str(ckpt[0]), "small", qviz.QuantSpec(), "minmax", {}, CHUNK)
    ref = weight_row(src, "small", qviz.QuantSpec(), "minmax", {}, CHUNK)
    assert row.keys() == ref.keys()
    assert all(row[k] == ref[k] or (isinstance(ref[k], float) and math.isnan(ref[k])) for k in ref)
