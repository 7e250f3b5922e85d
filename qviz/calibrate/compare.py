"""Every calibrator on one tensor, side by side: :func:`compare_calibrators`.

For each method ``m`` (by default every registered method except the single-batch
twins, see :func:`qviz.calibrate.registry.compared`)::

    c = calibrate(x, spec, m, **options m takes)      x̂ = fake_quantize(x, c.qparams)
    row = (clip range of the shown block, error_metrics(x, x̂, c.qparams), c, metrics)

The report, ``qviz calibrate --calibrator all`` and the Calibrators page all read
this one table.

Example
-------
>>> import qviz
>>> t = compare_calibrators(qviz.sample("gaussian"), qviz.QuantSpec(bits=4), percentile=99.9)
>>> list(t["calibrator"])
['minmax', 'percentile', 'entropy', 'mse', 'aciq']
>>> bool(t.set_index("calibrator").loc["mse", "sqnr_db"] >= t.set_index("calibrator").loc["minmax", "sqnr_db"])
True
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..affine import fake_quantize
from ..metrics import error_metrics
from ..spec import QuantSpec
from .calibrator import calibrate
from .registry import METHODS, all_options, compared, options_for

#: the columns of :func:`compare_calibrators`, in order
COLUMNS = ["calibrator", "title", "criterion", "clip_min", "clip_max", "sqnr_db", "psnr_db", "mse", "clip_mse",
           "round_mse", "clip_share", "round_share", "calibration", "metrics"]


def compare_calibrators(x, spec: QuantSpec, methods: Sequence[str] | None = None, *, block: int | None = None,
                        **options) -> pd.DataFrame:
    """One row per calibrator on ``x`` under ``spec``: its range, what it costs, and the objects behind them.

    Parameters
    ----------
    x : array_like or torch.Tensor
    spec : QuantSpec
        Used as given (adapt it to the tensor's shape first, e.g. with :func:`qviz.analyze.weight_spec`).
    methods : sequence of str, optional
        Method names; default every registered method but the single-batch twins (``moving_average``).
    block : int, optional
        The block whose ``clip_min``/``clip_max`` the table shows (flat grid index); default
        the first calibration's ``curve_block``, the block with the widest data range.
    **options
        Options of any of the methods (and of the statistics); each method gets the ones it takes.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`: ``calibrator`` (name), ``title``, ``criterion``, ``clip_min``/``clip_max``
        (of ``block``), the :class:`~qviz.Metrics` numbers ``sqnr_db``, ``psnr_db``, ``mse``, ``clip_mse``,
        ``round_mse``, ``clip_share``, ``round_share``, and the objects ``calibration``
        (:class:`~qviz.Calibration`, every block) and ``metrics`` (:class:`~qviz.Metrics`).

    Raises
    ------
    ValueError
        An unknown method, an option no method takes, or what :func:`qviz.calibrate` raises.
    """
    names = compared(methods)
    if not names:
        raise ValueError("methods is empty: give at least one calibrator name, or None for all")
    unknown = set(options) - set(all_options())
    if unknown:
        raise ValueError(f"no calibrator takes {', '.join(sorted(unknown))}; the options are {', '.join(all_options())}")
    rows = []
    for name in names:
        cal = calibrate(x, spec, name, **options_for(name, options))
        met = error_metrics(x, fake_quantize(x, cal.qparams), cal.qparams)
        if block is None:
            block = cal.curve_block
        lo, hi = cal.chosen(block)
        rows.append({"calibrator": name, "title": METHODS[name].title, "criterion": cal.criterion, "clip_min": lo,
                     "clip_max": hi, "sqnr_db": met.sqnr_db, "psnr_db": met.psnr_db, "mse": met.mse,
                     "clip_mse": met.clip_mse, "round_mse": met.round_mse, "clip_share": met.clip_share,
                     "round_share": met.round_share, "calibration": cal, "metrics": met})
    return pd.DataFrame(rows, columns=COLUMNS)
