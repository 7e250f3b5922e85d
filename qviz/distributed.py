"""The scan on a Dask cluster: one task per tensor, rows gathered in file order, the same numbers to the bit.

:func:`qviz.analyze` with ``scheduler=`` and ``qviz scan PATH --scheduler ADDRESS`` come here. The
scheduler is

* ``"local"`` or ``"local:N"``: a :class:`distributed.LocalCluster` of ``N`` worker *processes*
  (one thread each; ``N`` defaults to the number of cores), started for the call and torn down after;
* ``"tcp://host:8786"`` (or ``host:8786``): an existing cluster, ``dask scheduler`` plus
  ``dask worker tcp://host:8786`` on machines that see the same path (shared storage, or each
  worker its own copy at the same path);
* a :class:`distributed.Client` already connected (left open).

What travels through the scheduler is small: each task gets ``(path, tensor name, spec, method,
options)``, opens the source itself on its worker (headers are parsed once per worker and kept,
see :func:`worker_source`), reads its one tensor and returns its row (a dict of numbers), computed
by :func:`qviz.analyze.weight_row`, the single-process path's own per-tensor function. So the
DataFrame is the single-process one, bit for bit. Tensors over ``chunk_numel`` values are split into
row-chunk tasks (:mod:`qviz.chunk_tasks`) whose partial sums merge exactly. Built-in models are
opened by name on the workers; their activations (one forward pass over the calibration data) are
one more task. An upload's bytes (or an opened :class:`qviz.Source`) are refused: the workers
need a path.

Failures: a worker that dies mid-scan loses its running tasks and Dask runs them again elsewhere
(``distributed.scheduler.allowed-failures``, 3 by default), so the result is complete and the
same; a tensor whose task raises gets its row with the one-line error in ``note``; a scheduler
that does not answer within ``timeout`` seconds raises :class:`ClusterError` (a ``ValueError``).

``dask[distributed]`` is imported only here, lazily: ``import qviz`` works without it and
:func:`require_distributed` says in one line what to install.

Example
-------
>>> parse_scheduler("local:2"), parse_scheduler("tcp://10.0.0.5:8786"), parse_scheduler("10.0.0.5:8786")
(('local', 2), ('tcp', 'tcp://10.0.0.5:8786'), ('tcp', 'tcp://10.0.0.5:8786'))
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import re
import sys
import time
import uuid

import pandas as pd

from .sources import Source, SourceError

INSTALL = 'pip install "dask[distributed]"'
#: seconds to wait for a scheduler address to answer
CONNECT_TIMEOUT = 5.0


class ClusterError(ValueError):
    """The cluster cannot be used (unreachable, bad address, a path the workers cannot see): one line."""


class DistributedUnavailable(ImportError, ClusterError):
    """``dask[distributed]`` is not installed; the message says how to install it."""


def require_distributed():
    """The ``distributed`` module, or :class:`DistributedUnavailable` naming what to install."""
    try:
        import distributed
    except ImportError as e:
        raise DistributedUnavailable(
            f"scanning on a cluster needs Dask ({e.msg if hasattr(e, 'msg') else e}): {INSTALL}"
        ) from None
    return distributed


_LOCAL = re.compile(r"^local(?::(\d+))?$")
_ADDRESS = re.compile(r"^(?:(tcp|tls|inproc|ws|wss|ucx)://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+)(?::(\d+))?$")


def parse_scheduler(scheduler: str) -> tuple[str, object]:
    """``("local", n_workers or None)`` or ``("tcp", "tcp://host:port")`` from a ``--scheduler`` value."""
    s = str(scheduler).strip()
    m = _LOCAL.match(s)
    if m:
        n = int(m.group(1)) if m.group(1) else None
        if n is not None and n < 1:
            raise ClusterError(f"--scheduler {s}: a local cluster needs at least 1 worker (local:2 for two processes)")
        return "local", n
    m = _ADDRESS.match(s)
    if not m or not s:
        raise ClusterError(
            f"--scheduler {s!r} is not a scheduler address: use tcp://host:8786 (a running `dask scheduler`) "
            "or local:N (a cluster of N processes on this machine)"
        )
    proto, host, port = m.group(1) or "tcp", m.group(2), m.group(3) or "8786"
    return "tcp", f"{proto}://{host}:{port}"


@contextlib.contextmanager
def connect(scheduler, *, timeout: float | None = None, log=None):
    """A connected :class:`distributed.Client` for ``scheduler`` (see the module docstring), closed after.

    ``log(text)`` receives one line with the cluster's size and dashboard link.
    """
    distributed = require_distributed()
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    kind, arg = parse_scheduler(scheduler)
    if kind == "local":
        n = arg or os.cpu_count() or 1
        with contextlib.ExitStack() as stack:
            stack.enter_context(fast_malloc())
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                )
            )
            client = stack.enter_context(distributed.Client(cluster, set_as_default=False))
            _announce(client, log, f"local cluster of {n} single-threaded worker processes")
            yield client
        return
    try:
        client = distributed.Client(arg, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise ClusterError(
            f"no Dask scheduler answered at {arg} within {timeout:g} s ({' '.join(str(e).split())[:120]}); "
            f"start one with `dask scheduler` and workers with `dask worker {arg}`, or check the address"
        ) from None
    try:
        _announce(client, log, f"scheduler {arg}")
        yield client
    finally:
        client.close()


def fast_malloc():
    """Dask config for worker processes without the nanny's ``MALLOC_TRIM_THRESHOLD_=65536``.

    Setting that threshold freezes glibc's mmap threshold at 128 KB, so every large numpy
    temporary is mmap'd, page-faulted and unmapped again: the same chunk task ran 1.75× slower
    here with it (``benchmarks/distributed_scan.py``). For ``dask worker``, start the workers with
    ``DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_=None`` (or ``--no-nanny``).
    """
    import dask

    return dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})


def _announce(client, log, what: str) -> None:
    if log is None:
        return
    n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
    link = client.dashboard_link if client.dashboard_link else "no dashboard"
    log(f"{what}: {n} workers · dashboard {link}")


# --------------------------------------------------------------------------- on the workers
def _stamp(path: str) -> tuple:
    try:
        st = os.stat(path)
        return (st.st_mtime_ns, st.st_size)
    except OSError:
        return (0, 0)


@functools.lru_cache(maxsize=8)
def _open_cached(path: str, stamp: tuple) -> Source:
    from .sources import open_source

    return open_source(path)


def worker_source(path: str) -> Source:
    """``open_source(path)``, kept per worker process (headers parsed once; re-opened when the file changes)."""
    return _open_cached(path, _stamp(path))


def error_row(source_label: str, name: str, info, e: BaseException) -> dict:
    """The row of a tensor whose task raised: header facts and the one-line error in ``note``."""
    from .analyze import _blank

    msg = " ".join(str(e).split()) or type(e).__name__
    if info is None:
        row = _blank(name, "weight", (), "", 0)
    else:
        row = _blank(name, "weight", info.shape, info.dtype, info.numel, info.flags)
    row["note"] = f"{source_label}: tensor {name!r} failed on its worker ({type(e).__name__}: {msg[:200]})"
    return row


def weight_task(path: str, name: str, spec, method: str, options: dict, chunk_numel: int) -> dict:
    """One tensor's row, on a worker: :func:`qviz.analyze.weight_row` on the worker's own source."""
    an = importlib.import_module("qviz.analyze")  # the module (qviz.analyze is also the function)

    src = worker_source(path)
    info = None
    try:
        info = src.info(name)
        return an.weight_row(src, name, spec, method, options, chunk_numel)
    except Exception as e:  # noqa: BLE001 - any failure of one tensor is its row's note, never the scan's
        return error_row(src.label, name, info, e)


def activation_task(path: str, spec, method: str, options: dict, sample_numel) -> list[dict]:
    """The activation rows of a built-in model, on a worker (one forward pass over its calibration data)."""
    from .analyze import activation_row

    src = worker_source(path)
    kw = {} if sample_numel is None else {"sample_numel": sample_numel}
    return [activation_row(act) for act in src.capture(spec, method, **kw, **options)]  # type: ignore[attr-defined]


def listing_task(path: str) -> tuple[str, list, bool]:
    """``(label, [TensorInfo], has activations)`` of ``path`` as a worker sees it."""
    src = worker_source(path)
    return src.label, [src.info(n) for n in src.names()], callable(getattr(src, "capture", None))


# --------------------------------------------------------------------------- on the client
def cluster_path(source) -> str:
    """The path (or built-in name) the workers open; bytes and opened sources are refused in one line."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        raise ClusterError(
            "an upload's bytes cannot be scanned on a cluster: the workers open the file themselves; "
            "save it where every worker can read it and pass that path"
        )
    if isinstance(source, Source):
        raise ClusterError(
            f"{source.label}: pass the path (or built-in name) instead of an opened source to scan on a cluster: "
            "each worker opens the file itself"
        )
    if not isinstance(source, (str, os.PathLike)):
        raise ClusterError(f"source must be a path or a built-in name to scan on a cluster, got {type(source).__name__}")
    p = os.fspath(source)
    return os.path.abspath(p) if os.path.exists(p) else p


