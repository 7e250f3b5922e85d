"""``qviz app PATH``: with ``QVIZ_OPEN`` set, every page's tensor picker offers and selects the "Local path" source, filled in."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, figures

RNG = np.random.default_rng(3)
BIG = RNG.standard_t(3, size=(32, 64)).astype(np.float32)


@pytest.fixture
def opened(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    torch.save({"small.bias": torch.zeros(4), "big.weight": torch.from_numpy(BIG)}, path)
    monkeypatch.setenv("QVIZ_OPEN", str(path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def values(v) -> np.ndarray:
    """A plotly data array as the browser receives it: a list, or a typed array ``{"dtype", "bdata"}``."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def test_default_page_opens_on_the_file(opened):
    src = opened.segmented_control(key="src")
    assert src.value == "Local path" and list(src.options) == ["Sample", "Built-in model", "Upload", "Local path", "Activations"]
    assert opened.text_input(key="path").value.endswith("ckpt.pt")
    tensor = opened.selectbox(key="tensor")
    assert list(tensor.options) == ["small.bias", "big.weight"] and tensor.value == "big.weight"  # the largest float tensor
    hist = figures(opened)[0]
    counts = next(t for t in hist["data"] if t.get("name") == "values")["y"]
    assert values(counts).sum() == BIG.size


def test_inspector_and_other_sources_still_work(opened):
    opened.switch_page("pages/inspector.py").run()
    assert not opened.exception, opened.exception
    assert opened.segmented_control(key="src").value == "Local path"
    assert opened.dataframe[0].value["numel"][0] == BIG.size
    opened.selectbox(key="tensor").set_value("small.bias").run()
    assert not opened.exception and opened.dataframe[0].value["numel"][0] == 4
    opened.segmented_control(key="src").set_value("Sample").run()
    assert not opened.exception and opened.dataframe[0].value["numel"][0] == 65536


def test_bad_file_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "bad.pt").write_bytes(b"\x80\x02junk")
    monkeypatch.setenv("QVIZ_OPEN", str(tmp_path / "bad.pt"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert at.error and at.error[0].value.startswith("bad.pt: ")


def test_without_the_variable_nothing_changes(app, monkeypatch):
    assert list(app.segmented_control(key="src").options) == ["Sample", "Built-in model", "Upload", "Activations"]
    assert app.segmented_control(key="src").value == "Sample"
