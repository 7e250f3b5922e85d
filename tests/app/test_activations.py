"""The pages on a user's ONNX file (``qviz app model.onnx``): run it, open an activation, the token view, output error."""

from __future__ import annotations

import onnx
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, figures, open_page
from tests.capture.onnx_models import mlp_model


@pytest.fixture
def opened(tmp_path, monkeypatch):
    path = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), str(path))
    monkeypatch.setenv("QVIZ_OPEN", str(path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_inspector_runs_the_file_only_on_the_button(opened):
    at = open_page(opened, "pages/inspector.py")
    at.segmented_control(key="src").set_value("Activations").run()
    assert at.selectbox(key="amodel").value == "file" and not at.get("plotly_chart")
    assert any("Run the model on calibration data" in i.value for i in at.info)
    at.button(key="amodel_run").click().run()
    assert not at.exception and not at.error
    assert any("Synthetic inputs" in w.value for w in at.warning)  # no data uploaded: flagged on the page
    assert at.selectbox(key="activation").options == ["x", "r", "flat"]
    at.selectbox(key="activation").set_value("r").run()
    assert "Tokens × channels" in [s.value for s in at.subheader]
    kinds = [f["data"][0]["type"] for f in figures(at)]
    assert kinds.count("heatmap") == 1 and len(kinds) >= 5
    assert at.dataframe[0].value["shape"][0] == "(256, 32)"  # 32 synthetic samples × 8 tokens, 32 channels


def test_calibrators_page_and_model_impact(opened):
    at = open_page(opened, "pages/calibrators.py")
    at.segmented_control(key="src").set_value("Activations").run()
    at.button(key="amodel_run").click().run()
    assert not at.exception and not at.error and "Tokens × channels" in [s.value for s in at.subheader]
    at.session_state["isrc"] = "yours"  # straight to your model (the built-in view computes for seconds)
    at = open_page(at, "pages/impact.py")
    assert not at.exception and any("Run the model" in i.value for i in at.info)
    at.button(key="imodel_user_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    frames = [d.value for d in at.dataframe]
    assert frames[0]["what"].tolist() == ["weights", "activations", "both"]
    assert sorted(frames[1]["layer"]) == ["gemm", "mm1", "mm2"]
    assert [m.label for m in at.metric][:3] == ["weights · output cosine", "activations · output cosine", "both · output cosine"]


def test_a_model_that_fails_to_run_is_one_line_on_the_page(monkeypatch):
    from tests.capture.onnx_models import silero

    monkeypatch.setenv("QVIZ_OPEN", silero())  # synthetic chunks are too short for its STFT padding
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at = open_page(at, "pages/inspector.py")
    at.segmented_control(key="src").set_value("Activations").run()
    at.button(key="amodel_run").click().run()
    assert not at.exception
    (err,) = at.error
    assert err.value.startswith("silero_vad.onnx: running the model failed at node") and "\n" not in err.value
