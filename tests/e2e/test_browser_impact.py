"""The Model impact page in chromium: charts draw, a control changes the view and the URL."""

from __future__ import annotations

from tests.e2e.conftest import metric, shot, wait_charts


def test_impact_page(page, server_url):
    page.goto(server_url + "/impact", wait_until="domcontentloaded")
    wait_charts(page, 3, timeout=90_000)
    assert page.get_by_role("heading", name="Model impact").count() == 1
    full = float(metric(page, "quantized accuracy"))
    assert full > 0.97
    shot(page, "impact-default")

    page.goto(server_url + "/impact?bits=2", wait_until="domcontentloaded")  # the URL is the view
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
             m => m.innerText.includes('quantized accuracy') && parseFloat(m.querySelector('[data-testid="stMetricValue"]').innerText) < 0.5)""",
        timeout=90_000,
    )
    wait_charts(page, 3, timeout=90_000)
    page.get_by_role("radio", name="Weights", exact=True).click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
             m => m.innerText.includes('quantized accuracy') && parseFloat(m.querySelector('[data-testid="stMetricValue"]').innerText) > 0.8)""",
        timeout=90_000,
    )
    assert "iwhat=weights" in page.url.lower()
    wait_charts(page, 3, timeout=90_000)
    shot(page, "impact-2bit-weights")
