"""The Transforms page in chromium: every section draws on MiniLM, the α slider and the URL drive the view."""

from __future__ import annotations

from tests.e2e.conftest import metric, shot, wait_charts


def test_transforms_page(page, server_url):
    page.goto(server_url + "/transforms", wait_until="domcontentloaded")
    wait_charts(page, 9, timeout=240_000)
    assert page.get_by_role("heading", name="Transforms").count() == 1
    assert float(metric(page, "best α · W8A8")) >= 0
    shot(page, "transforms-default")

    # the URL is the view: another layer, activation groups and cache bits
    page.goto(server_url + "/transforms?tlayer=encoder.layer.0.intermediate.dense&tgran=per-channel&kvbits=3",
              wait_until="domcontentloaded")
    page.wait_for_function("() => document.body.innerText.includes('Per head at 3 bits')", timeout=240_000)
    wait_charts(page, 9, timeout=240_000)
    assert "int8 activations per-channel" in page.locator("body").inner_text()
    shot(page, "transforms-url")
