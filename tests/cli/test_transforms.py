"""``qviz transforms``: per α and per block size the output SQNR, as JSON and as a table; one-line errors."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import assert_one_line_error, run

LAYER = "encoder.layer.0.attention.self.query"


def test_minilm_json(capsys):
    rc, out, err = run(capsys, "transforms", "minilm", "--layer", LAYER, "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["x_shape"] == [385, 384] and doc["w_shape"] == [384, 384]
    for label in ("W8A8", "spec"):
        r = doc["results"][label]
        alphas = [p["alpha"] for p in r["alpha"]]
        assert alphas[0] == 0 and alphas[-1] == 1 and len(alphas) == 21
        best = max(r["alpha"], key=lambda p: p["sqnr_db"])
        assert r["best_alpha"] == best["alpha"]
        assert {(p["block"], p["signs"]) for p in r["block"]} == {(b, s) for b in (16, 32, 64, 128) for s in ("+1", "random")}
    w8 = doc["results"]["W8A8"]
    assert "per-channel (axis 0)" in w8["w_spec"] and w8["x_spec"].startswith("int8")
    # on MiniLM's first query projection both transforms help at W8A8 (measured: +2.2 dB and +4.3 dB)
    assert max(p["sqnr_db"] for p in w8["alpha"]) > w8["none_sqnr_db"] + 1.5
    assert max(p["sqnr_db"] for p in w8["block"]) > w8["none_sqnr_db"] + 3


def test_table(capsys, tmp_path):
    out_file = tmp_path / "t.txt"
    rc, _, err = run(capsys, "transforms", "minilm", "--layer", LAYER, "--bits", "4", "--x-granularity", "per-tensor",
                     "--seed", "3", "--out", out_file)
    assert rc == 0, err
    text = out_file.read_text()
    assert "← best" in text and "Hadamard block 128  random" in text and "int4 symmetric midtread per-tensor" in text


@pytest.mark.parametrize("argv,msg", [
    (["transforms", "minilm", "--layer", "nope"], "no Linear layer 'nope'"),
    (["transforms", "model.pt", "--layer", "x"], "needs a model with captured activations"),
    (["transforms", "minilm", "--layer", LAYER, "--x-granularity", "per-group 100"], "group_size 100 does not divide"),
    (["transforms", "minilm", "--layer", LAYER, "--x-granularity", "per-row"], "unknown activation granularity"),
    (["transforms", "minilm", "--layer", LAYER, "--calibrator", "entropy"], "min-max ranges"),
    (["transforms", "minilm"], "--layer"),
])
def test_bad_input(capsys, argv, msg):
    rc, _, err = run(capsys, *argv)
    assert msg in assert_one_line_error(err, rc=rc)
