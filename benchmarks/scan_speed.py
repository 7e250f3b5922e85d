"""How fast ``qviz scan`` reads a real-sized checkpoint, against a plain read and a naive torch script.

Run by hand from the repo root (needs ~2 GB of free disk in the temp folder)::

    python benchmarks/scan_speed.py              # 13 Llama blocks: 1.6 GB of bf16 in 4 shards
    python benchmarks/scan_speed.py --layers 4 --methods minmax    # a quick look
    python benchmarks/scan_speed.py --baseline   # also qviz's numpy path (the scan before the fused kernels)

It writes a Llama-shaped checkpoint (hidden 2048, MLP 5632, vocab 32000, real
Llama tensor names, bf16 shards of about 500 MB and ``model.safetensors.index.json``)
tensor by tensor into a temp folder, then times in this one process, one after the
other, on the same files (page cache warm for every phase; ``--repeat`` interleaved rounds, best of each):

* ``plain read`` — every tensor loaded to float32 with safetensors
  (``safe_open(...).get_tensor(k).float()``): the reference;
* ``naive torch`` — what a user would write: per tensor min/max, asymmetric int8 qparams,
  ``torch.fake_quantize_per_tensor_affine`` and the SQNR: the peer;
* ``qviz scan`` through the CLI (``qviz.cli.main(["scan", folder, ...])``, int8 symmetric
  per-tensor, all cores) with ``--calibrator`` minmax, percentile, entropy and mse and
  ``--no-cache``; then minmax twice with the cache on: cold (scans and stores) and warm
  (reads the stored table).

It prints a table of seconds, M values/s and ratios, and the targets (2 cores):
min-max ≥ 50% of plain-read throughput and ≥ 4× the naive script; the histogram
calibrators ≥ 25% of plain read; a warm rescan ≥ 20× faster than cold. The exit
status is 0 when every target holds. The machine may be shared: ratios are only
meaningful within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

HIDDEN, MLP, VOCAB = 2048, 5632, 32000


def layout(layers: int) -> list[tuple[str, tuple]]:
    """(name, shape) of a Llama checkpoint with ``layers`` decoder blocks, in Hugging Face's order."""
    out = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [(p + f"self_attn.{k}_proj.weight", (HIDDEN, HIDDEN)) for k in "qkvo"]
        out += [(p + "mlp.gate_proj.weight", (MLP, HIDDEN)), (p + "mlp.up_proj.weight", (MLP, HIDDEN)),
                (p + "mlp.down_proj.weight", (HIDDEN, MLP))]
        out += [(p + "input_layernorm.weight", (HIDDEN,)), (p + "post_attention_layernorm.weight", (HIDDEN,))]
    out += [("model.norm.weight", (HIDDEN,)), ("lm_head.weight", (VOCAB, HIDDEN))]
    return out


def write_checkpoint(folder: str, layers: int, shard_bytes: float = 5e8) -> tuple[int, int]:
    """Stream bf16 shards and the index into ``folder``; returns (bytes, values)."""
    import torch

    torch.manual_seed(0)
    items = layout(layers)
    shards, cur, size = [], [], 0
    for name, shape in items:
        n = 2 * int(torch.Size(shape).numel())
        if cur and size + n > shard_bytes:
            shards.append(cur)
            cur, size = [], 0
        cur.append((name, shape))
        size += n
    shards.append(cur)
    weight_map, total_bytes, total_values = {}, 0, 0
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for name, shape in shard:
            nbytes = 2 * int(torch.Size(shape).numel())
            header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[name] = fname
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with open(os.path.join(folder, fname), "wb") as f:
            f.write(struct.pack("<Q", len(raw)) + raw)
            for name, shape in shard:
                if len(shape) == 1:
                    t = 1 + 0.05 * torch.randn(shape)
                else:
                    t = torch.randn(shape) * (0.02 if "embed" in name or "head" in name else 0.03)
                    t[0, :8] *= 40  # a few outliers, as real checkpoints have
                t = t.to(torch.bfloat16)
                f.write(t.view(torch.uint8).numpy().tobytes())
                total_values += t.numel()
        total_bytes += os.path.getsize(os.path.join(folder, fname))
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total_bytes}, "weight_map": weight_map}, f)
    return total_bytes, total_values


def shard_files(folder: str) -> list[str]:
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        return [os.path.join(folder, s) for s in dict.fromkeys(json.load(f)["weight_map"].values())]


def plain_read(folder: str) -> float:
    """The reference: every tensor to float32 through safetensors."""
    from safetensors import safe_open

    check = 0.0
    for path in shard_files(folder):
        with safe_open(path, "pt") as f:
            for k in f.keys():
                t = f.get_tensor(k).float()
                check += float(t[..., :1].sum())
    return check


