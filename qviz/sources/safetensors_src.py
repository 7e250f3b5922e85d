"""``.safetensors`` files and sharded folders, read header first and one tensor at a time.

The format is ``u64 header length · JSON header · raw little-endian data``. qviz
parses the header itself and checks every entry against the file size before
anything is read; each :meth:`load` then seeks and reads exactly one tensor's
bytes (no memory map, so resident memory stays about one tensor whatever the
file size). A folder with ``model.safetensors.index.json`` (or any folder of
``.safetensors`` shards) is one model.

Example
-------
>>> import numpy as np, safetensors.numpy as stn
>>> raw = stn.save({"w": np.ones((2, 3), np.float32)})
>>> src = SafetensorsSource(raw, "m.safetensors")
>>> src.info("w").shape, float(src.load("w").sum())
((2, 3), 6.0)
"""

from __future__ import annotations

import glob
import json
import math
import os
import struct
from typing import Any, BinaryIO

import numpy as np

from .base import DEFAULT_MAX_NUMEL, Source, TensorInfo, fail

MAX_HEADER = 100 << 20
# safetensors dtype -> (qviz dtype name, bytes per element, numpy dtype or None when torch must widen it)
DTYPES = {
    "F64": ("float64", 8, np.float64),
    "F32": ("float32", 4, np.float32),
    "F16": ("float16", 2, np.float16),
    "BF16": ("bfloat16", 2, None),
    "F8_E4M3": ("float8_e4m3fn", 1, None),
    "F8_E5M2": ("float8_e5m2", 1, None),
    "F8_E8M0": ("float8_e8m0fnu", 1, None),
    "I64": ("int64", 8, np.int64),
    "I32": ("int32", 4, np.int32),
    "I16": ("int16", 2, np.int16),
    "I8": ("int8", 1, np.int8),
    "U64": ("uint64", 8, np.uint64),
    "U32": ("uint32", 4, np.uint32),
    "U16": ("uint16", 2, np.uint16),
    "U8": ("uint8", 1, np.uint8),
    "BOOL": ("bool", 1, np.bool_),
}
_CORRUPT = "the file is corrupted or truncated: download or save it again"


