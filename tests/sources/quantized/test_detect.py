"""Detection without a config file, across shards, from the safetensors metadata, and from an upload's bytes."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import WEIGHTS, bits_equal, write_checkpoint
from safetensors.torch import save, save_file
from test_gptq import dequantize_weight, make_gptq

import qviz
from qviz.sources.quantized.detect import method_of

Q, FC, _ = list(WEIGHTS)


def test_parts_split_over_shards(tmp_path, minilm):
    """Hugging Face may put a weight's qweight and scales in different shards: still one logical weight."""
    parts = make_gptq(minilm[Q], 4, 128)
    one = {f"{Q}.qweight": parts["qweight"], f"{Q}.g_idx": parts["g_idx"], "norm.weight": minilm["norm"]}
    two = {f"{Q}.qzeros": parts["qzeros"], f"{Q}.scales": parts["scales"]}
    save_file(one, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file(two, str(tmp_path / "model-00002-of-00002.safetensors"))
    weight_map = {k: "model-00001-of-00002.safetensors" for k in one} | {k: "model-00002-of-00002.safetensors" for k in two}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (tmp_path / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128}}))
    src = qviz.open_source(tmp_path)
    assert sorted(src.names()) == [f"{Q}.weight", "norm.weight"]
    ref = dequantize_weight(parts["qweight"], parts["qzeros"], parts["scales"].float(), parts["g_idx"], 4)
    assert bits_equal(src.load(f"{Q}.weight").T, ref.numpy())


def test_upload_bytes_with_config_in_metadata(minilm):
    parts = make_gptq(minilm[Q], 3, 128)
    raw = save({f"{Q}.{k}": v for k, v in parts.items()},
               metadata={"format": "pt", "quantize_config": json.dumps({"bits": 3, "group_size": 128, "checkpoint_format": "gptq_v2"})})
    src = qviz.open_source(raw, name="upload.safetensors")
    assert src.info(f"{Q}.weight").quantized == "gptq" and src.quantized(f"{Q}.weight").meta["checkpoint_format"] == "gptq_v2"
    ref = dequantize_weight(parts["qweight"], parts["qzeros"], parts["scales"].float(), parts["g_idx"], 3, zero_offset=0)
    assert bits_equal(src.load(f"{Q}.weight").T, ref.numpy())


def test_plain_checkpoint_is_untouched(tmp_path, minilm):
    src = qviz.open_source(write_checkpoint(tmp_path, {f"{Q}.weight": minilm[Q], f"{Q}.bias": torch.zeros(384)}))
    assert src.info(f"{Q}.weight").quantized == "" and "quantized" not in src.info(f"{Q}.weight").flags
    with pytest.raises(qviz.SourceError, match="is stored as float32, not quantized"):
        src.quantized(f"{Q}.weight")


def test_bad_config_json_is_one_line(tmp_path, minilm):
    write_checkpoint(tmp_path, {f"{Q}.{k}": v for k, v in make_gptq(minilm[Q], 4, 128).items()})
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(qviz.SourceError, match=r"config.json: is not valid JSON"):
        qviz.open_source(tmp_path)


@pytest.mark.parametrize("cfg, method", [
    ({"quant_method": "compressed-tensors", "format": "pack-quantized"}, "compressed-tensors"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True}, "bitsandbytes"),
    ({"load_in_8bit": True}, "bitsandbytes"),
    ({"bits": 4, "group_size": 128, "desc_act": False}, "gptq"),
    ({"zero_point": True, "q_group_size": 128, "w_bit": 4, "version": "GEMM"}, "awq"),
    ({"hidden_size": 384}, ""),
])
def test_method_of(cfg, method):
    assert method_of(cfg) == method
