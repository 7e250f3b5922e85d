"""What a calibrator is, in one record per method: :class:`Method` in :data:`METHODS`.

Everything outside the method's own module reads this record: :class:`~qviz.Calibrator`
(its function, defaults, whether it needs a histogram), the CLI (``--calibrator``
choices and one flag per :class:`Option`), :func:`qviz.compare_calibrators` (which
methods a one-tensor comparison runs), the report, and the app (titles, widgets, the
curve's axis). Adding a calibrator is its module plus one :func:`register` call here.

Example
-------
>>> METHODS["percentile"].defaults
{'percentile': 99.99}
>>> [m.name for m in METHODS.values() if m.searches]
['percentile', 'entropy', 'mse', 'aciq']
>>> accepted("minmax")[:2]
('num_bins', 'oversample')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .aciq import DISTRIBUTIONS, aciq
from .entropy import entropy
from .minmax import minmax, moving_average
from .mse import mse
from .percentile import check_percentile, percentile

#: The percentiles the app offers (one list for every page; the CLI takes any value in (0, 100]).
PERCENTILES = (99.0, 99.9, 99.99, 99.999, 100.0)


@dataclass(frozen=True)
class Option:
    """One option of a calibrator (or of the statistics every calibrator shares).

    Parameters
    ----------
    name : str
        The keyword of :class:`~qviz.Calibrator` (the CLI flag is ``--name-with-dashes``).
    default : object
        Its default (``None``: the method decides).
    type : type
        ``float``, ``int`` or ``str`` (how the CLI parses and the app asks for it).
    help : str
        One line, shown by ``--help`` and the app.
    choices : tuple, optional
        The only values allowed (a select box in the app).
    values : tuple, optional
        The values the app offers on a slider (any valid value still works in code and CLI).
    check : callable, optional
        Validates a value; raises ``ValueError`` saying what to change.
    """

    name: str
    default: Any
    type: type
    help: str
    choices: tuple = ()
    values: tuple = ()
    check: Callable[[Any], Any] | None = None

    @property
    def flag(self) -> str:
        """The command-line flag: ``--num-bins`` for ``num_bins``."""
        return "--" + self.name.replace("_", "-")

    def validate(self, value: Any) -> None:
        """Raise ``ValueError`` (what is wrong and what to do) when ``value`` is not allowed."""
        if value is None:
            if self.default is not None:
                raise ValueError(f"{self.name} needs a value (default {self.default!r})")
            return
        if self.choices and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, got {value!r}")
        if self.check is not None:
            self.check(value)


def _positive_int(name: str, low: int = 1) -> Callable[[Any], None]:
    def check(v) -> None:
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
    return check


#: Options of the statistics (:class:`~qviz.calibrate.histogram.BlockHistogram`, which validates them),
#: accepted by every method.
STATS_OPTIONS: dict[str, Option] = {o.name: o for o in (
    Option("num_bins", 2048, int, "histogram bins per block and tail (2048 as TensorRT)"),
    Option("oversample", None, int, "fine bins per final bin (a power of two; default: as many as memory allows, up to 8)"),
    Option("averaging_constant", 0.01, float, "moving-average step c in m ← m + c·(m_batch − m)"),
)}


@dataclass(frozen=True)
class Method:
    """One calibration method.

    Parameters
    ----------
    name : str
        What ``method=`` and ``--calibrator`` take.
    title : str
        How the app and the report name it.
    fn : callable
        ``fn(stats, spec, curve_block, **options) -> (lo, hi, curve, criterion)``.
    options : tuple of Option
        The method's own options (their defaults are :attr:`defaults`).
    needs_histogram : bool
        False when exact min/max are enough (no histogram is kept: faster, less memory).
    searches : bool
        True when it returns a curve (the criterion at every candidate threshold).
    log_curve : bool
        Draw that curve on a log axis (a divergence or an error spanning decades).
    stats_options : tuple of str
        Which :data:`STATS_OPTIONS` change its result (shown next to it in the app).
    single_batch_twin : str, optional
        The method it equals on a single batch (``moving_average`` → ``minmax``): left
        out of one-tensor comparisons.
    """

    name: str
    title: str
    fn: Callable
    options: tuple[Option, ...] = ()
    needs_histogram: bool = True
    searches: bool = True
    log_curve: bool = False
    stats_options: tuple[str, ...] = ("num_bins", "oversample")
    single_batch_twin: str | None = None

    @property
    def defaults(self) -> dict[str, Any]:
        """``{option: default}`` of the method's own options."""
        return {o.name: o.default for o in self.options}

    @property
    def all_options(self) -> tuple[Option, ...]:
        """Its own options, then the statistics options that change its result."""
        return self.options + tuple(STATS_OPTIONS[n] for n in self.stats_options)


