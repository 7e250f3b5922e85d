"""bitsandbytes NF4/FP4 (with and without double quantization) and LLM.int8, made and dequantized by bitsandbytes on CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import WEIGHTS, bits_equal, write_checkpoint

import qviz
from qviz.sources.quantized import in_tensor_order

import bitsandbytes.functional as bnbf  # noqa: E402
Q, FC = list(WEIGHTS)[0], list(WEIGHTS)[1]


@pytest.fixture(scope="module")
def ckpt4(tmp_path_factory, minilm):
    """Query in NF4 double-quantized, the FFN in FP4 without: keys exactly as Linear4bit saves them."""
    tensors, refs = {}, {}
    for module, qtype, nested in ((Q, "nf4", True), (FC, "fp4", False)):
        w = minilm[module]
        packed, state = bnbf.quantize_4bit(w, blocksize=64, quant_type=qtype, compress_statistics=nested)
        tensors[f"{module}.weight"] = packed
        for k, v in state.as_dict(packed=True).items():
            tensors[f"{module}.weight.{k}"] = v
        refs[module] = bnbf.dequantize_4bit(packed, state).numpy()
    tensors[f"{Q}.bias"] = torch.zeros(384)
    tensors["norm.weight"] = minilm["norm"]
    cfg = {"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}}
    return write_checkpoint(tmp_path_factory.mktemp("bnb4"), tensors, cfg), refs


def test_4bit_names_info_and_bit_exact(ckpt4):
    folder, refs = ckpt4
    src = qviz.open_source(folder)
    assert src.names() == [f"{Q}.bias", f"{Q}.weight", f"{FC}.weight", "norm.weight"]
    info = src.info(f"{Q}.weight")
    assert info.shape == (384, 384) and info.quantized == "bitsandbytes:nf4" and "quantized" in info.flags
    assert "integer" not in info.flags and src.info("norm.weight").quantized == ""
    for module, fmt in ((Q, "nf4"), (FC, "fp4")):
        x = src.load(f"{module}.weight")
        assert bits_equal(x, refs[module]), module
        qt = src.quantized(f"{module}.weight")
        assert qt.format == f"bitsandbytes:{fmt}" and qt.bits == 4 and qt.block_size == 64
        assert bits_equal(in_tensor_order(qt), x)
        assert qt.codes.shape == (x.size // 64, 64) and qt.code_counts().sum() == x.size


def test_4bit_bits_per_weight_counts_every_part(ckpt4):
    folder, _ = ckpt4
    src = qviz.open_source(folder)
    nf4, fp4 = src.quantized(f"{Q}.weight"), src.quantized(f"{FC}.weight")
    # NF4 double-quant: 4 bits + one uint8 absmax per 64 + fp32 absmax per 256 blocks + maps + JSON state
    assert nf4.meta["double_quant"] and not fp4.meta["double_quant"]
    assert 4.125 < nf4.bits_per_weight < 4.2
    assert 4.5 < fp4.bits_per_weight < 4.51  # 4 + 32/64 for the float32 absmax, plus 64 bytes of map + state


def test_int8_scb(tmp_path, minilm):
    w = minilm[Q].half()
    cb, scb, _ = bnbf.int8_vectorwise_quant(w)
    folder = write_checkpoint(tmp_path, {f"{Q}.weight": cb, f"{Q}.SCB": scb, f"{Q}.weight_format": torch.tensor(0, dtype=torch.uint8)})
    src = qviz.open_source(folder)
    assert src.names() == [f"{Q}.weight"]
    ref = bnbf.int8_vectorwise_dequant(cb, scb).numpy()
    assert bits_equal(src.load(f"{Q}.weight"), ref)
    qt = src.quantized(f"{Q}.weight")
    assert qt.format == "bitsandbytes:int8" and qt.block_size == 384 and qt.n_blocks == 384
    np.testing.assert_allclose(qt.dequantize(), ref, rtol=2e-7, atol=0)  # one rounding apart (SCB/127 folded)
    assert 8.08 < qt.bits_per_weight < 8.1


def test_missing_absmax_is_one_line(tmp_path, minilm):
    packed, state = bnbf.quantize_4bit(minilm[Q], blocksize=64, quant_type="nf4", compress_statistics=False)
    parts = {f"{Q}.weight.{k}": v for k, v in state.as_dict(packed=True).items() if k != "absmax"}
    folder = write_checkpoint(tmp_path, {f"{Q}.weight": packed, **parts})
    with pytest.raises(qviz.SourceError, match=r"model.safetensors: tensor .*bitsandbytes__nf4' has no .*absmax") as e:
        qviz.open_source(folder)
    assert "\n" not in str(e.value)


def test_broken_quant_state_is_one_line(tmp_path, minilm):
    packed, state = bnbf.quantize_4bit(minilm[Q], blocksize=64, quant_type="nf4", compress_statistics=False)
    parts = {f"{Q}.weight.{k}": v for k, v in state.as_dict(packed=True).items()}
    parts[f"{Q}.weight.quant_state.bitsandbytes__nf4"] = torch.tensor(list(b'{"quant_type": "nf4"'), dtype=torch.uint8)
    folder = write_checkpoint(tmp_path, {f"{Q}.weight": packed, **parts})
    with pytest.raises(qviz.SourceError, match=r"bitsandbytes__nf4' is not a valid bitsandbytes quant state") as e:
        qviz.open_source(folder)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kind", ["nf4", "int8"])
def test_module_state_dicts(kind, tmp_path, minilm):
    """What ``Linear4bit`` / ``Linear8bitLt`` themselves put in a state dict (``_save_to_state_dict``), saved as safetensors."""
    import bitsandbytes as bnb

    w = minilm[Q]
    if kind == "int8":
        lin = bnb.nn.Linear8bitLt(384, 384, has_fp16_weights=False)
        lin.weight = bnb.nn.Int8Params(w.half(), requires_grad=False, has_fp16_weights=False)
    else:
        lin = bnb.nn.Linear4bit(384, 384, quant_type=kind, compress_statistics=True)
        lin.weight = bnb.nn.Params4bit(w, requires_grad=False, quant_type=kind, compress_statistics=True)
    lin = lin.to("cpu")
    sd = {f"{Q}.{k}": v for k, v in lin.state_dict().items()}
    src = qviz.open_source(write_checkpoint(tmp_path, sd))
    assert sorted(src.names()) == [f"{Q}.bias", f"{Q}.weight"]
    if kind == "int8":
        scb = lin.weight.SCB if getattr(lin.weight, "SCB", None) is not None else lin.state.SCB
        ref = bnbf.int8_vectorwise_dequant(lin.weight.data, scb)
    else:
        ref = bnbf.dequantize_4bit(lin.weight.data, lin.weight.quant_state)
    assert bits_equal(src.load(f"{Q}.weight"), ref.float().numpy())
