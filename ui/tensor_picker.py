"""Pick a tensor: a teaching sample, a built-in model's weight, or an uploaded file.

Built-ins are the same for everyone, so they are cached globally; an upload stays in
its own session (session-scoped cache, one upload kept per session) and is never
served to another user. When the server was started for local use (``qviz app``, or
``QVIZ_ALLOW_PATHS=DIR``), a fourth source, "Local path", reads a file or model folder from
its disk (:mod:`ui.local_path`); ``qviz app PATH`` fills it in and selects it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

import qviz
from qviz.models import model_names, model_title
from qviz.sources import UPLOADS
from ui import data, local_path
from ui import keys
from ui.keys import QUERY

UPLOAD_TYPES = [e.lstrip(".") for e in UPLOADS]  # qviz.sources.UPLOADS: one list with the readers
MAX_UPLOAD_NUMEL = 1 << 26  # 64M values (256 MB as float32) per tensor: bounds a session's memory


@dataclass(frozen=True)
class Picked:
    label: str
    x: np.ndarray
    key: str  # content digest of x
    info: object  # qviz.TensorInfo


@st.cache_resource(show_spinner=False, max_entries=4)
def _builtin(name: str):
    return qviz.open_source(name)


@st.cache_resource(show_spinner="Loading the tensor…", max_entries=8)
def _builtin_tensor(source: str, tensor: str) -> np.ndarray:
    x = _builtin(source).load(tensor)
    x.setflags(write=False)
    return x


@st.cache_resource(show_spinner=False, max_entries=64, scope="session")
def _upload_source(digest: str, _data: bytes, filename: str):
    return qviz.open_source(_data, name=filename, max_numel=MAX_UPLOAD_NUMEL)


@st.cache_resource(show_spinner="Loading the tensor…", max_entries=4, scope="session")
def _upload_tensor(digest: str, _source, tensor: str) -> np.ndarray:
    x = _source.load(tensor)
    x.setflags(write=False)
    return x


def model_select(label: str = "Model", key: str = keys.MODEL, container=None) -> str:
    """A URL-bound choice of built-in model (:data:`qviz.models.MODELS`, the one list); ``qviz app NAME`` preselects NAME."""
    c = container or st
    names = model_names()
    opened = local_path.opened_builtin()
    return c.selectbox(label, names, key=key, bind=QUERY, format_func=lambda n: f"{n} · {model_title(n)}",
                       index=names.index(opened) if opened in names else 0)


def upload_source(up) -> tuple[str, qviz.Source]:
    """``(content digest, Source)`` of an ``st.file_uploader`` file, cached for this session only."""
    raw = up.getvalue()
    digest = data.digest(np.frombuffer(raw, dtype=np.uint8))
    return digest, _upload_source(digest, raw, up.name)


def _tensor_select(source, label_prefix: str) -> str | None:
    names = source.names()
    if not names:
        st.error(f"{label_prefix}: holds no tensors.")
        return None
    if st.session_state.get("tensor") not in names:
        st.session_state.pop("tensor", None)
    infos = [source.info(n) for n in names]
    # open on the largest float tensor: a model's most interesting weight, not its first bias
    largest = max(range(len(names)), key=lambda i: (infos[i].is_float, infos[i].numel))
    name = st.selectbox("Tensor", names, index=largest, key=keys.TENSOR, bind=QUERY)
    info = source.info(name)
    st.caption(f"shape {tuple(info.shape)} · {info.dtype} · {info.numel:,} values" + (f" · node {info.node}" if info.node else ""))
    return name


SAMPLE, MODEL, UPLOAD = "Sample", "Built-in model", "Upload"  # also their values in the URL (?src=…)
LOCAL = local_path.LOCAL  # a file or folder on the server's disk, only when it was started for local use
ACTIVATIONS = "Activations"  # a model run on calibration data (ui.activations)


def pick_tensor(default_source: str = SAMPLE) -> Picked | None:
    """Widgets to choose a tensor; returns it (float32, read-only) or None with a one-line message shown."""
    allowed = local_path.root()
    sources = [SAMPLE, MODEL, UPLOAD] + ([LOCAL] if allowed else []) + [ACTIVATIONS]
    if allowed and local_path.opened_path():
        default_source = LOCAL
    elif local_path.opened_builtin() in model_names():
        default_source = MODEL
    kind = st.segmented_control("Source", sources, default=default_source, key=keys.SOURCE, bind=QUERY,
                                help=f"Local path: files and model folders under {allowed}" if allowed else None) or default_source
    try:
        if kind == ACTIVATIONS:
            from ui import activations

            return activations.pick(local_path.opened_path() if allowed else None)
        if kind == LOCAL and allowed:
            path = local_path.path_box(allowed)
            if path is None:
                return None
            version = local_path.version(path)
            source = local_path.source(path, version)
            tensor = _tensor_select(source, source.label)
            if tensor is None:
                return None
            x = local_path.tensor(path, version, tensor)
            return Picked(f"{source.label} · {tensor}", x, data.digest(x), source.info(tensor))
        if kind == SAMPLE:
            name = st.selectbox("Distribution", qviz.sample_names(), key=keys.SAMPLE, bind=QUERY, format_func=lambda n: qviz.SAMPLES[n].title)
            source = _builtin("samples")
            x = data.sample(name, source.info(name).shape[0])
            return Picked(qviz.SAMPLES[name].title, x, data.digest(x), source.info(name))
        if kind == MODEL:
            model = model_select()
            source = _builtin(model)
            tensor = _tensor_select(source, model)
            if tensor is None:
                return None
            x = _builtin_tensor(model, tensor)
            return Picked(f"{model} · {tensor}", x, data.digest(x), source.info(tensor))
        up = st.file_uploader("Checkpoint or tensor file", type=UPLOAD_TYPES, key="upload",
                              help=".npy/.npz, PyTorch state dicts, safetensors or ONNX; nothing is unpickled.")
        if up is None:
            st.info("Upload a file to inspect its tensors.")
            return None
        digest, source = upload_source(up)
        tensor = _tensor_select(source, up.name)
        if tensor is None:
            return None
        x = _upload_tensor(digest, source, tensor)
        return Picked(f"{up.name} · {tensor}", x, data.digest(x), source.info(tensor))
    except qviz.SourceError as e:
        st.error(str(e))
        return None
    except Exception as e:  # noqa: BLE001 - a reader bug on a damaged file must still read as one line
        st.error(f"The tensor could not be read ({type(e).__name__}: {' '.join(str(e).split())[:200]}); the file may be damaged: save it again.")
        return None


def require_tensor(spec_ok: bool = True, what: str = "quantize") -> Picked:
    """:func:`pick_tensor`, then stop the page with a one-line message if there is nothing to ``what``.

    ``spec_ok`` is False when the sidebar's quantizer settings are invalid (the sidebar says why).
    """
    picked = pick_tensor()
    if picked is None:
        st.stop()
    if not spec_ok:
        st.info("Fix the quantizer settings in the sidebar to see the result.")
        st.stop()
    if picked.x.size == 0 or not np.isfinite(picked.x).any():
        st.warning(f"{picked.label} (shape {tuple(picked.x.shape)}) has no finite values: there is nothing to {what}.")
        st.stop()
    flags = [f for f in getattr(picked.info, "flags", ()) if f != "empty"]
    if flags:
        st.info(f"{picked.label}: {', '.join(flags)} tensor, shown as float32.")
    return picked
