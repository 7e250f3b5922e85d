"""Built-in results survive Streamlit's clear_cache, which any client may send; one computation per key."""

from __future__ import annotations

import threading
import time

import streamlit as st

import qviz
from ui import layers
from ui.shared import shared


def test_clear_cache_does_not_reach_built_in_analyses():
    spec = qviz.QuantSpec(bits=5)
    df = layers.builtin("digits_cnn", spec, "minmax", False)
    st.cache_data.clear()  # what a client's clear_cache message runs on the server
    st.cache_resource.clear()
    assert layers.builtin.contains("digits_cnn", spec, "minmax", False)
    assert layers.builtin("digits_cnn", spec, "minmax", False) is df


def test_concurrent_callers_share_one_computation_and_entries_are_bounded():
    calls = []

    @shared(max_entries=2)
    def slow(k):
        calls.append(k)
        time.sleep(0.3)
        return k * 2

    threads = [threading.Thread(target=slow, args=(1,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert calls == [1]
    slow(2), slow(3)
    assert not slow.contains(1) and slow.contains(3)


def test_built_in_views_are_shared_and_uploads_are_not(monkeypatch):
    import numpy as np

    from ui import compute

    x = np.linspace(-1, 1, 4096, dtype=np.float32)
    spec = qviz.QuantSpec(bits=3)
    a = compute.inspect(compute.SHARED + "lin", x, spec, "minmax", ())
    assert compute.inspect.everyone.contains(compute.SHARED + "lin", x, spec, "minmax", (), None, False)
    assert compute.inspect(compute.SHARED + "lin", x, spec, "minmax", ()) is a  # the next visitor: no work at all
    calls = []
    monkeypatch.setattr(compute.inspect, "session", lambda *a: calls.append(a[0]))
    compute.inspect("upload-digest", x, spec, "minmax", ())  # an upload: the session-scoped cache
    assert calls == ["upload-digest"]
    assert not compute.inspect.everyone.contains("upload-digest", x, spec, "minmax", (), None, False)
