"""``qviz report``: one self-contained HTML file (plotly.js inlined once, binned figures)."""

from __future__ import annotations

import json
import re

from tests.app.test_file_source import values
from tests.cli.conftest import run


def _figures(page: str) -> list[dict]:
    """The data of every Plotly.newPlot call in the page."""
    out = []
    for m in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", page, re.DOTALL):
        out.append(json.loads(m.group(1)))
    return out


def test_digits_cnn_report(capsys, tmp_path):
    out = tmp_path / "report.html"
    rc, stdout, err = run(capsys, "report", "digits_cnn", "--out", out, "--granularity", "channel", "--histograms", "3")
    assert rc == 0 and stdout == "" and err.startswith(f"qviz: wrote {out} (")
    page = out.read_text()
    assert page.count("window.PlotlyConfig") == 1  # plotly.js inlined once
    assert "<script src=" not in page and "<link " not in page  # nothing fetched: opens offline
    assert len(page) < 6_000_000  # plotly.js (~4.7 MB) plus binned figures
    assert "int8 symmetric midtread per-channel (axis 0)" in page and "The 10 worst tensors" in page
    assert page.count('<table class="sortable">') == 1 + 3 + 1  # worst layers, one per histogram, every tensor
    figs = _figures(page)
    assert len(figs) == 2 + 3
    bars = figs[0][0]
    assert bars["type"] == "bar" and len(bars["x"]) == 12  # 8 weights + 4 activations
    for fig in figs[2:]:
        names = [t.get("name") for t in fig]
        assert names == ["values", "minmax", "percentile", "entropy", "mse", "aciq"]
        assert values(fig[0]["y"]).sum() > 0 and values(fig[0]["x"]).size == 200  # binned: 200 bars whatever the tensor
    assert "(block " in page  # per-channel: the histogram is of the widest block


def test_report_on_files(capsys, tmp_path, good_files):
    for ext in (".onnx", ".npz"):
        out = tmp_path / f"r{ext}.html"
        rc, _, err = run(capsys, "report", good_files[ext], "--out", out, "--calibrator", "entropy", "--bits", "4")
        assert rc == 0, err
        page = out.read_text()
        assert f"qviz report: {good_files[ext].name}" in page and "int4 symmetric" in page
        assert len(_figures(page)) == 2 + 2  # W and B are the worst (only) weights


def test_report_nothing_quantizable(capsys, tmp_path):
    import numpy as np

    np.save(tmp_path / "idx.npy", np.arange(10, dtype=np.int64))
    rc, _, err = run(capsys, "report", tmp_path / "idx.npy", "--out", tmp_path / "r.html")
    assert rc == 0, err
    assert "No tensor could be quantized" in (tmp_path / "r.html").read_text()
