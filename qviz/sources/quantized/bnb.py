"""bitsandbytes state dicts as transformers saves them: NF4/FP4 (``QuantState.as_dict(packed=True)``) and LLM.int8 (``SCB``).

**4-bit** (``Linear4bit``), for a weight ``W`` of ``n`` values::

    W                                       uint8 (n/2, 1)  two codes per byte, the first in the high nibble
    W.absmax                                float32 (n/blocksize,), or uint8 codes when double-quantized
    W.quant_map                             float32 (16,)   the NF4 or FP4 code values
    W.nested_absmax, W.nested_quant_map     float32         double quantization of absmax (blocks of 256)
    W.quant_state.bitsandbytes__nf4         uint8 JSON: quant_type, blocksize, dtype, shape, nested_offset …

``value = quant_map[code] · absmax[block]`` in float32 (bitsandbytes' ``dequantize_4bit``
on CPU); double-quantized, ``absmax = nested_quant_map[c] · nested_absmax[c_block] + nested_offset``.

**8-bit** (``Linear8bitLt``): ``W`` int8 (out, in), ``SCB`` float32 (out,) the row absmax, and
``weight_format``; ``value = q · SCB[row] · (1/127)`` (``int8_vectorwise_dequant``: two float32 products).

Example
-------
>>> import json, numpy as np
>>> state = np.frombuffer(json.dumps({"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [4, 32]}).encode(), np.uint8)
>>> parse_state(state, "w", "m.safetensors")["blocksize"]
64
"""

from __future__ import annotations

import json
import math

import numpy as np

from ...quantized import QuantizedTensor
from ..base import fail
from .packing import unpack_nibbles
from .parts import Decoded, Parts, QWeight

STATE = ".quant_state.bitsandbytes__"
INV127 = np.float32(7.874015718698502e-3)  # bitsandbytes' reciprocal of 127
_REDOWNLOAD = "the checkpoint is incomplete or corrupted: save or download it again"


def parse_state(raw: np.ndarray, name: str, label: str) -> dict:
    """The JSON quant state transformers packs into a uint8 tensor."""
    try:
        state = json.loads(np.asarray(raw, np.uint8).tobytes().decode("utf-8"))
        if not isinstance(state, dict):
            raise ValueError("not an object")
        state["blocksize"] = int(state["blocksize"])
        state["shape"] = tuple(int(s) for s in state["shape"])
        if state.get("quant_type") not in ("nf4", "fp4") or state["blocksize"] < 1:
            raise ValueError(f"quant_type {state.get('quant_type')!r}, blocksize {state['blocksize']}")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise fail(label, f"tensor {name!r} is not a valid bitsandbytes quant state ({str(e)[:80]})", _REDOWNLOAD) from None
    return state


