"""AWQ checkpoints (AutoAWQ, 4 bits): GEMM and GEMV packing of ``qweight``/``qzeros``/``scales``.

**GEMM** (``version: "gemm"``, the common one) stores the transposed weight::

    qweight int32 (in, out/8)   8 nibbles per word in AutoAWQ's order [0, 2, 4, 6, 1, 3, 5, 7]
    qzeros  int32 (n_groups, out/8)   same order
    scales  fp16  (n_groups, out)

**GEMV** (``version: "gemv"``) keeps the Linear's orientation, nibbles in order::

    qweight int32 (out, in/8);  qzeros int32 (out, zw);  scales fp16 (out, 8·zw)

where ``zw`` pads the number of groups (AutoAWQ's ``calculate_zeros_width``). Both
dequantize as AutoAWQ's ``dequantize_gemm``: ``W[o, i] = (q − z[g]) · s[g]``, ``g = i // G``
(no +1 on the zero points, unlike GPTQ v1).

Example
-------
>>> import numpy as np
>>> AWQ_ORDER[REVERSE_ORDER]  # unpacked nibble j holds column AWQ_ORDER[j]
array([0, 1, 2, 3, 4, 5, 6, 7])
"""

from __future__ import annotations

import numpy as np

from ...quantized import QuantizedTensor
from .packing import unpack
from .parts import Decoded, Parts, QWeight

AWQ_ORDER = np.array([0, 2, 4, 6, 1, 3, 5, 7])
REVERSE_ORDER = np.array([0, 4, 1, 5, 2, 6, 3, 7])
_REDOWNLOAD = "the checkpoint is incomplete or corrupted: download it again"


def _reorder(nibbles: np.ndarray) -> np.ndarray:
    """Columns in order from AutoAWQ's packed nibble order (``reverse_awq_order``)."""
    rows, cols = nibbles.shape
    idx = (np.arange(cols // 8)[:, None] * 8 + REVERSE_ORDER[None, :]).ravel()
    return nibbles[:, idx]


def is_gemm_shape(qshape: tuple, sshape: tuple) -> bool:
    return qshape[1] * 8 == sshape[1]


def claim(specs: dict, cfg: dict, parts: Parts) -> list[QWeight]:
    """The AWQ weights among ``specs``, GEMM or GEMV from the config's ``version`` (else from the shapes)."""
    bits = int(cfg.get("w_bit", cfg.get("bits", 4)))
    group = cfg.get("q_group_size", cfg.get("group_size"))
    version = str(cfg.get("version", "")).lower()
    out_list = []
    for raw in specs:
        if not raw.endswith(".qweight"):
            continue
        prefix = raw[: -len(".qweight")]
        found = {r: f"{prefix}.{r}" for r in ("qweight", "qzeros", "scales") if f"{prefix}.{r}" in specs}
        for role in ("qzeros", "scales"):
            if role not in found:
                raise parts.error(raw, f"has no {prefix + '.' + role!r} beside it", _REDOWNLOAD)
        if bits != 4:
            raise parts.error(
                raw,
                f"is AWQ with {bits} bits; AWQ packs 4-bit codes only",
                "check w_bit in the quantization config",
            )
        qshape, sshape = parts.shape(found["qweight"]), parts.shape(found["scales"])
        if len(qshape) != 2 or len(sshape) != 2:
            raise parts.error(raw, "and its scales must be 2-d", _REDOWNLOAD)
        gemm = version == "gemm" or (version not in ("gemv",) and is_gemm_shape(qshape, sshape))
        if version not in ("", "gemm", "gemv"):
            raise parts.error(raw, f"uses AWQ version {version!r}", "qviz reads the gemm and gemv layouts")
        if gemm:
            inp, out = qshape[0], qshape[1] * 8
            ng = sshape[0]
            qw = QWeight(prefix + ".weight", "awq", (out, inp), "int4", found)
            parts.expect(qw, "scales", (ng, out), f"{out} outputs")
            parts.expect(qw, "qzeros", (ng, out // 8), f"{ng} groups × {out} outputs")
        else:
            out, inp = qshape[0], qshape[1] * 8
            gs = inp if group in (None, -1) else int(group)
            ng = max(1, inp // gs)
            zshape = parts.shape(found["qzeros"])
            qw = QWeight(prefix + ".weight", "awq", (out, inp), "int4", found)
            if len(zshape) != 2 or zshape[0] != out or zshape[1] * 8 < ng:
                parts.expect(qw, "qzeros", (out, (ng + 7) // 8), f"{ng} groups")
            parts.expect(qw, "scales", (out, zshape[1] * 8), "the zero points' padded width")
        gs = inp // ng if ng else inp
        if ng * gs != inp:
            raise parts.error(found["scales"], f"has {ng} groups, which do not divide {inp} inputs", _REDOWNLOAD)
        qw.params = dict(bits=4, group_size=gs, n_groups=ng, version="gemm" if gemm else "gemv", zero_point=cfg.get("zero_point"))
        out_list.append(qw)
    return out_list


def decode(qw: QWeight, parts: Parts) -> Decoded:
    """Codes, scales, zero points and the float32 weight ``(out, in)`` of one AWQ weight."""
    p = qw.params
    out, inp = qw.shape
    ng, gs = p["n_groups"], p["group_size"]
    if p["version"] == "gemm":
        codes = _reorder(unpack(parts.ints(qw.parts["qweight"]), 4, out)).T  # (out, in)
        zeros = _reorder(unpack(parts.ints(qw.parts["qzeros"]), 4, out)).T.astype(np.float32)  # (out, ng)
        scales = parts.floats(qw.parts["scales"]).T  # (out, ng)
    else:
        codes = unpack(parts.ints(qw.parts["qweight"]), 4, inp)
        zq = parts.ints(qw.parts["qzeros"])
        zeros = unpack(zq, 4, zq.shape[1] * 8)[:, :ng].astype(np.float32)
        scales = parts.floats(qw.parts["scales"])[:, :ng]
    c = codes.reshape(out, ng, gs).astype(np.float32)
    c -= zeros[:, :, None]  # in place: the same float32 operations, less peak memory
    c *= scales[:, :, None]
    values = c.reshape(out, inp)
    qt = QuantizedTensor(
        name=qw.name, format="awq", shape=tuple(qw.shape), bits=4, block_size=gs,
        codes=np.ascontiguousarray(codes).reshape(-1, gs), scales=np.ascontiguousarray(scales).reshape(-1),
        codebook=np.arange(16, dtype=np.float32), zero_points=np.ascontiguousarray(zeros).reshape(-1),
        nbytes=parts.total_nbytes(qw), meta=dict(p),
    )
    return Decoded(qt, values)
