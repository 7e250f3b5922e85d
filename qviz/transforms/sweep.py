"""Sweeps over one Linear layer: SmoothQuant's α, the Hadamard block size, the activation granularity.

Each sweep computes the fp32 output ``Y = X·Wᵀ`` once and calls
:func:`~qviz.transforms.output_error.layer_output_error` per setting; the results are
tables (pandas DataFrames) the page, the CLI and the README read.

Example
-------
>>> import numpy as np
>>> from qviz.spec import QuantSpec
>>> rng = np.random.default_rng(0)
>>> x, w = rng.standard_normal((32, 16)).astype(np.float32), rng.standard_normal((8, 16)).astype(np.float32)
>>> alpha_sweep(x, w, QuantSpec(), QuantSpec(), alphas=[0.0, 0.5, 1.0]).columns.tolist()[:3]
['alpha', 'sqnr_db', 'mse']
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..blocks import n_blocks
from ..spec import Granularity, PerChannel, PerGroup, PerTensor, QuantSpec
from .hadamard import BLOCKS, _mm, hadamard, is_power_of_two
from .output_error import ACTIVATION_GRANULARITIES, _check, layer_output_error
from .smooth import channel_absmax, smooth_scales

#: α values of the default sweep
ALPHAS = tuple(round(a, 2) for a in np.linspace(0.0, 1.0, 21))
#: α values of the whole-model table
ALPHAS_COARSE = tuple(round(a, 1) for a in np.linspace(0.0, 1.0, 11))


def activation_granularity(name: str) -> Granularity:
    """A name of :data:`ACTIVATION_GRANULARITIES` as a :mod:`qviz.blocks` granularity on X (tokens × channels).

    >>> activation_granularity("per-token"), activation_granularity("per-group 32")
    (PerChannel(axis=0), PerGroup(group_size=32, axis=-1))
    """
    if name == "per-tensor":
        return PerTensor()
    if name == "per-token":
        return PerChannel(0)
    if name == "per-channel":
        return PerChannel(1)
    if name.startswith("per-group "):
        try:
            return PerGroup(int(name.split()[1]), -1)
        except (ValueError, IndexError):
            pass
    raise ValueError(f"unknown activation granularity {name!r}; choose one of {', '.join(ACTIVATION_GRANULARITIES)} (or 'per-group G')")


def with_granularity(spec: QuantSpec, granularity: Granularity) -> QuantSpec:
    return dataclasses.replace(spec, granularity=granularity)


def w8a8(x_granularity: Granularity = PerChannel(0)) -> tuple[QuantSpec, QuantSpec]:
    """SmoothQuant's W8A8: int8 symmetric weights per output channel, int8 symmetric activations (per token by default)."""
    return QuantSpec(bits=8, granularity=PerChannel(0)), QuantSpec(bits=8, granularity=x_granularity)


def _row(alpha_or_block: dict, e) -> dict:
    return {**alpha_or_block, "sqnr_db": e.sqnr_db, "mse": e.mse, "cosine": e.cosine,
            "x_sqnr_db": e.activation.sqnr_db, "w_sqnr_db": e.weight.sqnr_db,
            "x_max_abs": e.x_stats.get("max_abs"), "x_kurtosis": e.x_stats.get("kurtosis"),
            "w_max_abs": e.w_stats.get("max_abs"), "w_kurtosis": e.w_stats.get("kurtosis")}


def alpha_sweep(x, w, w_spec: QuantSpec, x_spec: QuantSpec, alphas=ALPHAS, w_method: str = "minmax",
                x_method: str = "minmax") -> pd.DataFrame:
    """Output SQNR (and operand SQNRs) of the smoothed layer for each α; α = None is the unsmoothed layer.

    Columns ``alpha, sqnr_db, mse, cosine, x_sqnr_db, w_sqnr_db, x_max_abs, x_kurtosis, w_max_abs, w_kurtosis``.
    """
    x32, w32 = _check(x, w)
    y = _mm(x32, w32.T)
    xa, wa = channel_absmax(x32, 0), channel_absmax(w32, 0)
    rows = []
    for a in alphas:
        t = None if a is None else smooth_scales(xa, wa, float(a))
        e = layer_output_error(x32, w32, w_spec, x_spec, t, w_method, x_method, y=y, detail=False)
        rows.append(_row({"alpha": np.nan if a is None else float(a)}, e))
    return pd.DataFrame(rows)


def best_alpha(sweep: pd.DataFrame) -> float:
    """The α of the highest output SQNR in an :func:`alpha_sweep` table (the smallest such α on ties)."""
    s = sweep.dropna(subset=["alpha"])
    if s.empty:
        raise ValueError("best_alpha: the sweep has no α rows")
    return float(s.loc[s["sqnr_db"].idxmax(), "alpha"])


def rotation_blocks(n: int) -> list[int]:
    """Block sizes to sweep for width ``n``: 16 … 128 that divide it, and ``n`` itself when a power of two."""
    out = [b for b in BLOCKS if n % b == 0 and b <= n]
    if is_power_of_two(n) and n not in out:
        out.append(n)
    return out


