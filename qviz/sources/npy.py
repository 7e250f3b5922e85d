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

from typing import Any

import io
import os
import zipfile

import numpy as np

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
        return fmt._read_array_header(fp, version)  # type: ignore[attr-defined]  # (3, 0): utf-8 header, no public reader
    except Exception as e:  # ValueError, EOFError, SyntaxError from a corrupted header
        raise fail(label, f"{what}is not a valid .npy array ({e})", "the file is corrupted or truncated: save it again") from None


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

    def __init__(self, data: Any, label: str, max_numel: int = DEFAULT_MAX_NUMEL):
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
        fmt = np.lib.format
        try:
            if self._zip is not None:
                with self._zip.open(self._members[name]) as fp:
                    return fmt.read_array(fp, allow_pickle=False)
            if isinstance(self._data, (bytes, bytearray)):
                return fmt.read_array(io.BytesIO(self._data), allow_pickle=False)
            return np.load(self._data, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError) as e:
            raise fail(
                self.label, f"{name!r} cannot be read ({e})", "the file is corrupted or truncated: save it again"
            ) from None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
