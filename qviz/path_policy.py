"""Which local paths the app may read: none when hosted, any under one root when run for local use.

The dashboard can read checkpoints straight from disk (the "Local path" source), but
only when the person who started the server said so:

* ``qviz app`` (local use) sets ``QVIZ_ALLOW_PATHS`` to the filesystem root, unless it is
  already set (then that narrower root is kept);
* ``QVIZ_ALLOW_PATHS=DIR`` allows paths under ``DIR`` only (e.g. a shared models folder);
* ``QVIZ_OPEN=PATH`` alone (what ``qviz app PATH`` passes) allows that one file or folder;
* neither (the Dockerfile, a plain ``streamlit run app.py``): no path box at all.

A path is resolved the way the operating system will open it (``~``, relative to the
root, ``..`` and every symlink followed: :func:`os.path.realpath`) and must then lie
under the root's own real path, so ``../``, absolute paths elsewhere and symlinks that
leave the root are refused in one line. For a folder (and for the files that open
their siblings: a shard index ``.json``, an ``.onnx`` with external data) the entries of
the folder are checked too, so a shard that is a symlink to a file outside is refused.

Example
-------
>>> import os, tempfile
>>> root = os.path.realpath(tempfile.mkdtemp())
>>> open(os.path.join(root, "w.npy"), "wb").close()
>>> resolve("w.npy", root) == os.path.join(root, "w.npy")
True
>>> try:
...     resolve("../etc/passwd", root)
... except PathRefused as e:
...     print(str(e).split(" (")[0])
../etc/passwd: is outside the folder this app may read
>>> allowed_root({}) is None   # hosted: no local paths
True
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

ALLOW_ENV = "QVIZ_ALLOW_PATHS"
OPEN_ENV = "QVIZ_OPEN"
#: Files that make a reader open other files next to them
OPENS_SIBLINGS = (".json", ".onnx")


class PathRefused(ValueError):
    """A local path the app will not read; the message is one line saying why and what to do."""


def _real(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def allowed_root(environ: Mapping[str, str] | None = None) -> str | None:
    """The real path under which the app may read local files, or None (hosted: no path box).

    Raises
    ------
    PathRefused
        ``QVIZ_ALLOW_PATHS`` is set to something that is not an existing folder.
    """
    env = os.environ if environ is None else environ
    allow = env.get(ALLOW_ENV, "").strip()
    if allow:
        root = _real(allow)
        if not os.path.isdir(root):
            raise PathRefused(f"{ALLOW_ENV}={allow}: is not an existing folder; "
                              "set it to the folder whose models the app may read")
        return root
    opened = env.get(OPEN_ENV, "").strip()
    if opened and os.path.exists(opened):
        return _real(opened)
    return None


def is_under(path: str, root: str) -> bool:
    """True when the real path ``path`` is ``root`` or inside it (both already real paths).

    >>> is_under("/data/models/a", "/data/models"), is_under("/data/models2", "/data/models")
    (True, False)
    """
    return path == root or os.path.commonpath([path, root]) == root


def _refuse(shown: str, root: str) -> PathRefused:
    return PathRefused(f"{shown}: is outside the folder this app may read ({root}); choose a file or a model folder under it")


def _check_entries(folder: str, root: str, shown: str) -> None:
    """Refuse a folder holding a symlink that leads outside ``root`` (a shard the readers would open)."""
    try:
        entries = list(os.scandir(folder))
    except OSError as e:
        raise PathRefused(f"{shown}: cannot be listed ({e.strerror}); check its permissions") from None
    for entry in entries:
        if entry.is_symlink() and not is_under(os.path.realpath(entry.path), root):
            raise PathRefused(f"{shown}: {entry.name} links outside the folder this app may read ({root}); "
                              "copy the file into the folder instead of linking it")


def resolve(path: str, root: str) -> str:
    """The real path to open for the user's ``path``, if it lies under ``root``.

    Parameters
    ----------
    path : str
        What the user typed: absolute, ``~/…``, or relative to ``root``.
    root : str
        :func:`allowed_root` (a real path; a folder, or the one file ``QVIZ_OPEN`` names).

    Returns
    -------
    str
        ``os.path.realpath`` of the path: symlinks and ``..`` resolved, so the file opened
        is the file checked.

    Raises
    ------
    PathRefused
        Empty, outside ``root`` (``../``, an absolute path elsewhere, a symlink leaving it,
        a folder holding such a symlink), or missing.
    """
    shown = " ".join(str(path).split())[:200]
    if not shown:
        raise PathRefused("no path given: type the path of a checkpoint file or a model folder")
    if "\x00" in str(path):
        raise PathRefused(f"{shown!r}: is not a valid path")
    p = os.path.expanduser(str(path).strip())
    base = root if os.path.isdir(root) else os.path.dirname(root)
    real = os.path.realpath(p if os.path.isabs(p) else os.path.join(base, p))
    if not is_under(real, root):
        raise _refuse(shown, root)
    if not os.path.exists(real):
        raise PathRefused(f"{shown}: does not exist; check the path (relative paths start at {base})")
    if os.path.isdir(real):
        _check_entries(real, root, shown)
    elif real.lower().endswith(OPENS_SIBLINGS):
        _check_entries(os.path.dirname(real), root, shown)
    return real


def stamp(path: str) -> str:
    """A short digest of the sizes and modification times of ``path`` (a folder: of its files).

    It changes when a file is rewritten, so caches keyed on it re-read a changed checkpoint.

    >>> import tempfile; d = tempfile.mkdtemp(); s = stamp(d)
    >>> with open(os.path.join(d, "a.bin"), "wb") as f: _ = f.write(b"1")
    >>> s != stamp(d)
    True
    """
    h = hashlib.sha256()
    try:
        if os.path.isdir(path):
            for entry in sorted(os.scandir(path), key=lambda e: e.name):
                st = entry.stat()
                h.update(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        else:
            st = os.stat(path)
            h.update(f"{st.st_size}\0{st.st_mtime_ns}".encode())
    except OSError:
        h.update(b"missing")
    return h.hexdigest()[:16]
