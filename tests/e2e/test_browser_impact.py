"""The Model impact page in chromium: charts draw, a control changes the view and the URL."""

from __future__ import annotations

from tests.e2e.conftest import shot

CHART = '[data-testid="stPlotlyChart"]'


def _wait_charts(page, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('{CHART} .js-plotly-plot .main-svg').length >= {n}", timeout=90_000)


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def test_impact_page(page, server_url):
    page.goto(server_url + "/impact", wait_until="domcontentloaded")
    _wait_charts(page, 3)
    assert page.get_by_role("heading", name="Model impact").count() == 1
    full = float(_metric(page, "quantized accuracy"))
    assert full > 0.97
    shot(page, "impact-default")

    page.goto(server_url + "/impact?bits=2", wait_until="domcontentloaded")  # the URL is the view
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
             m => m.innerText.includes('quantized accuracy') && parseFloat(m.querySelector('[data-testid="stMetricValue"]').innerText) < 0.5)""",
        timeout=90_000,
    )
    _wait_charts(page, 3)
    page.get_by_role("radio", name="Weights", exact=True).click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
             m => m.innerText.includes('quantized accuracy') && parseFloat(m.querySelector('[data-testid="stMetricValue"]').innerText) > 0.8)""",
        timeout=90_000,
    )
    assert "iwhat=weights" in page.url.lower()
    _wait_charts(page, 3)
    shot(page, "impact-2bit-weights")
