"""Number formats beyond uniform int: non-uniform levels, floating point, MX block scaling, binary/ternary.

Every format has ``bits_per_value`` (the share of a per-block scale included),
``fake_quantize(x)`` and ``levels(x)``; :data:`FORMATS` holds them by name, the
uniform int specs too, so that all compare on one footing.

Example
-------
>>> import qviz
>>> x = qviz.sample("gaussian", n=4096)
>>> compare_formats(x, ["int4", "nf4"])["sqnr_db"].round().tolist()
[16.0, 21.0]
"""

from __future__ import annotations

from .base import FAMILIES, Format, round_to_levels
from .fp import ELEMENTS, FloatFormat
from .kmeans import KMeansFormat, fit_codebook
from .log2 import Log2Format
from .mx import MXFormat, shared_exponent
from .nf4 import NF4, NF4_LEVELS
from .registry import FORMATS, format_names, get_format
from .uniform import UniformFormat


def compare_formats(x, names=None):
    """One row per format: bits per value (scale included), levels, SQNR, MSE of ``x`` under it (a DataFrame)."""
    import pandas as pd

    from ..arrays import as_float32
    from ..metrics import error_metrics

    x32, _ = as_float32(x)
    if x32.ndim == 0:  # a 0-d tensor is one value: every format sees it as a 1-element vector
        x32 = x32.reshape(1)
    rows = []
    for name in names if names is not None else format_names():
        f = get_format(name)
        m = error_metrics(x32, f.fake_quantize(x32))
        rows.append(dict(format=f.name, title=f.title, family=f.family, bits_per_value=f.bits_per_value_for(x32.shape),
                         element_bits=float(f.element_bits), n_levels=int(f.levels(x32).size),
                         sqnr_db=m.sqnr_db, mse=m.mse, max_abs_error=m.max_abs_error))
    return pd.DataFrame(rows)


__all__ = [
    "Format", "FAMILIES", "FORMATS", "format_names", "get_format", "compare_formats", "round_to_levels",
    "UniformFormat", "Log2Format", "KMeansFormat", "fit_codebook", "NF4", "NF4_LEVELS",
    "FloatFormat", "ELEMENTS", "MXFormat", "shared_exponent",
]
