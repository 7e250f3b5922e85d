"""Run a model on calibration data from the pages: pick an activation, the token × channel view, output error.

Models: the built-ins (their own calibration data), the file ``qviz app PATH`` opened (``QVIZ_OPEN``: an
``.onnx`` file or a Hugging Face folder), or an uploaded ``.onnx``. A user's model runs only when the
"Run the model on calibration data" button is pressed (it costs time and memory); the result stays in a
session-scoped cache. Calibration data: the built-in corpus (models with a tokenizer) or synthetic inputs,
or an uploaded ``.npz`` / text file. Every result says what its data was; synthetic data gets a warning.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import streamlit as st

import qviz
from qviz.models import model_names, model_title
from ui import data
from ui.keys import QUERY

BUILTINS = {n: f"{model_title(n)} (built-in)" for n in model_names()}
UPLOAD = "upload"
FILE = "file"
PREFIX = "activation · "


def is_activation(picked) -> bool:
    return picked is not None and picked.label.startswith(PREFIX)


def _progress(label: str):
    bar = st.progress(0.0, text=label)

    def fn(done, total, msg):
        bar.progress(min(done / max(total or done or 1, 1), 1.0), text=f"{label}: {msg}")

    return bar, fn


def _data_path(upload) -> str | None:
    """An uploaded calibration file written under its own name into a private temporary folder (loaders read paths)."""
    if upload is None:
        return None
    name = os.path.basename(upload.name) or "calibration.npz"
    path = os.path.join(tempfile.mkdtemp(prefix="qviz-calib-"), name)
    with open(path, "wb") as f:
        f.write(upload.getvalue())
    return path


def _remove(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
            os.rmdir(os.path.dirname(path))
        except OSError:
            pass


@st.cache_resource(show_spinner=False, max_entries=2, scope="session")
def _captured(model_key: str, _model, data_key: str, _upload, samples: int, batch: int):
    """``{"acts", "description", "synthetic"}`` of one run (this session only)."""
    bar, progress = _progress("Running the model on calibration data")
    path = _data_path(_upload)
    try:
        if isinstance(_model, str):  # built-in
            acts = qviz.open_source(_model).capture(qviz.QuantSpec(), "minmax", progress=progress)
            return {"acts": acts, "description": "the model's own calibration data", "synthetic": False}
        acts = _model.capture(qviz.QuantSpec(), "minmax", data=path, samples=samples, batch_size=batch, progress=progress)
        return {"acts": acts, "description": _model.data_description, "synthetic": _model.synthetic}
    finally:
        bar.empty()
        _remove(path)


@st.cache_resource(show_spinner=False, max_entries=2, scope="session")
def _upload_model(digest: str, _raw: bytes, name: str):
    return qviz.open_user_model(_raw, name)


def model_choice(path: str | None, key: str = "amodel", builtins: bool = True):
    """Widgets choosing the model; returns ``(model key, model or built-in name, label)`` or None."""
    options = dict(BUILTINS) if builtins else {}
    runnable = path is not None and qviz.capture.is_runnable(path)
    if runnable:
        options[FILE] = f"File: {os.path.basename(os.path.normpath(path))}"
    options[UPLOAD] = "Upload an ONNX file"
    choice = st.selectbox("Model to run", list(options), format_func=options.get, key=key, bind=QUERY,
                          index=list(options).index(FILE) if runnable else 0)
    if choice in BUILTINS:
        return choice, choice, choice
    if choice == FILE:
        return f"file:{path}:{os.path.getmtime(path)}", _file_model(path, os.path.getmtime(path)), os.path.basename(os.path.normpath(path))
    up = st.file_uploader("ONNX model", type=["onnx"], key=f"{key}_upload")
    if up is None:
        st.info("Upload an .onnx file to run it on calibration data.")
        return None
    raw = up.getvalue()
    digest = data.digest(np.frombuffer(raw, dtype=np.uint8))
    return f"upload:{digest}", _upload_model(digest, raw, up.name), up.name


@st.cache_resource(show_spinner=False, max_entries=2)
def _file_model(path: str, mtime: float):  # the operator's own file (qviz app PATH)
    return qviz.open_user_model(path)


def data_controls(key: str = "adata"):
    """Calibration data widgets for a user model; returns ``(data key, upload, samples, batch size)``."""
    c = st.columns([3, 1, 1])
    up = c[0].file_uploader("Calibration data (optional)", type=["npz", "txt"], key=f"{key}_file",
                            help=".npz: one array per model input, leading batch axis · .txt: one sample per line (models "
                                 "with a tokenizer). Without it: the built-in public-domain corpus for text models, else "
                                 "synthetic inputs (flagged).")
    samples = int(c[1].number_input("Samples", 1, 512, 32, key=f"{key}_samples", bind=QUERY))
    batch = int(c[2].number_input("Batch size", 1, 64, 8, key=f"{key}_batch", bind=QUERY))
    dkey = "none" if up is None else data.digest(np.frombuffer(up.getvalue(), dtype=np.uint8))
    return dkey, up, samples, batch


def _mark_run(run_key: str) -> None:  # a callback: it survives the page's one legacy-mode rerun
    st.session_state["qviz_runs"] = {*st.session_state.get("qviz_runs", ()), run_key}


def run(path: str | None, key: str = "amodel"):
    """Model choice, data options and the run button; the captured result, or None until the button is pressed."""
    chosen = model_choice(path, key)
    if chosen is None:
        return None
    model_key, model, label = chosen
    user = not isinstance(model, str)
    dkey, up, samples, batch = data_controls() if user else ("none", None, 0, 0)
    run_key = f"{model_key}|{dkey}|{samples}|{batch}"
    if not run_button(run_key, key, user):
        return None
    result = _captured(run_key, model, dkey, up if user else None, samples, batch)
    if result["synthetic"]:
        st.warning(f"Synthetic inputs ({result['description']}): ranges from random data can mislead. Upload calibration data for real ranges.")
    else:
        st.caption(f"Calibration data: {result['description']}")
    return {**result, "label": label, "model": model, "key": run_key}


def run_button(run_key: str, key: str, user: bool = True) -> bool:
    """The "Run the model on calibration data" button; True once it was pressed for ``run_key`` in this session."""
    st.button("Run the model on calibration data", key=f"{key}_run", type="primary", on_click=_mark_run, args=(run_key,))
    if run_key not in st.session_state.get("qviz_runs", ()):
        st.info("Press **Run the model on calibration data** to capture every Linear/Conv (MatMul/Gemm/Conv) input"
                + (": your model runs on CPU, which takes time and memory." if user else "."))
        return False
    return True


def pick(path: str | None):
    """The tensor-picker branch "Activations": a captured activation as a ``tokens × channels`` Picked, or None."""
    from ui.tensor_picker import Picked

    try:
        result = run(path)
    except (qviz.SourceError, ValueError) as e:
        st.error(str(e))
        return None
    if result is None:
        return None
    acts = [a for a in result["acts"] if a.sample.size]
    if not acts:
        st.error(f"{result['label']}: no activation was captured (no MatMul/Gemm/Conv ran on the data).")
        return None
    names = [a.name for a in acts]
    if st.session_state.get("activation") not in names:
        st.session_state.pop("activation", None)
    name = st.selectbox("Activation", names, key="activation", bind=QUERY)
    act = acts[names.index(name)]
    x = np.ascontiguousarray(act.sample.T)  # (tokens or positions, channels)
    x.setflags(write=False)
    st.caption(f"input of {act.layer} · {act.numel:,} values seen, range calibrated on all; the first {x.shape[0]:,} "
               f"{'tokens' if x.shape[0] else 'rows'} × {x.shape[1]:,} channels shown" + (" · synthetic data" if result["synthetic"] else ""))
    info = qviz.TensorInfo(name, x.shape, "float32", act.layer)
    return Picked(f"{PREFIX}{result['label']} · {name}", x, data.digest(x), info)


@st.cache_data(show_spinner=False, max_entries=16)
def _token_view(key: str, _x: np.ndarray, spec: qviz.QuantSpec, k: float):
    return qviz.token_channel(_x, spec, k=k)


def token_channel_section(picked, spec: qviz.QuantSpec | None) -> None:
    """The token × channel view of an activation (Inspector and Calibrators pages)."""
    from qviz.plots import channel_max_figure, scaling_sqnr_figure, token_heatmap_figure

    if spec is None or picked.x.ndim != 2:
        return
    st.subheader("Tokens × channels")
    k = st.slider("Outlier rule: k × the median channel max", 2.0, 20.0, 6.0, 0.5, key="tok_k", bind=QUERY,
                  help="A channel is an outlier when its max |x| exceeds 6 (LLM.int8) or k × the median channel max.")
    view = _token_view(picked.key, picked.x, spec, float(k))
    st.plotly_chart(token_heatmap_figure(view), key="tok_heat", width="stretch")
    st.caption("max |x| in each block of tokens × channels (max-pooled, so no outlier is averaged away): outlier "
               "channels show as bright columns across the tokens.")
    c = st.columns([3, 2])
    c[0].plotly_chart(channel_max_figure(view), key="tok_max", width="stretch")
    c[1].plotly_chart(scaling_sqnr_figure(view.scaling, title=f"SQNR at {spec.bits} bits by scaling"), key="tok_sqnr", width="stretch")
    st.caption(f"{len(view.outliers)} outlier channels of {view.channels}. Per-token (dynamic) scaling gives each token its "
               "own scale; per-channel gives each channel one, which is what outlier channels need (SmoothQuant moves "
               "them into the weights).")
    if len(view.outliers):
        st.dataframe(view.outliers.head(50), hide_index=True, key="tok_outliers")


# ---------------------------------------------------------------------------------------------- output error
@st.cache_resource(show_spinner=False, max_entries=1, scope="session")
def _quantizer(run_key: str, _model, _upload, samples: int, batch: int, method: str, options: tuple):
    from qviz.capture import OnnxModel
    from qviz.impact.user_model import HFQuantizer, OnnxQuantizer

    path = _data_path(_upload)
    try:
        cls = OnnxQuantizer if isinstance(_model, OnnxModel) else HFQuantizer
        return cls(_model, method, data=path, samples=samples, batch_size=batch, **dict(options))
    finally:
        _remove(path)


def _with_bar(label, fn):
    bar, progress = _progress(label)
    try:
        return fn(progress)
    finally:
        bar.empty()


@st.cache_data(show_spinner=False, max_entries=8, scope="session")
def _fidelity(run_key: str, spec: qviz.QuantSpec, method: str, options: tuple, _mq):
    return _with_bar("Output fidelity", lambda p: qviz.output_fidelity(_mq, spec, progress=p))


@st.cache_data(show_spinner=False, max_entries=8, scope="session")
def _sensitivity(run_key: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple, abo: bool, _mq):
    return _with_bar("Sensitivity", lambda p: qviz.sensitivity(_mq, spec, what, all_but_one=abo, progress=p)[0])


@st.cache_data(show_spinner=False, max_entries=8, scope="session")
def _errors(run_key: str, spec: qviz.QuantSpec, what: str, method: str, options: tuple, _mq):
    return _with_bar("Isolated and accumulated error", lambda p: qviz.layer_errors(_mq, spec, what, progress=p))


def user_impact(path: str | None, spec: qviz.QuantSpec, what: str, method: str, options: tuple) -> None:
    """The Model impact page for the user's own model: output fidelity to fp32, sensitivity, layer errors."""
    from qviz.plots import errors_figure, sensitivity_figure

    try:
        chosen = model_choice(path, "imodel_user", builtins=False)
    except (qviz.SourceError, ValueError) as e:
        st.error(str(e))
        return
    if chosen is None:
        return
    model_key, model, label = chosen
    dkey, up, samples, batch = data_controls("idata")
    run_key = f"{model_key}|{dkey}|{samples}|{batch}|{method}|{options}"
    if not run_button(run_key, "imodel_user"):
        return
    try:
        mq = _with_bar("Loading the model and its fp32 outputs", lambda p: _quantizer(run_key, model, up, samples, batch, method, options))
        fid = _fidelity(run_key, spec, method, options, mq)
    except (qviz.SourceError, ValueError) as e:
        st.error(str(e))
        return
    if mq.synthetic:
        st.warning(f"Synthetic inputs ({mq.data_description}): the output error on random data can mislead. Upload calibration data.")
    else:
        st.caption(f"Calibration data: {mq.data_description}")
    st.subheader("Output fidelity to fp32")
    c = st.columns(3)
    for col, r in zip(c, fid.itertuples()):
        col.metric(f"{r.what} · output cosine", f"{r.output_cosine:.4f}", help=f"SQNR of the output: {r.output_sqnr_db:.2f} dB")
    st.dataframe(fid, hide_index=True, key="ufid")
    st.caption(f"{label}: cosine and SQNR of the model's output (logits, embeddings or last hidden state) to the fp32 output "
               f"on the calibration data, with every one of its {len(mq.layers)} layers' weights, inputs or both under {spec.describe()}.")
    st.subheader("Which layer? Sensitivity")
    abo = st.toggle("Also quantize all but one layer", False, key="uabo", bind=QUERY)
    try:
        sens = _sensitivity(run_key, spec, what, method, options, abo, mq)
        err = _errors(run_key, spec, what, method, options, mq)
    except ValueError as e:
        st.error(str(e))
        return
    st.plotly_chart(sensitivity_figure(sens, "output_cosine", title=f"Sensitivity · {spec.describe()} · {what}"), key="usens", width="stretch")
    st.dataframe(sens, hide_index=True, width="stretch", key="usens_table")
    st.subheader("Isolated against accumulated error")
    st.plotly_chart(errors_figure(err, title="Output SQNR per layer"), key="uerrors", width="stretch")
    st.caption("Blue: the layer alone quantized (fp32 input); red: every layer quantized. A widening gap means error piles up.")


