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
    page.goto(server_url + "/playground", wait_until="domcontentloaded")
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
    page.goto(server_url + "/playground?bits=4&mode=asymmetric", wait_until="domcontentloaded")
    _wait_charts(page)
    assert (_metric(page, "qmin"), _metric(page, "qmax")) == ("-8", "7")
