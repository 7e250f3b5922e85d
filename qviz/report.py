"""A standalone HTML report of one model under one quantizer: :func:`build_report` / :func:`write_report`.

One file that opens offline (plotly.js inlined once, every figure binned): a short
intro and the spec, SQNR and PSNR per layer (:func:`qviz.plots.layer_bars_figure`; for models
with repeated blocks, a blocks × roles heatmap, :func:`qviz.plots.layer_heatmap`, first),
a sortable table of the worst layers, for each of the worst weight tensors its
histogram with every calibrator's thresholds (:func:`qviz.plots.thresholds_figure`)
and what each calibrator costs, and the whole per-layer table at the end.

Example
-------
>>> import qviz
>>> page = build_report("samples", qviz.QuantSpec(bits=4), "minmax", histograms=1)
>>> page.count("window.PlotlyConfig"), page.count("Plotly.newPlot") >= 3  # plotly.js inlined once
(1, True)
"""

from __future__ import annotations

import datetime
import html
import math

import numpy as np
import pandas as pd
import plotly.io as pio

from . import blocks
from .analyze import analyze, weight_spec
from .binning import histogram
from .calibrate.compare import compare_calibrators
from .plots import layer_bars_figure, layer_heatmap, thresholds_figure, worst_layers
from .plots.heatmap import has_blocks
from .sources import Source, open_source
from .spec import QuantSpec

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} .sub{color:#666;margin-top:0} .cap{color:#555;font-size:.92em;margin:.2em 0 1.5em}
code{background:#f3f3f3;padding:0 .3em;border-radius:3px}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0 1em} th,td{padding:.3em .6em;border-bottom:1px solid #e4e4e4;text-align:right}
th{background:#f6f8fa;cursor:pointer;user-select:none;white-space:nowrap} th:after{content:" \\2195";color:#aaa}
td:first-child,th:first-child,td.t{text-align:left} td.n{max-width:26em;font-size:.85em;color:#555}
tr.bad td{background:#fff1f0} .fig{margin-bottom:.5em} .scroll{overflow-x:auto}
"""
SORT_JS = """
document.querySelectorAll("table.sortable th").forEach(function(th, col){th.addEventListener("click", function(){
  var tb = th.closest("table").tBodies[0], rows = Array.from(tb.rows), asc = th.dataset.dir !== "asc"; th.dataset.dir = asc ? "asc" : "desc";
  rows.sort(function(a, b){var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v, nx = parseFloat(x), ny = parseFloat(y);
    var r = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny; return asc ? r : -r;});
  rows.forEach(function(r){tb.appendChild(r);});});});
"""
TABLE_COLUMNS = {"name": "tensor", "kind": "kind", "shape": "shape", "granularity": "granularity", "clip_min": "clip min",
                 "clip_max": "clip max", "scale": "scale (median)", "zero_point": "zero point", "sqnr_db": "SQNR dB",
                 "psnr_db": "PSNR dB", "clip_mse": "clip MSE", "round_mse": "round MSE", "note": "note"}


def _fmt(v) -> tuple[str, str]:
    """(shown text, sort key) of one cell."""
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return "", ""
        if math.isinf(v):
            return ("∞" if v > 0 else "−∞"), ("1e308" if v > 0 else "-1e308")
        return f"{v:.4g}", repr(float(v))
    if isinstance(v, tuple):
        return "×".join(map(str, v)) or "scalar", str(int(np.prod(v)) if v else 1)
    return str(v), str(v)


def table_html(df: pd.DataFrame, bad: set = frozenset()) -> str:
    """An HTML table of ``df``'s :data:`TABLE_COLUMNS` whose headers sort on click; rows in ``bad`` are tinted."""
    cols = [c for c in TABLE_COLUMNS if c in df.columns]
    head = "".join(f"<th>{html.escape(TABLE_COLUMNS[c])}</th>" for c in cols)
    body = []
    for i, row in df.iterrows():
        cells = []
        for c in cols:
            text, key = _fmt(row[c])
            cls = ' class="t n"' if c == "note" else ' class="t"' if c in ("kind", "granularity") else ""
            cells.append(f'<td{cls} data-v="{html.escape(key)}">{html.escape(text)}</td>')
        body.append(f'<tr{" class=bad" if i in bad else ""}>{"".join(cells)}</tr>')
    return f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


class _Figures:
    """Figures to HTML, plotly.js inlined with the first one only."""

    def __init__(self):
        self.count = 0

    def __call__(self, fig, caption: str) -> str:
        div = pio.to_html(fig, include_plotlyjs=self.count == 0, full_html=False,
                          config={"displaylogo": False, "responsive": True})
        self.count += 1
        return f'<div class="fig">{div}</div><p class="cap">{caption}</p>'


def layer_calibrators(x: np.ndarray, spec: QuantSpec, method: str, options: dict, calibrators=None):
    """Every calibrator on one tensor: ``(histogram of the shown block, {name: (clip_min, clip_max)}, rows, block)``.

    ``calibrators``: method names, default those of :func:`qviz.compare_calibrators`.
    """
    tspec, _ = weight_spec(spec, x.shape)
    table = compare_calibrators(x, tspec, calibrators, **options)
    names = list(table["calibrator"])
    block = table["calibration"][0].curve_block  # the same for every method: the block with the widest data range
    values = blocks.to_blocks(x, tspec.granularity)[block]
    rows = table[["calibrator", "clip_min", "clip_max", "sqnr_db", "mse", "clip_share"]].rename(columns={"clip_share": "clip share"})
    return histogram(values, 200), dict(zip(names, zip(table["clip_min"], table["clip_max"]))), rows, block


def _small_table(df: pd.DataFrame, highlight: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = "".join(f'<td data-v="{html.escape(_fmt(v)[1])}">{html.escape(_fmt(v)[0])}</td>' for v in r)
        rows.append(f'<tr{" class=bad" if r["calibrator"] == highlight else ""}>{cells}</tr>')
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def build_report(source, spec: QuantSpec, method: str = "minmax", *, worst: int = 10, histograms: int = 5,
                 progress=None, df: pd.DataFrame | None = None, **options) -> str:
    """The report as one HTML string.

    Parameters
    ----------
    source : Source | str | os.PathLike
        Anything :func:`qviz.open_source` accepts.
    spec, method, **options
        As :func:`qviz.analyze`.
    worst : int
        Rows in the worst-layers table (lowest SQNR).
    histograms : int
        Worst weight tensors drawn with every calibrator's thresholds.
    progress : callable, optional
        Passed to :func:`qviz.analyze`.
    df : DataFrame, optional
        A finished :func:`qviz.analyze` table of this source and spec (skips the analysis).
    """
    src = source if isinstance(source, Source) else open_source(source)
    if df is None:
        df = analyze(src, spec, method, progress=progress, **options)
    fig = _Figures()
    quantized = df[pd.to_numeric(df["sqnr_db"], errors="coerce").notna()]
    bad_df = worst_layers(quantized, "sqnr_db", worst)
    parts = [f"<h1>qviz report: {html.escape(src.label)}</h1>",
             f'<p class="sub">{html.escape(spec.describe())} · calibrator <code>{html.escape(method)}</code>'
             + (f" {html.escape(str(options))}" if options else "")
             + f" · {len(df)} tensors · {datetime.datetime.now():%Y-%m-%d %H:%M}</p>",
             ("<p>What this quantizer does to every tensor of the model: each weight (and, for built-in models, each "
              "Linear/Conv input activation) is calibrated, fake-quantized, and compared with the original. "
              "SQNR = 10·log10(Σx²/Σ(x−x̂)²): every 6 dB is one bit of precision; the ideal for "
              f"{spec.bits} bits on a full-scale sine is {6.02 * spec.bits + 1.76:.1f} dB.</p>")]
    if len(quantized) and has_blocks(quantized):
        parts.append("<h2>Blocks × roles</h2>")
        parts.append(fig(layer_heatmap(quantized, "sqnr_db", title="SQNR per block and role"),
                         "One cell per tensor: the model's repeated blocks left to right (in: embeddings, out: final norm "
                         "and head), each tensor's role top to bottom; red is low SQNR. Hover a cell for the tensor."))
    if len(quantized):
        parts.append("<h2>SQNR and PSNR per layer</h2>")
        parts.append(fig(layer_bars_figure(quantized, "sqnr_db", worst=5, title="SQNR per tensor"),
                         "One bar per tensor in file order; the lowest in red. Higher is better; a tensor far below "
                         "its neighbours has outliers or a range the quantizer fits badly (try per-channel or another calibrator)."))
        parts.append(fig(layer_bars_figure(quantized, "psnr_db", worst=5, title="PSNR per tensor"),
                         "PSNR uses the tensor's peak |x| instead of its power: it penalises error relative to the "
                         "largest value, so heavy-tailed tensors score better here than on SQNR."))
        parts.append(f"<h2>The {len(bad_df)} worst tensors (lowest SQNR)</h2>")
        parts.append(table_html(bad_df) + '<p class="cap">Click a header to sort. clip MSE + round MSE = MSE: '
                     "a large clip share means the range is too narrow, a large round share that it is too wide or "
                     "the bits too few.</p>")
    else:
        parts.append("<p><b>No tensor could be quantized</b>: see the notes in the table below.</p>")
    shown = bad_df[bad_df["kind"] == "weight"].head(histograms)
    if len(shown):
        parts.append("<h2>The worst weights under every calibrator</h2>")
    for _, row in shown.iterrows():
        x = src.load(row["name"])
        hist, ranges, rows, block = layer_calibrators(x, spec, method, options)
        what = "" if row["n_blocks"] == 1 else f" (block {block} of {int(row['n_blocks'])}: the one with the widest range)"
        parts.append(f"<h3>{html.escape(row['name'])} · {html.escape(_fmt(row['shape'])[0])}{html.escape(what)}</h3>")
        parts.append(fig(thresholds_figure(hist, ranges, title=f"{row['name']}: every calibrator's clipping range"),
                         "Histogram of the values (log count) with each calibrator's clip_min / clip_max as a pair of "
                         "dashed lines: values outside a pair are clipped, the levels inside are spread over the range."))
        parts.append(_small_table(rows, method) + '<p class="cap">Each calibrator on this tensor (whole tensor, '
                     f"this spec); the report's calibrator <code>{html.escape(method)}</code> is tinted. "
                     "clip share = share of the MSE that comes from clipping.</p>")
    parts.append(f"<details><summary>Every tensor ({len(df)})</summary>{table_html(df, set(bad_df.index))}</details>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>qviz report: "
            f"{html.escape(src.label)}</title><style>{CSS}</style></head><body>{''.join(parts)}"
            f"<script>{SORT_JS}</script></body></html>")


def write_report(path, source, spec: QuantSpec, method: str = "minmax", **kw) -> int:
    """Write :func:`build_report` to ``path``; returns the file size in bytes."""
    page = build_report(source, spec, method, **kw)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return len(page.encode("utf-8"))
