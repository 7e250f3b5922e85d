"""Model layers: every layer's range and quantization error, two specs side by side, worst layers first.

Models with repeated blocks (LLMs, BERT, ViT) get the blocks × roles navigator: a heatmap
of any metric, a worst-N table, filters by role and kind; a click on a cell or a row
opens that tensor in the inspector. Small models keep one bar per layer.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st

import qviz
from qviz.plots import layer_bars_figure, worst_layers
from qviz.plots.quantized import compare_figure
from ui import activations, keys, layers, local_path, navigator
from ui.glossary import glossary
from ui.keys import QUERY
from ui.nav import link, page_url
from ui.spec_widgets import GRANULARITIES, calibrator_control, spec_controls
from ui.tensor_picker import LOCAL, MODEL, UPLOAD_TYPES, model_select, upload_source, upload_widget
from ui.uploads import ServerBusy


SHOWN = ["name", "kind", "shape", "numel", "format", "bits_per_weight", "min", "max", "std", "kurtosis", "channel_range_ratio", "clip_min", "clip_max",
         "scale", "zero_point", "sqnr_db", "psnr_db", "mse", "rmse_over_scale", "clip_mse", "round_mse", "code_usage", "note"]

spec = spec_controls(granularity=True)
method, options = calibrator_control()
opts = tuple(sorted(options.items()))
st.title("Model layers")
st.caption("Quantize every layer of a model with the sidebar's quantizer, and with a second one beside it: which layers lose the most?")
if spec is None:
    st.stop()

c = st.columns([3, 3, 2])
allowed = local_path.root()  # None when this server reads no local paths (hosted)
srcs = ["builtin", "upload"] + (["path"] if allowed else [])
default_src = "path" if allowed and local_path.opened_path() else "builtin"
src = c[0].segmented_control("Model", srcs, format_func={"builtin": "Built-in", "upload": "Upload a checkpoint", "path": LOCAL}.get,
                             default=default_src, key="lsrc", bind=QUERY) or default_src
gran_b = c[1].segmented_control("Compare with granularity", list(GRANULARITIES), format_func=GRANULARITIES.get, default="channel",
                                key="gran_b", bind=QUERY) or "channel"
bits_b = c[2].slider("… and bits", 1, 16, spec.bits, key="bits_b", bind=QUERY)
granularity_b = {"tensor": qviz.PerTensor(), "channel": qviz.PerChannel(0), "group": qviz.PerGroup(32)}[gran_b]
spec_b = dataclasses.replace(spec, granularity=granularity_b, bits=int(bits_b))
name_a, name_b = spec.describe(), spec_b.describe()

path = None  # the real path of a Local path source
try:
    if src == "builtin":
        model = model_select("Built-in model")
        acts = st.toggle("Include activations (runs the model on its calibration data)", True, key="acts", bind=QUERY)
        df_a = layers.builtin(model, spec, method, acts, opts)
        df_b = layers.builtin(model, spec_b, method, acts, opts)
        label = model
    elif src == "path" and allowed:
        path = local_path.path_box(allowed)
        if path is None:
            st.stop()
        version = local_path.version(path)
        label = local_path.source(path, version).label
        df_a = layers.local(path, version, spec, method, opts, label)
        df_b = df_a if navigator.has_blocks(df_a) else layers.local(path, version, spec_b, method, opts, label)  # B: bars only
        model = None
    else:
        up = upload_widget(key="lupload", label="Checkpoint (.safetensors, .pt/.pth/.bin state dict, .onnx, .npz, .gguf)")
        if up is None:
            st.stop()
        df_a = layers.uploaded(up.digest, up.source, spec, method, up.name, opts)
        df_b = layers.uploaded(up.digest, up.source, spec_b, method, up.name, opts)
        model, label = None, up.name
        if up.name.lower().endswith(".onnx"):  # its activations, when asked (ui.activations)
            with st.expander("Activations: run the model on calibration data", expanded=False):
                extra = activations.layer_rows(up.raw, up.name, [spec, spec_b], method, options)
            if extra:
                df_a, df_b = pd.concat([df_a, extra[0]], ignore_index=True), pd.concat([df_b, extra[1]], ignore_index=True)
except ServerBusy as e:
    st.warning(str(e).capitalize() + ".")
    st.stop()
except (qviz.SourceError, ValueError) as e:
    st.error(str(e))
    st.stop()

quantized = df_a[np.isfinite(df_a["sqnr_db"].astype(float))]
c = st.columns(4)
c[0].metric("layers", f"{len(df_a)}", help="Weight tensors, plus Linear/Conv inputs for built-in models.")
c[1].metric(f"median SQNR · {spec.granularity.describe()}", f"{quantized['sqnr_db'].median():.2f} dB" if len(quantized) else "—")
q_b = df_b[np.isfinite(df_b["sqnr_db"].astype(float))]
if df_b is df_a:  # a local model with blocks: B is not scanned (a second pass over a big checkpoint)
    c[2].metric("blocks", f"{len({b for b in df_a['block'] if b is not None})}", help="Repeated blocks found in the tensor names (qviz.layer_position).")
else:
    c[2].metric(f"median SQNR · {spec_b.granularity.describe()}, {spec_b.bits} bits", f"{q_b['sqnr_db'].median():.2f} dB" if len(q_b) else "—")
worst = worst_layers(df_a, "sqnr_db", 1)
c[3].metric(f"worst layer · {worst['sqnr_db'].iloc[0]:.1f} dB" if len(worst) else "worst layer", worst["name"].iloc[0] if len(worst) else "—",
            help="The layer with the lowest SQNR under the sidebar's quantizer.")


def inspector_query(tensor: str) -> dict | None:
    """The URL settings that open ``tensor`` in the inspector with this page's source (None for uploads)."""
    if model is not None:
        return dict(src=MODEL, model=model, tensor=tensor)
    if path is not None:
        return dict(src=LOCAL, path=st.session_state.get(keys.PATH) or path, tensor=tensor)
    return None


