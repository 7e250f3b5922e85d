"""The Calibrators page: every calibrator's threshold on one histogram, its curve, and the cost table."""

from __future__ import annotations

import pytest

import qviz
from qviz.calibrate.registry import compared
from tests.app.conftest import figure_sizes, figures, open_page


@pytest.fixture
def page(app):
    return open_page(app, "pages/calibrators.py")


def test_every_calibrator_drawn_and_tabled(page):
    figs = figures(page)
    thresholds = figs[0]
    drawn = {t["name"] for t in thresholds["data"][1:]}
    assert len(drawn) == len(compared())
    table = page.dataframe[0].value
    assert len(table) == len(compared())
    assert set(table.columns) >= {"clip_min", "clip_max", "SQNR (dB)", "MSE", "clipping share", "rounding share"}
    assert ((table["clipping share"] + table["rounding share"] - 1).abs() < 1e-9).all()
    # one criterion curve per calibrator that searched something (min-max variants search nothing)
    assert len(figs) == 1 + sum(1 for t in table["calibrator"] if "min-max" not in t)
    assert max(figure_sizes(page)) < 300_000


def test_table_numbers_are_the_real_ones(page):
    x = qviz.sample("gaussian")
    cal = qviz.calibrate(x, qviz.QuantSpec(), "mse")
    m = qviz.error_metrics(x, qviz.fake_quantize(x, cal.qparams), cal.qparams)
    row = page.dataframe[0].value.set_index("calibrator").loc["MSE search"]
    assert row["SQNR (dB)"] == pytest.approx(m.sqnr_db, abs=1e-9)
    assert row["clip_max"] == pytest.approx(float(cal.clip_max.item()))


def test_bits_and_percentile_controls(page):
    before = page.dataframe[0].value.set_index("calibrator")["SQNR (dB)"]
    page.slider(key="bits").set_value(4).run()
    after = page.dataframe[0].value.set_index("calibrator")["SQNR (dB)"]
    assert (after < before - 15).all()  # 4 fewer bits ≈ 24 dB less
    p1 = page.dataframe[0].value.set_index("calibrator").loc["percentile", "clip_max"]
    page.select_slider(key="pct").set_value(99.0).run()
    assert not page.exception
    assert page.dataframe[0].value.set_index("calibrator").loc["percentile", "clip_max"] < p1