def parse_header(fp: BinaryIO, size: int, label: str, metadata: dict | None = None) -> tuple[dict, int]:
    """Read and validate the header at ``fp``; return ``({name: entry}, data_start)`` (``metadata`` gets ``__metadata__``)."""
    if size == 0:
        raise fail(label, "is empty (0 bytes)", "choose the real .safetensors file")
    if size < 8:
        raise fail(label, f"is only {size} bytes, too short for a safetensors header", _CORRUPT)
    (n,) = struct.unpack("<Q", fp.read(8))
    if n > min(size - 8, MAX_HEADER):
        raise fail(label, f"header claims {n:,} bytes but the file has {size:,}", _CORRUPT)
    try:
        header = json.loads(fp.read(n).decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as err:
        raise fail(label, f"header is not valid JSON ({err})", _CORRUPT) from None
    meta = header.pop("__metadata__", None)
    if metadata is not None and isinstance(meta, dict):
        metadata.update({str(k): v for k, v in meta.items()})
    data_size = size - 8 - n
    for name, e in header.items():
        try:
            dtype, shape, (begin, end) = e["dtype"], e["shape"], e["data_offsets"]
            ok = all(isinstance(v, int) and v >= 0 for v in [*shape, begin, end])
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise fail(label, f"header entry {name!r} is malformed ({str(e)[:80]})", _CORRUPT)
        if dtype not in DTYPES:  # listed, refused only when loaded
            need = end - begin
        else:
            need = math.prod(shape) * DTYPES[dtype][1]  # math.prod(()) == 1: a 0-d tensor
        if end - begin != need or end < begin:
            raise fail(
                label, f"tensor {name!r} claims shape {tuple(shape)} ({need:,} bytes) but spans {end - begin:,} bytes", _CORRUPT
            )
        if end > data_size:
            raise fail(label, f"tensor {name!r} ends at byte {end:,} but the data section has {data_size:,}", _CORRUPT)
    return header, 8 + n


def _widen(buf: np.ndarray, dtype: str, shape: tuple):
    """Bytes of one tensor as an ndarray, or a torch tensor for bf16/fp8."""
    _, _, np_dtype = DTYPES[dtype]
    if np_dtype is not None:
        return buf.view(np_dtype).reshape(shape)
    import torch

    tdt = {
        "BF16": torch.bfloat16,
        "F8_E4M3": torch.float8_e4m3fn,
        "F8_E5M2": torch.float8_e5m2,
        "F8_E8M0": getattr(torch, "float8_e8m0fnu", None),
    }[dtype]
    if tdt is None:
        raise ValueError(f"this torch has no {dtype}")
    if buf.size == 0:
        return torch.empty(shape, dtype=tdt)
    return torch.frombuffer(buf, dtype=torch.uint8).view(tdt).reshape(shape)


class SafetensorsSource(Source):
    """One ``.safetensors`` file, its bytes, or a folder of shards.

    Parameters
    ----------
    data : str | os.PathLike | bytes
        A file, a folder (with ``*.safetensors.index.json`` or ``*.safetensors`` shards),
        an index ``.json``, or the bytes of one file.
    label : str
        The name messages use.
    """

    def __init__(self, data: Any, label: str, max_numel: int = DEFAULT_MAX_NUMEL):
        super().__init__(label, max_numel)
        self._bytes = bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else None
        self._where: dict[str, tuple[str | None, dict, int]] = {}
        self._metadata: dict = {}
        self._qparts = None  # raw access for quantized weights (set by attach)
        folder = None
        if self._bytes is not None:
            self._add_file(None, label)
        else:
            path = os.fspath(data)
            if os.path.isdir(path) or path.endswith(".index.json"):
                self._open_folder(path)
                folder = path if os.path.isdir(path) else os.path.dirname(path)
            else:
                self._add_file(path, label)
                folder = os.path.dirname(os.path.abspath(path))
        from .quantized import attach  # already-quantized weights (GPTQ, AWQ, compressed-tensors, bitsandbytes)

        self._quant = attach(self, folder, self._metadata)
        self._decoded: tuple = ("", None)

    def _open_folder(self, path: str):
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        index = [path] if not os.path.isdir(path) else sorted(glob.glob(os.path.join(folder, "*.safetensors.index.json")))
        if index:
            from .folder import shard_index  # here, not on top: folder imports this module

            shards = [os.path.basename(p) for p in shard_index(index[0], self.label)]
        else:
            shards = sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, "*.safetensors")))
            if not shards:
                raise fail(
                    self.label, "is a folder with no .safetensors files", "choose a .safetensors file or a folder of shards"
                )
        for s in shards:
            self._add_file(os.path.join(folder, s), f"{self.label}/{s}")

    def _add_file(self, path: str | None, label: str) -> None:
        fp: BinaryIO
        if path is None:
            import io

            assert self._bytes is not None  # no path: the source was opened from bytes
            fp, size = io.BytesIO(self._bytes), len(self._bytes)
        else:
            try:
                fp, size = open(path, "rb"), os.path.getsize(path)
            except OSError as err:
                raise fail(label, f"cannot be opened ({err.strerror})", "check the path and its permissions") from None
        with fp:
            header, start = parse_header(fp, size, label, self._metadata)
        for name, e in header.items():
            if name in self._infos:
                raise fail(
                    label,
                    f"tensor {name!r} also appears in another shard",
                    "the shards are from different models: download them again",
                )
            self._infos[name] = TensorInfo(
                name, e["shape"], DTYPES[e["dtype"]][0] if e["dtype"] in DTYPES else f"unsupported:{e['dtype']}"
            )
            self._where[name] = (path, e, start)
        if not header and label == self.label:
            raise fail(label, "holds no tensors", "choose a file with weights")

    def _decode(self, name: str):
        from .quantized import decode

        d = decode(self._quant[name], self._qparts)
        self._decoded = (name, d.qt)  # the last QuantizedTensor, so load() then quantized() decodes once
        return d

    def quantized(self, name: str):
        """``name`` as stored: a :class:`qviz.QuantizedTensor` (codes, scales, zero points, bits per weight)."""
        if not self.info(name).quantized:
            return super().quantized(name)
        if self._decoded[0] != name:
            self._decode(name)
        return self._decoded[1]

    def quantized_nbytes(self, name: str) -> int:
        """Bytes on disk of every part of quantized weight ``name`` (no data read)."""
        if name not in self._quant or self._qparts is None:
            return super().quantized(name)  # raises: not a quantized weight
        return self._qparts.total_nbytes(self._quant[name])

    def bits_per_weight(self, name: str) -> float:
        """Bits on disk per value of quantized weight ``name``, every part counted (no data read)."""
        return self.quantized_nbytes(name) * 8 / self.info(name).numel

    def _part_label(self, raw: str) -> str:
        path = self._where[raw][0]
        return self.label if path is None or os.path.basename(path) == self.label else f"{self.label}/{os.path.basename(path)}"

    def _part_nbytes(self, raw: str) -> int:
        begin, end = self._where[raw][1]["data_offsets"]
        return end - begin

    def _raw_array(self, raw: str):
        return self._read_raw(raw)

    def _read(self, name: str):
        if name in self._quant:
            return self._decode(name).values  # fresh every time: callers may modify it
        return self._read_raw(name)

    def _raw_bytes(self, name: str) -> np.ndarray:
        """The stored bytes of raw tensor ``name`` (uint8)."""
        path, e, start = self._where[name]
        if e["dtype"] not in DTYPES:
            raise fail(
                self.label,
                f"tensor {name!r} has dtype {e['dtype']}, which qviz cannot read",
                f"convert it to one of {', '.join(DTYPES)}",
            )
        begin, end = e["data_offsets"]
        buf = np.empty(end - begin, dtype=np.uint8)
        if path is None:
            assert self._bytes is not None  # no path: the source was opened from bytes
            buf[:] = np.frombuffer(self._bytes, np.uint8, end - begin, start + begin)
        else:
            try:
                with open(path, "rb", buffering=0) as f:
                    f.seek(start + begin)
                    view, got = memoryview(buf), 0  # type: ignore[arg-type]  # numpy arrays are buffers; numpy's stubs do not say so
                    while got < buf.size:  # one read returns at most ~2 GB
                        n = f.readinto(view[got:])
                        if not n:
                            break
                        got += n
            except OSError as err:
                raise fail(
                    self.label, f"tensor {name!r} cannot be read ({err.strerror})", "check the file is still there"
                ) from None
            if got != buf.size:
                raise fail(self.label, f"tensor {name!r} is cut short (file changed since it was opened)", _CORRUPT)
        return buf

    def _read_raw(self, name: str):
        e = self._where[name][1]
        return _widen(self._raw_bytes(name), e["dtype"], tuple(e["shape"]))
