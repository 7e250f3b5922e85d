"""Every figure stays small at any bit width; the clamp is drawn where it is; count axes do not mislead."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import qviz
from qviz.binning import histogram
from qviz.plots import histogram_figure
from tests.app.conftest import APP, figures, figure_sizes


@pytest.fixture(scope="module")
def playground():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at


@pytest.mark.parametrize("bits", [1, 4, 8, 12, 16])
def test_every_playground_figure_under_100_kb(playground, bits):
    playground.slider(key="bits").set_value(bits).run()
    assert not playground.exception, playground.exception
    sizes = figure_sizes(playground)
    assert len(sizes) == 4 and max(sizes) <= 100_000, sizes
    codes = figures(playground)[3]
    assert len(codes["data"][0]["x"] if isinstance(codes["data"][0]["x"], list) else codes["data"][0]["x"]["bdata"]) > 0


def test_clamp_drawn_where_it_is_in_symmetric_signed_mode():
    x = np.linspace(-4.73, 4.73, 1001, dtype=np.float32)
    qp = qviz.choose_qparams(x.min(), x.max(), qviz.QuantSpec(bits=2))  # levels -2Δ, -Δ, 0, Δ with Δ = 4.73/1.5
    fig = histogram_figure(histogram(x, 50), qp)
    clamp = next(t for t in fig.data if t.name == "clamp starts")
    lo, hi = min(v for v in clamp.x if v is not None), max(v for v in clamp.x if v is not None)
    delta = 4.73 / 1.5
    assert lo == pytest.approx(-2.5 * delta, rel=1e-5) and hi == pytest.approx(1.5 * delta, rel=1e-5)  # −7.88, not −4.73


def test_count_axes_start_at_zero_or_use_decades():
    h = histogram(np.random.default_rng(0).uniform(size=100_000).astype(np.float32), 100)
    lin = histogram_figure(h).layout.yaxis
    assert lin.rangemode == "tozero"
    log = histogram_figure(h, log_y=True).layout.yaxis
    assert log.type == "log" and log.dtick == 1 and log.range[0] < 0


def test_scale_and_zero_point_formulas_with_the_numbers(playground):
    playground.slider(key="bits").set_value(8).run()
    playground.segmented_control(key="mode").set_value("asymmetric").run()
    text = playground.latex[0].value
    assert r"\max^+ - \min^-" in text and "q_\\min - \\mathrm{round}" in text
    playground.segmented_control(key="mode").set_value("symmetric").run()
    assert r"\max|x|" in playground.latex[0].value and "middle code" in playground.latex[0].value


def test_one_bit_symmetric_midtread_says_it_is_degenerate(playground):
    playground.slider(key="bits").set_value(1).run()
    assert any("degenerate" in w.value and "100%" in w.value for w in playground.warning)
    playground.segmented_control(key="quantizer").set_value("midrise").run()
    assert not any("degenerate" in w.value for w in playground.warning)
    playground.segmented_control(key="quantizer").set_value("midtread").run()


def test_every_readable_extension_is_uploadable():
    from qviz.sources import EXTENSIONS, UPLOADS
    from ui.tensor_picker import UPLOAD_TYPES

    assert ".jit" in UPLOADS and set(UPLOADS) == set(EXTENSIONS) - {".json"}
    assert UPLOAD_TYPES == [e.lstrip(".") for e in UPLOADS]


@pytest.mark.parametrize("page", ["pages/inspector.py", "pages/calibrators.py"])  # the Playground is per-tensor
def test_per_channel_on_a_1d_tensor_falls_back_to_per_tensor_with_the_note(page):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page).run()
    at.segmented_control(key="gran").set_value("channel").run()  # the samples are 1-d
    assert not at.exception, at.exception
    assert any("per-tensor used" in i.value for i in at.info), [i.value for i in at.info]
    if page == "pages/inspector.py":
        tensor = AppTest.from_file(APP, default_timeout=120)
        tensor.run()
        tensor.switch_page(page).run()
        assert next(m.value for m in at.metric if m.label == "SQNR") == next(m.value for m in tensor.metric if m.label == "SQNR")
