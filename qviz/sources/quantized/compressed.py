"""compressed-tensors checkpoints (llm-compressor): the formats ``config.json``'s ``quantization_config`` names.

Each quantized Linear ``P`` stores ``P.weight_scale`` and, by format:

=====================  ==================================================================
``pack-quantized``     ``P.weight_packed`` int32, b-bit codes ``q + 2^(b-1)`` as a dense bit stream
                       along the rows; ``P.weight_shape``; asymmetric: ``P.weight_zero_point`` packed down the columns
``int-quantized``      ``P.weight`` int8
``float-quantized``    ``P.weight`` float8 (e4m3fn)
``nvfp4-pack-quantized``  ``P.weight_packed`` uint8, two FP4 (E2M1) codes per byte, low nibble first;
                       ``weight_scale`` fp8 per 16 values, ``P.weight_global_scale`` float32
``mxfp4-pack-quantized``  the same codes, ``weight_scale`` uint8 E8M0 exponents per 32 values
=====================  ==================================================================

Scales are per tensor (one value), per channel ``(out, 1)``, per group ``(out, in/G)`` or per
2-d block ``(⌈out/bh⌉, ⌈in/bw⌉)``. Dequantization is compressed-tensors' ``_dequantize``:
``(q − z) · s``, with ``s = weight_scale / global_scale`` for NVFP4 and ``s = 2^(e − 127)`` for MXFP4.

Example
-------
>>> FP4_VALUES[[1, 7, 9, 15]]
array([ 0.5,  6. , -0.5, -6. ], dtype=float32)
"""

from __future__ import annotations

import math
import re

import numpy as np

from ...quantized import QuantizedTensor
from .packing import unpack, unpack_nibbles
from .parts import Decoded, Parts, QWeight, gather_tiles

FORMATS = {
    "pack-quantized": "compressed-tensors:pack-quantized",
    "int-quantized": "compressed-tensors:int-quantized",
    "float-quantized": "compressed-tensors:float-quantized",
    "nvfp4-pack-quantized": "compressed-tensors:nvfp4",
    "mxfp4-pack-quantized": "compressed-tensors:mxfp4",
}
_MAG = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0], np.float32)
FP4_VALUES = np.concatenate([_MAG, -_MAG]).astype(np.float32)  # code bit 3 is the sign (code 8 is −0)
_REDOWNLOAD = "the checkpoint is incomplete or corrupted: download it again"


def _fp8_codebook(dtype: str) -> np.ndarray:
    import torch

    tdt = {"float8_e4m3fn": torch.float8_e4m3fn, "float8_e5m2": torch.float8_e5m2}[dtype]
    return torch.arange(256, dtype=torch.uint8).view(tdt).float().numpy()


def _stored_kind(parts: Parts, found: dict) -> str:
    """The format the stored tensors say, whatever the config claims."""
    if "packed" in found:
        dt = parts.dtype(found["packed"])
        if dt == "int32":
            return "pack-quantized"
        if dt == "uint8":
            return "nvfp4-pack-quantized" if "global_scale" in found else "mxfp4-pack-quantized"
        return f"unknown packed {dt}"
    dt = parts.dtype(found["weight"])
    if dt == "int8":
        return "int-quantized"
    if dt.startswith("float8"):
        return "float-quantized"
    return f"dense {dt}"


def _group_args(cfg: dict, module: str, kind: str) -> tuple[dict, set]:
    """The weight quantization args of the config group that covers ``module``, and the formats the config names."""
    groups = cfg.get("config_groups") or {}
    named = {cfg["format"]} if cfg.get("format") else set()
    named |= {g["format"] for g in groups.values() if isinstance(g, dict) and g.get("format")}
    best = None
    for g in groups.values():
        if not isinstance(g, dict):
            continue
        targets = g.get("targets") or []
        hit = any(t.startswith("re:") and re.match(t[3:], module) for t in targets if isinstance(t, str))
        fmt_ok = g.get("format", cfg.get("format")) in (None, kind, "mixed-precision")
        if hit and fmt_ok:
            return g.get("weights") or {}, named
        if best is None and fmt_ok:
            best = g.get("weights") or {}
    return best or {}, named


