"""Issue 17 items 1-2: dependent widgets follow their parent (model → tensor → block)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, metric, open_page


@pytest.fixture(scope="module")
def inspector() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return open_page(at, "pages/inspector.py")


def test_model_then_tensor_then_block_follow(inspector):
    at = inspector
    at.segmented_control(key="src").set_value("Built-in model").run()
    at.selectbox(key="tensor").set_value("fc1.weight").run()
    at.selectbox(key="model").set_value("minilm").run()
    assert not at.exception
    assert at.selectbox(key="tensor").value == "embeddings.word_embeddings.weight"  # minilm's largest, not a stale name
    at.segmented_control(key="gran").set_value("channel").run()
    assert at.number_input(key="block").value == 101  # the word embeddings' widest row
    at.selectbox(key="tensor").set_value("encoder.layer.0.attention.self.query.weight").run()
    assert not at.exception
    block = at.number_input(key="block")
    assert block.value == 218, block.value  # that tensor's own widest row, not 101 carried over
    assert "(0–383)" in block.label
    # a block the user picks is kept while the tensor stays
    block.set_value(3).run()
    assert at.number_input(key="block").value == 3
    # the caption says "clipped" exactly when the clipping share of the MSE is not zero
    for gran, calib in (("tensor", "minmax"), ("channel", "percentile")):
        at.segmented_control(key="gran").set_value(gran).run()
        at.selectbox(key="calib").set_value(calib).run()
        cap = next(c.value for c in at.caption if c.value.startswith("Bars:"))
        share = metric(at, "clipping share")
        assert ("are clipped" in cap) == (share != "0.0%"), (gran, calib, share, cap)
        assert ("No value" in cap) == (share == "0.0%")


def test_group_sizes_follow_the_tensor_axis(inspector):
    """conv1.weight (shape (8, 1, 3, 3)) grouped along its last axis of 3: the box offers 3, not a dead end."""
    at = inspector
    at.segmented_control(key="src").set_value("Built-in model").run()
    at.selectbox(key="model").set_value("digits_cnn").run()
    at.selectbox(key="tensor").set_value("fc1.weight").run()
    at.segmented_control(key="gran").set_value("group").run()
    assert "32" in at.selectbox(key="group").options and not at.error
    at.selectbox(key="tensor").set_value("conv1.weight").run()
    assert not at.exception
    assert [str(o) for o in at.selectbox(key="group").options] == ["3"]
    assert not at.error, [e.value for e in at.error]
    assert at.get("plotly_chart")  # the page is drawn, not replaced by an error
