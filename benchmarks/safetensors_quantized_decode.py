"""Decoding speed of qviz's quantized-checkpoint readers against each format's reference, in the same run.

Run from the repo root::

    python benchmarks/safetensors_quantized_decode.py            # 4096 × 4096 weight (16.8M values)
    python benchmarks/safetensors_quantized_decode.py --size 2048 --repeats 5

A random normal weight is quantized once per format with the format's own tool
(compressed-tensors' compressors, bitsandbytes on CPU, GPTQModel's / AutoAWQ's
packing as re-written in ``tests/sources/quantized``), saved as safetensors, and then:

* ``qviz``: ``open_source(folder).load(name)``: read the parts from the file and dequantize to float32;
* ``reference``: the reference dequantization from tensors already in memory (``decompress``,
  ``dequantize_4bit``, ``int8_vectorwise_dequant``, ``dequantize_weight`` / ``dequantize_gemm``).

It prints the best of ``--repeats`` for each and the ratio reference / qviz
(> 1: qviz is faster even though it also reads the file). Every qviz result is
checked equal to the reference (bit for bit, after the reference's output cast).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "sources" / "quantized")]

import qviz  # noqa: E402


def best(fn, repeats: int) -> tuple[float, object]:
    out, t = None, float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t, out


def cases(w: torch.Tensor):
    """(label, tensors to save, config, reference callable returning float32 numpy in the stored orientation, transpose?)."""
    from compressed_tensors.compressors import NVFP4PackedCompressor, PackedQuantizationCompressor
    from compressed_tensors.compressors.naive_quantized.base import FloatQuantizationCompressor
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme
    from test_awq import awq_qparams, dequantize_gemm, pack_gemm
    from test_compressed import compress
    from test_gptq import dequantize_weight, make_gptq

    import bitsandbytes.functional as bnbf

    for label, comp, kw in (
        ("compressed-tensors int4 g128", PackedQuantizationCompressor, dict(num_bits=4, strategy="group", group_size=128)),
        ("compressed-tensors fp8 channel", FloatQuantizationCompressor, dict(num_bits=8, type="float", strategy="channel")),
        ("compressed-tensors nvfp4", NVFP4PackedCompressor, dict(num_bits=4, type="float", strategy="tensor_group", group_size=16)),
    ):
        args = QuantizationArgs(**kw)
        sd = compress(w, comp, args)
        scheme = QuantizationScheme(targets=["Linear"], weights=args)
        yield label, {f"m.{k}": v for k, v in sd.items()}, None, (lambda sd=sd, comp=comp, scheme=scheme: comp.decompress(dict(sd), scheme)["weight"]), False
    packed, state = bnbf.quantize_4bit(w, blocksize=64, quant_type="nf4", compress_statistics=True)
    t = {"m.weight": packed, **{f"m.weight.{k}": v for k, v in state.as_dict(packed=True).items()}}
    yield "bitsandbytes nf4 double-quant", t, None, (lambda: bnbf.dequantize_4bit(packed, state)), False
    cb, scb, _ = bnbf.int8_vectorwise_quant(w.half())
    yield "bitsandbytes int8", {"m.weight": cb, "m.SCB": scb}, None, (lambda: bnbf.int8_vectorwise_dequant(cb, scb)), False
    g = make_gptq(w, 4, 128)
    yield ("gptq 4-bit g128", {f"m.{k}": v for k, v in g.items()}, {"quant_method": "gptq", "bits": 4, "group_size": 128},
           (lambda: dequantize_weight(g["qweight"], g["qzeros"], g["scales"].float(), g["g_idx"], 4)), True)
    a = pack_gemm(*awq_qparams(w, 128), 128)
    yield ("awq gemm 4-bit g128", {f"m.{k}": v for k, v in a.items()}, {"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm"},
           (lambda: dequantize_gemm(a["qweight"], a["qzeros"], a["scales"].float(), 4, 128)), True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    from safetensors.torch import save_file

    w = torch.from_numpy(np.random.default_rng(0).normal(0, 0.02, (a.size, a.size)).astype(np.float32))
    print(f"weight {a.size} × {a.size} ({w.numel() / 1e6:.1f}M values); best of {a.repeats}\n")
    print("| format | reference (s) | qviz load (s) | ratio | bits/weight |")
    print("|---|---|---|---|---|")
    ok = True
    with tempfile.TemporaryDirectory() as d:
        for i, (label, tensors, cfg, ref_fn, transposed) in enumerate(cases(w)):
            folder = Path(d) / f"c{i}"
            folder.mkdir()
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "model.safetensors"))
            if cfg:
                (folder / "config.json").write_text(json.dumps({"quantization_config": cfg}))
            src = qviz.open_source(folder)
            name = "m.weight"
            t_ref, ref = best(lambda: ref_fn(), a.repeats)
            t_q, x = best(lambda: src.load(name), a.repeats)  # decodes every time (no cache of values)
            got = torch.from_numpy(np.ascontiguousarray(x.T if transposed else x)).to(ref.dtype).float().numpy()
            ref = ref.float().numpy()
            same = np.array_equal(got.view(np.uint32), ref.view(np.uint32))
            ok &= same
            bpw = src.quantized(name).bits_per_weight
            print(f"| {label} | {t_ref:.3f} | {t_q:.3f} | {t_ref / t_q:.2f}× | {bpw:.3f} |" + ("" if same else " MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
