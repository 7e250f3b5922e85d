"""The Transforms page on MiniLM (AppTest, widgets by key): every section draws, small figures, controls change the numbers."""

from __future__ import annotations

import pytest

from tests.app.conftest import figure_sizes, figures


@pytest.fixture(scope="module")
def page():
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/transforms.py").run()
    assert not at.exception, at.exception
    return at


def test_default_render(page):
    at = page
    assert at.title[0].value == "Transforms"
    assert at.selectbox(key="tmodel").value == "minilm"
    assert at.selectbox(key="tlayer").value == "encoder.layer.0.attention.self.query"
    assert at.selectbox(key="tgran").value == "per-token"
    keys = [c.proto.id for c in at.get("plotly_chart")]
    assert len(keys) == 9  # channels, α curve, 2 histograms, block sizes, induced outlier, granularity, KV bits, KV heads
    assert max(figure_sizes(at)) < 60_000  # binned and small
    figs = figures(at)
    curve = figs[1]
    assert any(t["name"].startswith("best α") for t in curve["data"])
    labels = [m.label for m in at.metric]
    assert "best α · W8A8" in labels
    assert not at.error


def test_alpha_layer_and_granularity_change_the_view(page):
    at = page
    before = figures(at)[0]["data"][2]["y"]  # max|X/s| at α = 0.5
    at.slider(key="alpha").set_value(0.9).run()
    assert not at.exception, at.exception
    after = figures(at)[0]["data"][2]["y"]
    assert before != after
    x_before = figures(at)[0]["data"][0]["y"]  # max|X| per channel of layer 0's query input
    at.selectbox(key="tlayer").set_value("encoder.layer.1.attention.self.key").run()
    assert not at.exception, at.exception
    assert any("385 tokens × 384 input channels" in c.value for c in at.caption)
    assert figures(at)[0]["data"][0]["y"] != x_before
    at.selectbox(key="tgran").set_value("per-group 128").run()
    assert not at.exception, at.exception
    gran = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("SQNR of X and Y"))
    assert list(gran["data"][0]["x"])[:3] == ["per-tensor", "per-token", "per-channel"]
    at.slider(key="kvbits").set_value(2).run()
    assert not at.exception, at.exception
    assert figures(at)[-1]["layout"]["title"]["text"] == "Per head at 2 bits"


def test_every_layer_table_and_digits(page):
    at = page
    at.selectbox(key="tmodel").set_value("digits_cnn").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="tlayer").options == ["fc1", "fc2"]
    assert any("no attention" in i.value for i in at.info)
    at.selectbox(key="tgran").set_value("per-group 128").run()
    at.toggle(key="tall").set_value(True).run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "best_alpha" in d.value.columns)  # AppTest keeps no dataframe keys
    assert set(table["layer"]) == {"fc1", "fc2"} and set(table["spec"]) == {"W8A8", "sidebar: W8A8"}
    # the activation groups of 128 chosen above do not fit fc2's 64 inputs: a note, not a crash
    assert "does not divide" in table[table["layer"] == "fc2"]["note"].iloc[0]
    assert table[table["layer"] == "fc1"]["note"].iloc[0] == ""
