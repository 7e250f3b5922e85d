"""The scan on a Dask LocalCluster against the single-process scan, in one run (ratios, not absolute times).

Run by hand from the repo root::

    python benchmarks/distributed_scan.py                 # 1 GB float32 checkpoint, 8 shards, 2 workers
    python benchmarks/distributed_scan.py --gb 2 --dtype bf16 --workers 2 --dir /data

Phases:

1. Writes a sharded safetensors checkpoint (``model-0000k-of-0000n.safetensors`` + index) of
   ``--gb`` GB in a temp folder: LLaMA-like shapes (hidden 1024, MLP 2816), so most tensors are
   1–3M values and the MLP ones are split into row-chunk tasks (over ``chunk_numel`` = 2M).
2. Reads it once (page cache warm for every phase after).
3. For min-max and MSE (per-channel, int8): ``qviz.analyze(path, spec, method)`` in this process
   (the single-process scan), then the same on a ``LocalCluster`` of ``--workers`` single-threaded
   worker processes (started before the timing: a real cluster is long-lived; its start-up time is
   printed apart). Checks that both DataFrames are identical and prints the speed-up.
4. Scheduler overhead per task: ``--overhead-tasks`` no-op tasks through the same cluster.
5. Many small shards: a ``--shards`` (400) shard checkpoint of small tensors, single process vs
   cluster, with the share of the cluster's wall time that the per-task overhead accounts for.

The machine may be shared: every ratio compares runs made minutes apart in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
HIDDEN, MLP = 1024, 2816


def write_sharded(folder: str, gb: float, dtype: str, n_shards: int | None = None, small: tuple | None = None) -> tuple[int, int]:
    """A sharded checkpoint of about ``gb`` GB; returns (bytes, values). ``small``: (shape, per_shard) tensors instead."""
    import torch
    from safetensors.torch import save_file

    tdt = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[dtype]
    size = torch.tensor([], dtype=tdt).element_size()
    g = torch.Generator().manual_seed(0)
    if small:
        shape, per = small
        layout = [[(f"s{k}.t{j}.weight", shape) for j in range(per)] for k in range(n_shards)]
    else:
        names, i = [], 0
        while sum(np.prod(s) for _, s in names) * size < gb * 1e9:
            p = f"model.layers.{i}."
            names += [(p + f"self_attn.{k}_proj.weight", (HIDDEN, HIDDEN)) for k in "qkvo"]
            names += [(p + f"mlp.{k}_proj.weight", (MLP, HIDDEN) if k != "down" else (HIDDEN, MLP)) for k in ("gate", "up", "down")]
            names += [(p + "input_layernorm.weight", (HIDDEN,))]
            i += 1
        per = -(-len(names) // (n_shards or 8))
        layout = [names[k : k + per] for k in range(0, len(names), per)]
    weight_map, total, values = {}, 0, 0
    for k, part in enumerate(layout):
        fname = f"model-{k + 1:05d}-of-{len(layout):05d}.safetensors"
        tensors = {}
        for name, shape in part:
            t = torch.empty(shape, dtype=torch.float32)
            t.normal_(generator=g)
            if len(shape) == 2:
                t[:, :: max(shape[1] // 7, 1)] *= 6  # a few outlier channels, as real weights
            tensors[name] = t.to(tdt)
            weight_map[name] = fname
            values += t.numel()
        save_file(tensors, os.path.join(folder, fname))
        total += os.path.getsize(os.path.join(folder, fname))
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)
    return total, values


def warm(folder: str) -> float:
    t0, n = time.perf_counter(), 0
    for f in sorted(os.listdir(folder)):
        with open(os.path.join(folder, f), "rb") as fp:
            while chunk := fp.read(64 << 20):
                n += len(chunk)
    return n / (time.perf_counter() - t0)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--dtype", choices=["f32", "bf16", "f16"], default="f32")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--methods", default="minmax,mse")
    ap.add_argument("--overhead-tasks", type=int, default=2000)
    ap.add_argument("--shards", type=int, default=400)
    ap.add_argument("--dir", help="where to write the checkpoints (default: a temp folder, removed after)")
    a = ap.parse_args(argv)

    import distributed
    import pandas as pd

    import qviz

    base = tempfile.mkdtemp(prefix="qviz-dist-", dir=a.dir)
    try:
        big, many = os.path.join(base, "big"), os.path.join(base, "many")
        os.makedirs(big)
        os.makedirs(many)
        nbytes, values = write_sharded(big, a.gb, a.dtype)
        print(f"checkpoint: {nbytes / 1e9:.2f} GB {a.dtype}, {values / 1e6:.0f}M values, "
              f"{len(qviz.open_source(big).names())} tensors in {len(os.listdir(big)) - 1} shards; "
              f"page-cache read {warm(big) / 1e9:.1f} GB/s")
        spec = qviz.QuantSpec(bits=8, granularity=qviz.PerChannel(0))
        t_start = time.perf_counter()
        from qviz.distributed import fast_malloc

        with fast_malloc(), distributed.LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                                                     dashboard_address=None, silence_logs=50) as lc, \
                distributed.Client(lc, set_as_default=False) as client:
            client.run(lambda: __import__("qviz"))  # import once per worker, as a long-lived cluster has
            print(f"LocalCluster: {a.workers} single-threaded workers, started in {time.perf_counter() - t_start:.1f} s")
            rows = []
            for method in a.methods.split(","):
                client.run(lambda: __import__("qviz.distributed").distributed.worker_source(big).names())  # headers once
                t1, df1 = timed(lambda: qviz.analyze(big, spec, method))
                tn, dfn = timed(lambda: qviz.analyze(big, spec, method, scheduler=client))
                pd.testing.assert_frame_equal(dfn, df1, check_exact=True)
                rows.append((method, t1, tn))
                print(f"  {method:<7} single process {t1:7.2f} s ({values / t1 / 1e6:6.1f}M values/s)   "
                      f"cluster {tn:7.2f} s ({values / tn / 1e6:6.1f}M values/s)   speed-up {t1 / tn:4.2f}×   identical")

            n = a.overhead_tasks
            futs = client.map(lambda i: i, range(n), pure=False)
            client.gather(futs)
            del futs
            t_ovh, _ = timed(lambda: client.gather(client.map(lambda i: i, range(n), pure=False)))
            per_task = t_ovh / n
            print(f"scheduler overhead: {n} no-op tasks in {t_ovh:.2f} s = {per_task * 1e3:.2f} ms per task "
                  f"({1 / per_task:,.0f} tasks/s)")

            shape, per = (128, 256), 2
            mb, mvalues = write_sharded(many, 0, a.dtype, n_shards=a.shards, small=(shape, per))
            warm(many)
            n_tasks = a.shards * per
            client.run(lambda: __import__("qviz.distributed").distributed.worker_source(many).names())
            t1, d1 = timed(lambda: qviz.analyze(many, spec, "minmax"))
            tn, dn = timed(lambda: qviz.analyze(many, spec, "minmax", scheduler=client))
            pd.testing.assert_frame_equal(dn, d1, check_exact=True)
            share = n_tasks * per_task / a.workers / tn
            print(f"{a.shards} shards × {per} tensors {shape} ({mb / 1e6:.0f} MB, {n_tasks} tasks): single {t1:.2f} s, "
                  f"cluster {tn:.2f} s, speed-up {t1 / tn:.2f}×; per-task overhead ≈ {share:.0%} of the cluster's wall time")

            print("\n| scan (per-channel int8) | single process | LocalCluster, 2 workers | speed-up |")
            print("|---|---|---|---|")
            for method, t1_, tn_ in rows:
                print(f"| {method}, {nbytes / 1e9:.2f} GB {a.dtype}, {values / 1e6:.0f}M values | {t1_:.1f} s | {tn_:.1f} s | "
                      f"{t1_ / tn_:.2f}× |")
            print(f"| minmax, {a.shards} shards, {n_tasks} tensors | {t1:.1f} s | {tn:.1f} s | {t1 / tn:.2f}× |")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
