"""GGUF decode speed: qviz's reader against ``gguf.quants.dequantize``, in the same run.

For each GGML type, a GGUF file holding one ``rows × 4096`` tensor is written by gguf-py (quantized
by ``gguf.quants.quantize`` where it can, otherwise random raw blocks with finite scales), and the
tensor is decoded to float32 by

* the reference: ``gguf.quants.dequantize(reader.tensors[0].data, type)`` on the same memory map;
* qviz: ``qviz.open_source(path).load(name)`` (codes, scales, mins → values, bit-exact; checked here).

Runs the two alternately ``--repeat`` times; prints the median times and the median of the per-pair
ratios reference / qviz (> 1: qviz faster), so that a shared machine's changing load hits both alike.

    python benchmarks/quantized_decode.py [--rows 1024] [--repeat 5] [--types Q4_0,Q4_K,...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "tests")]

import gguf  # noqa: E402
from gguf_testutil import WRITABLE, random_blocks, write_gguf  # noqa: E402

import qviz  # noqa: E402
from qviz.sources.gguf_blocks import DECODERS  # noqa: E402

COLS = 4096


def _once(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _paired(ref, ours, repeat: int) -> tuple[float, float, float]:
    """Median times of ``ref`` and ``ours`` run alternately, and the median of the per-pair ratios
    (a shared, loaded machine: each pair sees about the same load)."""
    tr, tq = [], []
    for _ in range(repeat):
        tr.append(_once(ref))
        tq.append(_once(ours))
    return statistics.median(tr), statistics.median(tq), statistics.median(a / b for a, b in zip(tr, tq))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--types", default=",".join(DECODERS))
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print("| GGML type | values | gguf.quants.dequantize (ms) | qviz load (ms) | ratio (gguf / qviz) |")
    print("|---|---|---|---|---|")
    ratios = []
    with tempfile.TemporaryDirectory() as d:
        for tname in a.types.split(","):
            shape = (a.rows, COLS)
            if tname in WRITABLE:
                spec = (rng.standard_normal(shape).astype(np.float32) * 0.05, tname)
            else:
                bs, ts = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[tname]]
                spec = (random_blocks(tname, a.rows * COLS // bs), tname, shape)
            path = write_gguf(os.path.join(d, f"{tname}.gguf"), {"w": spec})
            t = gguf.GGUFReader(path).tensors[0]
            src = qviz.open_source(path)
            ref = gguf.quants.dequantize(t.data, t.tensor_type)
            got = src.load("w")
            if not np.array_equal(ref.view(np.uint32), got.view(np.uint32)):
                raise SystemExit(f"{tname}: qviz's decode differs from gguf.quants.dequantize")
            t_ref, t_q, ratio = _paired(lambda: gguf.quants.dequantize(t.data, t.tensor_type), lambda: src.load("w"), a.repeat)
            ratios.append(ratio)
            print(f"| {tname} | {a.rows * COLS:,} | {t_ref * 1e3:.1f} | {t_q * 1e3:.1f} | {ratio:.2f}× |", flush=True)
    print(f"\ngeometric mean ratio: {float(np.exp(np.mean(np.log(ratios)))):.2f}× (bit-exact on every type)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