def claim(specs: dict, cfg: dict, parts: Parts) -> list[QWeight]:
    """The compressed-tensors weights among ``specs``; a weight whose storage contradicts the config is an error."""
    out = []
    for raw in specs:
        if not raw.endswith(".weight_scale"):
            continue
        prefix = raw[: -len(".weight_scale")]
        found = {"scale": raw}
        for role, suffix in (("packed", "weight_packed"), ("weight", "weight"), ("zero_point", "weight_zero_point"),
                             ("shape", "weight_shape"), ("global_scale", "weight_global_scale"), ("g_idx", "weight_g_idx")):
            if f"{prefix}.{suffix}" in specs:
                found[role] = f"{prefix}.{suffix}"
        if "packed" not in found and "weight" not in found:
            raise parts.error(raw, f"has no {prefix + '.weight_packed'!r} or {prefix + '.weight'!r} beside it", _REDOWNLOAD)
        kind = _stored_kind(parts, found)
        if kind not in FORMATS:
            if kind.startswith("dense"):  # a float weight with a scale beside it (activation-only schemes): not quantized
                continue
            raise parts.error(
                found["packed"],
                f"is stored as {kind.split()[-1]}, which no compressed-tensors format packs",
                _REDOWNLOAD,
            )
        args, named = _group_args(cfg, prefix, kind)
        if named and kind not in named and "mixed-precision" not in named:
            raise parts.error(
                found.get("packed") or found["weight"],
                f"is stored as {kind} but config.json's quantization_config names {', '.join(sorted(named))}",
                "the weights and config.json come from different checkpoints: download them together",
            )
        if kind == "pack-quantized":
            if "shape" not in found:
                raise parts.error(found["packed"], f"has no {prefix + '.weight_shape'!r} beside it", _REDOWNLOAD)
            shape = tuple(int(v) for v in parts.ints(found["shape"]).ravel())
            rows, cols = shape
            packed_cols = parts.shape(found["packed"])[-1]
            if args.get("num_bits") is not None:
                bits = int(args["num_bits"])
                if not 1 <= bits <= 8:
                    raise parts.error(found["packed"], f"has num_bits {bits} in its config, not 1 to 8", "check config.json")
                if math.ceil(cols * bits / 32) != packed_cols:
                    raise parts.error(
                        found["packed"], f"has {packed_cols} words per row but {cols} values of {bits} bits need {math.ceil(cols * bits / 32)}",
                        "the weights and config.json do not match: download them together",
                    )
            else:
                fits = [b for b in range(1, 9) if math.ceil(cols * b / 32) == packed_cols]
                if len(fits) != 1:
                    raise parts.error(
                        found["packed"],
                        f"has {packed_cols} words per row, which fits no single bit width",
                        "add config.json",
                    )
                bits = fits[0]
            parts.expect(QWeight(prefix + ".weight", kind, shape, "", found), "packed", (rows, packed_cols))
            dtype = f"int{bits}"
        elif kind in ("nvfp4-pack-quantized", "mxfp4-pack-quantized"):
            rows, half = parts.shape(found["packed"])
            shape, bits, dtype = (rows, 2 * half), 4, "fp4"
        else:
            shape, bits = parts.shape(found["weight"]), 8
            dtype = parts.dtype(found["weight"])
            if len(shape) != 2:
                raise parts.error(found["weight"], f"is {len(shape)}-d; qviz reads 2-d quantized Linear weights", "")
        qw = QWeight(prefix + ".weight", FORMATS[kind], tuple(shape), dtype, found)
        qw.params = dict(kind=kind, bits=bits, **_layout(qw, parts, args))
        out.append(qw)
    return out


