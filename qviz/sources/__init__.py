"""Where tensors come from: :func:`open_source` picks a reader by file type.

Readers (one small module each): ``.npy``/``.npz`` (:mod:`.npy`), PyTorch and
TorchScript (:mod:`.torch_pt`), ``.safetensors`` files and shard folders
(:mod:`.safetensors_src`), ONNX (:mod:`.onnx_src`), GGUF (:mod:`.gguf_src`), model folders
(:mod:`.folder`), and built-ins by name (:mod:`.builtin`). Every failure is a one-line :class:`SourceError`.

Example
-------
>>> src = open_source("samples")
>>> "gaussian" in src.names()
True
"""

from __future__ import annotations

import os
import zipfile

from .base import DEFAULT_MAX_NUMEL, Source, SourceError, TensorInfo, fail, label_of
from .builtin import builtin_names, open_builtin

EXTENSIONS = {
    ".npy": "npy",
    ".npz": "npy",
    ".pt": "torch",
    ".pth": "torch",
    ".bin": "torch",
    ".ckpt": "torch",
    ".pkl": "torch",
    ".safetensors": "safetensors",
    ".json": "safetensors",
    ".jit": "torch",
    ".onnx": "onnx",
    ".gguf": "gguf",
}
#: the extensions a single uploaded file may have (the app's uploaders offer these): every one a reader takes,
#: except a shard index (.json), which needs its folder
UPLOADS = tuple(e for e in EXTENSIONS if e != ".json")
_SUPPORTED = f"{', '.join(UPLOADS)}, a model folder, or a built-in"


def _sniff(head: bytes) -> str | None:
    """The format the first bytes say, whatever the extension."""
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < (1 << 40):
        return "safetensors"
    if head[:1] == b"\x80":  # pickle protocol 2+: legacy torch.save
        return "torch"
    if head[:1] == b"\x08":  # protobuf field 1 varint: ONNX ir_version
        return "onnx"
    return None


def _reader(kind: str):
    if kind == "npy":
        from .npy import NpySource as cls
    elif kind == "torch":
        from .torch_pt import TorchSource as cls
    elif kind == "gguf":
        from .gguf_src import GGUFSource as cls
    elif kind == "safetensors":
        from .safetensors_src import SafetensorsSource as cls
    else:
        from .onnx_src import OnnxSource as cls
    return cls


def open_source(
    path_or_bytes,
    name: str | None = None,
    *,
    max_numel: int = DEFAULT_MAX_NUMEL,
    max_header_bytes: int | None = None,
    max_tensors: int | None = None,
) -> Source:
    """Open a file, an upload's bytes, a shard folder, or a built-in, lazily.

    Parameters
    ----------
    path_or_bytes : str | os.PathLike | bytes
        A path (file or folder), the bytes of an upload, or a built-in name
        (``qviz.builtin_names()``; ``"builtin:<name>"`` when a file has the same name).
    name : str, optional
        The upload's file name (its extension picks the reader); for paths, the label.
    max_numel : int
        Largest tensor :meth:`Source.load` will read (checked before reading).
    max_header_bytes, max_tensors : int, optional
        Limits for untrusted uploads: a safetensors header longer than ``max_header_bytes`` is
        refused before it is parsed, a file with more than ``max_tensors`` tensors once it is opened.

    Returns
    -------
    Source
        ``names()``, ``info(name)`` (no data read) and ``load(name)`` (float32 ndarray).

    Raises
    ------
    SourceError
        One line: which file, what is wrong, what to do.

    Examples
    --------
    >>> import io, numpy as np
    >>> buf = io.BytesIO(); np.save(buf, np.zeros(3, np.float32))
    >>> open_source(buf.getvalue(), name="z.npy").info("z").shape
    (3,)
    """
    if isinstance(path_or_bytes, str) and path_or_bytes.startswith("builtin:"):
        return open_builtin(path_or_bytes[len("builtin:") :], max_numel=max_numel)
    if isinstance(path_or_bytes, str) and path_or_bytes in builtin_names() and not os.path.exists(path_or_bytes):
        return open_builtin(path_or_bytes, max_numel=max_numel)
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, label = bytes(path_or_bytes), label_of(None, name or "upload")
        head = data[:16]
        size = len(data)
    elif isinstance(path_or_bytes, (str, os.PathLike)):
        data, label = os.fspath(path_or_bytes), label_of(path_or_bytes, name)
        if os.path.isdir(data):
            from .folder import open_folder

            return open_folder(data, label, max_numel)
        if not os.path.isfile(data):
            raise fail(label, "does not exist", f"check the path, or choose a built-in ({', '.join(builtin_names())})")
        size = os.path.getsize(data)
        try:
            with open(data, "rb") as f:
                head = f.read(16)
        except OSError as e:
            raise fail(label, f"cannot be opened ({e.strerror})", "check its permissions") from None
    else:
        raise SourceError(
            f"open_source takes a path, bytes or a built-in name, got {type(path_or_bytes).__name__}; pass one of those"
        )
    if size == 0:
        raise fail(label, "is empty (0 bytes)", "the upload or download did not finish: choose the real file")
    ext = os.path.splitext(label.lower())[1]
    kind = EXTENSIONS.get(ext)
    sniffed = _sniff(head)
    if sniffed == "zip":  # torch zip checkpoints, TorchScript and .npz are all zips
        sniffed = "npy" if kind == "npy" or _npz_like(data) else "torch"
    if kind is None:
        if sniffed is None:
            raise fail(label, f"has an extension ({ext or 'none'}) qviz does not read", f"use {_SUPPORTED}")
        kind = sniffed
    elif sniffed is not None and sniffed != kind:
        what = {"gguf": "a GGUF file", "npy": "a NumPy file", "torch": "a PyTorch file", "safetensors": "a safetensors file", "onnx": "an ONNX file"}
        raise fail(
            label, f"is named {ext} but its content is {what[sniffed]}", f"rename it to the right extension ({_SUPPORTED})"
        )
    if kind == "safetensors" and max_header_bytes is not None and len(head) >= 8 and ext != ".json":
        n = int.from_bytes(head[:8], "little")
        if n > max_header_bytes:
            raise fail(label, f"has a {n:,}-byte header, over this server's limit of {max_header_bytes:,}",
                       "open such a checkpoint locally (qviz app PATH), where headers may be larger")
    src = _reader(kind)(data, label, max_numel)
    if max_tensors is not None and len(src) > max_tensors:
        raise fail(label, f"holds {len(src):,} tensors, over this server's limit of {max_tensors:,}",
                   "open such a checkpoint locally (qviz app PATH), or upload fewer tensors")
    return src


def _npz_like(data) -> bool:
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as z:
            names = z.namelist()
        return bool(names) and all(n.endswith(".npy") for n in names)
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


__all__ = ["DEFAULT_MAX_NUMEL", "Source", "SourceError", "TensorInfo", "builtin_names", "open_builtin", "open_source"]
