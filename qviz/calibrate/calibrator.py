"""The streaming :class:`Calibrator` and its one-batch form :func:`calibrate`.

``Calibrator(spec, method, **options)`` keeps a
:class:`~qviz.calibrate.histogram.BlockHistogram` (bounded memory: exact
min/max, counts, a fixed-size histogram per block, re-binned by powers of two
when a batch widens the range); ``observe(batch)`` adds a batch and
``compute()`` runs the method on the statistics and turns the range into
``QParams`` with :func:`qviz.choose_qparams`. ``calibrate(x, …)`` is
``Calibrator(…).observe(x).compute()``.

Example
-------
>>> import numpy as np
>>> from qviz.spec import QuantSpec, PerChannel
>>> x = np.random.default_rng(0).standard_normal((4, 1000)).astype(np.float32)
>>> cal = Calibrator(QuantSpec(granularity=PerChannel(0)), "percentile", percentile=99.9)
>>> for part in np.split(x, 4, axis=1):
...     _ = cal.observe(part)
>>> cal.compute().clip_max.shape
(4, 1)
"""

from __future__ import annotations

import numpy as np

from ..affine import choose_qparams
from ..spec import QuantSpec
from .histogram import BlockHistogram
from .registry import METHODS, STATS_OPTIONS, get_method
from .result import Calibration

#: options of the statistics, accepted by every method (name -> default)
HISTOGRAM_OPTIONS = {o.name: o.default for o in STATS_OPTIONS.values()}


def calibrator_names() -> list[str]:
    """Names accepted as ``method`` (the keys of :data:`qviz.calibrate.registry.METHODS`)."""
    return list(METHODS)


#: the built-in methods (:func:`calibrator_names` also lists any registered later)
CALIBRATORS = tuple(METHODS)


class Calibrator:
    """Streaming calibration: ``observe`` batches, then ``compute`` a :class:`Calibration`.

    Parameters
    ----------
    spec : QuantSpec
        Granularity, symmetry, bits and quantizer of the target.
    method : str
        A name of :data:`qviz.calibrate.registry.METHODS`: ``"minmax"``, ``"moving_average"``,
        ``"percentile"`` (``percentile=99.99``), ``"entropy"`` (``num_levels``,
        ``start_bin=128``, ``stride=1``), ``"mse"``, ``"aciq"``
        (``distribution="auto"``).
    **options
        The method's options (its :class:`~qviz.calibrate.registry.Option` records), plus
        ``num_bins=2048``, ``oversample=None`` and ``averaging_constant=0.01`` for the statistics.
    """

    def __init__(self, spec: QuantSpec, method: str = "minmax", **options):
        if not isinstance(spec, QuantSpec):
            raise ValueError(f"spec must be a qviz.QuantSpec, got {type(spec).__name__}")
        record = get_method(method)
        defaults = record.defaults
        unknown = set(options) - set(defaults) - set(HISTOGRAM_OPTIONS)
        if unknown:
            raise ValueError(
                f"method {method!r} does not take {', '.join(sorted(unknown))}; its options are "
                f"{', '.join(sorted(set(defaults) | set(HISTOGRAM_OPTIONS)))}"
            )
        self.spec = spec
        self.method = method
        for option in record.options:
            if option.name in options:
                option.validate(options[option.name])
        self._fn = record.fn
        self._method_options = {**defaults, **{k: v for k, v in options.items() if k in defaults}}
        hist_options = {**HISTOGRAM_OPTIONS, **{k: v for k, v in options.items() if k in HISTOGRAM_OPTIONS}}
        self.options = {**self._method_options, **hist_options}
        if "start_bin" in defaults and hist_options["num_bins"] < self._method_options["start_bin"]:
            raise ValueError(
                f"entropy searches from bin start_bin={self._method_options['start_bin']} but num_bins is "
                f"{hist_options['num_bins']}: raise num_bins or lower start_bin"
            )
        self._hist = BlockHistogram(spec, **hist_options, histogram=record.needs_histogram)

    def observe(self, batch) -> Calibrator:
        """Accumulate one batch (numpy or torch); returns ``self`` so calls chain."""
        self._hist.observe(batch)
        return self

    def compute(self, curve_block: int | None = None) -> Calibration:
        """The :class:`Calibration` of everything observed.

        ``curve_block`` selects the block whose curve is returned (flat grid
        index); by default the block with the widest data range ``max − min``.
        """
        stats = self._hist.stats()
        nb = len(stats.lo)
        if curve_block is None:
            curve_block = int(np.argmax(stats.hi.astype(np.float64) - stats.lo.astype(np.float64)))
        elif not isinstance(curve_block, (int, np.integer)) or not 0 <= curve_block < nb:
            raise ValueError(f"curve_block must be a block index from 0 to {nb - 1}, got {curve_block!r}")
        lo, hi, curve, criterion = self._fn(stats, self.spec, int(curve_block), **self._method_options)
        empty = stats.count == 0
        lo = np.where(empty, 0, np.minimum(lo, hi)).astype(np.float32).reshape(stats.grid)
        hi = np.where(empty, 0, hi).astype(np.float32).reshape(stats.grid)
        if self.spec.symmetric:  # what a symmetric quantizer really clips at: ±max(|clip_min|, |clip_max|)
            hi = np.maximum(-lo, hi).astype(np.float32)
            lo = (-hi).astype(np.float32)
        return Calibration(
            method=self.method,
            spec=self.spec,
            clip_min=lo,
            clip_max=hi,
            qparams=choose_qparams(lo, hi, self.spec),
            curve=curve.reset_index(drop=True),
            curve_block=int(curve_block),
            criterion=criterion,
            n=int(stats.count.sum()),
            nonfinite=int(stats.nonfinite.sum()),
            n_batches=stats.n_batches,
            data_min=stats.lo.reshape(stats.grid),
            data_max=stats.hi.reshape(stats.grid),
            options=dict(self.options),
        )


def calibrate(x, spec: QuantSpec, method: str = "minmax", **options) -> Calibration:
    """Calibrate one tensor: ``Calibrator(spec, method, **options).observe(x).compute()``.

    Parameters
    ----------
    x : array_like or torch.Tensor
        NaN and ±Inf are excluded and counted (``Calibration.nonfinite``).
    spec : QuantSpec
    method : str
        See :class:`Calibrator`.

    Raises
    ------
    ValueError
        Empty input, only non-finite values, unknown method or option.

    Examples
    --------
    >>> import numpy as np
    >>> from qviz.spec import QuantSpec
    >>> c = calibrate(np.array([-2.0, 0.5, 1.0], dtype=np.float32), QuantSpec(), "minmax")
    >>> round(c.qparams.scale.item(), 6)
    0.015686
    """
    return Calibrator(spec, method, **options).observe(x).compute()
