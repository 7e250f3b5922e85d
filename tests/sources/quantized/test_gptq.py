"""GPTQ checkpoints packed with GPTQModel's ``pack_original`` and dequantized with its ``dequantize_weight``.

GPTQModel needs CUDA extensions to install, so both are re-written here from its
source (``gptqmodel/nn_modules/qlinear/__init__.py``, commit f4c327a): the packing
loops (2/3/4/8 bits) and the wf-shift unpacking with the 3-bit word-straddling
fix-ups, then ``scales[g_idx] * (weight - zeros[g_idx])``. v1 checkpoints store
zero points minus one (AutoGPTQ); the reference adds one per field modulo 2^bits
before use, as GPTQModel's ``utils/model_dequant.py`` (``_shift_gptq_qzeros``) does.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import WEIGHTS, bits_equal, write_checkpoint

import qviz
from qviz.sources.quantized import in_tensor_order

Q, FC, OUT = list(WEIGHTS)


def rtn_qparams(w: torch.Tensor, bits: int, g_idx: torch.Tensor, n_groups: int, sym: bool):
    """Per (group, output) scale and zero point from min/max (GPTQ's ``Quantizer`` with RTN), zeros ≥ 1."""
    maxq = 2**bits - 1
    out = w.shape[0]
    lo = torch.zeros(n_groups, out)
    hi = torch.zeros(n_groups, out)
    for g in range(n_groups):
        cols = w[:, g_idx == g]
        lo[g], hi[g] = cols.amin(1).clamp(max=0), cols.amax(1).clamp(min=0)
    if sym:
        hi = torch.maximum(lo.abs(), hi)
        lo = -hi
    scale = ((hi - lo) / maxq).clamp(min=1e-8)
    zero = torch.full_like(scale, (maxq + 1) / 2) if sym else torch.round(-lo / scale).clamp(1, maxq)
    return scale, zero  # (n_groups, out)


def pack_original(w: torch.Tensor, scales: torch.Tensor, zeros: torch.Tensor, g_idx: torch.Tensor, bits: int):
    """GPTQModel's ``pack_original`` (numpy part), writing v1 zero points (minus one, AutoGPTQ's layout)."""
    maxq = 2**bits - 1
    scales16 = scales.to(torch.float16)
    scale_zeros = zeros * scales  # (groups, out), as GPTQModel: float32 product
    int_weight = torch.round((w + scale_zeros[g_idx].T) / scales16.float()[g_idx].T).clamp_(0, maxq)
    int_weight = int_weight.to(torch.int32).T.contiguous().numpy().astype(np.uint32)  # (in, out)
    qweight = np.zeros((math.ceil(int_weight.shape[0] * bits / 32), int_weight.shape[1]), dtype=np.uint32)
    pack_factor = 32 // bits
    if bits in (2, 4, 8):
        for row in range(qweight.shape[0]):
            for j in range(pack_factor):
                qweight[row] |= int_weight[row * pack_factor + j] << (bits * j)
    else:
        i = row = 0
        while row < qweight.shape[0]:
            for j in range(i, i + 10):
                qweight[row] |= int_weight[j] << (3 * (j - i))
            i += 10
            qweight[row] |= int_weight[i] << 30
            row += 1
            qweight[row] |= (int_weight[i] >> 2) & 1
            i += 1
            for j in range(i, i + 10):
                qweight[row] |= int_weight[j] << (3 * (j - i) + 1)
            i += 10
            qweight[row] |= int_weight[i] << 31
            row += 1
            qweight[row] |= (int_weight[i] >> 1) & 0x3
            i += 1
            for j in range(i, i + 10):
                qweight[row] |= int_weight[j] << (3 * (j - i) + 2)
            i += 10
            row += 1
    zeros = (zeros.to(torch.int64).numpy() - 1).astype(np.uint32)  # v1: stored minus one
    qzeros = np.zeros((zeros.shape[0], math.ceil(zeros.shape[1] * bits / 32)), dtype=np.uint32)
    if bits in (2, 4, 8):
        for col in range(qzeros.shape[1]):
            for j in range(pack_factor):
                qzeros[:, col] |= zeros[:, col * pack_factor + j] << (bits * j)
    else:
        i = col = 0
        while col < qzeros.shape[1]:
            for j in range(i, i + 10):
                qzeros[:, col] |= zeros[:, j] << (3 * (j - i))
            i += 10
            qzeros[:, col] |= zeros[:, i] << 30
            col += 1
            qzeros[:, col] |= (zeros[:, i] >> 2) & 1
            i += 1
            for j in range(i, i + 10):
                qzeros[:, col] |= zeros[:, j] << (3 * (j - i) + 1)
            i += 10
            qzeros[:, col] |= zeros[:, i] << 31
            col += 1
            qzeros[:, col] |= (zeros[:, i] >> 1) & 0x3
            i += 1
            for j in range(i, i + 10):
                qzeros[:, col] |= zeros[:, j] << (3 * (j - i) + 2)
            i += 10
            col += 1
    return torch.from_numpy(qweight.view(np.int32)), torch.from_numpy(qzeros.view(np.int32)), scales16


def dequantize_weight(qweight, qzeros, scales, g_idx, bits: int, zero_offset: int = 1):
    """GPTQModel's ``dequantize_weight`` (wf shifts, 3-bit fix-ups), zero points + ``zero_offset`` per field; (in, out)."""
    maxq = 2**bits - 1
    if bits in (2, 4, 8):
        pack_factor = 32 // bits
        wf = torch.tensor(list(range(0, 32, bits)), dtype=torch.int32).unsqueeze(0)
        zeros = torch.bitwise_right_shift(torch.unsqueeze(qzeros, 2).expand(-1, -1, pack_factor), wf.unsqueeze(0)).to(torch.int16)
        zeros = torch.bitwise_and(zeros, maxq).reshape(scales.shape)
        weight = torch.bitwise_and(
            torch.bitwise_right_shift(torch.unsqueeze(qweight, 1).expand(-1, pack_factor, -1), wf.unsqueeze(-1)).to(torch.int16), maxq
        )
    else:
        wf = torch.tensor([[0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 0], [0, 1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31],
                           [0, 2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 0]], dtype=torch.int32).reshape(1, 3, 12)
        zeros = qzeros.reshape(qzeros.shape[0], qzeros.shape[1] // 3, 3, 1).expand(-1, -1, -1, 12)
        zeros = torch.bitwise_right_shift(zeros, wf.unsqueeze(0))
        zeros[:, :, 0, 10] = (zeros[:, :, 0, 10] & 0x3) | ((zeros[:, :, 1, 0] << 2) & 0x4)
        zeros[:, :, 1, 11] = (zeros[:, :, 1, 11] & 0x1) | ((zeros[:, :, 2, 0] << 1) & 0x6)
        zeros = zeros & 0x7
        zeros = torch.cat([zeros[:, :, 0, :11], zeros[:, :, 1, 1:12], zeros[:, :, 2, 1:11]], dim=2).reshape(scales.shape)
        weight = qweight.reshape(qweight.shape[0] // 3, 3, 1, qweight.shape[1]).expand(-1, -1, 12, -1)
        weight = torch.bitwise_right_shift(weight, wf.unsqueeze(-1)) & 0x7
        weight[:, 0, 10] = (weight[:, 0, 10] & 0x3) | ((weight[:, 1, 0] << 2) & 0x4)
        weight[:, 1, 11] = (weight[:, 1, 11] & 0x1) | ((weight[:, 2, 0] << 1) & 0x6)
        weight = weight & 0x7
        weight = torch.cat([weight[:, 0, :11], weight[:, 1, 1:12], weight[:, 2, 1:11]], dim=1)
    weight = weight.reshape(weight.shape[0] * weight.shape[1], weight.shape[2])
    zeros = (zeros + zero_offset) & maxq  # model_dequant's _shift_gptq_qzeros(delta=1) for v1
    return scales[g_idx.long()] * (weight - zeros[g_idx.long()])


def make_gptq(w: torch.Tensor, bits: int, group_size: int, act_order: bool = False, sym: bool = True, seed: int = 0):
    out, inp = w.shape
    gs = inp if group_size == -1 else group_size
    g_idx = torch.arange(inp, dtype=torch.int32) // gs
    if act_order:
        perm = torch.from_numpy(np.random.default_rng(seed).permutation(inp))
        g_idx = torch.empty_like(g_idx)
        g_idx[perm] = torch.arange(inp, dtype=torch.int32) // gs
    scales, zeros = rtn_qparams(w, bits, g_idx, inp // gs, sym)
    qweight, qzeros, scales16 = pack_original(w, scales, zeros, g_idx, bits)
    return {"qweight": qweight, "qzeros": qzeros, "scales": scales16, "g_idx": g_idx}


CASES = {  # name: (module, bits, group_size, act_order, sym)
    "4bit-g128": (Q, 4, 128, False, True),
    "4bit-g32-act-order-asym": (FC, 4, 32, True, False),
    "3bit-g128": (OUT, 3, 128, False, True),
    "2bit-g64": (Q, 2, 64, False, False),
    "8bit-per-channel": (Q, 8, -1, False, True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_decodes_like_gptqmodel(case, tmp_path, minilm):
    module, bits, gsize, act, sym = CASES[case]
    parts = make_gptq(minilm[module], bits, gsize, act, sym)
    tensors = {f"{module}.{k}": v for k, v in parts.items()}
    tensors[f"{module}.bias"] = torch.zeros(minilm[module].shape[0], dtype=torch.float16)
    qcfg = {"bits": bits, "group_size": gsize, "desc_act": act, "sym": sym, "checkpoint_format": "gptq"}
    write_checkpoint(tmp_path, tensors)
    (tmp_path / "quantize_config.json").write_text(json.dumps(qcfg))
    src = qviz.open_source(tmp_path)
    name = f"{module}.weight"
    assert sorted(src.names()) == sorted([name, f"{module}.bias"])
    info = src.info(name)
    assert (info.quantized, info.shape, info.dtype) == ("gptq", tuple(minilm[module].shape), f"int{bits}")
    x = src.load(name)
    args = (parts["qweight"], parts["qzeros"], parts["scales"], parts["g_idx"], bits)
    ref16 = dequantize_weight(*args)  # GPTQModel in fp16, (in, out)
    assert torch.equal(torch.from_numpy(x.T.copy()).half(), ref16)
    ref32 = dequantize_weight(parts["qweight"], parts["qzeros"], parts["scales"].float(), parts["g_idx"], bits)
    assert bits_equal(x.T, ref32.numpy())
    qt = src.quantized(name)
    gs = minilm[module].shape[1] if gsize == -1 else gsize
    assert (qt.format, qt.bits, qt.block_size) == ("gptq", bits, gs) and qt.meta["act_order"] == act
    assert bits_equal(in_tensor_order(qt), x)
    assert qt.codes.max() < 2**bits and qt.zero_points.min() >= 1  # v1: stored zero point + 1
    assert qt.nbytes == sum(v.numel() * v.element_size() for v in parts.values())
    assert np.abs(x - minilm[module].numpy()).max() < 1.01 * qt.scales.max()  # RTN within about one step


def test_v1_zero_point_zero_wraps(tmp_path, minilm):
    """A v1 zero point of 0 is stored as 2^b − 1 (one less, modulo the field): it decodes back to 0."""
    parts = make_gptq(minilm[Q], 4, 128)
    qz = parts["qzeros"].clone()
    qz[0, 0] = qz[0, 0] | 0xF  # the first output's first group: stored 15
    parts["qzeros"] = qz
    write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in parts.items()})
    qt = qviz.open_source(tmp_path).quantized(f"{Q}.weight")
    assert qt.zero_points[0] == 0 and qt.zero_points[1] == 8  # block (output 0, group 0), then (output 0, group 1)
    ref = dequantize_weight(parts["qweight"], parts["qzeros"], parts["scales"].float(), parts["g_idx"], 4)
    assert bits_equal(in_tensor_order(qt).T, ref.numpy())


def test_v2_and_config_json(tmp_path, minilm):
    """``checkpoint_format: gptq_v2`` in config.json's quantization_config: zero points as stored."""
    parts = make_gptq(minilm[Q], 4, 128)
    write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in parts.items()},
                     {"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128, "checkpoint_format": "gptq_v2"}})
    x = qviz.open_source(tmp_path).load(f"{Q}.weight")
    ref = dequantize_weight(parts["qweight"], parts["qzeros"], parts["scales"].float(), parts["g_idx"], 4, zero_offset=0)
    assert bits_equal(x.T, ref.numpy())


def test_without_config_bits_come_from_the_shapes(tmp_path, minilm):
    parts = make_gptq(minilm[Q], 3, 128)
    del parts["g_idx"]
    src = qviz.open_source(write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in parts.items()}))
    assert src.info(f"{Q}.weight").dtype == "int3" and src.quantized(f"{Q}.weight").block_size == 128


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.update(scales=p["scales"][:, :200]), r"qweight' has shape \(48, 384\) but .* needs \(48, 200\)"),
        (lambda p: p.pop("qzeros"), r"qweight' has no '.*qzeros' beside it"),
        (lambda p: p.update(qzeros=p["qzeros"][:2]), r"qzeros' has shape \(2, 48\) but .* needs \(3, 48\)"),
    ],
)
def test_bad_parts_are_one_line(mutate, message, tmp_path, minilm):
    parts = make_gptq(minilm[Q], 4, 128)
    mutate(parts)
    write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in parts.items()})
    (tmp_path / "quantize_config.json").write_text(json.dumps({"bits": 4, "group_size": 128}))
    with pytest.raises(qviz.SourceError, match=message) as e:
        qviz.open_source(tmp_path)
    assert "\n" not in str(e.value) and str(e.value).startswith(f"{tmp_path.name}/model.safetensors: tensor '{Q}.")


def test_bits_outside_the_allowed_set(tmp_path, minilm):
    parts = make_gptq(minilm[Q], 4, 128)
    write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in parts.items()})
    (tmp_path / "quantize_config.json").write_text(json.dumps({"bits": 5, "group_size": 128}))
    with pytest.raises(qviz.SourceError, match=r"is GPTQ with 5 bits, not one of \(2, 3, 4, 8\)"):
        qviz.open_source(tmp_path)
