"""An already-quantized checkpoint against its original: :func:`compare`.

Tensors are paired by name. When the quantized file is a GGUF, its names
(``blk.0.attn_q.weight``) are mapped to Hugging Face names
(``encoder.layer.0.attention.self.query.weight``) through gguf's own tensor name map for the
file's architecture, ``gguf.get_tensor_name_map(arch, n_blocks)``. A reference whose shape is the
transpose of the quantized one is transposed; any other shape mismatch leaves both unpaired. For the Q and K
projections of llama-family files, whose rows llama.cpp's converter permutes for RoPE
(:func:`rope_permute`, with the file's head counts), the reference is permuted the same way when that
matches the file better (the note says so).

One row per pair:

* the shipped quantization (``x̂`` = the file's decoded values, ``x`` = the original):
  ``sqnr_db = 10·log10(Σx²/Σ(x−x̂)²)``, ``psnr_db``, ``mse``, ``cosine`` from
  :func:`qviz.error_metrics`, and the split ``clip_mse + round_mse = mse``;
* ``qviz_sqnr_db``: what ``qviz.calibrate(x, spec, method)`` + ``qviz.fake_quantize`` reach with the
  same element bits (rounded to an integer, at least 2) and the same block size
  (``PerGroup(block_size)`` along the rows), symmetric unless the format stores mins or zero points.

**Clipping on a non-uniform grid.** qviz calls a value *clipped* when the clamp changed its code,
i.e. when the nearest level of the grid extended beyond its ends would lie outside it. For a block
whose sorted levels are ``l₀ < l₁ < … < l_{K−1}`` (any codebook: uniform, NF4-like, E2M1, IQ
lattices), the grid is extended by its outer gaps, so ``x`` is clipped when
``x < l₀ − (l₁ − l₀)/2`` or ``x > l_{K−1} + (l_{K−1} − l_{K−2})/2``. On a uniform grid this is exactly
qviz's definition (``round(x/Δ) + z`` outside ``[qmin, qmax]``). ``clip_mse`` is the squared error
of those values over all values, ``round_mse`` the rest.

Unpaired tensors are not dropped: they are rows with ``paired = False`` and a ``note`` (only in the
quantized file, only in the reference, or shapes that do not match); ``df.attrs["unpaired"]`` lists them.

Example
-------
>>> import numpy as np
>>> from qviz.quantized import QuantizedTensor
>>> qt = QuantizedTensor(name="w", format="demo", shape=(1, 4), bits=2, block_size=4,
...     codes=np.array([[0, 1, 2, 3]]), scales=np.array([1.0], np.float32), codebook=np.arange(4, dtype=np.float32) - 2)
>>> m = shipped_metrics(qt, np.array([[-2.0, -1.2, 0.1, 5.0]], np.float32))
>>> round(m["clip_mse"], 3), round(m["round_mse"], 4)   # 5.0 lies beyond 1 + ½: clipped
(4.0, 0.0125)
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from .metrics import error_metrics
from .quantized import QuantizedTensor
from .sources import Source, SourceError, open_source
from .spec import PerGroup, QuantSpec

COLUMNS = [
    "name",
    "reference_name",
    "format",
    "shape",
    "numel",
    "bits_per_weight",
    "sqnr_db",
    "psnr_db",
    "mse",
    "clip_mse",
    "round_mse",
    "cosine",
    "qviz_sqnr_db",
    "qviz_spec",
    "paired",
    "note",
]
_BITS = {"float64": 64, "float32": 32, "float16": 16, "bfloat16": 16, "int8": 8, "int16": 16, "int32": 32, "int64": 64}


def _edges(qt: QuantizedTensor) -> tuple[np.ndarray, np.ndarray]:
    """Per block, the low and high decision edges beyond which a value is clipped (see module docstring)."""
    cb = np.unique(np.asarray(qt.codebook, np.float32))
    s, z, m = qt._offsets(slice(None))
    idx = [0, 1, -2, -1] if cb.size >= 2 else [0, 0, 0, 0]
    pts = (cb[idx][None, :] - z[:, None]) * s[:, None] - m[:, None]  # four extreme levels per block
    pts.sort(axis=1)
    lo = pts[:, 0] - (pts[:, 1] - pts[:, 0]) / 2
    hi = pts[:, 3] + (pts[:, 3] - pts[:, 2]) / 2
    return lo, hi


def shipped_metrics(qt: QuantizedTensor, reference: np.ndarray, x_hat: np.ndarray | None = None) -> dict:
    """What the shipped quantization ``qt`` did to ``reference`` (same shape as ``qt``).

    Returns ``mse, sqnr_db, psnr_db, cosine, max_abs_error`` (:func:`qviz.error_metrics`), ``clip_mse``,
    ``round_mse`` (non-uniform clipping as in the module docstring), ``clipped_share`` and ``saturated_share``.
    """
    x = np.asarray(reference, np.float32)
    if x.shape != tuple(qt.shape):
        raise ValueError(f"reference has shape {x.shape} but {qt.name!r} has shape {tuple(qt.shape)}: pass the matching tensor")
    x_hat = qt.dequantize() if x_hat is None else x_hat
    m = error_metrics(x, x_hat)
    xb = qt.to_blocks(x)  # each block's values, also where blocks are not runs of the tensor (act-order, tiles)
    xhb = qt.to_blocks(x_hat)
    lo, hi = _edges(qt)
    finite = np.isfinite(xb) & np.isfinite(xhb)
    clipped = ((xb < lo[:, None]) | (xb > hi[:, None])) & finite
    n = int(np.count_nonzero(finite))
    err2 = np.square((xb.astype(np.float64) - xhb), where=finite, out=np.zeros(xb.shape))
    clip = float(err2[clipped].sum()) / n if n else math.nan
    total = float(err2.sum()) / n if n else math.nan
    out = {k: getattr(m, k) for k in ("mse", "sqnr_db", "psnr_db", "cosine", "max_abs_error")}
    out.update(clip_mse=clip, round_mse=total - clip, clipped_share=float(np.count_nonzero(clipped)) / n if n else math.nan,
               saturated_share=qt.saturated_share())
    return out


def matching_spec(qt: QuantizedTensor) -> QuantSpec:
    """qviz's uniform quantizer with the element bits and block size of ``qt``.

    >>> import numpy as np
    >>> qt = QuantizedTensor(name="w", format="gguf:Q4_0", shape=(1, 32), bits=4, block_size=32,
    ...     codes=np.zeros((1, 32), int), scales=np.ones(1, np.float32), codebook=np.arange(16, dtype=np.float32) - 8)
    >>> matching_spec(qt).describe()
    'int4 symmetric midtread per-group (32 along axis -1)'
    """
    bits = int(min(16, max(2, round(float(qt.bits)))))
    asym = qt.mins is not None or qt.zero_points is not None
    return QuantSpec(bits=bits, symmetric=not asym, granularity=PerGroup(int(qt.block_size), axis=-1))


#: Blocks calibrated at once by :func:`qviz_sqnr` (the calibrators' histograms grow with the block count).
CHUNK_BLOCKS = 4096


def _options(method: str, qt: QuantizedTensor, options: dict | None) -> dict:
    if options is not None:
        return dict(options)
    histogram = method in ("mse", "entropy", "percentile")
    return {"num_bins": SMALL_BLOCK_BINS} if histogram and qt.block_size <= SMALL_BLOCK_BINS else {}


#: Histogram bins of the calibrators for blocks of at most this many values (see :func:`compare`).
SMALL_BLOCK_BINS = 256


def qviz_sqnr(x: np.ndarray, spec: QuantSpec, method: str, **options) -> float:
    """SQNR of ``qviz.calibrate(x, spec, method)`` + ``fake_quantize`` on ``x``.

    With a per-group spec along the last axis, rows are calibrated in chunks of about
    :data:`CHUNK_BLOCKS` blocks: each block's range depends on its own values only, so the
    result is that of one call on the whole tensor, without its histogram's memory.
    """
    from .affine import fake_quantize
    from .calibrate import calibrate
    from .metrics import error_sums

    g = spec.granularity
    group = g.group_size if isinstance(g, PerGroup) and g.axis in (-1, x.ndim - 1) and x.ndim >= 1 and x.size else 0
    per_row = group > 0
    rows = x.reshape(-1, x.shape[-1]) if per_row else x.reshape(1, -1)
    step = max(1, CHUNK_BLOCKS // max(1, rows.shape[1] // group)) if per_row else rows.shape[0]
    total = None
    for i in range(0, rows.shape[0], step):
        part = rows[i : i + step] if per_row else x
        qp = calibrate(part, spec, method, **options).qparams
        sums = error_sums(part, fake_quantize(part, qp), qp)
        total = sums if total is None else total.merge(sums, same_blocks=False)
    return float(total.metrics().sqnr_db) if total is not None else math.nan


def name_map(quantized: Source, reference: Source) -> dict[str, str]:
    """Quantized name → reference name: identical names, else (GGUF) through gguf's tensor name map."""
    ref = reference.names()
    out = {n: n for n in quantized.names() if n in reference}
    meta = getattr(quantized, "metadata", None) or {}
    arch = meta.get("architecture")
    if arch and len(out) < len(quantized):
        import gguf

        archs = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}
        if arch in archs:
            n_blocks = int(meta.get("block_count") or 0) or _guess_blocks(quantized.names())
            tmap = gguf.get_tensor_name_map(archs[arch], n_blocks)
            for r in ref:
                g = tmap.get_name(r, try_suffixes=(".weight", ".bias"))
                if g and g in quantized and g not in out:
                    out[g] = r
    return out


