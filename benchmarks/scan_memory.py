"""Peak memory and throughput of ``qviz.analyze`` on a generated multi-GB safetensors checkpoint.

Run by hand from the repo root::

    python benchmarks/scan_memory.py              # 3 GB bf16 checkpoint in a temp folder
    python benchmarks/scan_memory.py --gb 6 --dir /data --method percentile

It writes a LLaMA-shaped checkpoint (hidden 2048, MLP 5632, vocab 32000: the
embedding and LM head are 65.5M-value tensors, 262 MB each in float32; layers
are added until the file reaches ``--gb``), streaming it tensor by tensor so the
generator needs little memory. Then three phases, each in a fresh process
(peak RSS from ``VmHWM`` in ``/proc/self/status``):

* ``read``    a plain sequential read of the file (64 MB buffer);
* ``load``    ``qviz.open_source`` + ``load`` of every tensor as float32;
* ``analyze`` ``qviz.analyze(path, QuantSpec(bits=8), method)``.

It prints GB/s (file bytes per second) and peak RSS per phase, and fails when
``analyze`` peaks over ``--limit-gb`` (1.5). Reads hit the page cache (the file
was just written), so the read figure is memory bandwidth, not disk.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HIDDEN, MLP, VOCAB = 2048, 5632, 32000


def layout(gb: float) -> list[tuple[str, tuple, str]]:
    """(name, shape, safetensors dtype) of a LLaMA-like checkpoint of about ``gb`` GB in bf16."""
    out = [
        ("model.embed_tokens.weight", (VOCAB, HIDDEN), "BF16"),
        ("lm_head.weight", (VOCAB, HIDDEN), "BF16"),
        ("model.norm.weight", (HIDDEN,), "F32"),
    ]
    size = lambda: sum(2 * s[0] * (s[1] if len(s) > 1 else 1) for _, s, _ in out)
    i = 0
    while size() < gb * 1e9:
        p = f"model.layers.{i}."
        out += [(p + f"self_attn.{k}_proj.weight", (HIDDEN, HIDDEN), "BF16") for k in "qkvo"]
        out += [
            (p + f"mlp.{k}_proj.weight", (MLP, HIDDEN) if k != "down" else (HIDDEN, MLP), "BF16") for k in ("gate", "up", "down")
        ]
        out += [(p + "input_layernorm.weight", (HIDDEN,), "F32"), (p + "post_attention_layernorm.weight", (HIDDEN,), "F32")]
        i += 1
    return out


def write_checkpoint(path: str, gb: float) -> int:
    """Stream a random checkpoint to ``path`` (one tensor in memory at a time); returns its size."""
    import torch

    torch.manual_seed(0)
    items = layout(gb)
    header, offset = {}, 0
    for name, shape, dt in items:
        n = 1
        for s in shape:
            n *= s
        nbytes = n * (2 if dt == "BF16" else 4)
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for name, shape, dt in items:
            if dt == "F32":
                t = 1 + 0.1 * torch.randn(shape)
            else:
                t = (torch.randn(shape) * (0.02 if "embed" in name or "head" in name else 0.03)).to(torch.bfloat16)
                t[0, :8] *= 40  # a few outliers, as real checkpoints have
            f.write(t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes())
    return os.path.getsize(path)


def phase(kind: str, path: str, method: str) -> dict:
    """Run one phase in this process; returns seconds and peak RSS."""
    sys.path.insert(0, ROOT)
    import numpy as np

    import qviz

    start = time.perf_counter()
    if kind == "read":
        buf = bytearray(64 << 20)
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass
    elif kind == "load":
        src = qviz.open_source(path)
        total = 0.0
        for name in src.names():
            total += float(np.sum(src.load(name)[..., :1], dtype=np.float64))
    else:
        df = qviz.analyze(path, qviz.QuantSpec(bits=8), method)
        assert len(df) == len(qviz.open_source(path).names())
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_gb": peak_rss_gb()}


def peak_rss_gb() -> float:
    """This process's peak RSS (``VmHWM``: unlike ``ru_maxrss`` it does not inherit the parent's peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gb", type=float, default=3.0, help="checkpoint size in GB (default 3)")
    ap.add_argument("--dir", default=None, help="where to write it (default: a temp folder, deleted after)")
    ap.add_argument("--method", default="minmax")
    ap.add_argument("--limit-gb", type=float, default=1.5)
    ap.add_argument("--phase", choices=["read", "load", "analyze"], help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.path, args.method)))
        return 0
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = os.path.join(tmp, "model.safetensors")
        t = time.perf_counter()
        size = write_checkpoint(path, args.gb)
        print(f"wrote {size / 1e9:.2f} GB ({len(layout(args.gb))} tensors, bf16) in {time.perf_counter() - t:.0f} s: {path}")
        results = {}
        for kind in ("read", "load", "analyze"):
            out = subprocess.run(
                [sys.executable, __file__, "--phase", kind, "--path", path, "--method", args.method],
                capture_output=True,
                text=True,
            )
            if out.returncode:
                print(out.stderr[-2000:])
                return 1
            r = results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{kind:8s} {size / 1e9 / r['seconds']:7.3f} GB/s  {r['seconds']:7.1f} s  peak RSS {r['peak_rss_gb']:.2f} GB")
        peak = results["analyze"]["peak_rss_gb"]
        ratio = results["read"]["seconds"] / results["analyze"]["seconds"]
        print(
            f"analyze runs at {ratio:.1%} of a plain read; peak RSS {peak:.2f} GB for a {size / 1e9:.2f} GB checkpoint "
            f"({'PASS' if peak < args.limit_gb else 'FAIL'}: limit {args.limit_gb} GB)"
        )
        return 0 if peak < args.limit_gb else 1


if __name__ == "__main__":
    sys.exit(main())
