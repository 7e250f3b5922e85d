"""Issue 17 item 9: per-channel on tens of thousands of blocks skips only the calibrators over the memory cap."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, open_page


def test_minilm_embeddings_per_channel_keeps_the_page():
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    open_page(at, "pages/calibrators.py")
    at.segmented_control(key="src").set_value("Built-in model").run()
    at.selectbox(key="model").set_value("minilm").run()
    assert at.selectbox(key="tensor").value == "embeddings.word_embeddings.weight"  # 30,522 rows
    at.segmented_control(key="gran").set_value("channel").run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    note = " ".join(i.value for i in at.info)
    assert "Skipped" in note and "entropy" in note and "memory cap" in note
    assert at.get("plotly_chart")  # the thresholds chart and the rest of the page are drawn
    assert "min-max" in list(at.dataframe[0].value["calibrator"])  # what fits the cap is still compared