def block_sweep(x, w, w_spec: QuantSpec, x_spec: QuantSpec, blocks=None, seed: int | None = 0,
                w_method: str = "minmax", x_method: str = "minmax", smooth_alpha: float | None = None,
                detail: bool = False) -> pd.DataFrame:
    """Output SQNR with no rotation (block 0) and a Hadamard of each block size, plain and with random signs.

    Columns ``block, signs ("none", "+1", "random"), sqnr_db, mse, cosine, x_sqnr_db, …``. With
    ``smooth_alpha`` every row is smoothed at that α first; ``detail`` fills the operand statistics
    (max|·|, kurtosis) and the operands' full metrics.
    """
    x32, w32 = _check(x, w)
    n = x32.shape[1]
    y = _mm(x32, w32.T)
    s = None if smooth_alpha is None else smooth_scales(channel_absmax(x32, 0), channel_absmax(w32, 0), smooth_alpha)
    rows = [_row({"block": 0, "signs": "none"}, layer_output_error(x32, w32, w_spec, x_spec, s, w_method, x_method, y=y, detail=detail))]
    for b in blocks if blocks is not None else rotation_blocks(n):
        for signs, sd in (("+1", None), ("random", seed)):
            if signs == "random" and seed is None:
                continue
            r = hadamard(n, block=int(b), seed=sd)
            e = layer_output_error(x32, w32, w_spec, x_spec, (s, r) if s is not None else r, w_method, x_method, y=y, detail=detail)
            rows.append(_row({"block": int(b), "signs": signs}, e))
    return pd.DataFrame(rows)


def granularity_table(x, w, w_spec: QuantSpec, x_spec: QuantSpec, names=ACTIVATION_GRANULARITIES,
                      w_method: str = "minmax", x_method: str = "minmax") -> pd.DataFrame:
    """SQNR of X and of Y with the activations quantized under each granularity of ``names`` (widths a group does not divide are left out)."""
    x32, w32 = _check(x, w)
    y = _mm(x32, w32.T)
    rows = []
    for name in names:
        g = activation_granularity(name)
        if isinstance(g, PerGroup) and x32.shape[1] % g.group_size:
            continue
        e = layer_output_error(x32, w32, w_spec, with_granularity(x_spec, g), None, w_method, x_method, y=y, detail=False)
        rows.append({"granularity": name, "x_sqnr_db": e.activation.sqnr_db, "y_sqnr_db": e.sqnr_db,
                     "scales": n_blocks(x32.shape, g)})
    return pd.DataFrame(rows)


def model_table(source, specs: dict, alphas=ALPHAS_COARSE, block: int | None = None,
                seed: int | None = 0, layers=None, progress=None) -> pd.DataFrame:
    """Per Linear layer and spec: the best α and the output-SQNR gain of smoothing and of a Hadamard rotation.

    Parameters
    ----------
    source : activation source
        ``linear_names()`` and ``linear(name) -> (X, W)`` (see :mod:`qviz.transforms.activations`).
    specs : dict
        ``{label: (w_spec, x_spec)}``, e.g. ``{"W8A8": w8a8(), …}``.
    block : int, optional
        Hadamard block size (default: the layer width when a power of two, else the largest of 128 … 16 dividing it).
    seed : int, optional
        Random signs of the rotation (``None``: plain Hadamard).

    Returns
    -------
    DataFrame
        ``layer, spec, in_features, best_alpha, sqnr_db (none), smooth_sqnr_db, smooth_gain_db,
        rotate_sqnr_db, rotate_gain_db, block, note`` (a note, and NaN numbers, where the activation
        granularity does not fit the layer's width).
    """
    from ..blocks import block_size
    from .hadamard import default_block

    names = list(layers) if layers is not None else source.linear_names()
    rows = []
    for i, name in enumerate(names):
        x, w = source.linear(name)
        n = x.shape[1]
        try:
            b = block or default_block(n)
            r = hadamard(n, block=b, seed=seed)
        except ValueError:
            b, r = 0, None
        for label, (ws, xs) in specs.items():
            try:
                block_size(x.shape, xs.granularity)
            except ValueError as e:  # e.g. groups of 128 on a 64-wide layer: say so in the row
                rows.append({"layer": name, "spec": label, "in_features": n, "note": str(e)})
                continue
            sweep = alpha_sweep(x, w, ws, xs, alphas=[None, *alphas])
            base = float(sweep["sqnr_db"].iloc[0])
            a = best_alpha(sweep)
            best = float(sweep.dropna(subset=["alpha"])["sqnr_db"].max())
            rot = layer_output_error(x, w, ws, xs, r, detail=False).sqnr_db if r is not None else float("nan")
            rows.append({"layer": name, "spec": label, "in_features": n, "best_alpha": a, "sqnr_db": base,
                         "smooth_sqnr_db": best, "smooth_gain_db": best - base, "rotate_sqnr_db": rot,
                         "rotate_gain_db": rot - base, "block": b, "note": ""})
        if progress:
            progress(i + 1, len(names), name)
    return pd.DataFrame(rows)