def rope_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Rows of a Q/K projection reordered as llama.cpp's ``convert_hf_to_gguf.py`` does for RoPE
    (``LlamaModel.permute``: per head, the two interleaved halves become contiguous).

    >>> rope_permute(np.arange(8.0)[:, None], 2).ravel().tolist()
    [0.0, 2.0, 1.0, 3.0, 4.0, 6.0, 5.0, 7.0]
    """
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _rope_heads(quantized: Source, name: str, shape: tuple) -> int | None:
    """Head count of the converter's RoPE permutation for a GGUF ``attn_q``/``attn_k`` weight, if it can apply."""
    meta = getattr(quantized, "metadata", None) or {}
    n_head, n_kv = meta.get("head_count"), meta.get("head_count_kv")
    if not isinstance(n_head, (int, np.integer)) or len(shape) != 2:
        return None
    n = int(n_kv) if name.endswith("attn_k.weight") and isinstance(n_kv, (int, np.integer)) else int(n_head)
    if not name.endswith(("attn_q.weight", "attn_k.weight")) or n < 1 or shape[0] % (2 * n):
        return None
    return n


def _guess_blocks(names) -> int:
    ids = [int(p[1]) for p in (n.split(".") for n in names) if len(p) > 2 and p[0] == "blk" and p[1].isdigit()]
    return max(ids) + 1 if ids else 1


