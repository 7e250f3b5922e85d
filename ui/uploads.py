"""A session's uploaded files, kept across pages within a byte budget, and the server's memory budget.

Every upload lives in its own session (``st.session_state``), never in a cache another user can
reach. Its bytes and the tensors read from it count against two budgets:

* the session's (``QVIZ_SESSION_MB``, default 1024 MB): past it, the oldest files are dropped, and
  the page says which;
* the server's (``QVIZ_MEMORY_MB``, default 6144 MB, sized for a 16 GB host that also holds the
  built-in models and each page's working memory): every session reserves from it, and a request
  that does not fit gets "the server is busy" instead of the host running out of memory. A session's
  reservation is released when its files are removed or the session ends.

A tensor is budgeted from its header before a byte of it is decoded: its float32 size, plus twice
that for the page's working memory (x̂ and chunked temporaries) while it is analysed.

Example
-------
>>> b = MemoryBudget(100)
>>> b.reserve("a", 60), b.reserve("b", 60), b.used
(True, False, 60)
>>> b.release("a"); b.reserve("b", 60)
True
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

import qviz

MB = 1 << 20
SESSION_BYTES = int(float(os.environ.get("QVIZ_SESSION_MB", 1024)) * MB)
SERVER_BYTES = int(float(os.environ.get("QVIZ_MEMORY_MB", 6144)) * MB)
WORKING = 3  # a tensor being analysed needs about 3× its float32 size (x, x̂, chunked temporaries): tested
MAX_UPLOAD_NUMEL = 1 << 26  # 64M values (256 MB as float32) per tensor
UPLOAD_LIMITS = dict(max_numel=MAX_UPLOAD_NUMEL, max_header_bytes=8 * MB, max_tensors=20_000)


class ServerBusy(RuntimeError):
    """The server's memory budget is spent by other sessions right now."""


class MemoryBudget:
    """Thread-safe byte reservations per owner against one ceiling."""

    def __init__(self, limit: int):
        self.limit = int(limit)
        self._held: dict = {}
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        with self._lock:
            return sum(self._held.values())

    def reserve(self, owner, nbytes: int) -> bool:
        """Set ``owner``'s reservation to ``nbytes`` if it fits under the limit; False (and unchanged) if not."""
        with self._lock:
            others = sum(v for k, v in self._held.items() if k != owner)
            if others + nbytes > self.limit:
                return False
            self._held[owner] = int(nbytes)
            return True

    def release(self, owner) -> None:
        with self._lock:
            self._held.pop(owner, None)


SERVER = MemoryBudget(SERVER_BYTES)


@dataclass(eq=False)
class Upload:
    name: str
    digest: str
    raw: bytes
    source: object
    tensors: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return len(self.raw) + sum(x.nbytes for x in self.tensors.values())


class SessionUploads:
    """One session's files, oldest first, within :data:`SESSION_BYTES`; reserved from :data:`SERVER`."""

    def __init__(self, budget: MemoryBudget = SERVER, limit: int = SESSION_BYTES):
        self.files: OrderedDict[str, Upload] = OrderedDict()
        self.budget, self.limit = budget, limit
        self.evicted: list[str] = []
        self.seen: set = set()  # the uploader's file ids already taken in (or removed)
        weakref.finalize(self, budget.release, id(self))  # the session ended: its reservation goes with it

    @property
    def nbytes(self) -> int:
        return sum(u.nbytes for u in self.files.values())

    def _fit(self, extra: int, keep: str | None = None) -> None:
        """Drop the oldest files (never ``keep``) until ``extra`` more bytes fit; reserve the total from the server."""
        if extra > self.limit:
            raise ServerBusy(f"this needs {extra / MB:,.0f} MB, more than a session may hold ({self.limit / MB:,.0f} MB): "
                             "open it locally with `qviz app PATH`")
        for digest in list(self.files):
            if self.nbytes + extra <= self.limit:
                break
            if digest != keep:
                self.evicted.append(self.files.pop(digest).name)
        if not self.budget.reserve(id(self), self.nbytes + extra):
            raise ServerBusy("the server is busy (its memory is in use by other visitors): try again in a minute")

    def add(self, raw: bytes, name: str) -> Upload:
        """Open ``raw`` (headers only) and keep it; the most recent file is last."""
        digest = _digest(raw)
        if digest in self.files:
            self.files.move_to_end(digest)
            return self.files[digest]
        source = qviz.open_source(raw, name=name, **UPLOAD_LIMITS)
        self._fit(len(raw))
        up = Upload(os.path.basename(name), digest, raw, source)
        self.files[digest] = up
        self.budget.reserve(id(self), self.nbytes)
        return up

    def tensor(self, up: Upload, name: str) -> np.ndarray:
        """``name`` of ``up`` as read-only float32, budgeted from its header before it is read."""
        if name not in up.tensors:
            need = up.source.info(name).numel * 4
            self._fit(need * WORKING, keep=up.digest)  # room to analyse it, not only to hold it
            x = up.source.load(name)
            x.setflags(write=False)
            up.tensors = {name: x}  # one tensor per file resident: switching tensors frees the last
            self.budget.reserve(id(self), self.nbytes + need * (WORKING - 1))
        return up.tensors[name]

    def remove(self, digest: str) -> None:
        self.files.pop(digest, None)
        self.budget.reserve(id(self), self.nbytes)

    def take_evicted(self) -> list[str]:
        out, self.evicted = self.evicted, []
        return out


def _digest(raw: bytes) -> str:
    import hashlib

    return hashlib.sha256(raw).hexdigest()


def session() -> SessionUploads:
    """This session's :class:`SessionUploads` (created on first use)."""
    import streamlit as st

    if "_qviz_uploads" not in st.session_state:
        st.session_state["_qviz_uploads"] = SessionUploads()
    return st.session_state["_qviz_uploads"]
