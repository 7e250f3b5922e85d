"""A real browser on the real app: Debian's chromium, driven by Playwright, against `streamlit run`.

CI installs chromium (.ci/run) and sets QVIZ_REQUIRE_BROWSER=1, so there these tests
must run; on a machine without chromium they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium()
    if path is None:
        if os.environ.get("QVIZ_REQUIRE_BROWSER") == "1" or os.environ.get("CI"):
            pytest.fail("chromium is not installed but this run requires the browser tests (apt-get install chromium)")
        pytest.skip("chromium not installed: apt-get install chromium to run the browser tests")
    return path


@pytest.fixture(scope="session")
def server_url(tmp_path_factory) -> str:
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not start:\n" + log.read_text())
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    yield pg
    ctx.close()


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


# --- helpers the browser tests share ---------------------------------------------------------
CHART = '[data-testid="stPlotlyChart"]'


def wait_for(page, js: str, timeout: int = 60_000) -> None:
    page.wait_for_function(js, timeout=timeout)


def wait_charts(page, n: int = 4, timeout: int = 60_000) -> None:
    """Until at least ``n`` plotly charts have drawn their SVG."""
    wait_for(page, f"document.querySelectorAll('{CHART} .js-plotly-plot .main-svg').length >= {n}", timeout)


def metric(page, label: str) -> str:
    """The value shown by the st.metric whose label contains ``label``."""
    box = page.locator('[data-testid="stMetric"]', has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def nav(page, title: str) -> None:
    """Click the sidebar link of a page (ui.nav), screenshot on failure."""
    try:
        page.locator('[data-testid="stSidebar"] a[data-testid="qvizNavLink"]', has_text=title).first.click()
    except Exception:
        shot(page, f"failed-nav-{title}")
        raise