def claim(specs: dict, cfg: dict, parts: Parts) -> list[QWeight]:
    """The 4-bit and int8 bitsandbytes weights among ``specs``."""
    out = []
    for raw in specs:
        if STATE in raw:
            w = raw[: raw.index(STATE)]
            qtype = raw.rsplit("__", 1)[1]
            found = {"weight": w, "state": raw}
            for role in ("absmax", "quant_map", "nested_absmax", "nested_quant_map"):
                if f"{w}.{role}" in specs:
                    found[role] = f"{w}.{role}"
            for role in ("weight", "absmax", "quant_map"):
                if found.get(role) not in specs:
                    raise parts.error(raw, f"has no {found.get(role, w + '.' + role)!r} beside it", _REDOWNLOAD)
            state = parse_state(parts.bytes(raw), raw, parts.label(raw))
            if state["quant_type"] != qtype:
                raise parts.error(raw, f"holds quant_type {state['quant_type']!r} but its name says {qtype}", _REDOWNLOAD)
            n = math.prod(state["shape"])
            qw = QWeight(w, f"bitsandbytes:{qtype}", state["shape"], qtype, found, dict(state))
            if parts.dtype(w) != "uint8" or math.prod(parts.shape(w)) != (n + 1) // 2:
                raise parts.error(
                    w,
                    f"is {parts.dtype(w)} {parts.shape(w)}, not the {(n + 1) // 2} packed bytes of shape {state['shape']}",
                    _REDOWNLOAD,
                )
            n_blocks = math.ceil(n / state["blocksize"])
            parts.expect(qw, "absmax", (n_blocks,), f"{n} values in blocks of {state['blocksize']}")
            parts.expect(qw, "quant_map", (16,))
            nested = "nested_absmax" in found
            if nested:
                if "nested_quant_map" not in found or "nested_blocksize" not in state:
                    raise parts.error(raw, "is double-quantized but lacks nested_quant_map or nested_blocksize", _REDOWNLOAD)
                parts.expect(qw, "nested_absmax", (math.ceil(n_blocks / int(state["nested_blocksize"])),))
                parts.expect(qw, "nested_quant_map", (256,))
            qw.params["double_quant"] = nested
            out.append(qw)
        elif raw == "SCB" or raw.endswith(".SCB"):
            prefix = raw[: -len("SCB")]  # "…layer." or "" for a bare Linear8bitLt state dict
            w = prefix + "weight"
            if w not in specs:
                raise parts.error(raw, f"has no {w!r} beside it", _REDOWNLOAD)
            found = {"weight": w, "SCB": raw}
            if prefix + "weight_format" in specs:
                found["weight_format"] = prefix + "weight_format"
            shape = parts.shape(w)
            if parts.dtype(w) != "int8" or len(shape) != 2:
                raise parts.error(w, f"is {parts.dtype(w)} {shape}; LLM.int8 stores a 2-d int8 weight", _REDOWNLOAD)
            qw = QWeight(w, "bitsandbytes:int8", shape, "int8", found, {"threshold": cfg.get("llm_int8_threshold")})
            parts.expect(qw, "SCB", (shape[0],), "one absmax per output row")
            out.append(qw)
    return out


def _decode_4bit(qw: QWeight, parts: Parts) -> Decoded:
    st = qw.params
    n, bs = math.prod(qw.shape), st["blocksize"]
    codes = unpack_nibbles(parts.bytes(qw.parts["weight"]), high_first=True)[:n]
    qmap = parts.floats(qw.parts["quant_map"])
    if st["double_quant"]:
        c2 = parts.ints(qw.parts["absmax"]).astype(np.int64)
        nmap, nabs = parts.floats(qw.parts["nested_quant_map"]), parts.floats(qw.parts["nested_absmax"])
        absmax = nmap[c2] * nabs[np.arange(c2.size) // int(st["nested_blocksize"])]
        absmax = absmax + np.float32(st.get("nested_offset", 0.0))
    else:
        absmax = parts.floats(qw.parts["absmax"])
    if n % bs == 0:
        values = qmap[codes].reshape(-1, bs)
        values *= absmax[:, None]
        values = values.reshape(qw.shape)
    else:
        values = (qmap[codes] * absmax[np.arange(n) // bs]).reshape(qw.shape)
    if n % bs:
        raise parts.error(
            qw.parts["weight"],
            f"has {n} values, not whole blocks of {bs}",
            "qviz shows bitsandbytes blocks of one size only",
        )
    meta = {k: v for k, v in st.items() if k != "shape"}
    qt = QuantizedTensor(
        name=qw.name, format=qw.format, shape=tuple(qw.shape), bits=4, block_size=bs, codes=codes.reshape(-1, bs),
        scales=absmax.astype(np.float32), codebook=qmap, nbytes=parts.total_nbytes(qw), meta=meta,
    )
    return Decoded(qt, values)


def _decode_int8(qw: QWeight, parts: Parts) -> Decoded:
    q = parts.ints(qw.parts["weight"])
    scb = parts.floats(qw.parts["SCB"])
    values = q.astype(np.float32)
    values *= scb[:, None]
    values *= INV127
    qt = QuantizedTensor(
        name=qw.name, format=qw.format, shape=tuple(qw.shape), bits=8, block_size=qw.shape[1],
        codes=(q.astype(np.int16) + 128).astype(np.uint8), scales=scb * INV127,
        codebook=np.arange(-128, 128, dtype=np.float32), nbytes=parts.total_nbytes(qw),
        meta=dict(qw.params, note="scale = SCB/127; the reference multiplies by SCB then by 1/127 (load() follows it)"),
    )
    return Decoded(qt, values)


def decode(qw: QWeight, parts: Parts) -> Decoded:
    return _decode_int8(qw, parts) if qw.format.endswith("int8") else _decode_4bit(qw, parts)
