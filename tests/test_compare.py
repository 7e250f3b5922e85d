"""qviz.compare: a GGUF written by gguf-py from MiniLM against MiniLM's safetensors (names through gguf's
map, transposes, unpaired listed), shipped metrics against qviz.error_metrics, and the CLI."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest
from gguf_testutil import minilm, minilm_path, write_gguf
from safetensors.numpy import save_file

import qviz
from qviz.compare import compare, matching_spec, shipped_metrics
from qviz.quantized import QuantizedTensor

TMAP = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, 6)
FULL = {  # whole MiniLM tensors (pair with the real checkpoint), small enough for a fast test
    "encoder.layer.0.attention.self.query.weight": "Q4_0",
    "encoder.layer.1.attention.self.value.weight": "Q8_0",
    "encoder.layer.2.attention.output.dense.weight": "MXFP4",
    "embeddings.token_type_embeddings.weight": "Q5_1",
    "encoder.layer.0.attention.self.query.bias": None,
}


def gname(hf: str) -> str:
    return TMAP.get_name(hf, try_suffixes=(".weight", ".bias"))


@pytest.fixture(scope="module")
def minilm_gguf(tmp_path_factory):
    w = minilm(list(FULL))
    t = {gname(n): (w[n] if ty is None else (w[n], ty)) for n, ty in FULL.items()}
    t["blk.9.extra.weight"] = np.ones((2, 32), np.float32)  # not in the reference
    return write_gguf(tmp_path_factory.mktemp("cmp") / "minilm-mixed.gguf", t, block_count=6)


@pytest.fixture(scope="module")
def small_pair(tmp_path_factory):
    """Slices of MiniLM: a GGUF (GGUF names) and a safetensors reference (HF names), one stored transposed."""
    d = tmp_path_factory.mktemp("small")
    w = minilm(["encoder.layer.3.intermediate.dense.weight", "encoder.layer.3.attention.self.key.weight"])
    up = w["encoder.layer.3.intermediate.dense.weight"][:8]  # (8, 384)
    key = w["encoder.layer.3.attention.self.key.weight"][:32, :64]  # (32, 64)
    q = write_gguf(d / "q.gguf", {"blk.3.ffn_up.weight": (up, "Q4_1"), "blk.3.attn_k.weight": (key, "Q4_0")}, block_count=6)
    ref = d / "ref.safetensors"
    save_file({"encoder.layer.3.intermediate.dense.weight": up, "encoder.layer.3.attention.self.key.weight": np.ascontiguousarray(key.T),
               "encoder.layer.3.output.dense.weight": np.zeros((4, 4), np.float32)}, str(ref))
    return q, str(ref), up, key


def test_minilm_gguf_against_minilm_safetensors(minilm_gguf):
    df = compare(minilm_gguf, minilm_path(), method="minmax")
    paired = df[df["paired"]].set_index("reference_name")
    assert set(paired.index) == set(FULL)
    src, ref = qviz.open_source(minilm_gguf), qviz.open_source(minilm_path())
    for hf, ty in FULL.items():
        row = paired.loc[hf]
        assert row["name"] == gname(hf)
        x, x_hat = ref.load(hf), src.load(gname(hf))
        m = qviz.error_metrics(x, x_hat)
        assert row["sqnr_db"] == pytest.approx(m.sqnr_db, rel=1e-12) or (np.isinf(m.sqnr_db) and np.isinf(row["sqnr_db"]))
        assert row["mse"] == pytest.approx(m.mse, rel=1e-12, abs=0)
        assert row["clip_mse"] + row["round_mse"] == pytest.approx(row["mse"], rel=1e-9, abs=1e-30)
        if ty is None:
            assert row["format"] == "float32" and row["sqnr_db"] == np.inf and np.isnan(row["qviz_sqnr_db"])
            continue
        bs, ts = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[ty]]
        assert row["format"] == f"gguf:{ty}" and row["bits_per_weight"] == ts * 8 / bs
        qt = src.quantized(gname(hf))
        spec = matching_spec(qt)
        assert row["qviz_spec"] == spec.describe() and spec.granularity.group_size == qt.block_size
        qp = qviz.calibrate(x, spec, "minmax").qparams
        assert row["qviz_sqnr_db"] == pytest.approx(qviz.error_metrics(x, qviz.fake_quantize(x, qp), qp).sqnr_db, rel=1e-9)
    # Q8_0 keeps ~45 dB, 4-bit types ~20 dB: the numbers are the real ones
    assert paired.loc["encoder.layer.1.attention.self.value.weight", "sqnr_db"] > 40
    assert 15 < paired.loc["encoder.layer.0.attention.self.query.weight", "sqnr_db"] < 25
    unpaired = dict(df.attrs["unpaired"])
    assert unpaired["blk.9.extra.weight"] == "only in the quantized file"
    assert unpaired["encoder.layer.5.output.dense.weight"] == "only in the reference"
    assert len(df) == len(paired) + len(unpaired)


def test_transpose_and_mse_calibrator(small_pair):
    q, ref, up, key = small_pair
    df = compare(q, ref)  # default method: mse
    rows = df.set_index("name")
    k = rows.loc["blk.3.attn_k.weight"]
    assert k["paired"] and k["reference_name"] == "encoder.layer.3.attention.self.key.weight" and "transposed" in k["note"]
    x = key
    spec = qviz.QuantSpec(bits=4, granularity=qviz.PerGroup(32))
    qp = qviz.calibrate(x, spec, "mse", num_bins=256).qparams
    assert k["qviz_sqnr_db"] == pytest.approx(qviz.error_metrics(x, qviz.fake_quantize(x, qp), qp).sqnr_db, rel=1e-9)
    # same bits and blocks, within a few dB (Q4_0's sign trick, d = max/−8, gives it the 16th level)
    assert abs(k["qviz_sqnr_db"] - k["sqnr_db"]) < 3
    u = rows.loc["blk.3.ffn_up.weight"]
    assert u["qviz_spec"].startswith("int4 asymmetric")  # Q4_1 stores mins
    assert ("encoder.layer.3.output.dense.weight", "only in the reference") in df.attrs["unpaired"]


def test_clip_split_matches_qviz_on_a_uniform_grid():
    """On a uniform grid, compare's clipping (beyond the extended outer level) is qviz's (the clamp changed the code)."""
    rng = np.random.default_rng(3)
    x = rng.standard_t(3, size=(16, 64)).astype(np.float32)
    spec = qviz.QuantSpec(bits=4, granularity=qviz.PerGroup(32))
    qp = qviz.choose_qparams(np.full(32, -1.5, np.float32).reshape(16, 2), np.full(32, 1.5, np.float32).reshape(16, 2), spec)
    codes = qviz.quantize(x, qp) - spec.qmin
    qt = QuantizedTensor(name="x", format="demo", shape=x.shape, bits=4, block_size=32, codes=codes.reshape(-1, 32),
                         scales=np.asarray(qp.scale, np.float32).reshape(-1), codebook=np.arange(16, dtype=np.float32) + spec.qmin)
    np.testing.assert_array_equal(qt.dequantize(), qviz.fake_quantize(x, qp))
    ours = shipped_metrics(qt, x)
    ref = qviz.error_metrics(x, qviz.fake_quantize(x, qp), qp)
    assert ref.clip_mse > 0
    assert ours["clip_mse"] == pytest.approx(ref.clip_mse, rel=1e-9)
    assert ours["round_mse"] == pytest.approx(ref.round_mse, rel=1e-9)


def test_cli_compare(small_pair, tmp_path, capsys):
    from qviz.cli import main

    q, ref, _, _ = small_pair
    out = tmp_path / "c.json"
    assert main(["compare", q, ref, "--method", "minmax", "--format", "json", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["method"] == "minmax" and len([r for r in data["rows"] if r["paired"]]) == 2
    assert main(["compare", q, ref, "--method", "minmax"]) == 0
    text = capsys.readouterr().out
    assert "blk.3.ffn_up.weight" in text and "only in the reference" in text
    assert main(["compare", q, ref, "--method", "nope"]) == 2
    assert main(["compare", q, q.replace("q.gguf", "missing.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and all(line.startswith("qviz: error:") for line in err.splitlines())


def test_llama_rope_permutation_is_undone(tmp_path):
    """llama.cpp's converter permutes Q/K rows for RoPE (LlamaModel.permute); compare permutes the reference alike."""
    from qviz.compare import rope_permute

    rng = np.random.default_rng(5)
    q = rng.standard_normal((64, 32)).astype(np.float32)  # 4 heads of 16 rows
    k = rng.standard_normal((32, 32)).astype(np.float32)  # 2 KV heads
    v = rng.standard_normal((32, 32)).astype(np.float32)

    def llama_permute(w, n_head, n_head_kv):  # convert_hf_to_gguf.py, LlamaModel.permute (numpy)
        if n_head_kv is not None and n_head != n_head_kv:
            n_head = n_head_kv
        return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    w = gguf.GGUFWriter(str(tmp_path / "l.gguf"), "llama")
    w.add_block_count(1)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    for name, x in (("blk.0.attn_q.weight", llama_permute(q, 4, 4)), ("blk.0.attn_k.weight", llama_permute(k, 4, 2)),
                    ("blk.0.attn_v.weight", v)):
        w.add_tensor(name, gguf.quants.quantize(x, gguf.GGMLQuantizationType.Q8_0), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    ref = tmp_path / "ref.safetensors"
    save_file({"model.layers.0.self_attn.q_proj.weight": q, "model.layers.0.self_attn.k_proj.weight": k,
               "model.layers.0.self_attn.v_proj.weight": v}, str(ref))
    df = compare(str(tmp_path / "l.gguf"), str(ref), method="minmax").set_index("name")
    assert df["paired"].all() and (df["sqnr_db"] > 35).all()
    assert "permuted for RoPE" in df.loc["blk.0.attn_q.weight", "note"] and "permuted" in df.loc["blk.0.attn_k.weight", "note"]
    assert df.loc["blk.0.attn_v.weight", "note"] == ""
    np.testing.assert_array_equal(rope_permute(q, 4), llama_permute(q, 4, 4))
