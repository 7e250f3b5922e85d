"""mypy passes on qviz/ with the project's config ([tool.mypy] in pyproject.toml): run as `python -m mypy`."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_passes_on_qviz():
    r = _mypy()  # files = ["qviz"] and the rest of the settings come from pyproject.toml
    assert r.returncode == 0, f"python -m mypy found problems in qviz/:\n{r.stdout}{r.stderr}"
    assert "no issues found" in r.stdout


def test_the_config_is_a_real_check(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x: int) -> str:\n    return x\n")
    r = _mypy("--config-file", os.path.join(ROOT, "pyproject.toml"), "--cache-dir", str(tmp_path / "cache"), str(bad))
    assert r.returncode == 1 and 'Incompatible return value type (got "int", expected "str")' in r.stdout, r.stdout + r.stderr
