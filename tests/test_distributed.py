"""qviz.distributed on a real LocalCluster (two single-threaded worker processes, one per module).

The DataFrame of the scan on the cluster must be the single-process one to the bit (every
calibrator, chunked tensors, NaN rows, built-ins with activations), through the Python API and
through ``qviz scan --scheduler`` (pointed at this cluster's address).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

import qviz
from qviz import distributed as qd
from qviz.cli import main

import distributed  # noqa: E402  (a test dependency: requirements-test.txt)

RNG = np.random.default_rng(11)
CHUNK = 600


@pytest.fixture(scope="module")
def cluster():
    with qd.fast_malloc(), distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    ) as lc, distributed.Client(lc, set_as_default=False) as client:
        yield client


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    big = RNG.standard_t(3, size=(40, 48)).astype(np.float32)  # 1920 values: chunked at 600
    big[2, 2], big[30, 1] = np.nan, np.inf
    nanrows = RNG.normal(size=(32, 24)).astype(np.float32)
    nanrows[:25] = np.nan  # chunks with no finite value at all
    t = {
        "layer.0.weight": torch.from_numpy(big),
        "layer.0.bias": torch.from_numpy(RNG.normal(size=(48,)).astype(np.float32)),
        "layer.1.weight": torch.from_numpy(RNG.laplace(size=(16, 48)).astype(np.float32)).bfloat16(),
        "nanrows": torch.from_numpy(nanrows),
        "allnan": torch.full((4, 4), float("nan")),
        "ids": torch.arange(700),
        "empty": torch.zeros(0, 8),
        "scalar": torch.tensor(1.5),
    }
    p = tmp_path_factory.mktemp("dist") / "model.safetensors"
    save_file(t, p)
    return p


@pytest.mark.parametrize("method", qviz.CALIBRATORS)
def test_same_dataframe_for_every_calibrator(cluster, ckpt, method):
    for gran in (qviz.PerTensor(), qviz.PerChannel(0)):
        spec = qviz.QuantSpec(bits=4, granularity=gran)
        local = qviz.analyze(ckpt, spec, method, chunk_numel=CHUNK)
        remote = qviz.analyze(str(ckpt), spec, method, chunk_numel=CHUNK, scheduler=cluster)
        pd.testing.assert_frame_equal(remote, local, check_exact=True)
    assert remote.set_index("name").loc["nanrows", "nonfinite"] == 25 * 24


def test_builtin_with_activations_opens_by_name_on_the_workers(cluster):
    spec = qviz.QuantSpec(granularity=qviz.PerChannel(0))
    local = qviz.analyze("digits_cnn", spec, "minmax")
    remote = qviz.analyze("digits_cnn", spec, "minmax", scheduler=cluster)
    assert (remote["kind"] == "activation").sum() > 0
    pd.testing.assert_frame_equal(remote, local, check_exact=True)


def test_progress_counts_every_tensor_in_order_and_rate(cluster, ckpt):
    seen = []
    df = qviz.analyze(ckpt, qviz.QuantSpec(), "minmax", chunk_numel=CHUNK, scheduler=cluster,
                      progress=lambda d, t, text: seen.append((d, t, text)))
    assert [d for d, _, _ in seen] == list(range(1, len(df) + 1))
    assert all(t == len(df) for _, t, _ in seen) and all("values/s" in text for *_, text in seen)


def test_cli_scan_with_the_cluster_address_is_the_plain_scan(cluster, ckpt, capsys, tmp_path):
    address = cluster.scheduler.address
    assert main(["scan", str(ckpt), "--format", "csv", "--granularity", "channel", "--calibrator", "mse"]) == 0
    plain = capsys.readouterr().out
    rc = main(["scan", str(ckpt), "--format", "csv", "--granularity", "channel", "--calibrator", "mse",
               "--scheduler", address, "--progress"])
    out, err = capsys.readouterr()
    assert rc == 0 and out == plain
    assert f"scheduler {address}: 2 workers" in err
    assert "tasks done in" in err and "M values/s" in err and "8/8" in err


def test_a_tensor_that_raises_gets_its_row_with_a_note(cluster, ckpt):
    def sabotage():
        an = sys.modules["qviz.analyze"]

        real = an.weight_row

        def weight_row(source, name, *a):
            if name == "layer.0.bias":
                raise RuntimeError("simulated failure\nsecond line")
            return real(source, name, *a)

        an.weight_row = weight_row
        an._real_weight_row = real

    def restore():
        an = sys.modules["qviz.analyze"]

        an.weight_row = an._real_weight_row

    cluster.run(sabotage)
    try:
        df = qviz.analyze(ckpt, qviz.QuantSpec(), "minmax", scheduler=cluster).set_index("name")
    finally:
        cluster.run(restore)
    note = df.loc["layer.0.bias", "note"]
    assert note == ("model.safetensors: tensor 'layer.0.bias' failed on its worker "
                    "(RuntimeError: simulated failure second line)")
    assert df.loc["layer.0.bias", "shape"] == (48,) and np.isnan(df.loc["layer.0.bias", "sqnr_db"])
    assert df.loc["layer.1.weight", "note"] == "" and np.isfinite(df.loc["layer.1.weight", "sqnr_db"])


def test_bytes_and_opened_sources_are_refused_in_one_line(cluster, ckpt):
    with pytest.raises(qd.ClusterError, match="upload's bytes cannot be scanned on a cluster"):
        qviz.analyze(ckpt.read_bytes(), qviz.QuantSpec(), scheduler=cluster)
    with pytest.raises(qd.ClusterError, match="pass the path"):
        qviz.analyze(qviz.open_source(ckpt), qviz.QuantSpec(), scheduler=cluster)


def test_a_path_the_workers_cannot_open_is_one_line(cluster, tmp_path, capsys):
    rc = main(["scan", str(tmp_path / "missing.safetensors"), "--scheduler", cluster.scheduler.address])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("qviz: error: missing.safetensors:") and "Traceback" not in "".join(err)


def test_sweep_on_the_cluster_equals_the_local_sweep(cluster, ckpt):
    args = dict(bits=(3, 8), granularity=("tensor", "group"), calibrator=("minmax", "mse"), group_size=16, chunk_numel=CHUNK)
    local = qviz.sweep(ckpt, **args)
    remote = qviz.sweep(str(ckpt), scheduler=cluster, **args)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)


def test_unreachable_scheduler_is_exit_2_within_the_timeout(capsys, monkeypatch):
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(qd, "CONNECT_TIMEOUT", 2.0)
    t0 = time.perf_counter()
    rc = main(["scan", "samples", "--scheduler", f"tcp://127.0.0.1:{port}"])
    took = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert rc == 2 and took < 15, took
    line = err.strip().splitlines()
    assert len(line) == 1 and line[0].startswith(f"qviz: error: no Dask scheduler answered at tcp://127.0.0.1:{port} within 2 s")


@pytest.mark.parametrize("bad", ["local:0", "tcp://", "http://x:1", "a b"])
def test_bad_scheduler_values(bad, capsys):
    assert main(["scan", "samples", "--scheduler", bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qviz: error: --scheduler") and len(err.strip().splitlines()) == 1


def test_without_dask_qviz_imports_and_the_cluster_path_says_what_to_install():
    """Dask made unimportable (as if not installed): plain qviz works; --scheduler is one line naming the install."""
    import subprocess

    code = ("import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
            "import qviz, qviz.cli, qviz.distributed, qviz.sweep, qviz.chunk_tasks\n"
            "df = qviz.analyze('samples', qviz.QuantSpec())\n"
            "try:\n"
            "    qviz.analyze('samples', qviz.QuantSpec(), scheduler='local:1')\n"
            "except qviz.distributed.DistributedUnavailable as e:\n"
            "    print('python:', e)\n"
            "print('rows', len(df))\n"
            "sys.exit(qviz.cli.main(['scan', 'samples', '--scheduler', 'local:1']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=str(qd.__file__).rsplit("/qviz/", 1)[0])
    assert r.returncode == 2, r.stderr[-1500:]
    out = r.stdout.splitlines()
    assert out[0].startswith("python: scanning on a cluster needs Dask") and out[0].endswith('pip install "dask[distributed]"')
    assert out[1] == "rows 10"
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("qviz: error: scanning on a cluster needs Dask"), r.stderr


def test_a_worker_process_killed_mid_scan_changes_nothing(cluster, ckpt):
    """SIGKILL one LocalCluster worker while tensors are pending: Dask reruns its tasks, same DataFrame."""
    spec = qviz.QuantSpec(bits=4)
    expected = qviz.analyze(ckpt, spec, "mse", chunk_numel=CHUNK)
    killed = {}
    import os
    import signal

    victim, pid = sorted(cluster.run(os.getpid).items())[0]

    def progress(done, total, text):
        if done == 1 and not killed:
            os.kill(pid, signal.SIGKILL)
            killed.update(victim=victim, done=done, total=total)

    got = qviz.analyze(str(ckpt), spec, "mse", chunk_numel=CHUNK, scheduler=cluster, progress=progress)
    assert killed and killed["done"] < killed["total"]
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    cluster.wait_for_workers(2, timeout=60)  # the nanny restarts it for the tests after
    assert killed["victim"] not in cluster.scheduler_info(n_workers=-1)["workers"]
