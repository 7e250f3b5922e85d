"""``qviz sweep``: every tensor under every bits × granularity × calibrator setting, and the best per tensor.

Example
-------
>>> from qviz.cli import main
>>> main(["sweep", "samples", "--bits", "4,8", "--granularity", "tensor", "--calibrator", "minmax", "--budget", "5"])  # doctest: +ELLIPSIS
samples · 2 settings ...
0
"""

from __future__ import annotations

import os

from .cli import UsageError, dump_json, emit, progress_for


def _list(text: str, what: str, cast=str) -> list:
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise UsageError(f"--{what} needs a comma-separated list, e.g. --{what} 2,3,4,8")
    try:
        return [cast(t) for t in items]
    except ValueError:
        raise UsageError(f"--{what} {text!r}: give a comma-separated list of integers, e.g. --{what} 2,3,4,8") from None


def sweep_cmd(a) -> int:
    from .calibrate.registry import all_options
    from .distributed import stderr_log
    from .spec import QuantSpec
    from .sweep import best_settings, sweep

    base = QuantSpec(signed=not a.unsigned, symmetric=a.symmetric, narrow_range=a.narrow_range,
                     quantizer="midrise" if a.midrise else "midtread")
    opts = {o.name: getattr(a, o.name) for o in all_options().values() if getattr(a, o.name, None) is not None}
    if a.budget is not None and a.budget <= 0:
        raise UsageError(f"--budget must be a positive number of bits per value, got {a.budget}")
    bar = progress_for(a)
    try:
        table = sweep(a.path, _list(a.bits, "bits", int), _list(a.granularity, "granularity"), _list(a.calibrator, "calibrator"),
                      base=base, group_size=a.group_size, axis=a.axis, scheduler=a.scheduler, progress=bar,
                      log=stderr_log if a.scheduler else None, **opts)
    finally:
        bar.close()
    best = best_settings(table, a.budget)
    n_set = table["setting"].nunique()
    if a.out:
        if a.out.endswith(".json"):
            emit(dump_json([{k: (list(v) if k == "shape" else v) for k, v in r.items()} for r in table.to_dict("records")]), a.out)
        else:
            emit(table.assign(shape=table["shape"].map(lambda s: "x".join(map(str, s)))).to_csv(index=False), a.out)
        best_path = os.path.splitext(a.out)[0] + ".best.csv"
        best.to_csv(best_path)
        stderr_log(f"wrote {len(table)} rows ({best.shape[0]} tensors × {n_set} settings) to {a.out}, the best per tensor to {best_path}")
    budget = "no bits budget" if a.budget is None else f"budget {a.budget:g} bits per value"
    head = f"{os.path.basename(a.path.rstrip('/')) or a.path} · {n_set} settings · {budget} · best setting per tensor (SQNR dB)\n"
    shown = best[["best", "bits_per_value", "sqnr_db"]].copy()
    shown["bits_per_value"] = shown["bits_per_value"].map(lambda v: "" if v != v else f"{v:.3f}")
    shown["sqnr_db"] = shown["sqnr_db"].map(lambda v: "" if v != v else f"{v:.2f}")
    emit(head + shown.to_string() + "\n", None)
    return 0


def sweep_args(p):
    p.add_argument("path", metavar="PATH", help="a file, a model folder, or a built-in name")
    p.add_argument("--bits", default="2,3,4,8", help="comma-separated bit widths (default 2,3,4,8)")
    p.add_argument("--granularity", default="tensor,channel,group", help="comma-separated: tensor, channel, group (default all)")
    p.add_argument("--calibrator", default="minmax,mse", help="comma-separated calibrators (default minmax,mse)")
    p.add_argument("--budget", type=float, help="bits per value (scales included) the best setting must fit in")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster: tcp://host:8786 or local:N")
    p.add_argument("--out", metavar="FILE", help="the long table (one row per tensor × setting; .csv or .json); "
                   "the best-per-tensor pivot goes next to it as FILE.best.csv")
    p.add_argument("--progress", action="store_true", help="progress line on stderr even when it is not a terminal")
    g = p.add_argument_group("quantizer (every setting)")
    sym = g.add_mutually_exclusive_group()
    sym.add_argument("--symmetric", dest="symmetric", action="store_true", default=True, help="range ±max|x| (default)")
    sym.add_argument("--asymmetric", dest="symmetric", action="store_false", help="affine range with a zero point")
    g.add_argument("--unsigned", action="store_true", help="unsigned codes")
    g.add_argument("--narrow-range", action="store_true", help="drop the lowest code")
    g.add_argument("--midrise", action="store_true", help="mid-rise quantizer")
    g.add_argument("--axis", type=int, help="channel axis (default 0) or group axis (default -1)")
    g.add_argument("--group-size", type=int, default=32, help="values per group (default 32)")
    from .calibrate.registry import all_options, takers

    c = p.add_argument_group("calibrator options (each reaches the calibrators that take it)")
    for o in all_options().values():
        c.add_argument(o.flag, dest=o.name, type=o.type, choices=o.choices or None,
                       help=f"{o.help} ({', '.join(takers(o.name)) or 'every calibrator'}; default {o.default})")
