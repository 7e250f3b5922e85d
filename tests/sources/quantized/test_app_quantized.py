"""The app on an already-quantized checkpoint (``qviz app PATH``): the inspector opens on the dequantized weight."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import WEIGHTS, write_checkpoint
from test_gptq import make_gptq

import qviz

Q = list(WEIGHTS)[0]


@pytest.fixture
def opened(tmp_path, monkeypatch, minilm):
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    tensors = {f"{Q}.{k}": v for k, v in make_gptq(minilm[Q], 4, 128).items()}
    tensors["norm.weight"] = minilm["norm"]
    write_checkpoint(tmp_path, tensors)
    (tmp_path / "quantize_config.json").write_text(json.dumps({"bits": 4, "group_size": 128}))
    monkeypatch.setenv("QVIZ_OPEN", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at, tmp_path


def test_inspector_shows_the_dequantized_weight(opened):
    at, folder = opened
    at.switch_page("pages/inspector.py").run()
    assert not at.exception, at.exception
    tensor = at.selectbox(key="tensor")
    assert sorted(tensor.options) == sorted([f"{Q}.weight", "norm.weight"]) and tensor.value == f"{Q}.weight"
    assert at.dataframe[0].value["numel"][0] == 384 * 384
    assert any("quantized tensor, shown as float32" in i.value for i in at.info)
    x = qviz.open_source(folder).load(f"{Q}.weight")
    assert np.isclose(float(at.dataframe[0].value["max"][0]), float(x.max()))
