"""The HTML report of ``qviz report`` in a real browser, offline, from file://: every chart draws."""

from __future__ import annotations

import qviz
from qviz.report import write_report
from tests.e2e.conftest import shot


def test_report_renders_offline(page, tmp_path):
    path = tmp_path / "report.html"
    write_report(path, "digits_cnn", qviz.QuantSpec(granularity=qviz.PerChannel(0)), "minmax", histograms=2)
    page.route("http*://**", lambda route: route.abort())  # no network: everything must be in the file
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4", timeout=30_000)
    plots = page.locator(".js-plotly-plot")
    assert plots.count() == 4  # SQNR, PSNR, two worst weights
    for i in range(plots.count()):
        bars = plots.nth(i).locator(".barlayer .point path")
        assert bars.count() > 0, f"figure {i} drew no bars"
    sqnr_bars = plots.nth(0).locator(".barlayer .point path")
    assert sqnr_bars.count() == 12  # 8 weights + 4 activations
    assert plots.nth(2).locator(".scatterlayer .trace").count() == 5  # one dashed pair per calibrator
    assert not errors, errors
    shot(page, "report")

    # the worst-layers table sorts when a header is clicked: rows come lowest SQNR first; two clicks make it highest first
    table = page.locator("table.sortable").first
    col = table.locator("th").all_inner_texts().index("SQNR dB")

    def sqnr():
        return [float(t) for t in table.locator(f"tbody tr td:nth-child({col + 1})").all_inner_texts()]

    assert sqnr() == sorted(sqnr())
    header = table.locator("th", has_text="SQNR dB")
    header.click()
    header.click()
    assert sqnr() == sorted(sqnr(), reverse=True) and sqnr()[0] > sqnr()[-1]
