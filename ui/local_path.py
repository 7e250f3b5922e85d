"""The "Local path" source: a checkpoint file or model folder read straight from the server's disk.

Offered only when the server was started for local use (``qviz app``, or
``QVIZ_ALLOW_PATHS=DIR``; see :mod:`qviz.path_policy`, where the policy lives and is
tested). ``qviz app PATH`` puts ``PATH`` in the box and selects the source. The box is
bound to the URL (``?path=…``), so the sidebar links and "open in the inspector" links
carry it. Sources and tensors are cached for everyone (they are the operator's files),
keyed on the real path and a stamp of sizes and mtimes, so a rewritten file is re-read.
"""

from __future__ import annotations

import os

import numpy as np
import streamlit as st

import qviz
from qviz.path_policy import OPEN_ENV, PathRefused, allowed_root, resolve, stamp
from ui.keys import PATH, QUERY

LOCAL = "Local path"  # the source's label, and its value in the URL (?src=Local+path)


def root() -> str | None:
    """The folder local paths must lie under, or None when this server reads no local paths (hosted)."""
    try:
        return allowed_root()
    except PathRefused as e:  # a misconfigured server: say so once, offer no path box
        st.error(str(e))
        return None


def opened_path() -> str | None:
    """The existing file or folder ``qviz app PATH`` passed (``QVIZ_OPEN``), if any."""
    path = os.environ.get(OPEN_ENV, "").strip()
    return path if path and os.path.exists(path) else None


def opened_builtin() -> str | None:
    """The built-in ``qviz app NAME`` passed (``QVIZ_OPEN=digits_cnn``), if any."""
    name = os.environ.get(OPEN_ENV, "").strip()
    return name if name in qviz.builtin_names() and not os.path.exists(name) else None


def path_box(allowed: str, key: str = PATH, container=st) -> str | None:
    """The path text box; returns the real path to open, or None with a one-line message shown."""
    typed = container.text_input("Path", opened_path() or "", key=key, bind=QUERY,
                                 placeholder=f"a checkpoint file or a model folder under {allowed}",
                                 help="A file (.safetensors, .pt/.bin, .onnx, .npy/.npz) or a model folder (safetensors "
                                      f"or .bin shards with their index). This server reads paths under {allowed}.")
    if not typed or not typed.strip():
        st.info("Type the path of a checkpoint file or a model folder.")
        return None
    try:
        return resolve(typed, allowed)
    except PathRefused as e:
        st.error(str(e))
        return None


@st.cache_resource(show_spinner=False, max_entries=4)
def source(path: str, version: str):
    """The opened checkpoint at the real path ``path`` (``version``: :func:`qviz.path_policy.stamp`)."""
    try:
        return qviz.open_source(path)
    except qviz.SourceError:
        raise
    except Exception as e:  # noqa: BLE001 - a reader bug on a damaged file still reads as one line
        name = os.path.basename(path.rstrip("/")) or path
        raise qviz.SourceError(f"{name}: cannot be read ({type(e).__name__}: {e}); "
                               "the file may be corrupted: save it again") from None


@st.cache_resource(show_spinner="Loading the tensor…", max_entries=8)
def tensor(path: str, version: str, name: str) -> np.ndarray:
    x = source(path, version).load(name)
    x.setflags(write=False)
    return x


def version(path: str) -> str:
    return stamp(path)
