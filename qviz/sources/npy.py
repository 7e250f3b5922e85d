"""NumPy ``.npy`` and ``.npz`` files (never with ``allow_pickle``).

Headers are read first (shape, dtype) and checked against the bytes actually
present, so a truncated file or an absurd header fails at open with a clear
message; object arrays (which only unpickling could read) are refused.

Example
-------
>>> import io, numpy as np
>>> buf = io.BytesIO(); np.save(buf, np.arange(6.0).reshape(2, 3))
>>> src = NpySource(buf.getvalue(), "x.npy")
>>> src.names(), src.info("x").shape
(['x'], (2, 3))
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np

from ..arrays import Float32RangeError, _from_float64
from .base import DEFAULT_MAX_NUMEL, Source, TensorInfo, fail

_SAVE_HINT = "save a numeric array with np.save / np.savez (for example arr.astype(np.float32))"


def _header(fp, label: str, what: str):
    """(shape, fortran_order, dtype) of the array at ``fp`` (positioned at its magic string)."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            return fmt.read_array_header_1_0(fp)
        if version == (2, 0):
            return fmt.read_array_header_2_0(fp)
        if version == (3, 0):
            return _header_3_0(fp)
        raise ValueError(f"format version {version[0]}.{version[1]} is unknown (NumPy writes 1.0, 2.0 and 3.0)")
    except Exception as e:  # ValueError, EOFError, SyntaxError from a corrupted header
        raise fail(label, f"{what}is not a valid .npy array ({e})", "the file is corrupted or truncated: save it again") from None


READ_BYTES = 1 << 24  # bytes of the file decoded at a time


def _read_float32(fp, header, label: str, name: str) -> np.ndarray:
    """The array at ``fp`` (after its header) decoded straight into float32, ``READ_BYTES`` at a time.

    Peak memory is the float32 result plus one piece: a compressed ``.npz`` member of float64
    never exists whole in its stored type (a 0.5 MB upload can hold 0.5 GB of zeros).
    """
    shape, fortran, dtype = header
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty(n, np.float32)
    step = max(1, READ_BYTES // max(dtype.itemsize, 1))
    wide = dtype.kind == "f" and dtype.itemsize > 4
    for i in range(0, n, step):
        k = min(step, n - i)
        buf = fp.read(k * dtype.itemsize)
        if len(buf) != k * dtype.itemsize:
            raise fail(label, f"{name!r} ends after {i + len(buf) // dtype.itemsize:,} of its {n:,} values",
                       "the file is truncated: save it again")
        piece = np.frombuffer(buf, dtype)
        out[i : i + k] = _from_float64(piece) if wide else piece
    return out.reshape(shape, order="F" if fortran else "C")


def _header_3_0(fp):
    """Version 3.0 (a utf-8 header, 4-byte length), parsed with public NumPy API only."""
    import ast

    n = int.from_bytes(fp.read(4), "little")
    raw = fp.read(n)
    if len(raw) != n:
        raise ValueError("the header is cut short")
    d = ast.literal_eval(raw.decode("utf-8"))
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        raise ValueError("the header is not a {descr, fortran_order, shape} dict")
    if not isinstance(d["shape"], tuple) or not all(isinstance(i, int) and i >= 0 for i in d["shape"]):
        raise ValueError(f"the shape {d['shape']!r} is not a tuple of sizes")
    return d["shape"], bool(d["fortran_order"]), np.lib.format.descr_to_dtype(d["descr"])


def _info(name: str, header, label: str, available: int | None) -> TensorInfo:
    shape, _, dtype = header
    if dtype.hasobject:
        raise fail(label, f"{name!r} is an object array, which only unpickling could read and qviz refuses", _SAVE_HINT)
    if dtype.kind not in "fiubc" or dtype.fields is not None:
        raise fail(label, f"{name!r} has dtype {dtype}, which is not numbers", _SAVE_HINT)
    info = TensorInfo(name, shape, "bool" if dtype.kind == "b" else dtype.name)
    need = info.numel * dtype.itemsize
    if available is not None and need > available:
        raise fail(
            label,
            f"{name!r} claims shape {info.shape} ({need:,} bytes) but only {available:,} bytes of data follow",
            "the file is truncated or its header is corrupted: save it again",
        )
    return info


class NpySource(Source):
    """One ``.npy`` array (its name is the file stem) or every array of an ``.npz``.

    Parameters
    ----------
    data : str | os.PathLike | bytes
        A path, or the file's bytes (an upload).
    label : str
        The file name (decides ``.npy`` vs ``.npz`` for bytes).
    """

    def __init__(self, data, label: str, max_numel: int = DEFAULT_MAX_NUMEL):
        super().__init__(label, max_numel)
        self._data = data
        self._zip = None
        self._members: dict[str, str] = {}
        is_zip = label.lower().endswith(".npz")
        if is_zip:
            self._open_npz()
        else:
            self._open_npy()

    def _fp(self):
        return io.BytesIO(self._data) if isinstance(self._data, (bytes, bytearray)) else open(self._data, "rb")

    def _size(self) -> int:
        return len(self._data) if isinstance(self._data, (bytes, bytearray)) else os.path.getsize(self._data)

    def _open_npy(self):
        name = os.path.splitext(self.label)[0] or "array"
        with self._fp() as fp:
            header = _header(fp, self.label, "")
            self._offset = fp.tell()
        self._infos[name] = _info(name, header, self.label, self._size() - self._offset)
        self._header = header

    def _open_npz(self):
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(self._data) if isinstance(self._data, (bytes, bytearray)) else self._data)
            members = [m for m in self._zip.infolist() if not m.is_dir()]
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise fail(
                self.label,
                f"is not a readable .npz archive ({e})",
                "the file is corrupted or truncated: save it again with np.savez",
            ) from None
        for m in members:
            name = m.filename.removesuffix(".npy")
            try:
                with self._zip.open(m) as fp:
                    header = _header(fp, self.label, f"member {m.filename!r} ")
                    available = m.file_size - fp.tell()
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as e:
                raise fail(
                    self.label, f"member {m.filename!r} cannot be read ({e})", "the archive is corrupted: save it again"
                ) from None
            self._infos[name] = _info(name, header, self.label, available)
            self._members[name] = m.filename
        if not self._infos:
            raise fail(self.label, "holds no arrays", "save at least one array with np.savez")

    def _read(self, name: str) -> np.ndarray:
        try:
            if self._zip is not None:
                with self._zip.open(self._members[name]) as fp:
                    return _read_float32(fp, _header(fp, self.label, f"member {name!r} "), self.label, name)
            with self._fp() as fp:
                return _read_float32(fp, _header(fp, self.label, ""), self.label, name)
        except Float32RangeError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError) as e:
            raise fail(
                self.label, f"{name!r} cannot be read ({e})", "the file is corrupted or truncated: save it again"
            ) from None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
