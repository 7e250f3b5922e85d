"""Sweeps: every tensor under every (bits × granularity × calibrator) setting, and the best setting per tensor.

:func:`sweep` runs one task per tensor that reads the tensor once and analyses it under every
setting with :func:`qviz.analyze.weight_row` (so each row equals the row :func:`qviz.analyze` gives
for that setting, bit for bit), locally or on a Dask cluster (``scheduler=``, as
:func:`qviz.analyze`). The result is one long table, one row per tensor × setting;
:func:`best_settings` pivots it into the best setting per tensor within a bits budget.

Bits per value count the parameters each block stores (a float32 scale, plus a ``bits``-wide
zero point when asymmetric)::

    bits_per_value = bits + n_blocks · (32 + (0 if symmetric else bits)) / numel

so int4 in groups of 32 is 4 + 32/32 = 5 bits, int4 per-channel of a 4096-wide row 4.0078.

Example
-------
>>> import qviz
>>> t = sweep("samples", bits=(4, 8), granularity=("tensor",), calibrator=("minmax",))
>>> sorted(t["setting"].unique())
['int4 tensor minmax', 'int8 tensor minmax']
>>> best = best_settings(t, budget=5)
>>> best.loc["gaussian", "best"]
'int4 tensor minmax'
"""

from __future__ import annotations

import dataclasses
import math
import uuid

import numpy as np
import pandas as pd

from .sources import Source, open_source
from .spec import PerChannel, PerGroup, PerTensor, QuantSpec
from .streaming import CHUNK

GRANULARITIES = ("tensor", "channel", "group")
SETTING_COLUMNS = ["setting", "bits", "granularity_kind", "calibrator", "bits_per_value"]


@dataclasses.dataclass(frozen=True)
class Setting:
    """One point of a sweep: a spec, a calibrator and its options, and the label the tables use."""

    label: str
    spec: QuantSpec
    method: str
    options: dict
    kind: str


def settings(
    bits=(2, 3, 4, 8),
    granularity=GRANULARITIES,
    calibrator=("minmax", "mse"),
    *,
    base: QuantSpec | None = None,
    group_size: int = 32,
    axis: int | None = None,
    **options,
) -> list[Setting]:
    """Every combination, bits outermost; ``base`` gives symmetry, signedness, range and quantizer.

    ``options`` (e.g. ``percentile=99.9``) reach the calibrators that take them.
    """
    from .calibrate.registry import METHODS, options_for

    base = base or QuantSpec()
    bits, granularity, calibrator = _listed(bits, "bits"), _listed(granularity, "granularity"), _listed(calibrator, "calibrator")
    for g in granularity:
        if g not in GRANULARITIES:
            raise ValueError(f"granularity {g!r} is not one of {', '.join(GRANULARITIES)}")
    for m in calibrator:
        if m not in METHODS:
            raise ValueError(f"calibrator {m!r} is not one of {', '.join(METHODS)}")
    from .calibrate import Calibrator

    for m in calibrator:  # every option's check runs here, before any tensor is read
        Calibrator(dataclasses.replace(base, granularity=PerTensor()), m, **options_for(m, options))
    out = []
    for b in bits:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)):
            raise ValueError(f"bits must be integers (e.g. 2,3,4,8), got {b!r}")
        for g in granularity:
            gran: PerTensor | PerChannel | PerGroup
            if g == "tensor":
                gran, glabel = PerTensor(), "tensor"
            elif g == "channel":
                gran, glabel = PerChannel(0 if axis is None else axis), "channel" if axis in (None, 0) else f"channel{axis}"
            else:
                gran, glabel = PerGroup(group_size, -1 if axis is None else axis), f"group{group_size}"
            spec = dataclasses.replace(base, bits=int(b), granularity=gran)  # QuantSpec validates bits
            for m in calibrator:
                opts = options_for(m, options)
                out.append(Setting(f"int{b} {glabel} {m}", spec, m, opts, g))
    return out


def _listed(v, what: str) -> list:
    items = [v] if isinstance(v, (str, int, np.integer)) else list(v)
    if not items:
        raise ValueError(f"give at least one {what}")
    if len(set(items)) != len(items):
        raise ValueError(f"{what} lists a value twice: {items}")
    return items


class OneTensor(Source):
    """A source that holds one tensor already read (so every setting of a sweep reads it once)."""

    def __init__(self, src: Source, name: str):
        super().__init__(src.label, src.max_numel)
        self._infos = {name: src.info(name)}
        self._src, self._x, self._err = src, None, None
        try:
            self._x = src.load(name)
            self._x.flags.writeable = False  # shared by every setting: nothing may change it
        except Exception as e:  # noqa: BLE001 - load() raises it again for each setting, as the source did
            self._err = e

    def load(self, name: str) -> np.ndarray:
        self.info(name)
        if self._err is not None or self._x is None:
            raise self._err or ValueError(f"{self.label}: tensor {name!r} could not be read")
        return self._x


def _bits_per_value(row: dict, s: Setting) -> float:
    n, nb = row["numel"], row["n_blocks"]
    if not n or nb is None or (isinstance(nb, float) and math.isnan(nb)):
        return math.nan
    per_block = 32 + (0 if s.spec.symmetric else s.spec.bits)
    return s.spec.bits + float(nb) * per_block / float(n)