def _open(x) -> Source:
    return x if isinstance(x, Source) else open_source(x)


def compare(
    quantized,
    reference,
    method: str = "mse",
    spec: QuantSpec | None = None,
    *,
    options: dict | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """Pair an already-quantized checkpoint's tensors with the original's and measure each.

    Parameters
    ----------
    quantized, reference : Source | str | path | bytes
        The quantized checkpoint (GGUF, GPTQ, AWQ, compressed-tensors, bitsandbytes, or any source) and
        the original (e.g. the Hugging Face safetensors), as for :func:`qviz.open_source`.
    method : str
        Calibrator of ``qviz_sqnr_db`` (``"mse"`` by default).
    spec : QuantSpec, optional
        qviz's quantizer for ``qviz_sqnr_db``; by default :func:`matching_spec` of each tensor.
    options : dict, optional
        Calibrator options. By default the histogram calibrators get ``num_bins=256`` when a block
        holds at most 256 values (a finer histogram of so few values only costs time).
    progress : callable(done, total, name), optional

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`; paired rows first (file order), unpaired after with ``paired=False``.
    """
    q, r = _open(quantized), _open(reference)
    pairs = name_map(q, r)
    rows, unpaired = [], []
    names = q.names()
    for i, name in enumerate(names):
        if progress:
            progress(i, len(names), name)
        info = q.info(name)
        row: dict[str, Any] = dict.fromkeys(COLUMNS, math.nan)
        fmt = info.quantized or info.dtype
        row.update(name=name, reference_name="", format=fmt, shape=info.shape, numel=info.numel, qviz_spec="", paired=False, note="")
        rname = pairs.get(name)
        if rname is None:
            row["note"] = "only in the quantized file"
            unpaired.append(row)
            continue
        rinfo = r.info(rname)
        row["reference_name"] = rname
        transpose = False
        if rinfo.shape != info.shape:
            if len(info.shape) == 2 and tuple(reversed(rinfo.shape)) == info.shape:
                transpose = True
            else:
                row["note"] = f"shapes differ: {info.shape} here, {rinfo.shape} in the reference"
                unpaired.append(row)
                continue
        try:
            x = r.load(rname)
            x = np.ascontiguousarray(x.T) if transpose else x
            heads = _rope_heads(q, name, info.shape)
            if heads:  # llama-family GGUFs store Q/K rows permuted for RoPE: keep whichever order matches
                x_hat0 = q.load(name)
                xp = rope_permute(x, heads)
                if np.mean(np.square(xp - x_hat0)) < np.mean(np.square(x - x_hat0)):
                    x = np.ascontiguousarray(xp)
                    row["note"] = f"reference rows permuted for RoPE as llama.cpp's converter does ({heads} heads)"
            if info.quantized:
                qt = q.quantized(name)
                row["bits_per_weight"] = qt.bits_per_weight
                m = shipped_metrics(qt, x)
                tspec = spec or matching_spec(qt)
                row["qviz_spec"] = tspec.describe()
                try:
                    row["qviz_sqnr_db"] = qviz_sqnr(x, tspec, method, **_options(method, qt, options))
                except ValueError as e:
                    row["note"] = "; ".join(filter(None, [row["note"], f"qviz calibration failed: {e}"]))
            else:
                x_hat = q.load(name)
                row["bits_per_weight"] = float(_BITS.get(info.dtype, math.nan))
                mm = error_metrics(x, x_hat)
                m = {k: getattr(mm, k) for k in ("mse", "sqnr_db", "psnr_db", "cosine")}
                m.update(clip_mse=0.0, round_mse=mm.mse)
        except (SourceError, ValueError) as e:
            row["note"] = str(e)
            unpaired.append(row)
            continue
        row.update({k: m[k] for k in ("sqnr_db", "psnr_db", "mse", "clip_mse", "round_mse", "cosine")})
        row["paired"] = True
        if transpose:
            row["note"] = "reference transposed" + (f"; {row['note']}" if row["note"] else "")
        rows.append(row)
    used = {row["reference_name"] for row in rows}
    for rname in r.names():
        if rname not in used and rname not in pairs.values():
            info = r.info(rname)
            row = dict.fromkeys(COLUMNS, math.nan)
            row.update(name="", reference_name=rname, format="", shape=info.shape, numel=info.numel, qviz_spec="", paired=False,
                       note="only in the reference")
            unpaired.append(row)
    if progress:
        progress(len(names), len(names), "")
    df = pd.DataFrame(rows + unpaired, columns=COLUMNS)
    df.attrs["unpaired"] = [(u["name"] or u["reference_name"], u["note"]) for u in unpaired]
    df.attrs["quantized"], df.attrs["reference"], df.attrs["method"] = q.label, r.label, method
    return df
