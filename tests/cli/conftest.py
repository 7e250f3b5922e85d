"""Fixtures of the command-line tests: good and bad files generated in tmp_path, and an in-process runner."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from qviz.cli import main

RNG = np.random.default_rng(0)
W = RNG.normal(size=(8, 16)).astype(np.float32)
B = RNG.normal(size=(8,)).astype(np.float32)


def run(capsys, *argv) -> tuple[int, str, str]:
    """``qviz *argv`` in this process: (exit status, stdout, stderr)."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(err: str, status: int = 2, rc: int | None = None) -> str:
    assert rc is None or rc == status, (rc, err)
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("qviz: error: "), err
    return lines[0]


def onnx_model(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"), helper.make_node("Add", ["h", "B"], ["y"], name="add")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(W.T.copy(), "W"), numpy_helper.from_array(B, "B")],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)
    return path


@pytest.fixture
def good_files(tmp_path) -> dict:
    """One small model per format: {extension: path}; each holds ``W`` (8×16) and, where it can, ``B``."""
    import torch
    from safetensors.torch import save_file

    np.save(tmp_path / "w.npy", W)
    np.savez(tmp_path / "m.npz", W=W, B=B)
    torch.save({"W": torch.from_numpy(W), "B": torch.from_numpy(B), "steps": torch.tensor(3)}, tmp_path / "m.pt")
    save_file({"W": torch.from_numpy(W), "B": torch.from_numpy(B)}, tmp_path / "m.safetensors")
    onnx_model(tmp_path / "m.onnx")
    return {p.suffix: p for p in tmp_path.iterdir()}


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def bad_files(tmp_path: Path) -> dict:
    """Every bad-input case of the sources issue: {case: path}."""
    import torch
    from safetensors.torch import save_file

    d = tmp_path / "bad"
    d.mkdir()
    out = {}
    for ext in (".npy", ".pt", ".safetensors", ".onnx"):
        (d / f"empty{ext}").write_bytes(b"")
        out[f"zero-byte{ext}"] = d / f"empty{ext}"
    good = {".npy": lambda p: np.save(p, W), ".npz": lambda p: np.savez(p, w=W),
            ".pt": lambda p: torch.save({"w": torch.from_numpy(W)}, p),
            ".safetensors": lambda p: save_file({"w": torch.from_numpy(W)}, p), ".onnx": onnx_model}
    for ext, save in good.items():
        save(d / f"full{ext}")
        raw = (d / f"full{ext}").read_bytes()
        for keep in (0.3, 0.9):
            p = d / f"cut{int(keep * 10)}{ext}"
            p.write_bytes(raw[: int(len(raw) * keep)])
            out[f"truncated{int(keep * 10)}{ext}"] = p
    for ext in (".pt", ".safetensors", ".onnx"):
        p = d / f"noise{ext}"
        p.write_bytes(RNG.integers(0, 256, 5000, dtype=np.uint8).tobytes())
        out[f"corrupt{ext}"] = p
    raw = bytearray((d / "full.safetensors").read_bytes())
    raw[12] = ord("#")
    (d / "flipped.safetensors").write_bytes(bytes(raw))
    out["corrupt-header.safetensors"] = d / "flipped.safetensors"
    marker = tmp_path / "PWNED"
    (d / "evil.bin").write_bytes(pickle.dumps({"w": Payload(marker)}, protocol=2))
    out["malicious-pickle.bin"] = d / "evil.bin"
    torch.save({"w": torch.ones(2), "x": Payload(marker)}, d / "evil.pt")
    out["malicious-pickle-zip.pt"] = d / "evil.pt"
    torch.save(torch.nn.Linear(2, 2), d / "module.pt")
    out["whole-module.pt"] = d / "module.pt"
    np.save(d / "obj.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    out["object-array.npy"] = d / "obj.npy"
    np.savez(d / "obj.npz", good=W, bad=np.array(["a", 1], dtype=object))
    out["object-array.npz"] = d / "obj.npz"
    (d / "notes.txt").write_text("hello")
    out["wrong-extension.txt"] = d / "notes.txt"
    np.save(d / "renamed.npy", W)
    os.rename(d / "renamed.npy", d / "renamed.safetensors")
    out["wrong-content.safetensors"] = d / "renamed.safetensors"
    (d / "legacy_cut.pt").write_bytes(b"\x80\x02junk")  # the reader raises struct.error, not SourceError (sources bug)
    out["truncated-legacy-pickle.pt"] = d / "legacy_cut.pt"
    torch.save({"epoch": 3}, d / "meta.pt")
    out["no-tensors.pt"] = d / "meta.pt"
    out["missing"] = d / "nope.pt"
    out["not-a-builtin"] = "builtin:resnet"
    return out