#: name -> :class:`Method`, in the order the app, the CLI and the report list them.
METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add (or replace) a calibrator; every consumer picks it up from here."""
    if not isinstance(method, Method):
        raise ValueError(f"register takes a qviz.calibrate.registry.Method, got {type(method).__name__}")
    METHODS[method.name] = method
    return method


def get_method(name: str) -> Method:
    """The :class:`Method` called ``name`` (``ValueError`` listing the choices otherwise)."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown calibration method {name!r}; choose one of {', '.join(METHODS)}") from None


def accepted(name: str) -> tuple[str, ...]:
    """Every option name ``name`` takes: the statistics' options, then its own."""
    return tuple(STATS_OPTIONS) + tuple(o.name for o in get_method(name).options)


def options_for(name: str, options: dict) -> dict:
    """The subset of ``options`` that method ``name`` takes (a shared option set given to several methods)."""
    keep = set(accepted(name))
    return {k: v for k, v in options.items() if k in keep}


def all_options() -> dict[str, Option]:
    """Every option of every method and of the statistics, by name (the CLI's flags, the app's widgets)."""
    out = dict(STATS_OPTIONS)
    for m in METHODS.values():
        out.update({o.name: o for o in m.options})
    return out


def takers(option: str) -> list[str]:
    """The methods whose result ``option`` changes (its own method, or those listing it in ``stats_options``)."""
    return [m.name for m in METHODS.values() if option in {o.name for o in m.all_options}]


def compared(methods: Sequence[str] | None = None) -> list[str]:
    """The methods a one-tensor comparison runs: ``methods``, or all but the single-batch twins."""
    if methods is None:
        return [m.name for m in METHODS.values() if m.single_batch_twin is None]
    return [get_method(m).name for m in methods]


register(Method("minmax", "min-max", minmax, needs_histogram=False, searches=False, stats_options=()))
register(Method("moving_average", "moving-average min-max", moving_average, needs_histogram=False, searches=False,
                stats_options=("averaging_constant",), single_batch_twin="minmax"))
register(Method("percentile", "percentile", percentile, (
    Option("percentile", 99.99, float, "percentile of |x| (symmetric) or of each tail, in (0, 100]",
           values=PERCENTILES, check=check_percentile),)))
register(Method("entropy", "entropy (KL, TensorRT)", entropy, (
    Option("num_levels", None, int, "quantized bins of the KL search (default 2^(bits-1) signed, 2^bits unsigned)",
           check=_positive_int("num_levels")),
    Option("start_bin", 128, int, "first candidate threshold, in histogram bins (128 as TensorRT)",
           check=_positive_int("start_bin")),
    Option("stride", 1, int, "bins between candidate thresholds", check=_positive_int("stride")),
), log_curve=True))
register(Method("mse", "MSE search", mse, log_curve=True))
register(Method("aciq", "ACIQ (analytic)", aciq, (
    Option("distribution", "auto", str, "the fitted distribution (auto: Laplace when the excess kurtosis exceeds 1.5)",
           choices=DISTRIBUTIONS),), log_curve=True))
