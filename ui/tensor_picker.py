"""Pick a tensor: a teaching sample, a built-in model's weight, or an uploaded file.

Built-ins are the same for everyone, so they are cached globally (:mod:`ui.shared`); uploads stay
in their own session (:mod:`ui.uploads`: kept across pages until removed, within the session's and
the server's memory budgets) and are never served to another user. When the server was started for
local use (``qviz app``, or ``QVIZ_ALLOW_PATHS=DIR``), a fourth source, "Local path", reads a file or
model folder from its disk (:mod:`ui.local_path`); ``qviz app PATH`` fills it in and selects it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import streamlit as st

import qviz
from qviz.models import model_names, model_title
from qviz.sources import UPLOADS
from ui import data, keys, local_path, uploads
from ui.dependent import follow
from ui.spec_widgets import PICKED_SHAPE
from ui.keys import QUERY
from ui.shared import SHARED_KEY, shared

UPLOAD_TYPES = [e.lstrip(".") for e in UPLOADS]  # qviz.sources.UPLOADS: one list with the readers
MAX_UPLOAD_NUMEL = uploads.MAX_UPLOAD_NUMEL


@dataclass(frozen=True)
class Picked:
    label: str
    x: np.ndarray
    key: str  # content digest of x (SHARED_KEY + digest when every visitor sees the same tensor)
    info: object  # qviz.TensorInfo
    source: object = None  # the qviz.Source it came from (its quantized(name) for already-quantized tensors)
    name: str = ""  # the tensor's name in that source


@shared(max_entries=4)
def _builtin(name: str):
    return qviz.open_source(name)


@shared(max_entries=8)
def _builtin_tensor(source: str, tensor: str) -> np.ndarray:
    x = _builtin(source).load(tensor)
    x.setflags(write=False)
    return x


_DIGESTS: dict = {}  # id(array) -> (weak reference, digest); an entry goes when its array does


def _digest_of(x: np.ndarray) -> str:
    """Content digest of a shared, read-only tensor, computed once per array (it never changes)."""
    d = _DIGESTS.get(id(x))
    if d is None or d[0]() is not x:
        key = id(x)
        d = _DIGESTS[key] = (weakref.ref(x, lambda _r, key=key: _DIGESTS.pop(key, None)), data.digest(x))
    return d[1]


def model_select(label: str = "Model", key: str = keys.MODEL, container=None) -> str:
    """A URL-bound choice of built-in model (:data:`qviz.models.MODELS`, the one list); ``qviz app NAME`` preselects NAME."""
    c = container or st
    names = model_names()
    opened = local_path.opened_builtin()
    return c.selectbox(label, names, key=key, bind=QUERY, format_func=lambda n: f"{n} · {model_title(n)}",
                       index=names.index(opened) if opened in names else 0)


def upload_source(up) -> tuple[str, qviz.Source]:
    """``(content digest, Source)`` of an ``st.file_uploader`` file, kept in this session's files (:mod:`ui.uploads`)."""
    kept = uploads.session().add(up.getvalue(), up.name)
    return kept.digest, kept.source


def _tensor_select(source, label_prefix: str) -> str | None:
    names = source.names()
    if not names:
        st.error(f"{label_prefix}: holds no tensors.")
        return None
    follow(keys.TENSOR, label_prefix)  # a new model or file: its own default tensor, not the last one's name
    if st.session_state.get(keys.TENSOR) not in names:
        st.session_state.pop(keys.TENSOR, None)
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
            return Picked(f"{source.label} · {tensor}", x, SHARED_KEY + _digest_of(x), source.info(tensor), source, tensor)
        if kind == SAMPLE:
            name = st.selectbox("Distribution", qviz.sample_names(), key=keys.SAMPLE, bind=QUERY, format_func=lambda n: qviz.SAMPLES[n].title)
            source = _builtin("samples")
            x = data.sample(name, source.info(name).shape[0])
            return Picked(qviz.SAMPLES[name].title, x, SHARED_KEY + _digest_of(x), source.info(name))
        if kind == MODEL:
            model = model_select()
            source = _builtin(model)
            tensor = _tensor_select(source, model)
            if tensor is None:
                return None
            x = _builtin_tensor(model, tensor)
            return Picked(f"{model} · {tensor}", x, SHARED_KEY + _digest_of(x), source.info(tensor), source, tensor)
        return _pick_upload()
    except qviz.SourceError as e:
        st.error(str(e))
        return None
    except uploads.ServerBusy as e:
        st.warning(str(e).capitalize() + ".")
        return None
    except Exception as e:  # noqa: BLE001 - a reader bug on a damaged file must still read as one line
        st.error(f"The tensor could not be read ({type(e).__name__}: {' '.join(str(e).split())[:200]}); the file may be damaged: save it again.")
        return None


def upload_widget(key: str = "upload", label: str = "Checkpoint or tensor file") -> uploads.Upload | None:
    """The uploader and this session's files (kept across pages until removed); the chosen file, or None."""
    store = uploads.session()
    up = st.file_uploader(label, type=UPLOAD_TYPES, key=key,
                          help=".npy/.npz, PyTorch state dicts, safetensors, ONNX or GGUF; nothing is unpickled.")
    new = None
    if up is not None and up.file_id not in store.seen:  # each upload is read once: not re-hashed on every rerun,
        new = store.add(up.getvalue(), up.name)          # and not brought back after "Remove"
        store.seen.add(up.file_id)
    for name in store.take_evicted():
        st.warning(f"{name} was removed from this session's files to keep them under {uploads.SESSION_BYTES // uploads.MB:,} MB: "
                   "upload it again to see it.")
    if not store.files:
        st.info("Upload a file to inspect its tensors.")
        return None
    digests = list(store.files)[::-1]  # newest first
    if new is not None and st.session_state.get("upfile") != new.digest:
        st.session_state["upfile"] = new.digest
    c = st.columns([4, 1])
    digest = c[0].selectbox("Your files (this session only)", digests, key="upfile",
                            format_func=lambda d: f"{store.files[d].name} · {len(store.files[d].raw) / uploads.MB:,.1f} MB")
    c[1].button("Remove", key="upremove", on_click=store.remove, args=(digest,),
                help="Forget this file (it is never stored on the server's disk).")
    return store.files[digest]


def _pick_upload() -> Picked | None:
    chosen = upload_widget()
    if chosen is None:
        return None
    tensor = _tensor_select(chosen.source, chosen.name)
    if tensor is None:
        return None
    x = uploads.session().tensor(chosen, tensor)
    return Picked(f"{chosen.name} · {tensor}", x, f"{chosen.digest}:{tensor}", chosen.source.info(tensor), chosen.source, tensor)


def require_tensor(spec_ok: bool = True, what: str = "quantize") -> Picked:
    """:func:`pick_tensor`, then stop the page with a one-line message if there is nothing to ``what``.

    ``spec_ok`` is False when the sidebar's quantizer settings are invalid (the sidebar says why).
    """
    picked = pick_tensor()
    if picked is None:
        st.stop()
    shape = tuple(picked.x.shape)
    previous = st.session_state.get(PICKED_SHAPE)
    st.session_state[PICKED_SHAPE] = shape  # the sidebar's group sizes are drawn before the tensor: they read it
    if previous != shape and st.session_state.get(keys.GRANULARITY) == "group":
        st.rerun()  # once: the group-size box now offers this tensor's divisors
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
