"""``qviz compare QUANTIZED REFERENCE``: what an already-quantized checkpoint lost against its original.

Prints :func:`qviz.compare`'s table (one row per paired tensor, unpaired ones listed after), as a
readable table, CSV or strict JSON (NaN → ``null``, ±∞ → ``"inf"``).

Example
-------
>>> from qviz.cli import main
>>> main(["compare", "no/such.gguf", "ref.safetensors"])  # one line on stderr, exit status 2
2
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calibrate.calibrator import CALIBRATORS
from .cli import UsageError, dump_json, emit, open_path, progress_for

TABLE = ["name", "reference_name", "format", "bits_per_weight", "sqnr_db", "qviz_sqnr_db", "clip_mse", "round_mse", "cosine", "note"]


def _num(v, fmt: str) -> str:
    return "" if pd.isna(v) else ("inf" if np.isinf(v) else format(v, fmt))


def format_table(df: pd.DataFrame) -> str:
    t = df[TABLE].copy()
    for c, f in (("bits_per_weight", ".3g"), ("sqnr_db", ".2f"), ("qviz_sqnr_db", ".2f"), ("clip_mse", ".3g"),
                 ("round_mse", ".3g"), ("cosine", ".5f")):
        t[c] = t[c].map(lambda v, f=f: _num(v, f))
    t["note"] = t["note"].map(lambda s: s if len(s) <= 50 else s[:47] + "…")
    return t.to_string(index=False) + "\n"


def compare_cmd(a) -> int:
    from .compare import compare

    if a.method not in CALIBRATORS:
        raise UsageError(f"--method must be one of {', '.join(CALIBRATORS)}, got {a.method!r}")
    q, r = open_path(a.quantized), open_path(a.reference)
    bar = progress_for(a)
    try:
        df = compare(q, r, method=a.method, progress=bar)
    finally:
        bar.close()
    if not df["paired"].any():
        raise UsageError(f"no tensor of {q.label} pairs with one of {r.label} (by name, or through the GGUF name map): "
                         "pass the checkpoint this file was quantized from")
    if a.format == "csv":
        out = df.assign(shape=df["shape"].map(lambda s: "x".join(map(str, s)))).to_csv(index=False)
    elif a.format == "json":
        out = dump_json({"quantized": q.label, "reference": r.label, "method": a.method,
                         "rows": [{k: (list(v) if k == "shape" else v) for k, v in row.items()} for row in df.to_dict("records")]})
    else:
        paired = df[df["paired"]]
        head = (f"{q.label} against {r.label} · qviz calibrator {a.method} · {len(paired)} pairs, "
                f"{len(df) - len(paired)} unpaired\n")
        out = head + format_table(df)
    emit(out, a.out)
    return 0


def compare_args(p) -> None:
    p.add_argument("quantized", metavar="QUANTIZED", help="the already-quantized checkpoint (.gguf, a quantized safetensors folder, …)")
    p.add_argument("reference", metavar="REFERENCE", help="the original it was quantized from (e.g. the Hugging Face safetensors)")
    p.add_argument("--method", default="mse", metavar="M", help=f"qviz's calibrator for qviz_sqnr_db: {', '.join(CALIBRATORS)} (default mse)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="default table")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--progress", action="store_true", help="progress line on stderr even when it is not a terminal")
