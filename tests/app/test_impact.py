"""The Model impact page on the digits CNN (MiniLM is selectable; its numbers are checked in tests/impact)."""

from __future__ import annotations

import json
import time

import pytest

from tests.app.conftest import figures


@pytest.fixture(scope="module")
def impact_page():
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    start = time.perf_counter()
    at.switch_page("pages/impact.py").run()
    assert not at.exception, at.exception
    at.elapsed = time.perf_counter() - start
    return at


def test_default_render(impact_page):
    at = impact_page
    assert at.title[0].value == "Model impact"
    assert at.elapsed < 20
    figs = figures(at)
    assert len(figs) == 3  # sensitivity, isolated/accumulated, Pareto (QAT is off by default)
    assert {t["x"][0] for t in figs[0]["data"]} <= {"conv1", "conv2", "fc1", "fc2"}
    labels = [mt.label for mt in at.metric]
    assert "fp32 accuracy" in labels and "quantized accuracy" in labels
    assert at.get("download_button")
    assert "Pareto frontier" in {t["name"] for t in figs[2]["data"]}


def test_bits_change_the_metric_and_budget_the_suggestion(impact_page):
    at = impact_page
    before = next(mt.value for mt in at.metric if mt.label == "quantized accuracy")
    at.slider(key="bits").set_value(2).run()
    assert not at.exception, at.exception
    after = next(mt.value for mt in at.metric if mt.label == "quantized accuracy")
    assert float(after) < 0.5 < float(before)
    at.slider(key="bits").set_value(8).run()
    at.slider(key="budget").set_value(2.5).run()
    assert not at.exception, at.exception
    bits = at.dataframe[1].value
    avg = (bits["bits"] * bits["weights"]).sum() / bits["weights"].sum()
    assert avg <= 2.5


def test_qat_toggle(impact_page):
    at = impact_page
    at.segmented_control(key="mode").set_value("asymmetric").run()
    at.toggle(key="iqat").set_value(True).run()
    assert not at.exception, at.exception
    qat = [f for f in figures(at) if "QAT" in json.dumps(f["layout"].get("title", {}))]
    assert len(qat) == 1
    assert {t["name"].split(" ")[0] for t in qat[0]["data"] if t.get("type") == "bar"} == {"PTQ", "QAT"}
    table = next(d.value for d in at.dataframe if "qat" in d.value.columns)
    row = table[table["bits"] == 3].iloc[0]
    assert row["qat"] > row["ptq"]  # 3 bits: QAT recovers