class Meter:
    """Tasks done / total and values per second, as a ``progress(done, total, text)`` callback sees them."""

    def __init__(self, total: int, progress):
        self.total, self.progress = total, progress
        self.done = self.values = 0
        self.t0 = time.perf_counter()

    def step(self, name: str, numel: int) -> None:
        self.done += 1
        self.values += numel
        if self.progress:
            dt = max(time.perf_counter() - self.t0, 1e-9)
            self.progress(self.done, self.total, f"{name} · {self.values / dt / 1e6:.3g}M values/s")

    def rate(self) -> float:
        return self.values / max(time.perf_counter() - self.t0, 1e-9)


def run_ordered(client, futures: list, labels: list[tuple[str, int]], progress=None) -> list:
    """Results of ``futures`` in their order; ``progress`` after each completes (as they complete)."""
    distributed = require_distributed()
    meter = Meter(len(futures), progress)
    index = {f.key: i for i, f in enumerate(futures)}
    with client.as_current():
        for fut in distributed.as_completed(futures):
            name, numel = labels[index[fut.key]]
            meter.step(name, numel)
    return client.gather(futures)


def analyze_on_cluster(
    source,
    spec,
    method: str,
    scheduler,
    *,
    activations: bool | None = None,
    progress=None,
    sample_numel: int | None = None,
    chunk_numel: int,
    log=None,
    timeout: float | None = None,
    **options,
) -> pd.DataFrame:
    """:func:`qviz.analyze` with each tensor a task on ``scheduler``'s cluster (same DataFrame)."""
    from .analyze import frame
    from .chunk_tasks import submit_weight

    path = cluster_path(source)
    with connect(scheduler, timeout=timeout, log=log) as client:
        tag = uuid.uuid4().hex[:8]
        label, listing, can_capture = client.submit(listing_task, path, key=f"qviz-list-{tag}").result()
        futures, labels = [], []
        for i, info in enumerate(listing):
            futures.append(
                submit_weight(client, path, info.name, info.numel, spec, method, options, chunk_numel, key=f"qviz-w{i}-{tag}", info=info)
            )
            labels.append((info.name, info.numel))
        capture = activations is not False and can_capture  # None: the built-ins' default, with activations
        if capture:
            futures.append(
                client.submit(activation_task, path, spec, method, options, sample_numel, key=f"qviz-act-{tag}", pure=False)
            )
            labels.append(("activations", 0))
        results = run_ordered(client, futures, labels, progress)
        rows = results[: len(listing)]
        if capture:
            rows += results[-1]
    if log:
        log(f"{len(listing)} tensors, {sum(i.numel for i in listing):,} values on the cluster")
    return frame(rows)


def stderr_log(text: str) -> None:
    """One line on stderr (the CLI's cluster messages)."""
    sys.stderr.write(f"qviz: {text}\n")
    sys.stderr.flush()
