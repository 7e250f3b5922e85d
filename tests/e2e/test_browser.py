"""Open the app in chromium, check the charts really drew, change a control, save screenshots."""

from __future__ import annotations

import re

from tests.e2e.conftest import shot

CHART = '[data-testid="stPlotlyChart"]'


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def _wait_charts(page, n: int = 4) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('{CHART} .js-plotly-plot .main-svg').length >= {n}", timeout=60_000
    )


def test_playground_renders_and_reacts(page, server_url):
    page.goto(server_url + "/", wait_until="domcontentloaded")
    _wait_charts(page)
    # bars really drew: plotly put one path per non-empty bin
    bars = page.locator(f"{CHART} .js-plotly-plot g.trace.bars path")
    assert bars.count() > 50
    assert re.match(r"-?\d+\.\d+ dB", _metric(page, "SQNR"))
    assert (_metric(page, "qmin"), _metric(page, "qmax")) == ("-128", "127")
    shot(page, "playground-default")

    page.get_by_role("button", name="[40, 1000] → uint8").click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
             m => m.innerText.includes('range wasted') && m.innerText.includes('3.92%'))""",
        timeout=30_000,
    )
    _wait_charts(page)
    assert (_metric(page, "qmin"), _metric(page, "qmax")) == ("0", "255")
    assert "signed=false" in page.url  # the view is in the URL, so a link reproduces it
    shot(page, "playground-skewed")


def test_shared_link_reproduces_view(page, server_url):
    page.goto(server_url + "/?bits=4&mode=asymmetric", wait_until="domcontentloaded")
    _wait_charts(page)
    assert (_metric(page, "qmin"), _metric(page, "qmax")) == ("-8", "7")


def _nav(page, title: str) -> None:
    try:
        page.locator('[data-testid="stSidebar"] a[data-testid="qvizNavLink"]', has_text=title).first.click()
    except Exception:
        shot(page, f"failed-nav-{title}")
        raise


def _wait_for(page, js: str, timeout: int = 60_000) -> None:
    page.wait_for_function(js, timeout=timeout)


def test_every_page_renders_and_reacts(page, server_url):
    """Open each page from the sidebar navigation, check its charts drew, change a control, screenshot."""
    page.goto(server_url + "/?bits=6", wait_until="domcontentloaded")
    _wait_charts(page)

    # Tensor inspector: switch to a built-in model's weight, per-channel
    _nav(page, "Tensor inspector")
    page.wait_for_url("**/inspector**")
    _wait_charts(page, 2)
    assert "bits=6" in page.url  # the shared quantizer settings follow the user across pages
    page.get_by_role("radio", name="Built-in model").click()
    _wait_for(page, "document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .js-plotly-plot .main-svg').length >= 3")
    assert page.locator(f"{CHART} .js-plotly-plot g.trace.bars path").count() > 10
    shot(page, "inspector-model")

    # Calibrators: every threshold drawn, curves drawn, the table present
    _nav(page, "Calibrators")
    page.wait_for_url("**/calibrators**")
    _wait_charts(page, 4)
    legend = page.locator(f"{CHART}").first.locator(".legendtext").evaluate_all("l => l.map(e => e.textContent)")
    assert {"min-max", "percentile", "MSE search"} <= set(legend)
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=30_000)
    page.get_by_role("radio", name="asymmetric").click()
    _wait_for(page, "location.search.includes('mode=asymmetric')")
    _wait_charts(page, 4)
    shot(page, "calibrators")

    # Model layers: scans the digits CNN (progress bar), draws two bar charts
    _nav(page, "Model layers")
    page.wait_for_url("**/layers**")
    _wait_charts(page, 2)
    assert page.locator(f"{CHART} .js-plotly-plot g.trace.bars path").count() > 8
    page.get_by_role("radio", name="PSNR").click()
    _wait_for(page, "location.search.includes('lmetric=PSNR')")
    _wait_charts(page, 2)
    shot(page, "layers")
    assert page.get_by_text("Traceback").count() == 0

    # choosing a layer opens it in the inspector
    page.locator("a", has_text="in the tensor inspector").first.click()
    page.wait_for_url("**/inspector**")
    _wait_charts(page, 3)
    assert "src=Built-in+model" in page.url  # (tensor= is dropped from the URL when it equals the default tensor)
    _wait_for(page, "[...document.querySelectorAll('.gtitle')].some(t => t.textContent.includes('digits_cnn · fc1.weight'))")
    shot(page, "inspector-from-layers")
