"""``qviz sensitivity``: the ranking as JSON, a readable table, one-line errors."""

from __future__ import annotations

import json

from tests.cli.conftest import assert_one_line_error, run


def test_json_ranking(capsys):
    rc, out, err = run(capsys, "sensitivity", "digits_cnn", "--bits", "3", "--what", "both", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["metric"] == "accuracy"
    assert doc["fp32"] > 0.97 and doc["quantized"] < doc["fp32"]
    layers = [r["layer"] for r in doc["ranking"]]
    assert sorted(layers) == ["conv1", "conv2", "fc1", "fc2"]
    deltas = [r["delta"] for r in doc["ranking"]]
    assert deltas == sorted(deltas, reverse=True)


def test_table(capsys, tmp_path):
    out_file = tmp_path / "s.txt"
    rc, _, err = run(capsys, "sensitivity", "digits_cnn", "--bits", "2", "--one-at-a-time", "--out", out_file)
    assert rc == 0, err
    text = out_file.read_text()
    assert "most sensitive first" in text and "fc1" in text


def test_bad_input(capsys):
    for argv in (("sensitivity", "resnet"), ("sensitivity", "samples"), ("sensitivity", "digits_cnn", "--bits", "0"),
                 ("sensitivity", "digits_cnn", "--what", "grads"), ("sensitivity", "digits_cnn", "--calibrator", "nope")):
        rc, _, err = run(capsys, *argv)
        assert_one_line_error(err, rc=rc)
