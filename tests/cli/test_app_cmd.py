"""``qviz app [PATH]``: the streamlit command line and environment it launches (patched, never started)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import qviz.cli_commands
from tests.cli.conftest import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def launched(monkeypatch):
    calls = []

    def fake_run(cmd, env=None, cwd=None, check=True):
        calls.append((cmd, env, cwd))
        return type("Done", (), {"returncode": 0})()

    monkeypatch.setattr(qviz.cli_commands.subprocess, "run", fake_run)
    return calls


def test_app_with_a_file(capsys, launched, good_files, monkeypatch):
    monkeypatch.chdir(good_files[".pt"].parent)
    rc, out, err = run(capsys, "app", "m.pt", "--port", "8599")
    assert (rc, out, err) == (0, "", "")
    ((cmd, env, cwd),) = launched
    assert cmd == [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", "8599"]
    assert env["QVIZ_OPEN"] == str(good_files[".pt"]) and os.path.isabs(env["QVIZ_OPEN"])
    assert cwd == str(ROOT)


def test_app_builtin_and_none(capsys, launched, monkeypatch):
    monkeypatch.setenv("QVIZ_OPEN", "stale")
    assert run(capsys, "app", "digits_cnn")[0] == 0
    assert launched[-1][1]["QVIZ_OPEN"] == "digits_cnn"
    assert run(capsys, "app")[0] == 0
    cmd, env, _ = launched[-1]
    assert cmd[-1].endswith("app.py") and env["QVIZ_OPEN"] == "stale"  # no PATH: the environment is passed on untouched


def test_app_outside_a_clone(tmp_path):
    args = type("A", (), {"port": None})()
    with pytest.raises(qviz.cli.UsageError, match="app.py is not next to the qviz package"):
        qviz.cli_commands.app_command(args, root=tmp_path)


def test_app_allows_local_paths_unless_narrowed(capsys, launched, monkeypatch, tmp_path):
    """``qviz app`` is local use: the Local path source reads anywhere, unless QVIZ_ALLOW_PATHS already narrows it."""
    monkeypatch.delenv("QVIZ_ALLOW_PATHS", raising=False)
    assert run(capsys, "app")[0] == 0
    assert launched[-1][1]["QVIZ_ALLOW_PATHS"] == os.path.abspath(os.sep)
    monkeypatch.setenv("QVIZ_ALLOW_PATHS", str(tmp_path))
    assert run(capsys, "app", "digits_cnn")[0] == 0
    assert launched[-1][1]["QVIZ_ALLOW_PATHS"] == str(tmp_path)