def sweep_rows(source: Source, name: str, points: list[Setting], chunk_numel: int = CHUNK) -> list[dict]:
    """``name`` under every setting: the :func:`qviz.analyze.weight_row` rows plus the setting columns."""
    from .analyze import weight_row

    one = OneTensor(source, name)
    rows = []
    for s in points:
        row = weight_row(one, name, s.spec, s.method, s.options, chunk_numel)
        row.update(setting=s.label, bits=s.spec.bits, granularity_kind=s.kind, calibrator=s.method)
        row["bits_per_value"] = _bits_per_value(row, s)
        rows.append(row)
    return rows


def sweep_task(path: str, name: str, points: list[Setting], chunk_numel: int) -> list[dict]:
    """:func:`sweep_rows` on a worker, on the worker's own source (a failing tensor: rows with the note)."""
    from .distributed import error_row, worker_source

    src = worker_source(path)
    try:
        return sweep_rows(src, name, points, chunk_numel)
    except Exception as e:  # noqa: BLE001 - one tensor's failure is its rows' note
        info = src.info(name) if name in src else None
        rows = []
        for s in points:
            row = error_row(src.label, name, info, e)
            row.update(setting=s.label, bits=s.spec.bits, granularity_kind=s.kind, calibrator=s.method, bits_per_value=math.nan)
            rows.append(row)
        return rows


def sweep(
    source,
    bits=(2, 3, 4, 8),
    granularity=GRANULARITIES,
    calibrator=("minmax", "mse"),
    *,
    base: QuantSpec | None = None,
    group_size: int = 32,
    axis: int | None = None,
    scheduler=None,
    progress=None,
    chunk_numel: int = CHUNK,
    log=None,
    **options,
) -> pd.DataFrame:
    """One row per tensor × setting: the setting columns, then every column of :func:`qviz.analyze`.

    Parameters
    ----------
    source : str | os.PathLike | Source
        A path or built-in name (a :class:`qviz.Source` too, without ``scheduler``). Weights only.
    bits, granularity, calibrator : sequences
        The grid; every combination is a setting (see :func:`settings`).
    base : QuantSpec, optional
        Symmetry, signedness, narrow range and quantizer of every setting (default int symmetric).
    scheduler : str or distributed.Client, optional
        Run one task per tensor (all settings, one read) on a Dask cluster, as :func:`qviz.analyze`.
    progress : callable, optional
        ``progress(done, total, text)`` after each tensor.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SETTING_COLUMNS` + :data:`qviz.analyze.COLUMNS`, tensors in file order and
        settings in :func:`settings` order within each tensor.
    """
    from .analyze import COLUMNS

    points = settings(bits, granularity, calibrator, base=base, group_size=group_size, axis=axis, **options)
    if scheduler is None:
        src = source if isinstance(source, Source) else open_source(source)
        names = src.names()
        rows = []
        for i, name in enumerate(names):
            rows += sweep_rows(src, name, points, chunk_numel)
            if progress:
                progress(i + 1, len(names), name)
    else:
        from .distributed import cluster_path, connect, listing_task, run_ordered

        path = cluster_path(source)
        with connect(scheduler, log=log) as client:
            tag = uuid.uuid4().hex[:8]
            _, listing, _ = client.submit(listing_task, path, key=f"qviz-list-{tag}").result()
            futures = [
                client.submit(sweep_task, path, info.name, points, chunk_numel, key=f"qviz-sweep{i}-{tag}", pure=False)
                for i, info in enumerate(listing)
            ]
            labels = [(info.name, info.numel * len(points)) for info in listing]
            rows = [r for part in run_ordered(client, futures, labels, progress) for r in part]
    df = pd.DataFrame(rows, columns=SETTING_COLUMNS + COLUMNS)
    df["block"] = pd.Series([r.get("block") for r in rows], index=df.index, dtype=object)  # as qviz.analyze.frame
    return df


def best_settings(table: pd.DataFrame, budget: float | None = None) -> pd.DataFrame:
    """The best setting per tensor (highest SQNR) among those within ``budget`` bits per value.

    Returns one row per tensor (index ``name``, file order): ``best`` (the setting's label, ``""``
    when none fits the budget or the tensor is not quantized), its ``bits_per_value`` and
    ``sqnr_db``, then one column per setting with its SQNR (the pivot). Ties go to fewer bits.
    """
    if budget is not None and not (isinstance(budget, (int, float)) and budget > 0):
        raise ValueError(f"budget must be a positive number of bits per value, got {budget!r}")
    names = list(dict.fromkeys(table["name"]))
    labels = list(dict.fromkeys(table["setting"]))
    pivot = table.pivot_table(index="name", columns="setting", values="sqnr_db", aggfunc="first", dropna=False)
    pivot = pivot.reindex(index=names, columns=labels)
    ok = table["sqnr_db"].notna() & table["bits_per_value"].notna()
    if budget is not None:
        ok &= table["bits_per_value"] <= budget
    cand = table[ok].sort_values(["sqnr_db", "bits_per_value"], ascending=[False, True], kind="mergesort")
    top = cand.drop_duplicates("name").set_index("name").reindex(names)
    out = pd.DataFrame(
        {"best": top["setting"].fillna(""), "bits_per_value": top["bits_per_value"], "sqnr_db": top["sqnr_db"]}, index=names
    )
    out.index.name = "name"
    return pd.concat([out, pivot], axis=1)
