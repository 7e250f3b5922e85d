"""GGUF files (llama.cpp): every tensor type, memory-mapped, through ``gguf.GGUFReader``.

The header (metadata and tensor table) is parsed by llama.cpp's own Python
reader; tensor data stays in the memory map until :meth:`GGUFSource.load` or
:meth:`GGUFSource.quantized` reads one tensor. Quantized tensors are unpacked by
:mod:`qviz.sources.gguf_blocks` into a :class:`qviz.QuantizedTensor` (codes, the real
per-(sub)block scales and mins, the codebook), whose ``dequantize()`` equals
``gguf.quants.dequantize`` bit for bit.

Shapes: GGUF stores dimensions in ggml order (fastest first); qviz shows them in
numpy order, reversed, so a Linear weight reads ``(out_features, in_features)`` as
in the Hugging Face checkpoint it came from.

Metadata shown by the inspector (:attr:`GGUFSource.metadata`): architecture, model
name, file type (``MOSTLY_Q4_K_M`` …), quantization version, block count, alignment.

Example
-------
>>> import numpy as np, gguf, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "t.gguf")
>>> w = gguf.GGUFWriter(path, "llama")
>>> w.add_tensor("blk.0.attn_q.weight", gguf.quants.quantize(np.ones((2, 32), np.float32), gguf.GGMLQuantizationType.Q8_0),
...              raw_dtype=gguf.GGMLQuantizationType.Q8_0)
>>> w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
>>> src = GGUFSource(path, "t.gguf")
>>> src.info("blk.0.attn_q.weight").shape, src.info("blk.0.attn_q.weight").quantized
((2, 32), 'gguf:Q8_0')
>>> float(src.load("blk.0.attn_q.weight").max())
1.0
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from ..quantized import QuantizedTensor
from .base import DEFAULT_MAX_NUMEL, Source, TensorInfo, fail
from .gguf_blocks import DECODERS, decode

MAGIC = b"GGUF"
_PLAIN = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64", "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64"}
#: Values decoded at once by ``load`` (intermediates stay in cache; ``quantized`` decodes the whole tensor).
CHUNK_VALUES = 1 << 16
_REMEDY = "the file may be truncated or not a GGUF file: download or convert it again"


def _gguf():
    try:
        import gguf
    except ImportError:  # pragma: no cover - gguf is in requirements.txt
        raise ImportError("reading .gguf files needs the gguf package: pip install gguf") from None
    return gguf


class _BadTensor(Exception):
    def __init__(self, tensor: str, what: str, todo: str):
        super().__init__(f"tensor {tensor!r} {what}")
        self.tensor, self.what, self.todo = tensor, what, todo


def _reader_class():
    gguf = _gguf()

    class Reader(gguf.GGUFReader):
        """``GGUFReader`` that names the tensor when its type or extent is bad."""

        def _build_tensors(self, start_offs, fields):
            size = len(self.data)
            for f in fields:
                name = bytes(f.parts[1]).decode("utf-8", "replace")
                raw = int(f.parts[4][0])
                try:
                    t = gguf.GGMLQuantizationType(raw)
                except ValueError:
                    known = "gguf " + getattr(gguf, "__version__", "")
                    raise _BadTensor(name, f"has an unknown GGML type {raw}", f"upgrade the gguf package ({known.strip()}) or re-quantize it with a known type") from None
                if t not in gguf.GGML_QUANT_SIZES:
                    raise _BadTensor(name, f"has GGML type {t.name} with no known block size", "re-quantize it with another type")
                n = int(np.prod(f.parts[3], dtype=np.int64))
                bs, ts = gguf.GGML_QUANT_SIZES[t]
                dims = [int(d) for d in f.parts[3]]
                if dims and dims[0] % bs:
                    raise _BadTensor(name, f"has rows of {dims[0]} values, not a multiple of the {t.name} block ({bs})", "the file is corrupted: convert it again")
                end = int(start_offs + f.parts[5][0]) + n // bs * ts
                if end > size:
                    raise _BadTensor(name, f"ends at byte {end:,} but the file has {size:,} bytes (truncated)", "download or copy the whole file again")
            super()._build_tensors(start_offs, fields)

    return Reader


def _field_value(field):
    try:
        v = field.contents()
    except Exception:  # noqa: BLE001 - a metadata value we cannot show is left out
        return None
    if isinstance(v, list) and len(v) > 8:
        return f"[{len(v)} values]"
    return v


class GGUFSource(Source):
    """A ``.gguf`` file: tensors by name, metadata in :attr:`metadata`, quantized tensors as :class:`QuantizedTensor`."""

    def __init__(self, data, label: str, max_numel: int = DEFAULT_MAX_NUMEL):
        super().__init__(label, max_numel)
        gguf = _gguf()
        self._tmp = None
        if isinstance(data, bytes):  # an upload: memory-map a private temporary copy
            fd, path = tempfile.mkstemp(suffix=".gguf")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            self._tmp = path
        else:
            path = data
        try:
            with open(path, "rb") as f:
                head = f.read(4)
            if head != MAGIC:
                raise fail(label, f"does not start with the GGUF magic (found {head!r})", "choose a .gguf file made by llama.cpp or gguf-py")
            try:
                self._reader = _reader_class()(path, "r")
            except _BadTensor as e:
                raise fail(label, str(e), e.todo) from None
            except (ValueError, IndexError, KeyError, OverflowError, UnicodeDecodeError, TypeError, MemoryError) as e:
                raise fail(label, f"has an unreadable GGUF header ({str(e)[:120]})", _REMEDY) from None
        finally:
            self._unlink_tmp()  # the memory map stays valid after the name is gone
        self._tensors = {}
        for t in self._reader.tensors:
            tname = t.tensor_type.name
            shape = tuple(int(s) for s in reversed(t.shape.tolist()))
            if tname in _PLAIN:
                info = TensorInfo(t.name, shape, _PLAIN[tname])
            elif tname in DECODERS:
                info = TensorInfo(t.name, shape, tname, quantized=f"gguf:{tname}")
            else:
                info = TensorInfo(t.name, shape, tname)
            self._infos[t.name] = info
            self._tensors[t.name] = t
        self.metadata = self._metadata(gguf)

    def _metadata(self, gguf) -> dict:
        """Architecture, name, file type, quantization version, block count, alignment, tensor types."""
        fields = self._reader.fields

        def get(key):
            return _field_value(fields[key]) if key in fields else None

        arch = get("general.architecture")
        ftype = get("general.file_type")
        try:
            ftype_name = gguf.LlamaFileType(int(ftype)).name if ftype is not None else None
        except ValueError:
            ftype_name = str(ftype)
        types: dict[str, int] = {}
        for t in self._tensors.values():
            types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
        meta = {
            "architecture": arch,
            "name": get("general.name"),
            "file_type": ftype_name,
            "quantization_version": get("general.quantization_version"),
            "block_count": get(f"{arch}.block_count") if arch else None,
            "head_count": get(f"{arch}.attention.head_count") if arch else None,
            "head_count_kv": get(f"{arch}.attention.head_count_kv") if arch else None,
            "alignment": get("general.alignment") or 32,
            "tensor_types": types,
            "n_metadata_keys": len(fields),
        }
        return meta

    def ggml_type(self, name: str) -> str:
        """The stored GGML type of ``name`` (``"Q4_K"``, ``"F16"`` …)."""
        self.info(name)
        return self._tensors[name].tensor_type.name

    def bits_per_weight(self, name: str) -> float:
        """Bytes on disk × 8 / values, from the header (no data read)."""
        info = self.info(name)
        t = self._tensors[name]
        return int(t.n_bytes) * 8 / info.numel if info.numel else float("nan")

    def _raw_blocks(self, name: str) -> np.ndarray:
        t = self._tensors[name]
        gguf = _gguf()
        ts = gguf.GGML_QUANT_SIZES[t.tensor_type][1]
        return np.asarray(t.data).reshape((-1, ts))

    def _read(self, name: str):
        info = self.info(name)
        t = self._tensors[name]
        tname = t.tensor_type.name
        if info.quantized:
            return self._decode_chunked(name, info)
        if tname == "BF16":  # the reference's own widening: bits << 16
            return (np.asarray(t.data).view(np.int16).astype(np.int32) << 16).view(np.float32).reshape(info.shape)
        if tname in _PLAIN:
            return np.array(t.data).reshape(info.shape)
        raise fail(self.label, f"tensor {name!r} has GGML type {tname}, which qviz cannot decode", f"qviz decodes {', '.join(list(_PLAIN) + list(DECODERS))}")

    def _decode_chunked(self, name: str, info: TensorInfo) -> np.ndarray:
        """The values of ``quantized(name).dequantize()``, decoded :data:`CHUNK_VALUES` at a time (cache-sized
        intermediates; the same decoder and the same formula, so the same bits)."""
        raw = self._raw_blocks(name)
        per = info.numel // max(1, raw.shape[0])  # values per stored block
        step = max(1, CHUNK_VALUES // max(1, per))
        out = np.empty(info.numel, np.float32)
        for i in range(0, raw.shape[0], step):
            part = raw[i : i + step]
            try:
                d = decode(part, info.dtype)
            except ValueError as e:
                raise fail(self.label, f"tensor {name!r} cannot be decoded as {info.dtype} ({str(e)[:100]})", _REMEDY) from None
            qt = QuantizedTensor(name=name, format=info.quantized, shape=(d.codes.size,), bits=d.bits, block_size=d.block_size,
                                 codes=d.codes, scales=d.scales, codebook=d.codebook, zero_points=d.zero_points, mins=d.mins)
            out[i * per : i * per + d.codes.size] = qt.dequantize()
        return out.reshape(info.shape)

    def quantized(self, name: str) -> QuantizedTensor:
        """``name`` as stored: codes, per-(sub)block scales/mins and the codebook of its GGML type."""
        info = self.info(name)
        if not info.quantized:
            return super().quantized(name)
        if info.numel > self.max_numel:
            raise fail(self.label, f"tensor {name!r} has {info.numel:,} elements, over the limit of {self.max_numel:,}", "pass a larger max_numel to qviz.open_source if the machine has the memory")
        t = self._tensors[name]
        try:
            d = decode(self._raw_blocks(name), info.dtype)
        except (ValueError, OSError) as e:
            raise fail(self.label, f"tensor {name!r} cannot be decoded as {info.dtype} ({str(e)[:100]})", _REMEDY) from None
        meta = {"ggml_type": info.dtype, "ggml_shape": [int(s) for s in t.shape], **d.meta}
        if self.metadata.get("architecture"):
            meta["architecture"] = self.metadata["architecture"]
        return QuantizedTensor(
            name=name,
            format=info.quantized,
            shape=info.shape,
            bits=d.bits,
            block_size=d.block_size,
            codes=d.codes,
            scales=d.scales,
            codebook=d.codebook,
            zero_points=d.zero_points,
            mins=d.mins,
            nbytes=int(t.n_bytes),
            meta=meta,
        )

    def _unlink_tmp(self) -> None:
        if self._tmp:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None
