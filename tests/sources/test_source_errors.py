"""Bad input never crashes: each case raises SourceError with one line naming the file, the problem and the fix."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import qviz
from qviz import SourceError, open_source

W = np.arange(12, dtype=np.float32).reshape(3, 4)


def _one_line(e: SourceError, filename: str):
    msg = str(e)
    assert "\n" not in msg and msg.startswith(filename + ":") and ";" in msg, msg


def _raises(target, match, filename, **kw):
    with pytest.raises(SourceError, match=match) as e:
        src = open_source(target, **kw)
        for n in src.names():
            src.load(n)
    _one_line(e.value, filename)
    return str(e.value)


@pytest.mark.parametrize("ext", [".npy", ".npz", ".pt", ".bin", ".safetensors", ".onnx"])
def test_zero_byte_file(tmp_path, ext):
    p = tmp_path / f"empty{ext}"
    p.write_bytes(b"")
    _raises(p, r"is empty \(0 bytes\)", p.name)
    _raises(b"", r"is empty \(0 bytes\)", p.name, name=p.name)


def _files(tmp_path) -> dict:
    np.save(tmp_path / "a.npy", W)
    np.savez(tmp_path / "a.npz", w=W)
    torch.save({"w": torch.from_numpy(W)}, tmp_path / "a.pt")
    save_file({"w": torch.from_numpy(W)}, tmp_path / "a.safetensors")
    return {p.suffix: p for p in tmp_path.iterdir()}


@pytest.mark.parametrize("ext", [".npy", ".npz", ".pt", ".safetensors"])
@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_file(tmp_path, ext, keep):
    p = _files(tmp_path)[ext]
    raw = p.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(raw[: int(len(raw) * keep)])
    msg = _raises(cut, r"corrupted|truncated", cut.name)
    assert "again" in msg


@pytest.mark.parametrize("ext", [".npy", ".npz", ".pt", ".bin", ".safetensors", ".onnx"])
def test_random_bytes(tmp_path, ext):
    p = tmp_path / f"noise{ext}"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _raises(p, r".", p.name)


def test_flipped_bytes_in_safetensors_header(tmp_path):
    p = _files(tmp_path)[".safetensors"]
    raw = bytearray(p.read_bytes())
    raw[12] = ord("#")
    p.write_bytes(bytes(raw))
    _raises(p, r"header is not valid JSON .*; the file is corrupted or truncated", p.name)


class Payload:
    """Pickles to a call that would create a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickles_never_run(tmp_path):
    marker = tmp_path / "PWNED"
    # 1. a bare pickle named like a checkpoint
    (tmp_path / "evil.bin").write_bytes(pickle.dumps({"w": Payload(marker)}, protocol=2))
    msg = _raises(
        tmp_path / "evil.bin",
        r"holds Python objects, not plain weights .*qviz never unpickles code; save the weights with torch.save\(model.state_dict\(\), path\)",
        "evil.bin",
    )
    assert "system" in msg
    (tmp_path / "evil4.pkl").write_bytes(pickle.dumps({"w": Payload(marker)}))  # protocol 5 framing
    _raises(
        tmp_path / "evil4.pkl",
        r"is not a plain-weights PyTorch file \(the safe loader stopped at: .*\); qviz never unpickles code",
        "evil4.pkl",
    )
    # 2. inside a zip checkpoint written by torch.save
    torch.save({"w": torch.ones(2), "x": Payload(marker)}, tmp_path / "evil.pt")
    _raises(tmp_path / "evil.pt", r"holds Python objects, not plain weights", "evil.pt")
    # 3. as an upload
    _raises((tmp_path / "evil.pt").read_bytes(), r"holds Python objects", "up.pth", name="up.pth")
    # 4. in a TorchScript archive's data.pkl
    net = torch.jit.script(torch.nn.Linear(2, 2))
    torch.jit.save(net, str(tmp_path / "ts.pt"))
    with zipfile.ZipFile(tmp_path / "ts.pt") as z, zipfile.ZipFile(tmp_path / "evil_ts.pt", "w", zipfile.ZIP_STORED) as out:
        for item in z.infolist():
            data = z.read(item)
            if item.filename.endswith("/data.pkl"):
                data = pickle.dumps(Payload(marker), protocol=2)
            out.writestr(item, data)
    _raises(tmp_path / "evil_ts.pt", r"holds Python objects, not plain weights", "evil_ts.pt")
    # 5. a .npy with a pickled object array
    np.save(tmp_path / "obj.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    _raises(
        tmp_path / "obj.npy",
        r"is an object array, which only unpickling could read and qviz refuses; save a numeric array",
        "obj.npy",
    )
    assert not marker.exists()


