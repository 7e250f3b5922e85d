"""Tiny uploads that decode to large tensors: the working memory stays within 3× the accepted float32 tensor.

Each case runs in a fresh interpreter that measures its own peak RSS (``ru_maxrss``) around exactly
what the Inspector computes for an upload: read, calibrate, fake-quantize, error metrics, both
histograms and the statistics.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from qviz.chunking import chunk_qparams, row_chunks

ROOT = Path(__file__).resolve().parents[2]
N = 1 << 24  # 16M values: 64 MB as float32

PROBE = textwrap.dedent("""
    import resource, sys
    import numpy as np, torch, qviz
    from qviz.binning import error_histogram, histogram
    from qviz.stats import tensor_stats

    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    data = open(sys.argv[1], "rb").read()
    base = rss()
    src = qviz.open_source(data, name=sys.argv[2], max_numel=1 << 26)
    x = src.load(src.names()[0])
    for spec in (qviz.QuantSpec(bits=4, symmetric=False),):
        cal = qviz.calibrate(x, spec, "minmax")
        x_hat = qviz.fake_quantize(x, cal.qparams)
        qviz.error_metrics(x, x_hat, cal.qparams)
        histogram(x, bins=240)
        error_histogram(x, x_hat, cal.qparams)
        tensor_stats(x)
        del x_hat
    print((rss() - base) / x.nbytes)
""")


def _growth(path: Path) -> float:
    out = subprocess.run([sys.executable, "-c", PROBE, str(path), path.name], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return float(out.stdout.strip().splitlines()[-1])


def test_compressed_npz_of_float64_zeros(tmp_path):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, z=np.zeros(N, np.float64))
    assert path.stat().st_size < N // 100  # a tiny upload…
    assert _growth(path) <= 3.0  # …whose float64 never exists whole, and whose analysis works in chunks


def test_expanded_torch_tensor(tmp_path):
    path = tmp_path / "expand.pt"
    torch.save({"w": torch.zeros(1).expand(4096, N // 4096)}, path)
    assert path.stat().st_size < 4096
    assert _growth(path) <= 3.0


@pytest.mark.parametrize("granularity", ["tensor", "channel0", "channel1", "group0", "group1"])
def test_chunked_paths_equal_the_whole_tensor(monkeypatch, granularity):
    """Chunking only bounds temporaries: codes and x̂ are identical, sums equal to float64 rounding."""
    import qviz
    import qviz.chunking
    from qviz.binning import error_histogram, histogram
    from qviz.stats import tensor_stats

    g = {"tensor": qviz.PerTensor(), "channel0": qviz.PerChannel(0), "channel1": qviz.PerChannel(1),
         "group0": qviz.PerGroup(8, 0), "group1": qviz.PerGroup(16, 1)}[granularity]
    x = np.random.default_rng(1).standard_t(3, size=(96, 64)).astype(np.float32)
    x[5, 7], x[40, 3] = np.nan, np.inf
    spec = qviz.QuantSpec(bits=3, symmetric=False, granularity=g)
    qp = qviz.calibrate(x, spec, "minmax").qparams

    def everything():
        xh = qviz.fake_quantize(x, qp)
        return (xh, qviz.quantize(x, qp), qviz.error_metrics(x, xh, qp).as_dict(), histogram(x, 50).counts,
                error_histogram(x, xh, qp, bins=40), tensor_stats(x, axis=0))

    whole = everything()
    monkeypatch.setattr(qviz.chunking, "CHUNK", 640)  # 10 rows a chunk (aligned to 8-row groups: 8)
    assert len(list(row_chunks(x.shape, g, 640))) > 5
    parts = everything()
    assert np.array_equal(whole[0], parts[0], equal_nan=True) and np.array_equal(whole[1], parts[1])
    for k, v in whole[2].items():
        assert v == pytest.approx(parts[2][k], rel=1e-12, nan_ok=True), k
    assert np.array_equal(whole[3], parts[3])
    assert np.array_equal(whole[4].rounding, parts[4].rounding) and np.array_equal(whole[4].clipping, parts[4].clipping)
    for k, v in whole[5].items():
        assert v == pytest.approx(parts[5][k], rel=1e-12, nan_ok=True), k


def test_chunk_qparams_are_the_rows_of_the_grid():
    import qviz

    x = np.arange(48, dtype=np.float32).reshape(12, 4)
    qp = qviz.calibrate(x, qviz.QuantSpec(granularity=qviz.PerGroup(3, 0)), "minmax").qparams
    got = [chunk_qparams(qp, x.shape, gr).scale.ravel() for _, gr in row_chunks(x.shape, qp.spec.granularity, 24)]
    assert np.array_equal(np.concatenate(got), np.ravel(qp.scale))
