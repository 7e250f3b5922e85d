"""Legal tensors at the edges of float32 never crash and never produce a non-finite scale."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import qviz
from tests.cli.conftest import assert_one_line_error, run

HUGE = np.array([1e38, -1e38, 3e38, 0.5] * 256, np.float32)
METHODS = ["minmax", "percentile", "entropy", "mse", "aciq"]


def test_affine_range_wider_than_float32_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"wider than float32 can hold.*overflows to inf") as e:
        qviz.choose_qparams(-3e38, 3e38, qviz.QuantSpec(symmetric=False))
    assert "\n" not in str(e.value)
    qp = qviz.choose_qparams(-3e38, 3e38, qviz.QuantSpec())  # symmetric: max|x|/127.5 is finite
    assert np.isfinite(qp.scale).all()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("symmetric", [True, False])
def test_calibrators_on_values_near_float32_max(method, symmetric):
    spec = qviz.QuantSpec(symmetric=symmetric)
    try:
        cal = qviz.calibrate(HUGE, spec, method)
    except ValueError as e:  # only the affine range that cannot have a finite step is refused
        assert not symmetric and "wider than float32" in str(e)
        return
    assert np.isfinite(cal.qparams.scale).all() and np.isfinite(cal.clip_min).all() and np.isfinite(cal.clip_max).all()
    m = qviz.error_metrics(HUGE, qviz.fake_quantize(HUGE, cal.qparams), cal.qparams)
    assert np.isfinite(m.mse) and m.sqnr_db > 10


def test_histogram_calibrators_bin_huge_values_as_the_scaled_tensor():
    """x and x·2^-100 land in the same bins: the huge-value path divides by the exact R/F instead of multiplying by F."""
    small = (HUGE.astype(np.float64) * 2.0**-100).astype(np.float32)
    for method in ["percentile", "entropy", "mse"]:
        a = qviz.calibrate(HUGE, qviz.QuantSpec(), method)
        b = qviz.calibrate(small, qviz.QuantSpec(), method)
        assert np.array_equal(a.clip_max.astype(np.float64) * 2.0**-100, b.clip_max.astype(np.float64)), method


def test_export_and_scan_never_write_a_non_finite_scale(tmp_path, capsys):
    path = tmp_path / "mix.npz"
    np.savez(path, huge=HUGE, ok=np.linspace(-1, 1, 64, dtype=np.float32))
    rc, _, err = run(capsys, "export", path, "--asymmetric", "--out", tmp_path / "p.json")
    assert rc == 0, err
    params = json.loads((tmp_path / "p.json").read_text())
    scales = [s for t in params["tensors"].values() for s in np.ravel(t["scale"]).tolist()]
    assert scales and all(isinstance(s, float) and np.isfinite(s) for s in scales)
    assert list(params["tensors"]) == ["ok"] and "wider than float32" in params["skipped"]["huge"]
    rc, out, _ = run(capsys, "scan", path, "--asymmetric", "--format", "json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["huge"]["scale"] is None and "wider than float32" in rows["huge"]["note"]
    assert rows["ok"]["scale"] > 0


def test_cli_port_and_axis_are_checked(capsys, monkeypatch):
    import qviz.cli_commands

    monkeypatch.setattr(qviz.cli_commands.subprocess, "run", lambda *a, **k: pytest.fail("the app must not start"))
    for port in ("-1", "99999", "http"):
        rc, _, err = run(capsys, "app", "samples", "--port", port)
        assert "port" in assert_one_line_error(err, 2, rc)
    rc, _, err = run(capsys, "sensitivity", "digits_cnn", "--granularity", "channel", "--axis", "99")
    assert "axis 99" in assert_one_line_error(err, 2, rc)


def test_npy_versions_and_bad_magic_use_public_numpy_only():
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.arange(6, dtype=np.float32).reshape(2, 3), version=(3, 0))
    v3 = buf.getvalue()
    assert np.array_equal(qviz.open_source(v3, name="v3.npy").load("v3"), np.arange(6).reshape(2, 3))
    with pytest.raises(qviz.SourceError, match=r"bad\.npy: is not a valid \.npy array \(format version 7\.0 is unknown"):
        qviz.open_source(v3[:6] + b"\x07\x00" + v3[8:], name="bad.npy")


def test_float64_file_beyond_float32_is_one_line(tmp_path):
    np.save(tmp_path / "f64.npy", np.array([1e300, 1.0, -2.0]))
    with pytest.raises(qviz.SourceError, match=r"f64\.npy: tensor 'f64' has 1 finite value beyond float32's range"):
        qviz.open_source(tmp_path / "f64.npy").load("f64")


def test_user_strings_in_figures_are_text_not_markup():
    from qviz.plots.distribution import histogram_figure  # noqa: F401  (every builder titles through base_layout)
    from qviz.plots.layers import layer_bars_figure
    from qviz.plots.style import base_layout

    evil = '<a href="javascript:alert(2)">click</a>.npy'
    import plotly.graph_objects as go
    import pandas as pd

    fig = base_layout(go.Figure(), evil)
    assert "<a" not in fig.layout.title.text and "&lt;a href" in fig.layout.title.text
    df = pd.DataFrame({"name": [evil, "ok"], "sqnr_db": [10.0, 20.0]})
    spec = json.dumps(layer_bars_figure(df).to_plotly_json()["data"])
    assert "<a " not in spec and "&lt;a href" in spec
