"""Bad input and bad arguments: exit status 2 and one line ``qviz: error: …`` on stderr, never a traceback."""

from __future__ import annotations

import sys

import pytest

import qviz.cli_commands
from tests.cli.conftest import assert_one_line_error, bad_files, run

COMMANDS = {
    "scan": [],
    "calibrate": ["--tensor", "w"],
    "report": ["--out", "{tmp}/r.html"],
    "export": ["--out", "{tmp}/p.json"],
    "app": [],
}


@pytest.fixture
def no_launch(monkeypatch):
    calls = []
    monkeypatch.setattr(qviz.cli_commands.subprocess, "run", lambda *a, **k: calls.append((a, k)))
    return calls


def test_every_bad_file_with_every_command(tmp_path, capsys, no_launch):
    cases = bad_files(tmp_path)
    assert len(cases) >= 25
    for case, path in cases.items():
        for cmd, extra in COMMANDS.items():
            rc, out, err = run(capsys, cmd, path, *[e.format(tmp=tmp_path) for e in extra])
            line = assert_one_line_error(err, 2, rc)
            assert out == "", (case, cmd, out)
            name = getattr(path, "name", "resnet")
            assert name in line, (case, cmd, line)
    assert not no_launch  # the dashboard never started for a bad file
    assert not (tmp_path / "PWNED").exists()  # no pickle ran
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "p.json").exists()


@pytest.mark.parametrize("argv, match", [
    ([], "give a command"),
    (["frob"], "invalid choice: 'frob'"),
    (["scan"], "required: PATH"),
    (["scan", "samples", "--bits", "0"], "bits must be an integer from 1 to 16"),
    (["scan", "samples", "--bits", "eight"], "invalid int value: 'eight'"),
    (["scan", "samples", "--calibrator", "kl"], "invalid choice 'kl'"),
    (["scan", "samples", "--calibrator", "all"], "invalid choice 'all'"),
    (["scan", "samples", "--symmetric", "--asymmetric"], "not allowed with argument"),
    (["scan", "samples", "--percentile", "99"], "--percentile needs --calibrator percentile"),
    (["scan", "samples", "--calibrator", "percentile", "--percentile", "120"], "must be in"),
    (["scan", "samples", "--group-size", "32"], "need --granularity channel or group"),
    (["scan", "samples", "--granularity", "group", "--group-size", "0"], "group_size must be a positive int"),
    (["scan", "samples", "--granularity", "block"], "invalid choice: 'block'"),
    (["scan", "samples", "--narrow-range", "--bits", "1"], "narrow_range"),
    (["scan", "samples", "--midrise", "--narrow-range"], "mid-rise"),
    (["scan", "samples", "--format", "xml"], "invalid choice: 'xml'"),
    (["scan", "samples", "--out", "/no/such/dir/x.csv"], "No such file or directory"),
    (["calibrate", "digits_cnn"], "holds 8 tensors: choose one with --tensor"),
    (["calibrate", "digits_cnn", "--tensor", "fc9.weight"], "has no tensor named 'fc9.weight'"),
    (["report", "samples"], "required: --out"),
    (["report", "samples", "--out", "r.html", "--worst", "0"], "--worst must be at least 1"),
    (["export", "samples"], "required: --out"),
    (["app", "samples", "--port", "x"], "invalid int value"),
])
def test_bad_arguments(capsys, argv, match):
    rc, out, err = run(capsys, *argv)
    assert match in assert_one_line_error(err, 2, rc)
    assert out == ""


def test_all_nan_tensor(tmp_path, capsys):
    import numpy as np

    np.save(tmp_path / "nan.npy", np.full(5, np.nan, np.float32))
    rc, _, err = run(capsys, "calibrate", tmp_path / "nan.npy")
    assert "nan.npy: tensor 'nan': every value seen is NaN" in assert_one_line_error(err, 2, rc)
    rc, _, err = run(capsys, "export", tmp_path / "nan.npy", "--out", tmp_path / "p.json")
    assert "no tensor could be quantized" in assert_one_line_error(err, 2, rc)
    rc, out, _ = run(capsys, "scan", tmp_path / "nan.npy")  # a table that says so, not an error
    assert rc == 0 and "no finite values" in out


def test_unexpected_error_is_one_line_exit_1(capsys, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(sys.modules["qviz.cli_commands"], "analyze", boom)  # imported at the top of cli_commands
    rc, out, err = run(capsys, "scan", "samples")
    assert rc == 1 and out == "" and "Traceback" not in err
    assert err.splitlines() == ["qviz: internal error: RuntimeError: something broke (re-run with QVIZ_DEBUG=1 to see the traceback)"]
    monkeypatch.setenv("QVIZ_DEBUG", "1")
    with pytest.raises(RuntimeError):
        run(capsys, "scan", "samples")


@pytest.mark.parametrize("cmd", ["", "scan", "calibrate", "report", "export", "app"])
def test_help_has_an_example(capsys, cmd):
    rc, out, err = run(capsys, *([cmd] if cmd else []), "--help")
    assert rc == 0 and err == ""
    assert ("example" in out.lower()) and "usage: qviz" in out
