"""``qviz.compare`` on a compressed-tensors INT4 checkpoint (what llm-compressor saves) against the same original."""

from __future__ import annotations

import math

import numpy as np
import torch
from conftest import write_checkpoint
from test_compressed import FC, OUT, _min_max

import qviz


def test_compare_int4_checkpoint_with_its_original(tmp_path, minilm):
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import QuantizationConfig, apply_quantization_config
    from compressed_tensors.quantization.quant_scheme import PRESET_SCHEMES
    from compressed_tensors.quantization.utils import calculate_qparams

    model = torch.nn.Sequential(torch.nn.Linear(384, 1536), torch.nn.GELU(), torch.nn.Linear(1536, 384))
    with torch.no_grad():
        model[0].weight.copy_(minilm[FC])
        model[2].weight.copy_(minilm[OUT])
    original = {f"{i}.weight": model[i].weight.detach().clone() for i in (0, 2)}
    apply_quantization_config(model, QuantizationConfig(config_groups={"g": {"targets": ["Linear"], **PRESET_SCHEMES["W4A16"]}}))
    for m in (model[0], model[2]):
        args = m.quantization_scheme.weights
        scale, zp = calculate_qparams(*_min_max(m.weight.detach(), args), args)
        m.weight_scale.data = scale.to(m.weight_scale.dtype).reshape(m.weight_scale.shape)
    mc = ModelCompressor.from_pretrained_model(model)
    mc.compress_model(model)
    quantized = write_checkpoint(tmp_path / "w4a16", dict(model.state_dict()), {"model_type": "bert"})
    mc.update_config(str(quantized))
    reference = write_checkpoint(tmp_path / "fp32", original)

    df = qviz.compare(str(quantized), str(reference), method="mse").set_index("name")
    src = qviz.open_source(str(quantized))
    for name in original:
        row = df.loc[name]
        assert row["paired"] and row["format"] == "compressed-tensors:pack-quantized"
        x, x_hat = original[name].numpy(), src.load(name)
        expected = 10 * math.log10(float(np.sum(x.astype(np.float64) ** 2)) / float(np.sum((x_hat - x).astype(np.float64) ** 2)))
        assert abs(row["sqnr_db"] - expected) < 1e-6  # the shipped quantization's error, measured against the original
        assert 4.0 < row["bits_per_weight"] < 4.5  # int4 codes + one scale per 128 values
        assert np.isfinite(row["qviz_sqnr_db"]) and abs(row["qviz_sqnr_db"] - row["sqnr_db"]) < 3  # qviz's own int4 g128, same bits
