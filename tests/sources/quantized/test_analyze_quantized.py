"""``qviz.analyze`` and ``qviz scan`` on an already-quantized checkpoint: one row per logical weight, with format and bits per weight."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch
from conftest import WEIGHTS, write_checkpoint
from test_gptq import make_gptq

import qviz
from qviz.cli import main

Q, FC, _ = list(WEIGHTS)


@pytest.fixture(scope="module")
def gptq_folder(tmp_path_factory, minilm):
    tensors = {"norm.weight": minilm["norm"]}
    for module in (Q, FC):
        tensors.update({f"{module}.{k}": v for k, v in make_gptq(minilm[module], 4, 128).items()})
    folder = write_checkpoint(tmp_path_factory.mktemp("gptq"), tensors)
    (folder / "quantize_config.json").write_text(json.dumps({"bits": 4, "group_size": 128, "desc_act": False}))
    return folder


def test_analyze_rows_for_logical_weights(gptq_folder):
    df = qviz.analyze(gptq_folder, qviz.QuantSpec(bits=4, granularity=qviz.PerGroup(128)), "minmax").set_index("name")
    assert sorted(df.index) == sorted([f"{Q}.weight", f"{FC}.weight", "norm.weight"])
    q = df.loc[f"{Q}.weight"]
    assert q.format == "gptq" and q["dtype"] == "int4" and "quantized" in q["flags"] and q["numel"] == 384 * 384
    # 4-bit codes + fp16 scale and packed 4-bit zero per 128 values + int32 g_idx per input row
    assert q.bits_per_weight == pytest.approx(4 + (16 + 4) / 128 + 32 / 384)
    assert math.isfinite(q.sqnr_db) and q.note == ""
    x = qviz.open_source(gptq_folder).load(f"{Q}.weight")  # the analysis runs on the dequantized values
    assert q["max"] == pytest.approx(float(x.max())) and q["min"] == pytest.approx(float(x.min()))
    n = df.loc["norm.weight"]
    assert n.format == "" and math.isnan(n.bits_per_weight)


def test_scan_cli_table_and_csv(gptq_folder, tmp_path, capsys):
    out = tmp_path / "layers.csv"
    assert main(["scan", str(gptq_folder), "--bits", "4", "--format", "csv", "--out", str(out)]) == 0
    df = pd.read_csv(out).set_index("name")
    assert df.loc[f"{FC}.weight", "format"] == "gptq" and df.loc[f"{FC}.weight", "shape"] == "1536x384"
    assert main(["scan", str(gptq_folder), "--bits", "4"]) == 0
    table = capsys.readouterr().out
    assert "bits_per_weight" in table and "gptq" in table


def test_scan_cli_bad_checkpoint_is_one_line(tmp_path, minilm, capsys):
    parts = make_gptq(minilm[Q], 4, 128)
    parts["scales"] = parts["scales"][:, :100]
    write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in parts.items()})
    assert main(["scan", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("qviz: error: ") and "fits no GPTQ bit width" in err and "\n" not in err