def naive_torch(folder: str) -> float:
    """The peer: a user's per-tensor min-max int8 fake-quantization and SQNR in plain torch."""
    import torch
    from safetensors import safe_open

    worst = float("inf")
    for path in shard_files(folder):
        with safe_open(path, "pt") as f:
            for k in f.keys():
                x = f.get_tensor(k).float()
                lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
                scale = max((hi - lo) / 255.0, 1e-12)
                zp = int(round(-128 - lo / scale))
                xq = torch.fake_quantize_per_tensor_affine(x, scale, zp, -128, 127)
                sqnr = 10 * torch.log10((x * x).sum() / ((x - xq) ** 2).sum())
                worst = min(worst, float(sqnr))
    return worst


def qviz_scan(folder: str, method: str, cache: bool) -> int:
    from qviz.cli import main

    argv = ["scan", folder, "--calibrator", method, "--format", "csv", "--out", os.devnull]
    if not cache:
        argv.append("--no-cache")
    rc = main(argv)
    if rc:
        raise SystemExit(f"qviz scan failed with status {rc}")
    return rc


def numpy_path(folder: str) -> None:
    """qviz's scan before the fused kernels (the numpy path, one thread)."""
    import importlib

    import qviz

    mod = importlib.import_module("qviz.analyze")
    real = mod.fused_applies
    mod.fused_applies = lambda shape, spec: False
    try:
        qviz.analyze(folder, qviz.QuantSpec(bits=8), "minmax", workers=1)
    finally:
        mod.fused_applies = real


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=13, help="decoder blocks (13: 1.6 GB of bf16)")
    ap.add_argument("--dir", default=None, help="where to write the checkpoint (default: a temp folder, deleted after)")
    ap.add_argument("--methods", default="minmax,percentile,entropy,mse")
    ap.add_argument("--baseline", action="store_true", help="also time qviz's numpy path (slow)")
    ap.add_argument("--repeat", type=int, default=2, help="interleaved repeats; the best time of each phase counts")
    args = ap.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = os.path.join(tmp, "llama")
        os.makedirs(folder)
        os.environ["XDG_CACHE_HOME"] = os.path.join(tmp, "xdg")  # a fresh scan cache, deleted after
        t = time.perf_counter()
        nbytes, values = write_checkpoint(folder, args.layers)
        print(f"wrote {nbytes / 1e9:.2f} GB ({len(layout(args.layers))} tensors, {values / 1e9:.2f} G values, bf16, "
              f"{len(shard_files(folder))} shards) in {time.perf_counter() - t:.0f} s; {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}")
        import numpy as np

        import qviz

        t = time.perf_counter()  # numba loads its compiled kernels once per process (compiles them on a first install)
        qviz.analyze(np.zeros((4, 4), np.float32).tobytes() and "samples", qviz.QuantSpec(), activations=False)
        print(f"first call (imports, kernels from numba's cache): {time.perf_counter() - t:.1f} s, once per process")
        phases = [("plain read (safetensors → float32)", plain_read, ()),
                  ("naive torch (fake_quantize_per_tensor_affine + SQNR)", naive_torch, ())]
        if args.baseline:
            phases.append(("qviz numpy path, minmax (before)", numpy_path, ()))
        phases += [(f"qviz scan --calibrator {m}", qviz_scan, (m, False)) for m in methods]
        best = {name: (float("inf"), float("inf")) for name, _, _ in phases}
        for _ in range(args.repeat):  # interleaved repeats, best of each: a shared machine's noise mostly slows
            for name, fn, extra in phases:
                c = time.process_time()
                w = timed(fn, folder, *extra)
                best[name] = (min(best[name][0], w), min(best[name][1], time.process_time() - c))
        cold = timed(qviz_scan, folder, "minmax", True)
        warm = timed(qviz_scan, folder, "minmax", True)
        rows = [(name, *best[name]) for name, _, _ in phases]
        rows.append(("qviz scan minmax, cache cold (scan + store)", cold, float("nan")))
        rows.append(("qviz scan minmax, cache warm", warm, float("nan")))
        plain, plain_cpu = best[phases[0][0]]
        naive = best[phases[1][0]][0]
        scans = {m: best[f"qviz scan --calibrator {m}"][0] for m in methods}
        print("\n| phase | seconds | M values/s | × plain read | × naive torch | CPU s (all threads) |\n|---|---|---|---|---|---|")
        for name, sec, cpu in rows:
            print(f"| {name} | {sec:.2f} | {values / sec / 1e6:.0f} | {plain / sec:.2f} | {naive / sec:.2f} | {cpu:.1f} |")
        ok = True
        print()

        def target(text, value, limit):
            nonlocal ok
            good = value >= limit
            ok &= good
            print(f"{'PASS' if good else 'FAIL'}  {text}: {value:.2f} (target ≥ {limit})")

        if "minmax" in scans:
            target("min-max scan throughput / plain read", plain / scans["minmax"], 0.5)
            target("min-max scan speed / naive torch script", naive / scans["minmax"], 4.0)
        for m in ("percentile", "entropy", "mse"):
            if m in scans:
                target(f"{m} scan throughput / plain read", plain / scans[m], 0.25)
        target("warm-cache rescan speed-up over cold", cold / warm, 20.0)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
