"""Real processes: ``python -m qviz`` exit codes, clean stdout, one-line errors and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def qviz(*argv, **env):
    return subprocess.run([sys.executable, "-m", "qviz", *map(str, argv)], capture_output=True, text=True, cwd=ROOT, check=False,
                          env={**os.environ, **env}, timeout=120)


def qviz_names():
    import qviz as q

    return q.sample_names()


def test_scan_json_stdout_is_clean(tmp_path):
    p = qviz("scan", "samples", "--format", "json", "--progress", "--bits", "4")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["name"] for r in rows] == qviz_names()
    assert "] 1/" in p.stderr and "Traceback" not in p.stderr  # the progress line (text mode turns its \r into \n)


def test_bad_file_exit_2_one_line(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"\x80\x02garbage")
    p = qviz("export", tmp_path / "model.pt", "--out", tmp_path / "p.json")
    assert p.returncode == 2 and p.stdout == ""
    assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith("qviz: error: model.pt: ")
    p = qviz("scan", "samples", "--bits", "0")
    assert p.returncode == 2 and p.stderr == "qviz: error: bits must be an integer from 1 to 16, got 0\n"
