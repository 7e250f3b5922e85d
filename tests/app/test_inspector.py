"""The Tensor inspector page, driven through AppTest by widget key."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.app.conftest import figure_sizes, figures, metric, open_page


@pytest.fixture
def inspector(app):
    return open_page(app, "pages/inspector.py")




def test_default_render(inspector):
    assert inspector.title[0].value == "Tensor inspector"
    figs = figures(inspector)
    assert len(figs) == 2  # histogram and error split; a 1-d sample has no channels (an info box instead)
    assert max(figure_sizes(inspector)) < 300_000
    assert inspector.dataframe[0].value["numel"][0] == 65536


def test_model_weight_per_channel_changes_error(inspector):
    inspector.segmented_control(key="src").set_value("Built-in model").run()
    inspector.selectbox(key="tensor").set_value("fc1.weight").run()
    assert not inspector.exception
    per_tensor = metric(inspector, "SQNR")
    names = [f["data"][0].get("name") for f in figures(inspector)]
    assert "channel range" in names  # a 2-d weight gets its per-channel range plot
    inspector.segmented_control(key="gran").set_value("channel").run()
    assert not inspector.exception
    per_channel = metric(inspector, "SQNR")
    assert float(per_channel.split()[0]) > float(per_tensor.split()[0])


def test_calibrator_choice_moves_thresholds(inspector):
    inspector.selectbox(key="sample").set_value("outliers").run()
    def clip_x():
        hist = figures(inspector)[0]
        trace = next(t for t in hist["data"] if t.get("name") == "clamp starts")  # half a step beyond the end levels
        return max(v for v in trace["x"] if v is not None)
    wide = clip_x()
    inspector.selectbox(key="calib").set_value("percentile").run()
    assert not inspector.exception
    assert clip_x() < wide / 2  # percentile ignores the ±50 outliers that min-max keeps


def test_group_size_offers_only_divisors_no_dead_end(inspector):
    """Issue 17 item 8: conv1's last axis has 3 values; the box offers 3 instead of an error page."""
    inspector.segmented_control(key="src").set_value("Built-in model").run()
    inspector.selectbox(key="tensor").set_value("conv1.weight").run()
    inspector.segmented_control(key="gran").set_value("group").run()
    assert not inspector.exception
    assert not inspector.error, [e.value for e in inspector.error]
    assert list(inspector.selectbox(key="group").options) == ["3"]


def test_log_toggle(inspector):
    inspector.toggle(key="log").set_value(True).run()
    assert figures(inspector)[0]["layout"]["yaxis"]["type"] == "log"


def _upload(at, name: str, data: bytes):
    """Feed bytes to the file uploader the way the browser would (AppTest has no upload API)."""
    from streamlit.proto.Common_pb2 import FileURLs as FileURLsProto
    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

    rec = UploadedFileRec(file_id="f1", name=name, type="application/octet-stream", data=data)
    return UploadedFile(rec, FileURLsProto(file_id="f1", upload_url="", delete_url=""))


def test_bad_upload_gives_one_line_message(inspector, monkeypatch):
    import streamlit as st

    bad = _upload(None, "weights.npy", b"\x93NUMPY garbage that is not an array")
    monkeypatch.setattr(st, "file_uploader", lambda *a, **k: bad)
    inspector.segmented_control(key="src").set_value("Upload").run()
    assert not inspector.exception
    assert len(inspector.error) == 1
    msg = inspector.error[0].value
    assert "weights.npy" in msg and "\n" not in msg


def test_good_upload_is_inspected(inspector, monkeypatch):
    import streamlit as st

    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(0).standard_normal((8, 32)).astype(np.float32))
    good = _upload(None, "w.npy", buf.getvalue())
    monkeypatch.setattr(st, "file_uploader", lambda *a, **k: good)
    inspector.segmented_control(key="src").set_value("Upload").run()
    assert not inspector.exception, inspector.exception
    assert inspector.dataframe[0].value["numel"][0] == 256


@pytest.mark.parametrize(
    "array, expect",
    [
        (np.zeros((0, 4), np.float32), "no finite values"),
        (np.full(16, np.nan, np.float32), "no finite values"),
        (np.arange(64, dtype=np.int64).reshape(8, 8), "integer"),
        (np.array([1.0, np.nan, np.inf, -2.0, 3.0], np.float32), "NaN/Inf"),
        (np.ones((4, 4), np.float16), "SQNR"),
    ],
    ids=["empty", "all-nan", "integer", "some-nan", "fp16-constant"],
)
def test_unusual_uploads_are_handled_on_purpose(inspector, monkeypatch, array, expect):
    import streamlit as st

    buf = io.BytesIO()
    np.save(buf, array)
    monkeypatch.setattr(st, "file_uploader", lambda *a, **k: _upload(None, "t.npy", buf.getvalue()))
    inspector.segmented_control(key="src").set_value("Upload").run()
    assert not inspector.exception, inspector.exception
    shown = " ".join([e.value for e in inspector.warning] + [e.value for e in inspector.info] + [m.label for m in inspector.metric])
    assert expect in shown


def test_figures_stay_small_whatever_the_tensor_size(inspector, monkeypatch):
    """4M values with 4096 channels: every figure is binned, so none grows with the tensor."""
    import streamlit as st

    x = np.random.default_rng(1).standard_t(3, size=(4096, 1024)).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, x)
    monkeypatch.setattr(st, "file_uploader", lambda *a, **k: _upload(None, "big.npy", buf.getvalue()))
    inspector.segmented_control(key="src").set_value("Upload").run()
    inspector.segmented_control(key="gran").set_value("channel").run()
    assert not inspector.exception, inspector.exception
    sizes = figure_sizes(inspector)
    assert len(sizes) == 3
    assert max(sizes) < 300_000, sizes
