"""The Formats and Integer arithmetic pages in chromium: charts drew, a control changes them, screenshots."""

from __future__ import annotations

from tests.e2e.conftest import shot

CHART = '[data-testid="stPlotlyChart"]'


def _wait_charts(page, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('{CHART} .js-plotly-plot .main-svg').length >= {n}", timeout=60_000)


def _wait_for(page, js: str, timeout: int = 60_000) -> None:
    page.wait_for_function(js, timeout=timeout)


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def test_formats_page(page, server_url):
    page.goto(server_url + "/formats", wait_until="domcontentloaded")
    _wait_charts(page, 2)
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=30_000)
    # the histogram's bars and the level ticks of every 4-bit format really drew
    assert page.locator(f"{CHART} .js-plotly-plot g.trace.bars path").count() > 50
    assert page.locator(f"{CHART} .js-plotly-plot g.trace.scatter .point").count() > 7 * 10
    _wait_for(page, "[...document.querySelectorAll('.gtitle')].some(t => t.textContent.includes('the levels of each format'))")
    shot(page, "formats-4bit")
    page.locator(CHART).first.scroll_into_view_if_needed()
    shot(page, "formats-levels")

    page.get_by_role("radio", name="8 bits").click()
    _wait_for(page, "location.search.includes('budget=8+bits')")
    _wait_for(page, "[...document.querySelectorAll('.main-svg text')].some(t => t.textContent === 'mxfp8_e4m3')")
    _wait_charts(page, 2)
    assert page.get_by_text("Traceback").count() == 0
    shot(page, "formats-8bit")


def test_integer_page(page, server_url):
    page.goto(server_url + "/integer", wait_until="domcontentloaded")
    _wait_charts(page, 2)
    assert _metric(page, "M = S1 / S2") == "0.4"
    # the waterfall drew its four terms and the accumulator
    _wait_for(page, "[...document.querySelectorAll('.xtick text')].some(t => t.textContent === 'accumulator')")
    assert page.locator(f"{CHART} .js-plotly-plot g.trace.bars path").count() >= 5
    shot(page, "integer-default")
    page.locator(CHART).nth(1).scroll_into_view_if_needed()
    shot(page, "integer-terms")

    box = page.get_by_label("S2", exact=True)
    box.fill("0.013")
    box.press("Enter")
    _wait_for(page, "location.search.includes('s2=0.013')")
    _wait_for(page, """() => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
                 m => m.innerText.includes('M = S1 / S2') && m.innerText.includes('1.538'))""")
    _wait_charts(page, 2)
    assert _metric(page, "shift") == "1"  # M > 1: a left shift
    assert page.get_by_text("Traceback").count() == 0
    shot(page, "integer-s2")
