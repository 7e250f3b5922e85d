"""``FORMATS``: every format qviz knows, by name, so they can be compared on one footing.

Example
-------
>>> sorted(FORMATS)[:4]
['binary', 'fp4_e2m1', 'fp8_e4m3', 'fp8_e5m2']
>>> FORMATS["mxfp4"].bits_per_value, FORMATS["nf4"].bits_per_value
(4.25, 4.5)
"""

from __future__ import annotations

from ..spec import PerGroup, QuantSpec
from .base import Format
from .binary import BINARY, TERNARY
from .fp import ELEMENTS, FloatFormat
from .kmeans import KMeansFormat
from .log2 import Log2Format
from .mx import MXFP4, MXFP8_E4M3, MXINT8
from .nf4 import NF4
from .uniform import UniformFormat

_ALL: list[Format] = [
    UniformFormat("int8", "int8 symmetric, per-tensor", QuantSpec(bits=8)),
    UniformFormat("int4", "int4 symmetric, per-tensor", QuantSpec(bits=4)),
    UniformFormat("int4_g64", "int4 symmetric, groups of 64", QuantSpec(bits=4, granularity=PerGroup(64))),
    UniformFormat("int2", "int2 symmetric, per-tensor", QuantSpec(bits=2)),
    Log2Format(4),
    KMeansFormat(4),
    KMeansFormat(2),
    NF4(),
    FloatFormat("fp8_e4m3", ELEMENTS["e4m3"], "FP8 E4M3 (per-tensor scale)"),
    FloatFormat("fp8_e5m2", ELEMENTS["e5m2"], "FP8 E5M2 (per-tensor scale)"),
    FloatFormat("fp4_e2m1", ELEMENTS["e2m1"], "FP4 E2M1 (per-tensor scale)"),
    MXFP8_E4M3,
    MXFP4,
    MXINT8,
    BINARY,
    TERNARY,
]

#: name → :class:`~qviz.formats.base.Format`
FORMATS: dict[str, Format] = {f.name: f for f in _ALL}


def format_names() -> list[str]:
    """Every registered format's name, in registry order (uniform first)."""
    return list(FORMATS)


def get_format(name: str) -> Format:
    """The format called ``name``; a ``ValueError`` listing the choices otherwise."""
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}") from None