def test_whole_module_pickle_is_refused(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    _raises(
        tmp_path / "module.pt",
        r"holds Python objects, not plain weights \(it needs torch.nn.modules.linear.Linear\)",
        "module.pt",
    )


def test_object_array_in_npz(tmp_path):
    np.savez(tmp_path / "o.npz", good=W, bad=np.array(["a", 1], dtype=object))
    _raises(tmp_path / "o.npz", r"'bad' is an object array", "o.npz")


def test_wrong_extension(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    _raises(tmp_path / "notes.txt", r"has an extension \(.txt\) qviz does not read; use .npy, .npz, .pt", "notes.txt")
    np.save(tmp_path / "a.npy", W)
    os.rename(tmp_path / "a.npy", tmp_path / "a.safetensors")
    _raises(tmp_path / "a.safetensors", r"is named .safetensors but its content is a NumPy file; rename it", "a.safetensors")
    os.rename(tmp_path / "a.safetensors", tmp_path / "weights")  # no extension: sniffed
    assert open_source(tmp_path / "weights").names() == ["weights"]


def _safetensors_with_header(header: dict, data: bytes = b"") -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def test_absurd_header_sizes(tmp_path):
    cases = {
        "huge_len.safetensors": (
            struct.pack("<Q", 1 << 60) + b"{}",
            r"header claims 1,152,921,504,606,846,976 bytes but the file has 10",
        ),
        "huge_shape.safetensors": (
            _safetensors_with_header({"w": {"dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 16]}}, b"\0" * 16),
            r"claims shape .* but spans 16 bytes",
        ),
        "past_end.safetensors": (
            _safetensors_with_header({"w": {"dtype": "F32", "shape": [1 << 30], "data_offsets": [0, 1 << 32]}}, b"\0" * 16),
            r"ends at byte 4,294,967,296 but the data section has 16",
        ),
        "negative.safetensors": (
            _safetensors_with_header({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
            r"header entry 'w' is malformed",
        ),
    }
    for fname, (raw, match) in cases.items():
        (tmp_path / fname).write_bytes(raw)
        _raises(tmp_path / fname, match, fname)
    # .npy whose header claims 10**12 values
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
    (tmp_path / "huge.npy").write_bytes(buf.getvalue() + b"\0" * 64)
    _raises(
        tmp_path / "huge.npy",
        r"claims shape \(1000000000000,\) \(4,000,000,000,000 bytes\) but only 64 bytes of data follow",
        "huge.npy",
    )


def test_unknown_dtype_is_listed_and_refused_on_load(tmp_path):
    raw = _safetensors_with_header(
        {"q": {"dtype": "Q4", "shape": [8], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
        b"\0" * 8,
    )
    (tmp_path / "q.safetensors").write_bytes(raw)
    src = open_source(tmp_path / "q.safetensors")
    assert src.info("q").dtype == "unsupported:Q4" and src.load("w").tolist() == [0.0]
    with pytest.raises(
        SourceError, match=r"^q.safetensors: tensor 'q' has dtype Q4, which qviz cannot read; convert it to one of F64"
    ):
        src.load("q")
    df = qviz.analyze(src, qviz.QuantSpec())
    assert "cannot read" in df.set_index("name").loc["q", "note"]


def test_element_limit(tmp_path):
    save_file({"w": torch.from_numpy(W)}, tmp_path / "m.safetensors")
    src = open_source(tmp_path / "m.safetensors", max_numel=10)
    assert src.info("w").numel == 12  # info still works
    with pytest.raises(
        SourceError, match=r"^m.safetensors: tensor 'w' has 12 elements, over the limit of 10; pass a larger max_numel"
    ):
        src.load("w")
    for ext, save in ((".npy", lambda p: np.save(p, W)), (".pt", lambda p: torch.save({"w": torch.from_numpy(W)}, p))):
        save(tmp_path / f"m{ext}")
        with pytest.raises(SourceError, match="over the limit of 10"):
            s = open_source(tmp_path / f"m{ext}", max_numel=10)
            s.load(s.names()[0])


def test_missing_shard_and_unknown_names(tmp_path):
    save_file({"a": torch.ones(2)}, tmp_path / "s1.safetensors")
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})
    )
    _raises(tmp_path, r"the index lists shard 's2.safetensors', which is not in the folder; download every shard", tmp_path.name)
    _raises(tmp_path / "nope.pt", r"does not exist; check the path", "nope.pt")
    _raises("builtin:resnet", r"is not a built-in; choose one of samples, digits_cnn, minilm", "resnet")
    src = open_source(tmp_path / "s1.safetensors")
    with pytest.raises(SourceError, match=r"s1.safetensors: has no tensor named 'zz'; choose one of its 1 tensors"):
        src.load("zz")


def test_empty_containers(tmp_path):
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "meta.pt")
    _raises(tmp_path / "meta.pt", r"holds no tensors", "meta.pt")
    np.savez(tmp_path / "none.npz")
    _raises(tmp_path / "none.npz", r"holds no arrays", "none.npz")
