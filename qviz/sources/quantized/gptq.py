"""GPTQ checkpoints (AutoGPTQ / GPTQModel / transformers): ``qweight``, ``qzeros``, ``scales``, ``g_idx``.

For a Linear with ``in`` inputs and ``out`` outputs quantized to ``b`` bits in
groups of ``G`` inputs::

    qweight  int32 (in·b/32, out)   codes packed down the input rows (dense bit stream, :mod:`.packing`)
    qzeros   int32 (n_groups, out·b/32)   zero points packed along the outputs
    scales   fp16  (n_groups, out)
    g_idx    int32 (in,)            group of each input row (act-order permutes it; default i // G)

and the weight (``out × in``, as the original Linear stores it) is GPTQModel's
``scales[g_idx] * (weight - zeros[g_idx])``::

    W[o, i] = scales[g_idx[i], o] · (q[i, o] − z[g_idx[i], o])

where, for the v1 checkpoint format (``checkpoint_format: "gptq"``, the default: AutoGPTQ
subtracted one from every zero point before saving), ``z = (stored + 1) mod 2^b`` per
field, as GPTQModel's ``model_dequant`` corrects it; ``gptq_v2`` stores ``z`` itself.
Computed in float32 as GPTQModel's dequantizer does; every product is exact (an fp16
scale times an integer under 2^9), so rounding it to fp16 gives the fp16 kernels' reference too.

Example
-------
>>> group_size_of({"group_size": -1}, in_features=64, n_groups=1)
64
"""

from __future__ import annotations

import math

import numpy as np

from ...quantized import QuantizedTensor
from .packing import unpack
from .parts import Decoded, Parts, QWeight, column_order

ALLOWED_BITS = (2, 3, 4, 8)
SUFFIXES = {"qweight": ".qweight", "qzeros": ".qzeros", "scales": ".scales", "g_idx": ".g_idx"}
_REDOWNLOAD = "the checkpoint is incomplete or corrupted: download it again"


