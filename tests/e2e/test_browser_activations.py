"""An uploaded ONNX model's activations in chromium: run it on calibration data, open an activation, the token view."""

from __future__ import annotations

import numpy as np
import onnx

from tests.capture.onnx_models import mlp_data, mlp_model
from tests.e2e.conftest import CHART, shot, wait_charts, wait_for


def test_onnx_model_activations(page, server_url, tmp_path):
    onnx.save(mlp_model(), str(tmp_path / "mlp.onnx"))
    np.savez(tmp_path / "calib.npz", **mlp_data(16))
    page.goto(server_url + "/inspector?src=Activations", wait_until="domcontentloaded")
    page.get_by_text("Model to run").wait_for(timeout=60_000)
    page.locator('[data-testid="stSelectbox"]', has_text="Model to run").click()
    page.get_by_role("option", name="Upload an ONNX file").click()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(tmp_path / "mlp.onnx"))
    page.get_by_text("Calibration data (optional)").wait_for(timeout=60_000)
    page.locator('[data-testid="stFileUploader"]', has_text="Calibration data").locator('input[type="file"]').set_input_files(
        str(tmp_path / "calib.npz"))
    page.get_by_text("calib.npz", exact=True).first.wait_for(timeout=30_000)
    done = page.get_by_text("Calibration data: calib.npz: 16 samples of x")
    for attempt in range(3):  # a click while the upload's rerun is still running can land on the previous run key
        page.get_by_role("button", name="Run the model on calibration data").click()
        try:
            done.wait_for(timeout=40_000)
            break
        except Exception:
            if attempt == 2:
                shot(page, "failed-activations-run")
                raise
    page.get_by_role("heading", name="Tokens × channels").wait_for(timeout=90_000)
    wait_charts(page, 5, timeout=90_000)
    wait_for(page, f"document.querySelectorAll('{CHART} .js-plotly-plot .hm, {CHART} .js-plotly-plot .heatmaplayer image').length >= 1")
    shot(page, "activations-onnx-upload")
    # another activation: the URL follows
    page.locator('[data-testid="stSelectbox"]', has_text="Activation").last.click()
    page.get_by_role("option", name="flat", exact=True).click()
    page.wait_for_function("() => location.search.includes('activation=flat')", timeout=60_000)
    wait_charts(page, 5, timeout=90_000)
