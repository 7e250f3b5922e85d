"""Already-quantized safetensors checkpoints: GPTQ, AWQ, compressed-tensors, bitsandbytes.

One small module per format (:mod:`.gptq`, :mod:`.awq`, :mod:`.compressed`,
:mod:`.bnb`), the shared bit unpacking (:mod:`.packing`), and :mod:`.detect`,
which reads the quantization config and groups each weight's parts (``qweight``,
``scales``, …) under the weight's own name. :func:`attach` hooks them into a
:class:`~qviz.sources.safetensors_src.SafetensorsSource`: the parts disappear from
``names()``, the logical weight appears in their place with ``info(name).quantized``
set, ``load(name)`` is its reference dequantization in float32 and
``quantized(name)`` its :class:`qviz.QuantizedTensor`.
"""

from __future__ import annotations

from ..base import TensorInfo
from .detect import decode, group, load_config
from .parts import Decoded, Parts, QWeight, in_tensor_order


def attach(source, folder: str | None, metadata: dict) -> dict:
    """Group ``source``'s quantized parts into logical weights; rewrite its tensor table. Returns name → QWeight."""
    names = list(source._infos)
    if not any(n.endswith((".qweight", ".weight_scale", "SCB")) or ".quant_state.bitsandbytes__" in n for n in names):
        return {}
    specs = {n: (i.dtype, i.shape) for n, i in source._infos.items()}
    parts = Parts(source, specs)
    cfg = load_config(folder, metadata, source.label)
    weights = group(parts, cfg)
    if not weights:
        return {}
    owner = {raw: qw for qw in weights.values() for raw in qw.parts.values()}
    infos: dict = {}
    for n in names:
        qw = owner.get(n)
        if qw is None:
            if n not in infos:
                infos[n] = source._infos[n]
        elif qw.name not in infos:
            infos[qw.name] = TensorInfo(qw.name, qw.shape, qw.dtype, quantized=qw.format)
    source._infos = infos
    source._qparts = parts
    return weights


__all__ = ["Decoded", "Parts", "QWeight", "attach", "decode", "group", "in_tensor_order", "load_config"]
