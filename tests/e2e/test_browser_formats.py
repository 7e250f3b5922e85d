"""The Formats and Integer arithmetic pages in chromium: charts drew, a control changes them, screenshots."""

from __future__ import annotations

from tests.e2e.conftest import CHART, metric, shot, wait_charts, wait_for


def test_formats_page(page, server_url):
    page.goto(server_url + "/formats", wait_until="domcontentloaded")
    wait_charts(page, 2)
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=30_000)
    # the histogram's bars and the level ticks of every 4-bit format really drew
    assert page.locator(f"{CHART} .js-plotly-plot g.trace.bars path").count() > 50
    assert page.locator(f"{CHART} .js-plotly-plot g.trace.scatter .point").count() > 7 * 10
    wait_for(page, "[...document.querySelectorAll('.gtitle')].some(t => t.textContent.includes('the levels of each format'))")
    shot(page, "formats-4bit")
    page.locator(CHART).first.scroll_into_view_if_needed()
    shot(page, "formats-levels")

    page.get_by_role("radio", name="8 bits").click()
    wait_for(page, "location.search.includes('budget=8+bits')")
    wait_for(page, "[...document.querySelectorAll('.main-svg text')].some(t => t.textContent === 'mxfp8_e4m3')")
    wait_charts(page, 2)
    assert page.get_by_text("Traceback").count() == 0
    shot(page, "formats-8bit")


def test_integer_page(page, server_url):
    page.goto(server_url + "/integer", wait_until="domcontentloaded")
    wait_charts(page, 2)
    assert metric(page, "M = S1 / S2") == "0.4"
    # the waterfall drew its four terms and the accumulator
    wait_for(page, "[...document.querySelectorAll('.xtick text')].some(t => t.textContent === 'accumulator')")
    assert page.locator(f"{CHART} .js-plotly-plot g.trace.bars path").count() >= 5
    shot(page, "integer-default")
    page.locator(CHART).nth(1).scroll_into_view_if_needed()
    shot(page, "integer-terms")

    box = page.get_by_label("S2", exact=True)
    box.fill("0.013")
    box.press("Enter")
    wait_for(page, "location.search.includes('s2=0.013')")
    wait_for(page, """() => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
                 m => m.innerText.includes('M = S1 / S2') && m.innerText.includes('1.538'))""")
    wait_charts(page, 2)
    assert metric(page, "shift") == "1"  # M > 1: a left shift
    assert page.get_by_text("Traceback").count() == 0
    shot(page, "integer-s2")
