"""The inspector's view of an already-quantized tensor (GGUF, GPTQ, AWQ, …), cached by content.

Keyed by the decoded tensor's sha256 digest, the tensor's name and the chosen block; session-scoped,
so an upload's codes never reach another user.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from qviz.plots.quantized import code_occupancy_figure, decoded_histogram_figure, per_block_figure
from qviz.quantized_summary import PICKS, summarize
from ui.keys import QUERY

INDEX = "index"


@st.cache_data(show_spinner="Reading the stored codes…", max_entries=16, scope="session")
def summary(key: str, _source, name: str, block) -> dict:
    """:func:`qviz.quantized_summary.summarize` of ``_source.quantized(name)``."""
    return summarize(_source.quantized(name), block)


def block_choice(n_blocks: int):
    """The block picker: worst, widest, or an index (URL-bound)."""
    c = st.columns([1, 1, 2])
    how = c[0].selectbox("Block", [*PICKS, INDEX], key="qblock", bind=QUERY,
                         help="worst: most values on the grid's ends (saturated); widest: the widest level grid; index: any block")
    if how != INDEX:
        return how
    return int(c[1].number_input(f"Block index (0–{n_blocks - 1})", 0, max(0, n_blocks - 1), 0, key="qblock_index", bind=QUERY))


def show(picked, log_y: bool = False) -> None:
    """The stored quantization of ``picked`` (a tensor whose ``info.quantized`` is set)."""
    source, name, info = picked.source, picked.name, picked.info
    st.subheader(f"Stored quantization · {info.quantized}")
    try:
        first = summary(picked.key, source, name, "widest")
        which = block_choice(first["n_blocks"])
        s = first if which == "widest" else summary(picked.key, source, name, which)
    except ValueError as e:  # SourceError included: one line
        st.error(str(e))
        return
    c = st.columns(5)
    c[0].metric("bits per weight", f"{s['bits_per_weight']:.4g}", help="bytes on disk × 8 / values: codes, scales, mins and metadata")
    c[1].metric("element bits", f"{s['bits']:.4g}")
    c[2].metric("values per scale", f"{s['block_size']}")
    c[3].metric("blocks", f"{s['n_blocks']:,}")
    c[4].metric("saturated", f"{s['saturated_share']:.2%}", help="share of values on the codebook's lowest or highest code")
    b = s["block"]
    st.plotly_chart(decoded_histogram_figure(s["hist"], s["levels"], block=b, log_y=log_y,
                                             title=f"{name} · decoded values · levels of block {b} (scale {s['block_scale']:.4g})"),
                    key="qhist_chart", width="stretch")
    st.caption(f"Bars: every decoded value. Grey lines: the {len(s['levels'])} values block {b} of {s['n_blocks']:,} can output "
               "((codebook − zero point) · scale − min).")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(per_block_figure(s["per_block"], title="Per-block parameters"), key="qscales_chart", width="stretch")
        st.caption("How the scales (and mins or zero points, where the format stores them) spread across blocks.")
    with right:
        st.plotly_chart(code_occupancy_figure(s["code_counts"], s["codebook"], title="Code occupancy (all blocks)"),
                        key="qcodes_chart", width="stretch")
        st.caption("Values per code, summed over blocks; red: the lowest and highest codebook values (saturation).")
    notes = {k: v for k, v in s["meta"].items() if k not in ("ggml_shape",)}
    meta = getattr(source, "metadata", None)
    if meta:
        notes.update({f"file {k}": v for k, v in meta.items() if k != "tensor_types"})
        notes["file tensor types"] = ", ".join(f"{k} × {v}" for k, v in meta.get("tensor_types", {}).items())
    if notes:
        table = pd.DataFrame({"field": list(notes), "value": [str(v) for v in notes.values()]})
        st.dataframe(table, hide_index=True, width="stretch", key="qmeta_table")
