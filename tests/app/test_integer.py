"""The Integer arithmetic page: M, M0 and the shift, the step-by-step integer path, Qm.n, the product's terms."""

from __future__ import annotations

import pytest

from qviz.intarith import quantize_multiplier, requantize
from tests.app.conftest import figure_sizes, figures, metric, open_page


@pytest.fixture
def page(app):
    return open_page(app, "pages/integer.py")




def test_default_view(page):
    assert metric(page, "M = S1 / S2") == "0.4"
    m0, shift = quantize_multiplier(0.02 / 0.05)
    assert metric(page, "M0") == str(m0) and metric(page, "shift") == str(shift)
    steps = page.dataframe[0].value
    # q1 = 102: the integer path rounds twice and lands one code below the float path
    assert steps["value"].iloc[4] == "89" and steps["value"].iloc[6] == "90"
    requant, waterfall = figures(page)
    assert [t["name"] for t in requant["data"]] == ["float path", "integer path", "integer − float"]
    assert waterfall["data"][0]["type"] == "waterfall"
    assert max(figure_sizes(page)) < 100_000
    assert metric(page, "Q4.3") == "[-8, 7.875]"


def test_scales_and_q1_controls(page):
    page.number_input(key="s2").set_value(0.013).run()
    page.number_input(key="z2").set_value(7).run()
    page.slider(key="q1").set_value(200).run()
    assert not page.exception
    r = requantize([200], 0.02, 128, 0.013, 7)
    assert metric(page, "shift") == str(r.shift)
    steps = page.dataframe[0].value
    assert steps["value"].iloc[4] == str(int(r.q2[0]))


def test_layer_mode_and_product_terms(page):
    page.segmented_control(key="src").set_value("Built-in model").run()
    page.segmented_control(key="from").set_value("layer").run()
    assert not page.exception
    diff = metric(page, "paths differ on")
    differ, total = int(diff.split()[0]), int(diff.split()[-1])
    assert total > 8 and differ <= total
    page.number_input(key="mi").set_value(3).run()
    assert not page.exception
    terms = figures(page)[1]["data"][0]
    assert sum(terms["y"][:4]) == int(terms["text"][4].replace(",", ""))  # the four terms add up to the accumulator
    assert float(metric(page, "SQNR of the integer product").split()[0]) > 25
    page.number_input(key="qm").set_value(5).run()
    assert metric(page, "Q5.3") == "[-16, 15.875]"
