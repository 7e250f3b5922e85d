"""Pages on legal but extreme tensors: a message in place, never an exception (issue: hosted demo)."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP

CASES = {
    "one": np.array([1.5], np.float32),
    "nonfinite": np.array([np.inf, -np.inf, 1, 2], np.float32),
    "zero_d": np.array(2.0, np.float32),
    "huge": np.array([1e38, -1e38, 3e38, 0.5] * 256, np.float32),
}


def _open(tmp_path, monkeypatch, case: str, page: str) -> AppTest:
    path = tmp_path / f"{case}.npy"
    np.save(path, CASES[case])
    monkeypatch.setenv("QVIZ_OPEN", str(path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(page).run()
    return at


@pytest.mark.parametrize("case", ["one", "nonfinite", "zero_d"])
def test_formats_page_on_tiny_and_nonfinite_tensors(tmp_path, monkeypatch, case):
    at = _open(tmp_path, monkeypatch, case, "pages/formats.py")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 2 and at.dataframe[0].value.shape[0] > 0
    if case == "one":  # nothing costs ~4 bits with a 32-bit scale on one value: said, and every format shown
        assert any("No format costs about 4 bits" in i.value for i in at.info)


@pytest.mark.parametrize("page", ["pages/playground.py", "pages/inspector.py", "pages/calibrators.py"])
def test_affine_range_beyond_float32_is_a_message(tmp_path, monkeypatch, page):
    at = _open(tmp_path, monkeypatch, "huge", page)
    assert not at.exception and not at.error  # symmetric works
    at.segmented_control(key="mode").set_value("asymmetric").run()
    assert not at.exception, at.exception
    assert any("wider than float32 can hold" in e.value for e in at.error)
