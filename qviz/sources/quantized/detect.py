"""Which quantized-checkpoint format a safetensors file or folder holds, and its parts grouped into logical weights.

Evidence, strongest first: the folder's ``config.json`` (``quantization_config.quant_method``:
``gptq``, ``awq``, ``compressed-tensors``, ``bitsandbytes``), ``quantize_config.json``
(GPTQ) or ``quant_config.json`` (AutoAWQ), a ``quantization_config`` / ``quantize_config``
JSON string in the safetensors metadata, then the tensor names themselves
(``*.qweight``, ``*.weight_packed`` / ``*.weight_scale``, ``*.quant_state.bitsandbytes__*``, ``*.SCB``).

Example
-------
>>> method_of({"bits": 4, "group_size": 128, "desc_act": True})
'gptq'
>>> method_of({"w_bit": 4, "q_group_size": 128, "version": "gemm"})
'awq'
"""

from __future__ import annotations

import json
import os

from ..base import fail
from . import awq, bnb, compressed, gptq

CONFIG_FILES = ("config.json", "quantize_config.json", "quant_config.json")


def method_of(cfg: dict) -> str:
    """``gptq``, ``awq``, ``compressed-tensors``, ``bitsandbytes`` or ``""`` from a quantization config."""
    m = str(cfg.get("quant_method") or "").lower().replace("_", "-")
    if m in ("gptq", "awq", "compressed-tensors", "bitsandbytes"):
        return m
    if "w_bit" in cfg or "q_group_size" in cfg:
        return "awq"
    if "bits" in cfg and ("desc_act" in cfg or "group_size" in cfg or "checkpoint_format" in cfg):
        return "gptq"
    if "config_groups" in cfg:
        return "compressed-tensors"
    if any(k.startswith(("load_in_4bit", "load_in_8bit", "bnb_4bit")) for k in cfg):
        return "bitsandbytes"
    return ""


def _read_json(path: str, label: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        if not isinstance(d, dict):
            raise ValueError("not a JSON object")
        return d
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise fail(f"{label}/{os.path.basename(path)}", f"is not valid JSON ({str(e)[:80]})", "download it again") from None


def load_config(folder: str | None, metadata: dict, label: str) -> dict:
    """The quantization config: from the folder's JSON files, else the safetensors metadata ({} when none)."""
    if folder:
        for fname in CONFIG_FILES:
            path = os.path.join(folder, fname)
            if os.path.isfile(path):
                d = _read_json(path, label)
                cfg = d.get("quantization_config", d) if fname == "config.json" else d
                if fname == "config.json" and "quantization_config" not in d:
                    continue
                if isinstance(cfg, dict) and method_of(cfg):
                    return cfg
    for key in ("quantization_config", "quantize_config", "quant_config"):
        if isinstance(metadata.get(key), str):
            try:
                cfg = json.loads(metadata[key])
            except ValueError:
                raise fail(label, f"has a {key} in its metadata that is not valid JSON", "save the checkpoint again") from None
            if isinstance(cfg, dict) and method_of(cfg):
                return cfg
    return {}


def group(parts, cfg: dict) -> dict:
    """Logical weights (name → :class:`~.parts.QWeight`) among ``parts.specs``, by the config's method or the names."""
    specs = parts.specs
    method = method_of(cfg)
    found: list = []
    if any(n.endswith(".qweight") for n in specs):
        use_awq = method == "awq"
        if not method:  # no config: AWQ GEMM packs the outputs (qweight 8× narrower than scales), GPTQ the inputs
            q = next(n for n in specs if n.endswith(".qweight"))
            s = q[: -len("qweight")] + "scales"
            use_awq = s in specs and q[: -len("qweight")] + "g_idx" not in specs and awq.is_gemm_shape(parts.shape(q), parts.shape(s))
        found += awq.claim(specs, cfg, parts) if use_awq else gptq.claim(specs, cfg, parts)
    if any(n.endswith(".weight_scale") for n in specs):
        found += compressed.claim(specs, cfg if method in ("", "compressed-tensors") else {}, parts)
    if any(bnb.STATE in n or n == "SCB" or n.endswith(".SCB") for n in specs):
        found += bnb.claim(specs, cfg, parts)
    out = {}
    for qw in found:
        if qw.name in out:
            raise parts.error(
                next(iter(qw.parts.values())),
                f"belongs to {qw.name!r}, which is stored in two quantized layouts at once",
                "the checkpoint mixes formats: download it again",
            )
        out[qw.name] = qw
    return out


DECODERS = {"gptq": gptq.decode, "awq": awq.decode, "compressed-tensors": compressed.decode, "bitsandbytes": bnb.decode}


def decode(qw, parts):
    """The :class:`~.parts.Decoded` weight ``qw``."""
    return DECODERS[qw.format.split(":")[0]](qw, parts)
