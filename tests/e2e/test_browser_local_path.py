"""`qviz app FOLDER` on a Llama-shaped sharded checkpoint, in chromium: the heatmap navigator, a click, the inspector.

The server is started the way a user starts it, ``python -m qviz app FOLDER --port N``
(which sets QVIZ_OPEN and QVIZ_ALLOW_PATHS for streamlit). The hosted server of the
other browser tests (plain ``streamlit run app.py``) must show no path box.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.e2e.conftest import CHART, ROOT, _free_port, shot, wait_charts, wait_for
from tests.llama_ckpt import write_llama

CLICKED = "model.layers.3.mlp.gate_proj.weight"
CELL_JS = """([name]) => {
  const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  const curve = gd.data.findIndex(t => t.type === 'scatter'), d = gd.data[curve];
  const i = d.customdata.findIndex(c => c[0] === name);
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
  return {x: r.left + xa._offset + xa.l2p(xa._categories.indexOf(d.x[i])),
          y: r.top + ya._offset + ya.l2p(ya._categories.indexOf(d.y[i]))};
}"""


@pytest.fixture(scope="module")
def local_app(tmp_path_factory, chromium_path):
    folder = write_llama(tmp_path_factory.mktemp("models") / "llama", blocks=6)
    port = _free_port()
    log = tmp_path_factory.mktemp("qviz_app") / "server.log"
    env = {k: v for k, v in os.environ.items() if k not in ("QVIZ_ALLOW_PATHS", "QVIZ_OPEN")}
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    with open(log, "w") as out:  # its own session: qviz app and the streamlit it runs stop together
        proc = subprocess.Popen([sys.executable, "-m", "qviz", "app", str(folder), "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("qviz app did not start:\n" + log.read_text())
        yield url, folder
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_heatmap_click_opens_the_tensor_in_the_inspector(page, local_app):
    url, folder = local_app
    page.goto(url + "/layers?bits=6", wait_until="domcontentloaded")
    wait_charts(page, 1, timeout=90_000)
    page.wait_for_selector(f'{CHART} .js-plotly-plot g.heatmaplayer', timeout=30_000)
    assert page.locator('[data-testid="stTextInput"] input').first.input_value() == str(folder)
    shot(page, "layers-heatmap")
    time.sleep(0.5)  # let plotly finish its first layout before reading positions
    cell = page.evaluate(CELL_JS, [CLICKED])
    page.mouse.move(cell["x"], cell["y"])
    page.wait_for_selector(".hoverlayer .hovertext", timeout=10_000)
    assert CLICKED in page.locator(".hoverlayer .hovertext").first.text_content()  # the hover names the tensor
    page.mouse.click(cell["x"], cell["y"])  # the click itself opens the inspector
    page.wait_for_url("**/inspector**", timeout=60_000)
    wait_charts(page, 2, timeout=60_000)
    wait_for(page, f"""!!document.querySelector('input[aria-label="Tensor"][value="{CLICKED}"]')""")
    assert "bits=6" in page.url  # the quantizer settings came along
    assert page.get_by_role("radio", name="Local path").is_checked()
    assert page.get_by_text("shape (64, 32) · bfloat16 · 2,048 values").count() == 1
    assert page.get_by_text("Traceback").count() == 0
    shot(page, "inspector-from-heatmap")


def test_hosted_server_has_no_path_box(page, server_url):
    page.goto(server_url + "/inspector?src=Local+path&path=/etc", wait_until="domcontentloaded")  # a crafted link changes nothing
    page.get_by_role("radio", name="Upload").wait_for(timeout=60_000)
    page.get_by_text("Distribution").first.wait_for(timeout=60_000)  # the page ran past the source choice (Sample)
    assert page.get_by_role("radio", name="Local path").count() == 0
    assert page.locator('[data-testid="stTextInput"]').count() == 0