# ---------------------------------------------------------------------------------------------- Model layers
@st.cache_data(show_spinner=False, max_entries=4, scope="session")
def _rows(run_key: str, _model, _upload, samples: int, batch: int, spec: qviz.QuantSpec, method: str, options: tuple):
    bar, progress = _progress("Running the model on calibration data")
    path = _data_path(_upload)
    try:
        return qviz.capture.activation_rows(_model, spec, method, data=path, samples=samples, batch_size=batch, progress=progress,
                                            **dict(options))
    finally:
        bar.empty()
        _remove(path)


def layer_rows(raw: bytes, name: str, specs: list, method: str, options: dict) -> list | None:
    """Activation rows of an uploaded ONNX model for each spec of ``specs``, once its run button was pressed."""
    digest = data.digest(np.frombuffer(raw, dtype=np.uint8))
    model = _upload_model(digest, raw, name)
    dkey, up, samples, batch = data_controls("ldata")
    run_key = f"upload:{digest}|{dkey}|{samples}|{batch}"
    if not run_button(run_key, "lrun"):
        return None
    opts = tuple(sorted(options.items()))
    out = [_rows(run_key, model, up, samples, batch, s, method, opts) for s in specs]
    note = out[0]["note"].iloc[0] if len(out[0]) else ""
    if len(out[0]) and out[0]["flags"].str.contains("synthetic").any():
        st.warning(f"Synthetic inputs ({note.split('— ', 1)[-1]}): ranges from random data can mislead. Upload calibration data.")
    elif note:
        st.caption(f"Calibration data: {note.split('; ')[-1]}")
    return out
