"""The Formats page: a table with every format in the bit budget, levels over the histogram, SQNR against bits."""

from __future__ import annotations

import pytest

import qviz
from tests.app.conftest import figure_sizes, figures, open_page


@pytest.fixture
def page(app):
    return open_page(app, "pages/formats.py")


def test_four_bit_formats_tabled_and_drawn(page):
    table = page.dataframe[0].value
    names = set(table["format"])
    assert {"int4", "int4_g64", "log2_4", "kmeans_4", "nf4", "fp4_e2m1", "mxfp4"} <= names
    assert all(3.5 <= b < 5 for b in table["bits / value"])
    levels, sqnr = figures(page)
    drawn = [t.get("name") for t in levels["data"][1:]]
    assert drawn == list(table["format"])  # one row of level ticks per tabled format
    assert len(sqnr["data"]) == len(set(qviz.formats.FAMILIES))  # every format, one trace per family
    assert max(figure_sizes(page)) < 200_000


def test_numbers_are_the_real_ones(page):
    x = qviz.sample("gaussian")
    expected = qviz.compare_formats(x, ["nf4", "mxfp4"]).set_index("format")
    table = page.dataframe[0].value.set_index("format")
    for name in ("nf4", "mxfp4"):
        assert table.loc[name, "SQNR (dB)"] == pytest.approx(expected.loc[name, "sqnr_db"], abs=1e-9)
    assert table.loc["nf4", "bits / value"] == pytest.approx(4.5)
    assert table.loc["mxfp4", "bits / value"] == pytest.approx(4.25)


def test_budget_and_tensor_controls(page):
    page.segmented_control(key="budget").set_value("8 bits").run()
    assert not page.exception
    names = set(page.dataframe[0].value["format"])
    assert {"int8", "fp8_e4m3", "fp8_e5m2", "mxfp8_e4m3", "mxint8"} <= names and "nf4" not in names
    before = page.dataframe[0].value.set_index("format")["SQNR (dB)"]
    page.selectbox(key="sample").set_value("student_t").run()
    assert not page.exception
    after = page.dataframe[0].value.set_index("format")["SQNR (dB)"]
    assert after["int8"] < before["int8"] - 5  # heavy tails stretch the uniform grid
    page.segmented_control(key="budget").set_value("1-2 bits").run()
    assert set(page.dataframe[0].value["format"]) >= {"binary", "ternary", "int2", "kmeans_2"}
