"""A session's uploads: kept across pages, within the session's and the server's byte budgets."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.app.test_inspector import _upload
from ui import uploads


def _npy(n: int, fill: float = 1.0) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.full(n, fill, np.float32))
    return buf.getvalue()


def test_oldest_files_are_evicted_past_the_session_budget_and_said():
    server = uploads.MemoryBudget(1 << 30)
    store = uploads.SessionUploads(server, limit=3 * (40_000 + 128))
    for i in range(4):
        store.add(_npy(10_000, i), f"f{i}.npy")  # 40 KB each
    assert [u.name for u in store.files.values()] == ["f1.npy", "f2.npy", "f3.npy"]
    assert store.take_evicted() == ["f0.npy"] and store.take_evicted() == []
    assert server.used == store.nbytes <= store.limit


def test_a_tensor_is_budgeted_from_its_header_before_it_is_read(monkeypatch):
    store = uploads.SessionUploads(uploads.MemoryBudget(1 << 30), limit=1 << 20)
    up = store.add(_npy(200_000), "big.npy")  # 0.8 MB on disk; 3 × 0.8 MB to analyse: over 1 MB
    monkeypatch.setattr(up.source, "load", lambda name: pytest.fail("decoded before the budget check"))
    with pytest.raises(uploads.ServerBusy, match="more than a session may hold"):
        store.tensor(up, "big")


def test_server_budget_is_shared_and_released_when_a_session_ends():
    import gc

    server = uploads.MemoryBudget(150_000)
    a, b = uploads.SessionUploads(server), uploads.SessionUploads(server)
    a.add(_npy(25_000), "a.npy")  # 100 KB
    with pytest.raises(uploads.ServerBusy, match="the server is busy"):
        b.add(_npy(25_000, 2.0), "b.npy")
    assert not b.files
    del a
    gc.collect()
    assert server.used == 0
    b.add(_npy(25_000, 2.0), "b.npy")


def test_upload_stays_selectable_on_every_page(monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/inspector.py").run()
    good = _upload(None, "mine.npy", _npy(1000, 0.5))
    monkeypatch.setattr(st, "file_uploader", lambda *a, **k: good)
    at.segmented_control(key="src").set_value("Upload").run()
    assert not at.exception and at.dataframe[0].value["numel"][0] == 1000
    monkeypatch.setattr(st, "file_uploader", lambda *a, **k: None)  # the browser's uploader is empty on the next page
    at.switch_page("pages/playground.py").run()
    at.segmented_control(key="src").set_value("Upload").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="upfile").options[0].startswith("mine.npy")  # AppTest lists the formatted labels
    assert len(at.get("plotly_chart")) >= 1
    at.button(key="upremove").click().run()
    assert not at.get("plotly_chart") and any("Upload a file" in i.value for i in at.info)
