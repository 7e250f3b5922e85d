"""analyze(workers=…) and the disk cache (qviz.scan_cache) on a generated sharded checkpoint."""

from __future__ import annotations

import importlib
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

import qviz
from qviz import scan_cache
from qviz.analyze import COLUMNS

analyze_mod = importlib.import_module("qviz.analyze")

EXACT = ["name", "kind", "shape", "dtype", "numel", "flags", "granularity", "n_blocks", "nonfinite", "min", "max", "clip_min",
         "clip_max", "scale", "zero_point", "max_abs_error", "code_usage", "wasted_range", "n", "note", "block", "role", "format"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two bf16/fp32 shards with an index, Llama names, NaN/Inf, an integer and a 1-d tensor."""
    d = tmp_path_factory.mktemp("llama")
    g = torch.Generator().manual_seed(0)
    a = {
        "model.embed_tokens.weight": torch.randn(96, 64, generator=g).to(torch.bfloat16),
        "model.layers.0.self_attn.q_proj.weight": torch.randn(64, 64, generator=g).to(torch.bfloat16),
        "model.layers.0.mlp.up_proj.weight": (torch.randn(160, 64, generator=g) * 0.02).to(torch.bfloat16),
        "model.layers.0.input_layernorm.weight": 1 + 0.1 * torch.randn(64, generator=g),
    }
    w = torch.randn(64, 160, generator=g)
    w[3, 7], w[10, 0], w[11, 1] = float("nan"), float("inf"), -float("inf")
    b = {"model.layers.0.mlp.down_proj.weight": w.to(torch.float16), "model.step": torch.arange(5),
         "lm_head.weight": torch.randn(96, 64, generator=g)}
    save_file(a, d / "model-00001-of-00002.safetensors")
    save_file(b, d / "model-00002-of-00002.safetensors")
    index = {"weight_map": {**{k: "model-00001-of-00002.safetensors" for k in a},
                            **{k: "model-00002-of-00002.safetensors" for k in b}}}
    (d / "model.safetensors.index.json").write_text(json.dumps(index))
    return d


SPECS = [qviz.QuantSpec(bits=8), qviz.QuantSpec(bits=4, symmetric=False, granularity=qviz.PerChannel(0)),
         qviz.QuantSpec(bits=4, quantizer="midrise", granularity=qviz.PerGroup(16))]


@pytest.mark.parametrize(
    "spec,method", [(s, "minmax") for s in SPECS] + [(SPECS[0], "percentile"), (SPECS[1], "entropy")],
    ids=lambda v: v if isinstance(v, str) else v.describe(),
)
def test_workers_give_the_same_dataframe(folder, spec, method):
    one = qviz.analyze(folder, spec, method, workers=1, chunk_numel=3000)
    many = qviz.analyze(folder, spec, method, workers=3, chunk_numel=3000)
    pd.testing.assert_frame_equal(one, many)  # bit for bit, whatever the threads


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
def test_fused_rows_equal_the_numpy_rows(folder, spec, monkeypatch):
    fused_df = qviz.analyze(folder, spec, "minmax", workers=2)
    monkeypatch.setattr(analyze_mod, "fused_applies", lambda shape, spec: False)  # today's numpy path
    numpy_df = qviz.analyze(folder, spec, "minmax", workers=1)
    assert list(fused_df.columns) == COLUMNS
    for col in COLUMNS:
        a, b = fused_df[col], numpy_df[col]
        if col in EXACT:
            pd.testing.assert_series_equal(a, b)
        else:
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-9, atol=1e-12, err_msg=col)


def test_overflowing_range_is_a_note_as_in_the_numpy_path(tmp_path, monkeypatch):
    p = tmp_path / "wide.npy"
    np.save(p, np.array([[3e38, -3e38, 1.0, 0.0]], np.float32))
    spec = qviz.QuantSpec(bits=4, symmetric=False)
    fused_row = qviz.analyze(p, spec).iloc[0]
    monkeypatch.setattr(analyze_mod, "fused_applies", lambda shape, spec: False)
    numpy_row = qviz.analyze(p, spec).iloc[0]
    assert "not quantized" in fused_row["note"] and fused_row["note"] == numpy_row["note"]
    assert np.isnan(fused_row["sqnr_db"]) and fused_row["max"] == numpy_row["max"]


def test_bad_workers(folder):
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers"):
            qviz.analyze(folder, qviz.QuantSpec(), workers=bad)


def test_progress_reports_values(folder):
    seen = []
    qviz.analyze(folder, qviz.QuantSpec(), workers=2, progress=lambda d, t, n, values: seen.append((d, t, values)))
    total = sum(qviz.open_source(folder).info(n).numel for n in qviz.open_source(folder).names())
    assert [s[0] for s in seen] == list(range(1, 8)) and seen[-1][2] == (total, total)
    plain = []
    qviz.analyze(folder, qviz.QuantSpec(), workers=1, progress=lambda d, t, n: plain.append(d))
    assert plain == list(range(1, 8))


def test_memory_budget_bounds_values_in_flight(folder, monkeypatch):
    """With a budget of 5000 values, tensors over it run alone: never two large ones at once."""
    import threading

    monkeypatch.setattr(analyze_mod, "IN_FLIGHT_VALUES", 5000)
    live, peak, lock = [0], [0], threading.Lock()
    real = analyze_mod.tensor_row

    def counting(row, x, *a, **k):
        with lock:
            live[0] += x.size
            peak[0] = max(peak[0], live[0])
        try:
            return real(row, x, *a, **k)
        finally:
            with lock:
                live[0] -= x.size

    monkeypatch.setattr(analyze_mod, "tensor_row", counting)
    qviz.analyze(folder, qviz.QuantSpec(), workers=4)
    assert peak[0] <= 10240  # the largest tensor (64×160) alone, or smaller ones within 5000


def test_cache_hit_miss_and_one_changed_byte(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    d = tmp_path / "m"
    d.mkdir()
    x = np.random.default_rng(0).normal(size=(32, 48)).astype(np.float32)
    save_file({"w": torch.from_numpy(x)}, d / "model.safetensors")
    spec = qviz.QuantSpec(bits=4)
    first = qviz.analyze(d, spec, cache=True)
    stored = list((tmp_path / "xdg" / "qviz" / "scans").iterdir())
    assert len(stored) == 1 and stored[0].read_bytes()[:4] == b"PAR1"  # Parquet, never a pickle
    calls = []
    real = analyze_mod.weight_rows
    monkeypatch.setattr(analyze_mod, "weight_rows", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = qviz.analyze(d, spec, cache=True)
    pd.testing.assert_frame_equal(first, again)
    assert calls == []
    qviz.analyze(d, qviz.QuantSpec(bits=5), cache=True)  # other settings: analysed
    qviz.analyze(d, spec, "percentile", cache=True)
    assert len(calls) == 2
    # one byte of the data changes (same size): analysed again, with the new value
    f = d / "model.safetensors"
    raw = bytearray(f.read_bytes())
    raw[-1] ^= 0x40
    f.write_bytes(bytes(raw))
    changed = qviz.analyze(d, spec, cache=True)
    assert len(calls) == 3 and changed.loc[0, "mean"] != first.loc[0, "mean"]
    assert scan_cache.clear()[0] == 4 and not list((tmp_path / "xdg" / "qviz" / "scans").iterdir())


def test_cache_key_parts(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert scan_cache.cache_dir() == scan_cache.Path(os.path.expanduser("~")) / ".cache" / "qviz"
    p = tmp_path / "x.npy"
    np.save(p, np.ones(3, np.float32))
    k = scan_cache.scan_key(p, {"method": "minmax"})
    assert k == scan_cache.scan_key(p, {"method": "minmax"}) != scan_cache.scan_key(p, {"method": "mse"})
    os.utime(p, ns=(1, 1))
    assert scan_cache.scan_key(p, {"method": "minmax"}) != k  # mtime is part of the key
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    (tmp_path / "c" / "qviz" / "scans").mkdir(parents=True)
    (tmp_path / "c" / "qviz" / "scans" / f"{k}.parquet").write_bytes(b"garbage")
    assert scan_cache.load(k) is None  # a broken entry is recomputed, never trusted
