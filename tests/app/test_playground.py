"""The Playground page, driven through AppTest by widget key."""

from __future__ import annotations

import numpy as np

import qviz
from tests.app.conftest import figure_sizes, figures, metric




def level_trace(fig: dict) -> dict:
    return next(t for t in fig["data"] if str(t.get("name", "")).startswith("levels"))


def test_default_render_shows_histogram_levels_and_sqnr(app):
    figs = figures(app)
    assert len(figs) == 4
    hist = figs[0]
    assert hist["data"][0]["type"] == "bar"
    # int8 symmetric: 256 levels drawn as one trace of vertical segments (3 points each)
    assert len(level_trace(hist)["x"]) == 3 * 256
    # SQNR shown is the real one for the default sample under int8 symmetric min-max
    x = qviz.sample("gaussian", n=1 << 16)
    qp = qviz.choose_qparams(x.min(), x.max(), qviz.QuantSpec())
    sqnr = qviz.error_metrics(x, qviz.fake_quantize(x, qp), qp).sqnr_db
    assert metric(app, "SQNR") == f"{sqnr:.2f} dB"
    assert max(figure_sizes(app)) < 300_000


def test_bits_slider_changes_levels_and_sqnr(app):
    before = metric(app, "SQNR")
    app.slider(key="bits").set_value(3).run()
    assert not app.exception
    assert len(level_trace(figures(app)[0])["x"]) == 3 * 8
    assert metric(app, "SQNR") != before
    assert (metric(app, "qmin"), metric(app, "qmax")) == ("-4", "3")


def test_asymmetric_unsigned_and_midrise(app):
    app.toggle(key="signed").set_value(False).run()
    app.segmented_control(key="mode").set_value("asymmetric").run()
    assert not app.exception
    assert (metric(app, "qmin"), metric(app, "qmax")) == ("0", "255")
    assert metric(app, "zero point z") != "128"  # affine: z from the data's min, not the symmetric middle
    app.segmented_control(key="quantizer").set_value("midrise").run()
    assert not app.exception
    levels = [v for v in level_trace(figures(app)[0])["x"] if v is not None][::2]
    assert 0.0 not in levels  # mid-rise has no zero level


def test_article_003_skew_example_one_click(app):
    app.button(key="ex_skew").click().run()
    assert not app.exception
    assert (metric(app, "qmin"), metric(app, "qmax")) == ("0", "255")
    assert metric(app, "zero point z") == "0"
    assert metric(app, "range wasted") == "3.92%"


def test_invalid_combination_gives_message_not_traceback(app):
    app.session_state["narrow"] = True
    app.session_state["quantizer"] = "midrise"
    app.run()
    assert not app.exception
    assert any("narrow_range" in e.value for e in app.sidebar.error) or any("narrow_range" in e.value for e in app.error)


def test_log_toggle_sets_log_axis(app):
    app.toggle(key="log").set_value(True).run()
    assert figures(app)[0]["layout"]["yaxis"]["type"] == "log"


def test_every_sample_renders(app):
    for name in qviz.sample_names():
        app.selectbox(key="sample").set_value(name).run()
        assert not app.exception, name
        assert np.isfinite(float(metric(app, "SQNR").split()[0])), name
