"""The registry drives every consumer: a method registered once shows up in the CLI, the report and the app."""

from __future__ import annotations

import json

import numpy as np
import pytest

import qviz
from qviz.calibrate import registry
from qviz.calibrate.registry import METHODS, Method, Option, compared
from qviz.calibrate.result import empty_curve
from qviz.cli import main
from qviz.report import layer_calibrators
from tests.app.conftest import app, open_page  # noqa: F401 - the AppTest fixture


def _shrunk(stats, spec, curve_block, shrink=0.5):
    """A toy method: min-max scaled by ``shrink``."""
    return stats.lo * shrink, stats.hi * shrink, empty_curve(), "none"


def _check_shrink(v):
    if not 0 < float(v) <= 1:
        raise ValueError(f"shrink must be in (0, 1], got {v!r}")


TOY = Method("shrunk", "shrunk min-max (test)", _shrunk, (
    Option("shrink", 0.5, float, "share of the min-max range kept", values=(0.25, 0.5, 1.0), check=_check_shrink),),
    needs_histogram=False, searches=False, stats_options=())


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(METHODS, TOY.name, TOY)
    yield TOY


def test_toy_method_everywhere_in_qviz(toy):
    x = qviz.sample("gaussian")[:4096]
    c = qviz.calibrate(x, qviz.QuantSpec(), "shrunk", shrink=0.25)
    assert float(c.clip_max.item()) == pytest.approx(0.25 * float(np.abs(x).max()), rel=1e-6)
    assert "shrunk" in qviz.calibrator_names() and "shrunk" in compared()
    with pytest.raises(ValueError, match="shrink must be in"):
        qviz.Calibrator(qviz.QuantSpec(), "shrunk", shrink=2.0)
    t = qviz.compare_calibrators(x, qviz.QuantSpec(), shrink=0.25)
    assert list(t["calibrator"]) == compared() and t.set_index("calibrator").loc["shrunk", "clip_max"] == float(c.clip_max.item())


def test_registry_drives_the_cli(toy, capsys):
    assert main(["calibrate", "samples", "--tensor", "gaussian", "--calibrator", "all", "--shrink", "0.25", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [c["calibrator"] for c in d["calibrations"]] == compared()
    x = qviz.open_source("samples").load("gaussian")
    shrunk = next(c for c in d["calibrations"] if c["calibrator"] == "shrunk")
    assert shrunk["clip_max"] == pytest.approx(0.25 * float(np.abs(x).max()), rel=1e-6)
    assert main(["scan", "samples", "--calibrator", "percentile", "--shrink", "0.5"]) == 2
    assert "--shrink needs --calibrator shrunk" in capsys.readouterr().err
    assert main(["scan", "samples", "--calibrator", "shrunk", "--shrink", "3"]) == 2
    assert "shrink must be in (0, 1]" in capsys.readouterr().err
    main(["scan", "--help"])
    assert "shrunk" in capsys.readouterr().out


def test_registry_drives_the_report(toy):
    x = qviz.sample("gaussian")[:4096]
    _, ranges, rows, _ = layer_calibrators(x, qviz.QuantSpec(), "minmax", {"shrink": 0.5})
    assert list(rows["calibrator"]) == compared() and ranges["shrunk"][1] == pytest.approx(0.5 * float(np.abs(x).max()), rel=1e-6)


def test_registry_drives_the_pages(toy, app):
    page = open_page(app, "pages/calibrators.py")
    assert TOY.title in set(page.dataframe[0].value["calibrator"])
    page.select_slider(key="shrink").set_value(0.25).run()
    row = page.dataframe[0].value.set_index("calibrator").loc[TOY.title]
    assert row["clip_max"] == pytest.approx(0.25 * float(np.abs(qviz.sample("gaussian")).max()), rel=1e-6)
    page = open_page(page, "pages/inspector.py")
    assert "shrunk" in page.selectbox(key="calib").options or TOY.title in page.selectbox(key="calib").options
    page.selectbox(key="calib").set_value("shrunk").run()
    assert not page.exception and page.select_slider(key="shrink").value in (0.25, "0.25")  # the shared key carries


def test_every_option_reaches_the_cli_and_the_page():
    from qviz.cli import spec_parent

    flags = {a.dest for a in spec_parent()._actions}
    assert set(registry.all_options()) <= flags
    for m in METHODS.values():  # the app draws m.all_options for the chosen method (ui.spec_widgets.calibrator_control)
        assert set(registry.accepted(m.name)) >= {o.name for o in m.all_options}