def group_size_of(cfg: dict, in_features: int, n_groups: int) -> int:
    """Inputs per group: the config's ``group_size`` (−1 means one group), else ``in / n_groups``."""
    g = cfg.get("group_size")
    if g is None:
        return max(1, in_features // max(1, n_groups))
    g = int(g)
    return in_features if g <= 0 else g


def _bits(parts: Parts, qw_name: str, cfg: dict, out: int, qz_cols: int) -> int:
    if cfg.get("bits") is not None:
        b = int(cfg["bits"])
    else:  # from the zero points' packed width
        fits = [b for b in ALLOWED_BITS if math.ceil(out * b / 32) == qz_cols]
        if len(fits) != 1:
            raise parts.error(
                qw_name, f"has zero points {qz_cols} words wide for {out} outputs, which fits no GPTQ bit width",
                "add quantize_config.json (with \"bits\") beside the weights",
            )
        b = fits[0]
    if b not in ALLOWED_BITS:
        raise parts.error(qw_name, f"is GPTQ with {b} bits, not one of {ALLOWED_BITS}", "check quantize_config.json")
    return b


def claim(specs: dict, cfg: dict, parts: Parts, fmt: str = "gptq") -> list[QWeight]:
    """The GPTQ weights among ``specs`` (raw name → (dtype, shape)), their shapes checked."""
    out_list = []
    for raw in specs:
        if not raw.endswith(".qweight"):
            continue
        prefix = raw[: -len(".qweight")]
        found = {role: prefix + s for role, s in SUFFIXES.items() if prefix + s in specs}
        for role in ("qzeros", "scales"):
            if role not in found:
                raise parts.error(raw, f"has no {prefix + SUFFIXES[role]!r} beside it", _REDOWNLOAD)
        qshape, sshape, zshape = (parts.shape(found[r]) for r in ("qweight", "scales", "qzeros"))
        if len(qshape) != 2 or len(sshape) != 2 or len(zshape) != 2:
            raise parts.error(raw, "and its scales/qzeros must be 2-d", _REDOWNLOAD)
        n_groups, out = sshape
        bits = _bits(parts, found["qzeros"], cfg, out, zshape[1])
        if "g_idx" in found:
            in_features = parts.shape(found["g_idx"])[0]
        else:
            if (qshape[0] * 32) % bits:
                raise parts.error(raw, f"has {qshape[0]} packed rows, not a whole number of {bits}-bit inputs", _REDOWNLOAD)
            in_features = qshape[0] * 32 // bits
        qw = QWeight(prefix + ".weight", fmt, (out, in_features), f"int{bits}", found)
        parts.expect(
            qw,
            "qweight",
            (math.ceil(in_features * bits / 32), out),
            f"{in_features} inputs × {out} outputs at {bits} bits",
        )
        parts.expect(qw, "qzeros", (n_groups, math.ceil(out * bits / 32)), f"{n_groups} groups × {out} outputs at {bits} bits")
        gsize = group_size_of(cfg, in_features, n_groups)
        if "g_idx" not in found and math.ceil(in_features / gsize) != n_groups:
            raise parts.error(
                found["scales"], f"has {n_groups} groups but {in_features} inputs in groups of {gsize} make {math.ceil(in_features / gsize)}",
                "check group_size in quantize_config.json",
            )
        fmt_name = str(cfg.get("checkpoint_format") or cfg.get("format") or "gptq").lower()
        qw.params = dict(bits=bits, group_size=gsize, n_groups=n_groups, offset=0 if fmt_name == "gptq_v2" else 1,
                         checkpoint_format="gptq_v2" if fmt_name == "gptq_v2" else "gptq",
                         desc_act=bool(cfg.get("desc_act", False)), sym=cfg.get("sym"))
        out_list.append(qw)
    return out_list


def decode(qw: QWeight, parts: Parts) -> Decoded:
    """Codes, scales, zero points and the float32 weight ``(out, in)`` of one GPTQ weight."""
    p = qw.params
    bits, ng, offset = p["bits"], p["n_groups"], p["offset"]
    out, inp = qw.shape
    codes = unpack(parts.ints(qw.parts["qweight"]).T, bits, inp)  # (out, in)
    stored = unpack(parts.ints(qw.parts["qzeros"]), bits, out)  # (ng, out)
    zeros = ((stored.astype(np.int32) + offset) & ((1 << bits) - 1)).astype(np.float32)  # v1: + 1 per field
    scales = parts.floats(qw.parts["scales"])  # (ng, out)
    if "g_idx" in qw.parts:
        g = parts.ints(qw.parts["g_idx"]).astype(np.int64)
        if g.size and (g.min() < 0 or g.max() >= ng):
            raise parts.error(qw.parts["g_idx"], f"names groups outside [0, {ng - 1}]", _REDOWNLOAD)
    else:
        g = np.arange(inp) // p["group_size"]
    if np.array_equal(g, np.arange(inp) // p["group_size"]) and inp % p["group_size"] == 0:  # groups in order: broadcast
        c = codes.reshape(out, ng, -1).astype(np.float32)
        c -= zeros.T[:, :, None]  # in place: the same float32 operations, less peak memory
        c *= scales.T[:, :, None]
        values = c.reshape(out, inp)
    else:  # act-order: gather each input's group
        values = codes.astype(np.float32)
        values -= zeros.T[:, g]
        values *= scales.T[:, g]
    counts = np.bincount(g, minlength=ng)
    if counts.size != ng or not np.all(counts == counts[0]):
        raise parts.error(qw.parts["g_idx" if "g_idx" in qw.parts else "scales"],
                          f"has groups of unequal size ({counts.min()}–{counts.max()} inputs)",
                          "qviz shows GPTQ blocks of one size only")
    gs = int(counts[0])
    perm = column_order(g)
    block_codes = codes if perm is None else codes[:, perm]
    meta = dict(p)
    meta.update(act_order=perm is not None, zero_point_offset=offset)
    if perm is not None:
        meta["column_order"] = perm
    qt = QuantizedTensor(
        name=qw.name, format=qw.format, shape=tuple(qw.shape), bits=bits, block_size=gs,
        codes=block_codes.reshape(-1, gs), scales=np.ascontiguousarray(scales.T).reshape(-1),
        codebook=np.arange(1 << bits, dtype=np.float32), zero_points=np.ascontiguousarray(zeros.T).reshape(-1),
        nbytes=parts.total_nbytes(qw), meta=meta,
    )
    return Decoded(qt, values)
