"""Open the app in chromium, check the charts really drew, change a control, save screenshots."""

from __future__ import annotations

import re

from tests.e2e.conftest import CHART, metric, nav, shot, wait_charts, wait_for


def test_playground_renders_and_reacts(page, server_url):
    page.goto(server_url + "/", wait_until="domcontentloaded")
    wait_charts(page)
    # bars really drew: plotly put one path per non-empty bin
    bars = page.locator(f"{CHART} .js-plotly-plot g.trace.bars path")
    assert bars.count() > 50
    assert re.match(r"-?\d+\.\d+ dB", metric(page, "SQNR"))
    assert (metric(page, "qmin"), metric(page, "qmax")) == ("-128", "127")
    shot(page, "playground-default")

    page.get_by_role("button", name="[40, 1000] → uint8").click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
             m => m.innerText.includes('range wasted') && m.innerText.includes('3.92%'))""",
        timeout=30_000,
    )
    wait_charts(page)
    assert (metric(page, "qmin"), metric(page, "qmax")) == ("0", "255")
    assert "signed=false" in page.url  # the view is in the URL, so a link reproduces it
    shot(page, "playground-skewed")


def test_shared_link_reproduces_view(page, server_url):
    page.goto(server_url + "/?bits=4&mode=asymmetric", wait_until="domcontentloaded")
    wait_charts(page)
    assert (metric(page, "qmin"), metric(page, "qmax")) == ("-8", "7")


def test_every_page_renders_and_reacts(page, server_url):
    """Open each page from the sidebar navigation, check its charts drew, change a control, screenshot."""
    page.goto(server_url + "/?bits=6", wait_until="domcontentloaded")
    wait_charts(page)

    # Tensor inspector: switch to a built-in model's weight, per-channel
    nav(page, "Tensor inspector")
    page.wait_for_url("**/inspector**")
    wait_charts(page, 2)
    assert "bits=6" in page.url  # the shared quantizer settings follow the user across pages
    page.get_by_role("radio", name="Built-in model").click()
    wait_for(page, "document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .js-plotly-plot .main-svg').length >= 3")
    assert page.locator(f"{CHART} .js-plotly-plot g.trace.bars path").count() > 10
    shot(page, "inspector-model")

    # Calibrators: every threshold drawn, curves drawn, the table present
    nav(page, "Calibrators")
    page.wait_for_url("**/calibrators**")
    wait_charts(page, 4)
    legend = page.locator(f"{CHART}").first.locator(".legendtext").evaluate_all("l => l.map(e => e.textContent)")
    assert {"min-max", "percentile", "MSE search"} <= set(legend)
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=30_000)
    page.get_by_role("radio", name="asymmetric").click()
    wait_for(page, "location.search.includes('mode=asymmetric')")
    wait_charts(page, 4)
    shot(page, "calibrators")

    # Model layers: scans the digits CNN (progress bar), draws two bar charts
    nav(page, "Model layers")
    page.wait_for_url("**/layers**")
    wait_charts(page, 2)
    assert page.locator(f"{CHART} .js-plotly-plot g.trace.bars path").count() > 8
    page.get_by_role("radio", name="PSNR").click()
    wait_for(page, "location.search.includes('lmetric=PSNR')")
    wait_charts(page, 2)
    shot(page, "layers")
    assert page.get_by_text("Traceback").count() == 0

    # choosing a layer opens it in the inspector
    page.locator("a", has_text="in the tensor inspector").first.click()
    page.wait_for_url("**/inspector**")
    wait_charts(page, 3)
    assert "src=Built-in+model" in page.url  # (tensor= is dropped from the URL when it equals the default tensor)
    wait_for(page, "[...document.querySelectorAll('.gtitle')].some(t => t.textContent.includes('digits_cnn · fc1.weight'))")
    shot(page, "inspector-from-layers")
