"""Speed of ``qviz.layer_output_error`` on a 4096 × 4096 Linear layer with 512 tokens, beside references in the same run.

Run ``python benchmarks/transforms.py`` (``--quick``: 1024 × 1024, 128 tokens). References:

* the plain fp32 product ``X·Wᵀ`` (torch);
* torch's own W8A8 fake-quant path: ``torch.fake_quantize_per_channel_affine`` of W (per output
  channel) and of X (per token), scales from the per-row absmax, then the product, and the fp32
  product it is compared with — the least any output-error measurement must do.

qviz rows: no transform, smoothing (α = 0.5), a block-128 randomised Hadamard, and both; each
with every metric (``detail=True``, the operands' clipping split and code usage, kurtosis …) and
as the sweeps run it (``detail=False``). Each time is the best of ``--repeat`` runs. Target: under
1 s with every metric on 2 cores; the ratio to torch's fake-quant path is what transfers between
machines. Exits 1 when qviz without a transform is over 3× torch's path.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import qviz  # noqa: E402
from qviz.transforms import w8a8  # noqa: E402


def best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def torch_w8a8(x: torch.Tensor, w: torch.Tensor) -> float:
    """torch's fake-quant of both operands (symmetric int8, per row), the product, and its SQNR against fp32."""
    def fq(a):
        scale = (a.abs().amax(dim=1) / 127.5).clamp(min=torch.finfo(torch.float32).eps)
        return torch.fake_quantize_per_channel_affine(a, scale, torch.zeros(a.shape[0], dtype=torch.int32), 0, -128, 127)

    y = x @ w.T
    yq = fq(x) @ fq(w).T
    return float(10 * torch.log10((y.double() ** 2).sum() / ((y - yq).double() ** 2).sum()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)
    n, tokens = (1024, 128) if a.quick else (4096, 512)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((tokens, n)).astype(np.float32)
    x[:, rng.choice(n, 8, replace=False)] *= 50  # outlier channels
    w = (rng.standard_normal((n, n)) * 0.02).astype(np.float32)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    ws, xs = w8a8()
    s = qviz.smooth_scales(np.abs(x).max(0), np.abs(w).max(0), 0.5)
    r = qviz.hadamard(n, block=128, seed=0)

    rows = [("fp32 product X·Wᵀ (torch)", best_time(lambda: tx @ tw.T, a.repeat), None)]
    ref = best_time(lambda: torch_w8a8(tx, tw), a.repeat)
    rows.append(("torch W8A8 fake-quant + products (reference)", ref, torch_w8a8(tx, tw)))
    for label, t in (("none", None), ("smoothing α=0.5", s), ("Hadamard block 128, random signs", r), ("smoothing + Hadamard", (s, r))):
        for detail in (True, False):
            e = qviz.layer_output_error(x, w, ws, xs, t, detail=detail)
            sec = best_time(lambda: qviz.layer_output_error(x, w, ws, xs, t, detail=detail), a.repeat)
            rows.append((f"qviz {label}{'' if detail else ' (sweep: detail=False)'}", sec, e.sqnr_db))
    print(f"layer_output_error · W {n}×{n} · X {tokens}×{n} · W8A8 (per output channel / per token) · "
          f"torch threads {torch.get_num_threads()} · best of {a.repeat}")
    print(f"| {'what':<60} | {'seconds':>8} | {'× reference':>11} | {'SQNR dB':>8} |")
    print(f"|{'-' * 62}|{'-' * 10}|{'-' * 13}|{'-' * 10}|")
    for label, sec, sq in rows:
        print(f"| {label:<60} | {sec:8.3f} | {sec / ref:11.2f} | {'' if sq is None else f'{sq:8.2f}':>8} |")
    plain = next(sec for label, sec, _ in rows if label == "qviz none")
    if plain > 3 * ref:
        print(f"qviz without a transform takes {plain / ref:.1f}× torch's fake-quant path (target ≤ 3×)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