def _layout(qw: QWeight, parts: Parts, args: dict) -> dict:
    """Scale strategy from the scale's shape (and the config's block structure)."""
    rows, cols = qw.shape
    s = parts.shape(qw.parts["scale"])
    n = math.prod(s)
    if n == 1:
        return dict(strategy="tensor", block=(rows, cols))
    if len(s) == 2 and s[0] == rows and s[1] == 1:
        return dict(strategy="channel", block=(1, cols))
    strategy = str(args.get("strategy") or "").lower()
    if len(s) == 2 and s[0] == rows and strategy != "block":
        if cols % s[1]:
            raise parts.error(qw.parts["scale"], f"has {s[1]} groups per row, which do not divide {cols}", _REDOWNLOAD)
        return dict(strategy="group", block=(1, cols // s[1]))
    if len(s) == 2:
        bs = args.get("block_structure")
        bh, bw = (int(bs[0]), int(bs[1])) if bs else (math.ceil(rows / s[0]), math.ceil(cols / s[1]))
        if (math.ceil(rows / bh), math.ceil(cols / bw)) != tuple(s):
            raise parts.error(
                qw.parts["scale"],
                f"has shape {s}, not the blocks of {bh}×{bw} of a {rows}×{cols} weight",
                _REDOWNLOAD,
            )
        return dict(strategy="block", block=(bh, bw))
    raise parts.error(qw.parts["scale"], f"has shape {s}, which fits no scale layout of a {rows}×{cols} weight", _REDOWNLOAD)


def _expand(a: np.ndarray, rows: int, cols: int, bh: int, bw: int) -> np.ndarray:
    """Per-block parameters ``(⌈rows/bh⌉, ⌈cols/bw⌉)`` broadcast to every value."""
    a = np.asarray(a, np.float32).reshape(math.ceil(rows / bh), math.ceil(cols / bw))
    return np.repeat(np.repeat(a, bh, axis=0), bw, axis=1)[:rows, :cols]


def decode(qw: QWeight, parts: Parts) -> Decoded:
    """Codes, scales (and zero points) and the float32 weight of one compressed-tensors weight."""
    p = qw.params
    rows, cols = qw.shape
    bh, bw = p["block"]
    kind, bits = p["kind"], p["bits"]
    scale = parts.floats(qw.parts["scale"])
    zp = None
    meta = {"strategy": p["strategy"], "block": (bh, bw)}
    if kind == "pack-quantized":
        off = 1 << (bits - 1)
        codes = unpack(parts.ints(qw.parts["packed"]), bits, cols)  # stored q + 2^(b-1)
        codebook = np.arange(1 << bits, dtype=np.float32) - np.float32(off)
        if "zero_point" in qw.parts:
            zraw = parts.ints(qw.parts["zero_point"])
            if p["strategy"] in ("group", "channel"):  # packed down the rows
                zp = unpack(np.ascontiguousarray(zraw.T), bits, rows).T.astype(np.float32) - np.float32(off)
            else:
                zp = zraw.astype(np.float32)
    elif kind == "int-quantized":
        q = parts.ints(qw.parts["weight"])
        codes = (q.astype(np.int16) + 128).astype(np.uint8)
        codebook = np.arange(-128, 128, dtype=np.float32)
        if "zero_point" in qw.parts:
            zp = parts.ints(qw.parts["zero_point"]).astype(np.float32)
    elif kind == "float-quantized":
        codes = parts.bytes(qw.parts["weight"]).reshape(rows, cols)
        codebook = _fp8_codebook(qw.dtype)
    else:
        codes = unpack_nibbles(parts.bytes(qw.parts["packed"]), high_first=False).reshape(rows, cols)
        codebook = FP4_VALUES
        if kind == "nvfp4-pack-quantized":
            gs = parts.floats(qw.parts["global_scale"]).reshape(-1)
            meta["global_scale"] = float(gs[0])
            scale = scale / gs[0]
        else:
            e = parts.ints(qw.parts["scale"]).astype(np.int32)
            scale = np.ldexp(np.float32(1), e - 127).astype(np.float32)
    q = codebook[codes]
    if rows % bh == 0 and cols % bw == 0:  # whole blocks: broadcast each block's parameters
        shape4 = (rows // bh, 1, cols // bw, 1)
        q4 = q.reshape(rows // bh, bh, cols // bw, bw)  # q is a fresh array: work in place
        if zp is not None:
            q4 -= np.asarray(zp, np.float32).reshape(shape4)
        q4 *= np.asarray(scale, np.float32).reshape(shape4)
        values = q4.reshape(rows, cols)
    else:
        sgrid = _expand(scale, rows, cols, bh, bw)
        values = ((q - _expand(zp, rows, cols, bh, bw)) * sgrid) if zp is not None else q * sgrid
    values = values.astype(np.float32, copy=False)
    if rows % bh or cols % bw:
        raise parts.error(
            qw.parts["scale"],
            f"covers {rows}×{cols} with partial {bh}×{bw} blocks",
            "qviz shows blocks of one size only",
        )
    tiled = p["strategy"] == "block" and not (bh == 1 and bw == cols)
    flat = gather_tiles(codes, bh, bw) if tiled else codes
    if tiled:
        meta["tile"] = (bh, bw)
    n_blocks = rows * cols // (bh * bw)
    qt = QuantizedTensor(
        name=qw.name, format=qw.format, shape=tuple(qw.shape), bits=bits, block_size=bh * bw,
        codes=flat.reshape(n_blocks, bh * bw), scales=np.asarray(scale, np.float32).reshape(-1),
        codebook=codebook, zero_points=None if zp is None else np.asarray(zp, np.float32).reshape(-1),
        nbytes=parts.total_nbytes(qw), meta=meta,
    )
    return Decoded(qt, values)
