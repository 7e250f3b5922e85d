"""compressed-tensors checkpoints made by compressed-tensors' own compressors from MiniLM weights; its decompressors are the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import WEIGHTS, bits_equal, write_checkpoint

import qviz
from qviz.sources.quantized import in_tensor_order

import compressed_tensors as ct  # noqa: E402
from compressed_tensors.compressors import MXFP4PackedCompressor, NVFP4PackedCompressor, PackedQuantizationCompressor  # noqa: E402
from compressed_tensors.compressors.naive_quantized.base import FloatQuantizationCompressor, IntQuantizationCompressor  # noqa: E402
from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme  # noqa: E402
from compressed_tensors.quantization.utils import calculate_qparams, generate_gparam  # noqa: E402

Q, FC, OUT = list(WEIGHTS)


def _min_max(w: torch.Tensor, args: QuantizationArgs):
    rows, cols = w.shape
    s = args.strategy
    if s == "tensor":
        v = w.reshape(1, -1)
    elif s == "channel":
        v = w
    elif s in ("group", "tensor_group"):
        v = w.reshape(rows, cols // args.group_size, args.group_size)
    else:
        bh, bw = args.block_structure
        v = w.reshape(rows // bh, bh, cols // bw, bw).transpose(1, 2).reshape(rows // bh, cols // bw, -1)
    lo, hi = v.amin(-1), v.amax(-1)
    if s == "channel":
        lo, hi = lo[:, None], hi[:, None]
    if s == "tensor":
        lo, hi = lo.reshape(1), hi.reshape(1)
    return lo, hi


def compress(w: torch.Tensor, compressor, args: QuantizationArgs) -> dict:
    """``{suffix: tensor}`` as compressed-tensors stores one Linear (its qparams from its own ``calculate_qparams``)."""
    lo, hi = _min_max(w, args)
    sd = {"weight": w}
    gscale = None
    if args.strategy == "tensor_group":
        gscale = generate_gparam(w.min(), w.max())
        sd["weight_global_scale"] = gscale
    scale, zp = calculate_qparams(lo, hi, args, global_scale=gscale)
    sd["weight_scale"], sd["weight_zero_point"] = scale, zp
    return compressor.compress(sd, QuantizationScheme(targets=["Linear"], weights=args))


def decompress(sd: dict, compressor, args: QuantizationArgs) -> np.ndarray:
    return compressor.decompress(dict(sd), QuantizationScheme(targets=["Linear"], weights=args))["weight"].float().numpy()


def _config(fmt: str, args: QuantizationArgs) -> dict:
    return {"quantization_config": {"quant_method": "compressed-tensors", "format": fmt,
                                    "config_groups": {"group_0": {"targets": ["Linear"], "weights": args.model_dump(mode="json")}},
                                    "ignore": []}}


CASES = {  # name: (config format, compressor, args, qviz format, module)
    "int4-group-sym": ("pack-quantized", PackedQuantizationCompressor, dict(num_bits=4, strategy="group", group_size=32), "pack-quantized", Q),
    "int4-group-asym": ("pack-quantized", PackedQuantizationCompressor, dict(num_bits=4, strategy="group", group_size=128, symmetric=False), "pack-quantized", FC),
    "int3-channel": ("pack-quantized", PackedQuantizationCompressor, dict(num_bits=3, strategy="channel"), "pack-quantized", OUT),
    "int8-channel": ("int-quantized", IntQuantizationCompressor, dict(num_bits=8, strategy="channel"), "int-quantized", Q),
    "fp8-tensor": ("float-quantized", FloatQuantizationCompressor, dict(num_bits=8, type="float", strategy="tensor"), "float-quantized", Q),
    "fp8-channel": ("float-quantized", FloatQuantizationCompressor, dict(num_bits=8, type="float", strategy="channel"), "float-quantized", FC),
    "fp8-block": ("float-quantized", FloatQuantizationCompressor, dict(num_bits=8, type="float", strategy="block", block_structure=[128, 128]), "float-quantized", OUT),
    "nvfp4": ("nvfp4-pack-quantized", NVFP4PackedCompressor, dict(num_bits=4, type="float", strategy="tensor_group", group_size=16), "nvfp4", FC),
    "mxfp4": ("mxfp4-pack-quantized", MXFP4PackedCompressor, dict(num_bits=4, type="float", strategy="group", group_size=32, scale_dtype=torch.uint8), "mxfp4", Q),
}


@pytest.mark.parametrize("case", list(CASES))
def test_decodes_bit_for_bit_like_the_decompressor(case, tmp_path, minilm):
    fmt, comp, kw, qfmt, module = CASES[case]
    args = QuantizationArgs(**kw)
    w = minilm[module]
    sd = compress(w, comp, args)
    ref = decompress(sd, comp, args)
    tensors = {f"{module}.{k}": v for k, v in sd.items()}
    tensors[f"{module}.bias"] = torch.zeros(w.shape[0])
    src = qviz.open_source(write_checkpoint(tmp_path, tensors, _config(fmt, args)))
    name = f"{module}.weight"
    assert src.names() == sorted([name, f"{module}.bias"]) or set(src.names()) == {name, f"{module}.bias"}
    info = src.info(name)
    assert info.quantized == f"compressed-tensors:{qfmt}" and info.shape == tuple(w.shape) and "quantized" in info.flags
    x = src.load(name)
    ref_dtype = torch.bfloat16 if qfmt in ("nvfp4", "mxfp4") else torch.float32  # the FP4 decompressors return bf16
    assert bits_equal(torch.from_numpy(x).to(ref_dtype).float().numpy(), ref), case
    if ref_dtype == torch.float32 or qfmt == "mxfp4":  # mxfp4 products are powers of two times E2M1: exact in bf16 too
        assert bits_equal(x, ref)
    qt = src.quantized(name)
    assert bits_equal(in_tensor_order(qt), x)
    assert qt.bits == args.num_bits
    expect_block = {"tensor": w.numel(), "channel": w.shape[1], "group": args.group_size, "tensor_group": 16, "block": 128 * 128}
    assert qt.block_size == expect_block[args.strategy]
    assert 0 <= qt.saturated_share() <= 1 and qt.code_counts().sum() == w.numel()
    on_disk = sum(v.numel() * v.element_size() for v in sd.values())
    assert qt.nbytes == on_disk and qt.bits_per_weight == pytest.approx(on_disk * 8 / w.numel())


def test_nvfp4_matches_the_float32_formula(tmp_path, minilm):
    """Before the decompressor's final bf16 cast, its float32 formula equals qviz's values exactly."""
    from compressed_tensors.compressors.nvfp4.helpers import unpack_fp4_from_uint8
    from compressed_tensors.quantization.lifecycle.forward import dequantize

    args = QuantizationArgs(num_bits=4, type="float", strategy="tensor_group", group_size=16)
    w = minilm[Q]
    sd = compress(w, NVFP4PackedCompressor, args)
    m, n = sd["weight_packed"].shape
    ref = dequantize(unpack_fp4_from_uint8(sd["weight_packed"], m, 2 * n, dtype=torch.float32), sd["weight_scale"].float(),
                     args=args, global_scale=sd["weight_global_scale"], dtype=torch.float32).numpy()
    src = qviz.open_source(write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in sd.items()}))  # no config: told by the names
    assert src.info(f"{Q}.weight").quantized == "compressed-tensors:nvfp4"
    assert bits_equal(src.load(f"{Q}.weight"), ref)


def test_config_naming_another_format_is_one_line(tmp_path, minilm):
    args = QuantizationArgs(num_bits=8, type="float", strategy="channel")
    sd = compress(minilm[Q], FloatQuantizationCompressor, args)
    cfg = _config("pack-quantized", QuantizationArgs(num_bits=4, strategy="group", group_size=32))
    write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in sd.items()}, cfg)
    with pytest.raises(qviz.SourceError) as e:
        qviz.open_source(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"{tmp_path.name}/model.safetensors: tensor 'encoder.layer.0.attention.self.query.weight'")
    assert "float-quantized" in msg and "pack-quantized" in msg


def test_bits_that_do_not_fit_the_packed_width(tmp_path, minilm):
    args = QuantizationArgs(num_bits=4, strategy="group", group_size=32)
    sd = compress(minilm[Q], PackedQuantizationCompressor, args)
    cfg = _config("pack-quantized", QuantizationArgs(num_bits=8, strategy="group", group_size=32))
    write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in sd.items()}, cfg)
    with pytest.raises(qviz.SourceError, match=r"weight_packed' has 48 words per row but 384 values of 8 bits need 96"):
        qviz.open_source(tmp_path)


@pytest.mark.parametrize("preset", ["W4A16", "W4A16_ASYM", "W8A8", "FP8", "FP8_BLOCK"])  # FP4: compressor-level above (4 s each here)
def test_model_compressor_checkpoints(preset, tmp_path, minilm):
    """What llm-compressor saves: ModelCompressor on a MiniLM FFN, config.json from its ``update_config``."""
    import json

    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import QuantizationConfig, apply_quantization_config
    from compressed_tensors.quantization.quant_scheme import PRESET_SCHEMES

    model = torch.nn.Sequential(torch.nn.Linear(384, 1536), torch.nn.GELU(), torch.nn.Linear(1536, 384))
    with torch.no_grad():
        model[0].weight.copy_(minilm[FC])
        model[2].weight.copy_(minilm[OUT])
    apply_quantization_config(model, QuantizationConfig(config_groups={"group_0": {"targets": ["Linear"], **PRESET_SCHEMES[preset]}}))
    for m in (model[0], model[2]):  # qparams from compressed-tensors' own min/max → calculate_qparams
        args = m.quantization_scheme.weights
        w = m.weight.detach()
        gscale = None
        if hasattr(m, "weight_global_scale"):
            gscale = generate_gparam(w.min(), w.max())
            m.weight_global_scale.data.copy_(gscale)
        lo, hi = _min_max(w, args)
        scale, zp = calculate_qparams(lo, hi, args, global_scale=gscale)
        m.weight_scale.data = scale.to(m.weight_scale.dtype).reshape(m.weight_scale.shape)
        if hasattr(m, "weight_zero_point"):
            m.weight_zero_point.data = zp.to(m.weight_zero_point.dtype).reshape(m.weight_zero_point.shape)
    mc = ModelCompressor.from_pretrained_model(model)
    mc.compress_model(model)
    write_checkpoint(tmp_path, dict(model.state_dict()), {"model_type": "bert"})
    mc.update_config(str(tmp_path))
    assert "quantization_config" in json.loads((tmp_path / "config.json").read_text())
    mc.decompress_model(model)
    src = qviz.open_source(tmp_path)
    extra = {"0.input_scale", "2.input_scale"} if preset == "FP8" else set()  # static activation scales stay tensors
    assert set(src.names()) == {"0.bias", "0.weight", "2.bias", "2.weight"} | extra
    for i in (0, 2):
        ref = model[i].weight.detach()
        x = src.load(f"{i}.weight")
        assert src.info(f"{i}.weight").quantized.startswith("compressed-tensors:")
        assert bits_equal(torch.from_numpy(x).to(ref.dtype).float().numpy(), ref.float().numpy()), (preset, i)


@pytest.mark.parametrize("case", ["int4-group-asym", "fp8-block"])
def test_bf16_checkpoints(case, tmp_path, minilm):
    """bf16 weights give bf16 scales and a bf16 reference: qviz's float32 values round to it exactly (one rounding)."""
    fmt, comp, kw, qfmt, module = CASES[case]
    args = QuantizationArgs(**kw)
    sd = compress(minilm[module].to(torch.bfloat16), comp, args)
    assert sd["weight_scale"].dtype == torch.bfloat16
    ref = comp.decompress(dict(sd), QuantizationScheme(targets=["Linear"], weights=args))["weight"]
    src = qviz.open_source(write_checkpoint(tmp_path, {f"{module}.{k}": v for k, v in sd.items()}, _config(fmt, args)))
    x = src.load(f"{module}.weight")
    assert ref.dtype == torch.bfloat16 and bits_equal(torch.from_numpy(x).bfloat16().float().numpy(), ref.float().numpy())
