"""The Model layers page on the built-in digits CNN."""

from __future__ import annotations

import pytest

from tests.app.conftest import figure_sizes, figures


@pytest.fixture(scope="module")
def layers_page():
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/layers.py").run()
    assert not at.exception, at.exception
    return at


def test_table_and_bars(layers_page):
    at = layers_page
    table = at.dataframe[0].value
    assert {"weight", "activation"} <= set(table["kind"])
    assert "fc1.weight" in set(table["name"])
    figs = figures(at)
    assert len(figs) == 2  # weights and activations
    assert {t["name"].split(":")[0] for t in figs[0]["data"]} == {"A", "B"}  # two specs side by side
    assert max(figure_sizes(at)) < 300_000
    assert at.get("download_button")


def test_filter_and_metric(layers_page):
    at = layers_page
    at.text_input(key="lfilter").set_value("fc1").run()
    assert set(at.dataframe[0].value["name"]) <= {"fc1.weight", "fc1.bias", "fc1:input"}
    at.segmented_control(key="lmetric").set_value("psnr_db").run()
    assert "PSNR" in figures(at)[0]["layout"]["yaxis"]["title"]["text"]
    at.text_input(key="lfilter").set_value("").run()


def test_open_layer_in_inspector(layers_page):
    at = layers_page
    at.selectbox(key="open_layer").set_value("fc2.weight").run()
    links = [m.value for m in at.markdown if "tensor inspector" in m.value]
    assert len(links) == 1
    assert "src=Built-in+model" in links[0] and "model=digits_cnn" in links[0] and "tensor=fc2.weight" in links[0]
    # following the link (the URL drives the bound widgets in the browser) is checked in tests/e2e