def open_link(tensor: str) -> None:
    """A plain link (it keeps the URL's settings) that opens ``tensor`` in the inspector."""
    query = inspector_query(tensor)
    if query:
        link("inspector", f"Open {tensor} in the tensor inspector →", **query)


blocky = navigator.has_blocks(df_a)
picked, new_pick = navigator.draw(df_a, label) if blocky else (None, False)  # hundreds of tensors: a navigator, not bars
if picked:
    open_link(picked)
    query = inspector_query(picked)
    if new_pick and query and st.session_state.get(navigator.JUMP_KEY, True):  # the click itself opens the inspector
        navigator.go_to(page_url("inspector", **query))
metric = None if blocky else st.segmented_control("Metric", ["sqnr_db", "psnr_db"], format_func={"sqnr_db": "SQNR", "psnr_db": "PSNR"}.get,
                              default="sqnr_db", key="lmetric", bind=QUERY) or "sqnr_db"
for kind in ("weight", "activation"):
    part_a, part_b = df_a[df_a["kind"] == kind], df_b[df_b["kind"] == kind]
    if part_a.empty or blocky:
        continue
    st.plotly_chart(
        layer_bars_figure(part_a, metric, other=part_b, names=(f"A: {name_a}", f"B: {name_b}"),
                          title=f"{kind.capitalize()}s · {metric.replace('_db', '').upper()} per layer"),
        key=f"bars_{kind}", width="stretch",
    )
if not blocky:
    st.caption("One pair of bars per layer: A (the sidebar's quantizer, blue; its worst layers red) beside B (orange). Higher is better; ∞ means the layer is exact.")

# An already-quantized checkpoint (GGUF, GPTQ, …) against the original it was quantized from.
if src in ("upload", "path") and (df_a["format"].astype(str) != "").any():
    q_key, q_source = (up.digest, up.source) if src == "upload" else (f"{path}:{version}", local_path.source(path, version))
    stored = df_a[df_a["format"].astype(str) != ""]
    st.info(f"{label} stores {len(stored)} tensors already quantized ({', '.join(sorted(set(stored['format'])))}), "
            f"{stored['bits_per_weight'].mean():.3g} bits per weight on average: see the format and bits_per_weight columns.")
    if st.toggle("Compare with the original", False, key="lcompare", bind=QUERY,
                 help="Upload the checkpoint it was quantized from: each tensor's shipped SQNR beside qviz's at the same bits and block size."):
        ref_up = st.file_uploader("Original checkpoint (e.g. the Hugging Face safetensors)", type=UPLOAD_TYPES, key="lref")
        if ref_up is None:
            st.info("Upload the original checkpoint to compare with.")
        else:
            try:
                ref_digest, ref_source = upload_source(ref_up)
                cmp = layers.compared(q_key, q_source, ref_digest, ref_source, method)
            except (qviz.SourceError, ValueError) as e:
                st.error(str(e))
            else:
                paired = cmp[cmp["paired"]]
                if paired.empty:
                    st.warning(f"No tensor of {label} pairs with one of {ref_up.name} (by name, or through the GGUF name map).")
                else:
                    st.plotly_chart(compare_figure(cmp, title=f"{label} against {ref_up.name} · SQNR per tensor"), key="compare_chart",
                                    width="stretch")
                    st.caption(f"Blue: what the shipped quantization kept of the original; orange: qviz's {method} calibration with the "
                               "same element bits and block size. clip/round split: a value is clipped when it lies beyond its block's "
                               "outer level by more than half the outer gap.")
                    table = cmp.drop(columns=["shape"]).copy()
                    st.dataframe(table, hide_index=True, width="stretch", key="compare_table")
                    unpaired = cmp[~cmp["paired"]]
                    if len(unpaired):
                        st.caption(f"{len(unpaired)} tensors unpaired (listed at the end of the table: only in one file, or shapes differ).")

st.subheader("Per-layer table")
f = st.columns([3, 1])
text = f[0].text_input("Filter by name", "", key="lfilter", bind=QUERY, placeholder="e.g. attention, fc1, weight")
kinds = f[1].multiselect("Kind", ["weight", "activation"], default=["weight", "activation"], key="lkinds")
view = df_a[df_a["kind"].isin(kinds)]
if text:
    view = view[view["name"].str.contains(text, case=False, regex=False)]
shown = view[[col for col in SHOWN if col in view.columns]].copy()
shown["shape"] = shown["shape"].astype(str)
st.dataframe(shown, hide_index=True, width="stretch", key="layer_table")
st.download_button("Download the table as CSV", df_a.to_csv(index=False).encode(), file_name=f"qviz-{label}-layers.csv",
                   mime="text/csv", key="csv")
st.caption("Click a column header to sort. clip_min/clip_max span all blocks; scale and zero_point are medians over blocks for per-channel specs.")

if model is not None or path is not None:
    weights = df_a[df_a["kind"] == "weight"]["name"].tolist()
    worst_w = worst_layers(df_a[df_a["kind"] == "weight"], "sqnr_db", 1)["name"].tolist()
    if new_pick and picked in weights:  # a click on the heatmap or a row of the worst-N table
        st.session_state["open_layer"] = picked
    elif st.session_state.get("open_layer") not in weights and weights:  # first view (or another model): the worst weight
        st.session_state["open_layer"] = worst_w[0] if worst_w else weights[0]
    pick = st.selectbox("Open a weight in the inspector", weights, key="open_layer")
    open_link(pick)

glossary()
