"""Model impact: which layer causes the accuracy drop, and what to do about it."""

from __future__ import annotations

import json

import streamlit as st

from qviz.plots import errors_figure, pareto_figure, qat_figure, sensitivity_figure
from ui import activations, impact
from ui.glossary import glossary
from ui.spec_widgets import calibrator_control, spec_controls
from ui.local_path import opened_path
from ui.tensor_picker import model_select
from ui.keys import QUERY


WHAT = {"weights": "Weights", "activations": "Activations", "both": "Both"}

spec = spec_controls(granularity=True)
method, options = calibrator_control()
st.title("Model impact")
st.caption("From layer error to model error: the task metric under the sidebar's quantizer, which layers cost it, "
           "per-layer bit widths for a size budget, and how much quantization-aware training recovers.")
if spec is None:
    st.stop()
opts = tuple(sorted(options.items()))

c = st.columns([2, 3, 2])
isrc = c[0].segmented_control("Model", ["builtin", "yours"], format_func={"builtin": "Built-in", "yours": "Your model"}.get,
                              default="builtin", key="isrc", bind=QUERY,
                              help="Your model: an .onnx upload, or the file or Hugging Face folder `qviz app PATH` opened.") or "builtin"
what = c[2].segmented_control("Quantize", list(WHAT), format_func=WHAT.get, default="both", key="iwhat", bind=QUERY,
                              help="Each Linear/Conv layer's weights, its input activations, or both.") or "both"
if isrc == "yours":  # output fidelity to fp32 on calibration data (ui.activations)
    activations.user_impact(opened_path(), spec, what, method, opts)
    glossary()
    st.stop()
model = model_select("Built-in model", "imodel", c[1])
big = model == "minilm"

try:
    s = impact.summary(model, spec, what, method, opts)
except ValueError as e:
    st.error(str(e))
    st.stop()
m = st.columns(3)
m[0].metric(f"fp32 {s['metric']}", f"{s['fp32']:.4f}")
m[1].metric(f"quantized {s['metric']}", f"{s['quantized']:.4f}", f"{s['quantized'] - s['fp32']:+.4f}",
            help=f"Every one of the {s['layers']} Linear/Conv layers under {spec.describe()} ({what}).")
m[2].metric("quantizer", spec.describe())

st.subheader("Which layer? Sensitivity")
abo = st.toggle("Also quantize all but one layer", not big, key="iabo", bind=QUERY,
                help="One evaluation per layer more: how much keeping this layer in fp32 gives back.")


def _on_request(section: str, label: str, seconds: str, *args) -> bool:
    """The digits CNN computes at once; MiniLM's long sections only when asked (or already computed by anyone)."""
    return not big or impact.started((section, model, spec, what, method, opts, *args), label, seconds)


def _mixed_views(points, suggested, config) -> None:
    st.plotly_chart(pareto_figure(points, s["metric"], title="Model size against task metric"), key="pareto", width="stretch")
    st.caption("Each dot is a measured configuration; the star is the suggestion for the budget, the dotted line the Pareto frontier (smaller and better).")
    st.dataframe([{"layer": k, "bits": v, "weights": config["layers"][k]["params"]} for k, v in suggested.items()],
                 hide_index=True, key="bits_table")
    st.download_button("Download the per-layer configuration (JSON)", json.dumps(config, indent=1).encode(),
                       file_name=f"qviz-{model}-mixed-{budget:g}bits.json", mime="application/json", key="mixed_json")


if _on_request("sens", "the sensitivity ranking", "a minute", abo):
    sens = impact.sensitivity(model, spec, what, method, opts, abo)
    impact.finished(("sens", model, spec, what, method, opts, abo))
    st.plotly_chart(sensitivity_figure(sens, s["metric"], title=f"Sensitivity · {spec.describe()} · {what}"), key="sens", width="stretch")
    st.caption("Taller bars cost more: blue is the drop when only this layer is quantized, orange what keeping only this layer in fp32 recovers.")
    if "delta" in sens and (sens["delta"].abs() < 1e-9).all():
        st.info(f"At {spec.bits} bits no layer changes the {s['metric']}: every layer is safe. Lower the bits in the sidebar (e.g. 3) to see which layers matter.")
    st.dataframe(sens, hide_index=True, width="stretch", key="sens_table")

st.subheader("Isolated against accumulated error")
if _on_request("errors", "the per-layer output error", "20 s"):
    err = impact.errors(model, spec, what, method, opts)
    impact.finished(("errors", model, spec, what, method, opts))
    st.plotly_chart(errors_figure(err, title="Output SQNR per layer"), key="errors", width="stretch")
    st.caption("Blue is the layer's own error (fp32 input); red adds everything quantized before it: a widening gap means error piles up along the network.")

st.subheader("Mixed precision")
bits = (8, 4) if big else (8, 6, 4, 3, 2)
budget = st.slider("Budget: average bits per weight", float(min(bits)), 8.0, 4.0, 0.25, key="budget", bind=QUERY,
                   help="Greedy: lower first the bits of the layers whose metric drops least per bit saved.")
if _on_request("mixed", "the mixed-precision sweep", "a minute", bits, float(budget)):
    points, suggested, config = impact.mixed(model, spec, what, method, opts, bits, float(budget))
    impact.finished(("mixed", model, spec, what, method, opts, bits, float(budget)))
    _mixed_views(points, suggested, config)

if model == "digits_cnn":
    st.subheader("PTQ against QAT")
    if st.toggle("Fine-tune with fake quantization (QAT, about 10 s)", False, key="iqat", bind=QUERY):
        df = impact.qat(spec, what, method, opts, (4, 3, 2))
        st.plotly_chart(qat_figure(df, title=f"PTQ against QAT · {spec.describe()} at 4, 3, 2 bits · {what}"), key="qat", width="stretch")
        st.caption("QAT fine-tunes 3 epochs with the straight-through estimator ŵ = w + (fq(w) − w).detach(); the gap between the bars is what it recovers.")
        st.dataframe(df, hide_index=True, key="qat_table")
    else:
        st.caption("Turn on to fine-tune the digits CNN at 4, 3 and 2 bits with the sidebar's quantizer "
                   "(asymmetric ranges suit the ReLU activations) and compare with plain post-training quantization.")
else:
    st.subheader("int8 per-tensor, int8 per-channel, int4")
    if _on_request("cosines", "the four MiniLM settings", "20 s"):
        cos = impact.minilm_cosines(method, opts)
        impact.finished(("cosines", model, spec, what, method, opts))
        st.dataframe(cos.rename(columns={"label": "weights (every Linear)", "metric": "cosine to fp32", "delta": "change"}),
                     hide_index=True, key="minilm_table")
        st.caption("Mean cosine of 16 held-out sentence embeddings to the fp32 model's, with every Linear weight quantized.")

glossary()
