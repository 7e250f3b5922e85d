"""``qviz scan --scheduler``: the scan on a Dask cluster, with the cluster's progress and dashboard link on stderr."""

from __future__ import annotations

import os
import time

from .cli import progress_for


class _Label:
    """What ``_check_readable`` needs of a source: the label its messages start with."""

    def __init__(self, label: str):
        self.label = label


def scan_on_cluster(a, spec, method: str, options: dict):
    """``(DataFrame, label holder)`` of ``qviz scan`` with ``--scheduler``."""
    from .distributed import analyze_on_cluster, stderr_log
    from .streaming import CHUNK

    bar = progress_for(a)
    seen = {"done": 0, "total": 0}

    def step(done, total, text):
        seen.update(done=done, total=total)
        bar(done, total, text)

    t0 = time.perf_counter()
    try:
        df = analyze_on_cluster(a.path, spec, method, a.scheduler, activations=not a.no_activations, progress=step,
                                chunk_numel=CHUNK, log=stderr_log, **options)
    finally:
        bar.close()
    dt = time.perf_counter() - t0
    values = int(df.loc[df["kind"] == "weight", "numel"].sum())
    stderr_log(f"{seen['done']}/{seen['total']} tasks done in {dt:.1f} s, {values / max(dt, 1e-9) / 1e6:.3g}M values/s")
    return df, _Label(os.path.basename(a.path.rstrip("/\\")) or a.path)
