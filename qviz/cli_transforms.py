"""``qviz transforms MODEL --layer NAME``: output SQNR of one Linear layer per SmoothQuant α and per Hadamard block size.

Two quantizer pairs are measured: W8A8 (int8 weights per output channel, int8
activations at ``--x-granularity``) and the command's spec options (weights as given,
activations with the same range, ``--x-bits`` bits (default ``--bits``) at ``--x-granularity``). ``--all-layers`` adds
every Linear layer's best α and the gains of smoothing and rotation.

Example
-------
>>> main(["transforms", "model.pt", "--layer", "fc1"])  # prints "qviz: error: model.pt: transforms needs …" on stderr
2

``python -m qviz transforms minilm --layer encoder.layer.0.attention.self.query --json`` prints
``{"results": {"W8A8": {"alpha": [{"alpha", "sqnr_db"}, …], "block": [{"block", "signs", "sqnr_db"}, …], …}, "spec": …}}``.
"""

from __future__ import annotations

import dataclasses

from .cli import UsageError, dump_json, emit, main, method_options, progress_for, spec_from_args  # noqa: F401 (main: doctest)


def transforms_cmd(a) -> int:
    from . import transforms as tf
    from .models import MODELS

    spec = spec_from_args(a)
    method, _ = method_options(a)
    if method != "minmax":
        raise UsageError("transforms sweeps with min-max ranges; drop --calibrator (other calibrators are for scan/calibrate)")
    if a.model not in MODELS:
        raise UsageError(f"{a.model}: transforms needs a model with captured activations; choose a built-in: {', '.join(MODELS)}")
    x_gran = tf.activation_granularity(a.x_granularity)
    if a.x_bits is not None and not 1 <= a.x_bits <= 16:
        raise UsageError(f"--x-bits must be from 1 to 16, got {a.x_bits}")
    x_spec = dataclasses.replace(spec, granularity=x_gran, bits=a.x_bits or spec.bits)
    ws8, xs8 = tf.w8a8(x_gran)
    specs = {"W8A8": (ws8, xs8), "spec": (spec, x_spec)}
    src = tf.open_activations(a.model)
    x, w = src.linear(a.layer)
    from .blocks import block_size

    block_size(x.shape, x_gran)  # a group size the width does not divide: one clear line
    out: dict = {"model": a.model, "layer": a.layer, "x_shape": list(x.shape), "w_shape": list(w.shape),
                 "x_granularity": a.x_granularity, "results": {}}
    for label, (ws, xs) in specs.items():
        sweep = tf.alpha_sweep(x, w, ws, xs, alphas=[None, *tf.ALPHAS])
        blocks = tf.block_sweep(x, w, ws, xs, seed=a.seed)
        out["results"][label] = {
            "w_spec": ws.describe(), "x_spec": xs.describe(),
            "none_sqnr_db": float(sweep["sqnr_db"].iloc[0]),
            "best_alpha": tf.best_alpha(sweep),
            "alpha": [{"alpha": float(r.alpha), "sqnr_db": float(r.sqnr_db)} for r in sweep.iloc[1:].itertuples()],
            "block": [{"block": int(r.block), "signs": r.signs, "sqnr_db": float(r.sqnr_db)} for r in blocks.iloc[1:].itertuples()],
        }
    if a.all_layers:
        bar = progress_for(a)
        try:
            table = tf.model_table(src, specs, seed=a.seed, progress=bar)
        finally:
            bar.close()
        out["layers"] = table.to_dict(orient="records")
    if a.json:
        emit(dump_json(out), a.out)
        return 0
    lines = [f"{a.model} · {a.layer} · X {x.shape[0]}×{x.shape[1]} · W {w.shape[0]}×{w.shape[1]} · activations {a.x_granularity}"]
    for label, r in out["results"].items():
        lines.append(f"{label}: weights {r['w_spec']}; activations {r['x_spec']}")
        lines.append(f"  no transform          {r['none_sqnr_db']:7.2f} dB")
        lines += [f"  smooth α = {p['alpha']:.2f}       {p['sqnr_db']:7.2f} dB" + ("  ← best" if p["alpha"] == r["best_alpha"] else "")
                  for p in r["alpha"]]
        lines += [f"  Hadamard block {p['block']:<4} {p['signs']:<6} {p['sqnr_db']:7.2f} dB" for p in r["block"]]
    if "layers" in out:
        lines.append("every layer (best α, gain of smoothing and of rotation, dB):")
        lines += [f"  {r['spec']:<5} {r['layer']:<42} α {r['best_alpha']:.2f}  {r['smooth_gain_db']:+6.2f}  {r['rotate_gain_db']:+6.2f}"
                  for r in out["layers"]]
    emit("\n".join(lines) + "\n", a.out)
    return 0


def transforms_args(p) -> None:
    from .transforms import ACTIVATION_GRANULARITIES

    p.add_argument("model", metavar="MODEL", help="a model with captured activations: minilm or digits_cnn")
    p.add_argument("--layer", required=True, metavar="NAME", help="a Linear layer, e.g. encoder.layer.0.intermediate.dense")
    p.add_argument("--x-granularity", default="per-token", metavar="G",
                   help=f"activation scales: {', '.join(ACTIVATION_GRANULARITIES)} (default per-token)")
    p.add_argument("--x-bits", type=int, metavar="N", help="activation bits (default --bits): --bits 4 --x-bits 8 is W4A8")
    p.add_argument("--seed", type=int, default=0, help="random signs of the randomised Hadamard (default 0)")
    p.add_argument("--all-layers", action="store_true", help="also every Linear layer's best α and gains (slow: a minute)")
    p.add_argument("--json", action="store_true", help='JSON {"results": {"W8A8"|"spec": {"alpha": [...], "block": [...]}}}')
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--progress", action="store_true", help="progress line on stderr even when it is not a terminal")


COMMAND = (transforms_cmd, "SmoothQuant α and Hadamard block size against a Linear layer's output SQNR, on captured activations.",
           "qviz transforms minilm --layer encoder.layer.0.intermediate.dense --json", transforms_args)
