"""Cached access to tensors, keyed by content so that equal data share work and different data never do."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

import qviz
from ui.shared import shared


def digest(x: np.ndarray) -> str:
    """sha256 of the bytes, dtype and shape: a full-content key (st.cache_data only samples big arrays)."""
    a = np.ascontiguousarray(x)
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    if a.size:
        h.update(memoryview(a.reshape(-1)).cast("B"))
    return h.hexdigest()


@shared(max_entries=32)
def sample(name: str, n: int) -> np.ndarray:
    """A built-in synthetic tensor (read-only; shared across sessions, it is the same for everyone)."""
    x = qviz.sample(name, n=n)
    x.setflags(write=False)
    return x
