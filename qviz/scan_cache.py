"""The scan's disk cache: reopening the same checkpoint with the same settings is instant.

:func:`qviz.analyze` (with ``cache=True``; the CLI and the app turn it on) stores
its DataFrame under ``$XDG_CACHE_HOME/qviz/scans`` (default ``~/.cache/qviz``) as
Parquet — never a pickle — keyed by a sha256 of::

    every file of the checkpoint (a file, or each file directly in a model folder):
        absolute path, size, mtime (ns) and a sha256 of its header
        (a safetensors file's JSON header; the first 1 MiB of any other file)
    the QuantSpec, the method and its options, the analysis options
    the qviz version and a digest of the analysis code

so a changed file (one byte, hence its mtime) or another setting is analysed
again. ``qviz cache clear`` (:func:`clear`) empties it.

Example
-------
>>> import os, tempfile, numpy as np
>>> os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp()
>>> p = os.path.join(tempfile.mkdtemp(), "w.npy"); np.save(p, np.ones((2, 3), np.float32))
>>> k = scan_key(p, {"method": "minmax"})
>>> load(k) is None
True
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import pandas as pd

#: bump when the stored table changes meaning
FORMAT = 1
_CODE = ("analyze.py", "streaming.py", "fused.py", "metrics.py", "affine.py", "stats.py", "spec.py", "blocks.py")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/qviz`` (``~/.cache/qviz`` when the variable is unset or empty)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qviz"


def _scans() -> Path:
    return cache_dir() / "scans"


def qviz_version() -> str:
    """The installed qviz version and a digest of the analysis code (a cache made by other code is not reused)."""
    try:
        from importlib.metadata import version

        v = version("qviz")
    except Exception:  # not installed: the source tree
        v = "src"
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in _CODE:
        h.update((here / name).read_bytes())
    for p in sorted((here / "calibrate").glob("*.py")):
        h.update(p.read_bytes())
    return f"{v}+{h.hexdigest()[:16]}"


def checkpoint_files(path) -> list[str]:
    """The files a checkpoint path stands for: the file itself, or every file directly in the folder."""
    p = os.path.abspath(os.fspath(path))
    if os.path.isdir(p):
        return sorted(os.path.join(p, f) for f in os.listdir(p) if os.path.isfile(os.path.join(p, f)))
    return [p]


def header_digest(path: str) -> str:
    """sha256 of a safetensors file's 8-byte length and JSON header, or of any other file's first 1 MiB."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        head = f.read(8)
        h.update(head)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        if path.endswith(".safetensors") and 0 < n <= 100 << 20:
            h.update(f.read(n))
        else:
            h.update(f.read((1 << 20) - len(head)))
    return h.hexdigest()


def scan_key(path, settings: dict) -> str:
    """The cache key of analysing ``path`` with ``settings`` (spec, method, options, …; values are repr'd)."""
    files = []
    for f in checkpoint_files(path):
        st = os.stat(f)
        files.append([f, st.st_size, st.st_mtime_ns, header_digest(f)])
    doc = {"format": FORMAT, "qviz": qviz_version(), "files": files, "settings": {k: repr(v) for k, v in sorted(settings.items())}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def load(key: str) -> pd.DataFrame | None:
    """The stored table for ``key``, or None (missing or unreadable: it is then recomputed)."""
    p = _scans() / f"{key}.parquet"
    if not p.is_file():
        return None
    try:
        df = pd.read_parquet(p)
    except Exception:  # a partial or foreign file: ignore it
        return None
    if "shape" in df:
        df["shape"] = df["shape"].map(lambda s: tuple(int(v) for v in s))
    if "block" in df:  # Python ints and None, as qviz.analyze.frame builds it (Parquet reads back floats)
        df["block"] = pd.Series([None if pd.isna(v) else int(v) for v in df["block"]], index=df.index, dtype=object)
    return df


def store(key: str, df: pd.DataFrame) -> None:
    """Write the table atomically (a temporary file renamed into place); failures are silent (a cache)."""
    d = _scans()
    try:
        d.mkdir(parents=True, exist_ok=True)
        out = df.copy()
        if "shape" in out:
            out["shape"] = out["shape"].map(list)
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
        os.close(fd)
        out.to_parquet(tmp, index=False)
        os.replace(tmp, d / f"{key}.parquet")
    except OSError:
        pass


def clear() -> tuple[int, int]:
    """Delete every stored scan; returns ``(files, bytes)`` removed."""
    n = size = 0
    d = _scans()
    if d.is_dir():
        for p in d.iterdir():
            if p.is_file():
                size += p.stat().st_size
                p.unlink()
                n += 1
    return n, size
