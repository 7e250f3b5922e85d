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
