"""AWQ checkpoints packed with AutoAWQ's ``WQLinear_GEMM`` / ``WQLinear_GEMV.from_linear`` and dequantized with ``dequantize_gemm``.

AutoAWQ needs CUDA kernels, so its packing loops and ``awq/utils/packing_utils.py``
(``unpack_awq``, ``reverse_awq_order``, ``dequantize_gemm``, pure torch) are
re-written here from its source (casper-hansen/AutoAWQ). GEMV has no
torch dequantization in AutoAWQ (CUDA only): it is checked against the codes,
zeros and scales that went into its packing, with ``dequantize_gemm``'s formula.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import WEIGHTS, bits_equal, write_checkpoint

import qviz
from qviz.sources.quantized import in_tensor_order

Q, FC, OUT = list(WEIGHTS)
AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]
AWQ_REVERSE_ORDER = [0, 4, 1, 5, 2, 6, 3, 7]


def awq_qparams(w: torch.Tensor, group_size: int):
    """AutoAWQ's ``pseudo_quantize_tensor`` (zero point, 4 bits): the fake-quantized weight, scales and zeros (out, groups).

    As in AutoAWQ, ``from_linear`` then packs the fake-quantized weight, so its rounding recovers the codes.
    """
    out, inp = w.shape
    g = w.reshape(-1, group_size)
    mx, mn = g.amax(dim=1, keepdim=True), g.amin(dim=1, keepdim=True)
    scales = (mx - mn).clamp(min=1e-5) / 15
    zeros = (-torch.round(mn / scales)).clamp_(0, 15)
    wq = (torch.clamp(torch.round(g / scales) + zeros, 0, 15) - zeros) * scales
    return wq.reshape(out, inp), scales.view(out, -1), zeros.view(out, -1)


def pack_gemm(w: torch.Tensor, scales: torch.Tensor, zeros: torch.Tensor, group_size: int):
    """``WQLinear_GEMM.from_linear`` (scales/zeros passed transposed, as AutoAWQ's quantizer does)."""
    scales, zeros = scales.t().contiguous(), zeros.t().contiguous()  # (groups, out)
    scale_zeros = zeros * scales
    scales16 = scales.clone().half()
    intweight = torch.cat([torch.round((w[:, i] + scale_zeros[i // group_size]) / scales16[i // group_size]).to(torch.int)[:, None]
                           for i in range(w.shape[1])], dim=1)
    intweight = intweight.t().contiguous().to(torch.int32)  # (in, out)
    qweight = torch.zeros((intweight.shape[0], intweight.shape[1] // 8), dtype=torch.int32)
    for col in range(intweight.shape[1] // 8):
        for i in range(8):
            qweight[:, col] |= intweight[:, col * 8 + AWQ_ORDER[i]] << (i * 4)
    zeros = zeros.to(torch.int32)
    qzeros = torch.zeros((zeros.shape[0], zeros.shape[1] // 8), dtype=torch.int32)
    for col in range(zeros.shape[1] // 8):
        for i in range(8):
            qzeros[:, col] |= zeros[:, col * 8 + AWQ_ORDER[i]] << (i * 4)
    return {"qweight": qweight, "qzeros": qzeros, "scales": scales16}


def dequantize_gemm(qweight, qzeros, scales, bits, group_size):
    """AutoAWQ ``packing_utils.dequantize_gemm``: (in, out) in the scales' dtype."""
    shifts = torch.arange(0, 32, bits)
    iweights = torch.bitwise_right_shift(qweight[:, :, None], shifts[None, None, :]).to(torch.int8).view(qweight.shape[0], -1)
    izeros = torch.bitwise_right_shift(qzeros[:, :, None], shifts[None, None, :]).to(torch.int8).view(qzeros.shape[0], -1)
    order = torch.arange(izeros.shape[-1], dtype=torch.int32).view(-1, 32 // bits)[:, AWQ_REVERSE_ORDER].view(-1)
    iweights, izeros = iweights[:, order], izeros[:, order]
    iweights, izeros = torch.bitwise_and(iweights, 2**bits - 1), torch.bitwise_and(izeros, 2**bits - 1)
    scales = scales.repeat_interleave(group_size, dim=0)
    izeros = izeros.repeat_interleave(group_size, dim=0)
    return (iweights - izeros) * scales


def pack_gemv(w: torch.Tensor, scales: torch.Tensor, zeros: torch.Tensor, group_size: int):
    """``WQLinear_GEMV.from_linear``: nibbles in order, zero/scale columns padded (``calculate_zeros_width``)."""
    inp = w.shape[1]
    base = (inp // group_size + 7) // 8
    mult = {128: 1, 64: 2, 32: 4}[min(group_size, 128)]
    zw = (base + mult - 1) // mult * mult
    qscales = torch.zeros((scales.shape[0], zw * 8), dtype=torch.float16)
    qscales[:, : scales.shape[1]] = scales
    scale_zeros = zeros * scales
    intweight = torch.cat([torch.round((w[:, i] + scale_zeros[:, i // group_size]) / qscales[:, i // group_size]).to(torch.int)[:, None]
                           for i in range(inp)], dim=1).to(torch.int32)
    qweight = torch.zeros((intweight.shape[0], intweight.shape[1] // 8), dtype=torch.int32)
    for col in range(intweight.shape[1] // 8):
        for i in range(8):
            qweight[:, col] |= intweight[:, col * 8 + i] << (i * 4)
    zeros = zeros.to(torch.int32)
    qzeros = torch.zeros((zeros.shape[0], zw), dtype=torch.int32)
    for col in range((zeros.shape[1] + 7) // 8):
        for i in range(8):
            if col * 8 + i < zeros.shape[1]:
                qzeros[:, col] |= zeros[:, col * 8 + i] << (i * 4)
    return {"qweight": qweight, "qzeros": qzeros, "scales": qscales}, intweight, zeros


@pytest.mark.parametrize("module, group_size", [(Q, 128), (FC, 64)])
def test_gemm_decodes_like_autoawq(module, group_size, tmp_path, minilm):
    w = minilm[module]
    wq, scales, zeros = awq_qparams(w, group_size)
    parts = pack_gemm(wq, scales, zeros, group_size)
    write_checkpoint(tmp_path, {f"{module}.{k}": v for k, v in parts.items()},
                     {"quantization_config": {"quant_method": "awq", "bits": 4, "group_size": group_size, "version": "gemm", "zero_point": True}})
    src = qviz.open_source(tmp_path)
    name = f"{module}.weight"
    assert src.names() == [name] and src.info(name).quantized == "awq" and src.info(name).shape == tuple(w.shape)
    x = src.load(name)
    ref16 = dequantize_gemm(parts["qweight"], parts["qzeros"], parts["scales"], 4, group_size)
    assert torch.equal(torch.from_numpy(x.T.copy()).half(), ref16)
    ref32 = dequantize_gemm(parts["qweight"], parts["qzeros"], parts["scales"].float(), 4, group_size)
    assert bits_equal(x.T, ref32.numpy())
    qt = src.quantized(name)
    assert (qt.format, qt.bits, qt.block_size, qt.meta["version"]) == ("awq", 4, group_size, "gemm")
    assert bits_equal(in_tensor_order(qt), x)
    assert np.abs(x - w.numpy()).max() <= 0.5 * qt.scales.max() * 1.01  # round to nearest: within half a step
    assert qt.codes.max() <= 15 and qt.zero_points.max() <= 15


def test_gemm_detected_without_config(tmp_path, minilm):
    w = minilm[Q]
    parts = pack_gemm(*awq_qparams(w, 128), 128)
    src = qviz.open_source(write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in parts.items()}))
    assert src.info(f"{Q}.weight").quantized == "awq"
    ref = dequantize_gemm(parts["qweight"], parts["qzeros"], parts["scales"].float(), 4, 128)
    assert bits_equal(src.load(f"{Q}.weight").T, ref.numpy())


def test_gemv(tmp_path, minilm):
    w = minilm[Q]
    wq, scales, zeros = awq_qparams(w, 64)
    parts, intweight, izeros = pack_gemv(wq, scales, zeros, 64)
    write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in parts.items()})
    (tmp_path / "quant_config.json").write_text(json.dumps({"zero_point": True, "q_group_size": 64, "w_bit": 4, "version": "GEMV"}))
    src = qviz.open_source(tmp_path)
    x = src.load(f"{Q}.weight")
    s = parts["scales"][:, :6].float().repeat_interleave(64, dim=1)
    ref = (intweight - izeros.repeat_interleave(64, dim=1)) * s
    assert bits_equal(x, ref.numpy())
    qt = src.quantized(f"{Q}.weight")
    assert qt.meta["version"] == "gemv" and qt.n_blocks == 384 * 6
    assert np.abs(x - w.numpy()).max() <= 0.5 * qt.scales.max() * 1.01
    assert qt.nbytes == sum(v.numel() * v.element_size() for v in parts.values())  # the padding is on disk too


def test_awq_bits_must_be_4(tmp_path, minilm):
    parts = pack_gemm(*awq_qparams(minilm[Q], 128), 128)
    write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in parts.items()},
                     {"quantization_config": {"quant_method": "awq", "bits": 3, "group_size": 128}})
    with pytest.raises(qviz.SourceError, match="is AWQ with 3 bits; AWQ packs 4-bit codes only"):
        qviz.open_source(tmp_path)
