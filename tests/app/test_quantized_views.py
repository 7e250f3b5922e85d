"""Already-quantized checkpoints in the app: the inspector's stored-quantization view of a GGUF tensor, and the
Model layers page's format / bits_per_weight columns and "Compare with the original" (AppTest, widgets by key)."""

from __future__ import annotations

import gguf
import numpy as np
import pytest
from gguf_testutil import minilm, write_gguf
from safetensors.numpy import save_file
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, figure_sizes, figures, metric

Q = "encoder.layer.0.attention.self.query.weight"
K = "encoder.layer.0.attention.self.key.weight"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("qviews")
    w = minilm([Q, K])
    q, k = w[Q][:64], w[K][:32]
    path = write_gguf(d / "mini-q.gguf", {"blk.0.attn_q.weight": (q, "Q4_1"), "blk.0.attn_k.weight": (k, "Q8_0")}, block_count=6)
    ref = d / "mini.safetensors"
    save_file({Q: q, K: k}, str(ref))
    return path, str(ref)


def test_inspector_shows_the_stored_quantization(files, monkeypatch):
    path, _ = files
    monkeypatch.setenv("QVIZ_OPEN", path)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/inspector.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="tensor").set_value("blk.0.attn_q.weight").run()
    assert not at.exception, at.exception
    assert any(h.value.startswith("Stored quantization · gguf:Q4_1") for h in at.subheader)
    assert metric(at, "bits per weight") == "5" and metric(at, "values per scale") == "32"
    names = [t.get("name") for f in figures(at) for t in f["data"]]
    assert "decoded values" in names and "scale per block" in names and "min per block" in names and "values per code" in names
    codes = next(f for f in figures(at) if f["data"][0].get("name") == "values per code")
    assert len(codes["data"][0]["x"]) == 16 or "bdata" in codes["data"][0]["x"]
    meta = next(d.value for d in at.dataframe if "field" in d.value.columns)
    assert "file architecture" in list(meta["field"]) and "bert" in list(meta["value"])
    # the block picker: worst, widest, or by index, each drawing that block's levels
    at.selectbox(key="qblock").set_value("index").run()
    at.number_input(key="qblock_index").set_value(3).run()
    assert not at.exception, at.exception
    hist = next(f for f in figures(at) if f["data"][0].get("name") == "decoded values")
    assert "levels of block 3" in hist["layout"]["title"]["text"]
    at.selectbox(key="qblock").set_value("worst").run()
    assert not at.exception, at.exception
    assert max(figure_sizes(at)) < 300_000


def _uploads(mapping):
    from streamlit.proto.Common_pb2 import FileURLs as FileURLsProto
    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

    def fake(*a, key=None, **k):
        if key not in mapping:
            return None
        name, data = mapping[key]
        rec = UploadedFileRec(file_id=key, name=name, type="application/octet-stream", data=data)
        return UploadedFile(rec, FileURLsProto(file_id=key, upload_url="", delete_url=""))

    return fake


def test_layers_page_format_columns_and_compare(files, monkeypatch):
    import streamlit as st

    path, ref = files
    monkeypatch.setattr(st, "file_uploader", _uploads({"lupload": ("mini-q.gguf", open(path, "rb").read()),
                                                        "lref": ("mini.safetensors", open(ref, "rb").read())}))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/layers.py").run()
    at.segmented_control(key="lsrc").set_value("upload").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value.set_index("name")
    assert table.loc["blk.0.attn_q.weight", "format"] == "gguf:Q4_1" and table.loc["blk.0.attn_q.weight", "bits_per_weight"] == 5.0
    assert table.loc["blk.0.attn_k.weight", "bits_per_weight"] == 8.5
    at.toggle(key="lcompare").set_value(True).run()
    assert not at.exception, at.exception
    chart = next(f for f in figures(at) if f["data"][0].get("name") == "shipped")
    assert [t["name"] for t in chart["data"]] == ["shipped", "qviz at the same bits"]
    cmp = next(d.value for d in at.dataframe if "qviz_sqnr_db" in d.value.columns).set_index("name")
    assert cmp.loc["blk.0.attn_k.weight", "reference_name"] == K and cmp.loc["blk.0.attn_k.weight", "sqnr_db"] > 40
    assert np.isfinite(cmp.loc["blk.0.attn_q.weight", "qviz_sqnr_db"])
