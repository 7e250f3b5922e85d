"""The scan on a real cluster of separate processes: ``dask scheduler`` + two ``dask worker``s on loopback.

Started by the test (random free ports, no dashboards, bounded waits), always torn down. ``qviz scan
--scheduler tcp://…`` must print the plain scan's table, and a worker killed mid-scan must not change
the result (Dask runs its tasks again on the other worker).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

import qviz
from qviz.cli import main

import distributed  # noqa: E402  (a test dependency: requirements-test.txt)

ROOT = Path(__file__).resolve().parents[1]


def _start(args, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"), start_new_session=True)


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    d = tmp_path_factory.mktemp("cluster")
    sched_file = d / "scheduler.json"
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
                    d / "scheduler.log")]
    try:
        deadline = time.monotonic() + 120
        while not sched_file.exists():
            assert procs[0].poll() is None and time.monotonic() < deadline, (d / "scheduler.log").read_text()[-2000:]
            time.sleep(0.2)
        time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        for i in range(2):
            procs.append(_start(["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                                 "--name", f"w{i}", "--death-timeout", "60"], d / f"worker{i}.log"))
        with distributed.Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
            yield address, procs, client
    finally:
        for p in reversed(procs):
            _stop(p)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    rng = np.random.default_rng(5)
    t = {f"blocks.{i:02d}.weight": rng.standard_t(4, size=(64, 512)).astype(np.float32) for i in range(16)}
    t["blocks.03.weight"][7, :40] = np.nan
    p = tmp_path_factory.mktemp("ckpt") / "model.safetensors"
    save_file(t, str(p))
    return p


def test_cli_scan_on_separate_processes_is_the_plain_scan(processes, ckpt, capsys):
    address, _, _ = processes
    args = ["scan", str(ckpt), "--format", "csv", "--granularity", "channel", "--calibrator", "minmax"]
    assert main(args) == 0
    plain = capsys.readouterr().out
    assert main([*args, "--scheduler", address]) == 0
    out, err = capsys.readouterr()
    assert out == plain
    assert f"scheduler {address}: 2 workers" in err


def test_a_worker_killed_mid_scan_changes_nothing(processes, ckpt):
    address, procs, client = processes
    spec = qviz.QuantSpec(bits=4)
    expected = qviz.analyze(ckpt, spec, "mse", chunk_numel=1 << 13)  # every tensor in 4 chunks
    killed = {}

    def progress(done, total, text):
        if done == 2 and not killed:
            victim = procs[1]
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
            killed.update(done=done, total=total)

    got = qviz.analyze(str(ckpt), spec, "mse", chunk_numel=1 << 13, scheduler=address, progress=progress)
    assert killed and killed["done"] < killed["total"]
    assert len(client.scheduler_info(n_workers=-1)["workers"]) == 1  # the cluster really lost a worker
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
