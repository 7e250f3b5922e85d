"""`qviz scan --workers/--no-cache/--progress` and `qviz cache clear|dir`."""

from __future__ import annotations

import numpy as np

from .conftest import assert_one_line_error, run


def _file(tmp_path):
    p = tmp_path / "w.npy"
    np.save(p, np.random.default_rng(0).normal(size=(40, 30)).astype(np.float32))
    return p


def test_workers_same_output_and_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    p = _file(tmp_path)
    rc1, one, _ = run(capsys, "scan", p, "--format", "csv", "--workers", "1", "--no-cache")
    rc2, two, err = run(capsys, "scan", p, "--format", "csv", "--workers", "2", "--progress")
    assert rc1 == rc2 == 0 and one == two
    assert "values/s" in err and "ETA" in err  # the progress line on stderr, never on stdout
    assert "ETA" not in two
    assert len(list((tmp_path / "xdg" / "qviz" / "scans").iterdir())) == 1  # --no-cache stored nothing
    rc, again, err = run(capsys, "scan", p, "--format", "csv", "--progress")
    assert rc == 0 and again == one and "from the cache" in err
    rc, out, _ = run(capsys, "cache", "dir")
    assert rc == 0 and out.strip() == str(tmp_path / "xdg" / "qviz")
    rc, out, _ = run(capsys, "cache", "clear")
    assert rc == 0 and out.startswith("removed 1 cached scan ")
    assert not list((tmp_path / "xdg" / "qviz" / "scans").iterdir())


def test_bad_workers_is_one_line(tmp_path, capsys):
    p = _file(tmp_path)
    for bad in ("0", "-2", "many"):
        rc, out, err = run(capsys, "scan", p, "--workers", bad)
        assert "positive number of threads" in assert_one_line_error(err, rc=rc) and out == ""
    rc, out, err = run(capsys, "cache", "wipe")
    assert_one_line_error(err, rc=rc)
