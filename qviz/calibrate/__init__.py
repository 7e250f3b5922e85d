"""Calibrators: pick the clipping range of a quantizer, and show what was searched.

=================  ==========================================================
``minmax``         exact min/max (torch ``MinMaxObserver``, bit for bit)
``moving_average`` torch ``MovingAverageMinMaxObserver`` over batches
``percentile``     p-th percentile of |x| (symmetric) or of each tail
``entropy``        TensorRT's KL search (Model Optimizer ``HistogramCalibrator``)
``mse``            lowest real fake-quantization MSE under the spec
``aciq``           analytic clipping from a Laplace/Gaussian fit (Banner et al.)
=================  ==========================================================

One module per concept: :mod:`.histogram` (streaming per-block statistics),
one module per method, :mod:`.registry` (one :class:`~.registry.Method` record per
method: everything else reads it), :mod:`.calibrator` (``Calibrator`` / ``calibrate``),
:mod:`.compare` (``compare_calibrators``), :mod:`.result` (``Calibration``).

Example
-------
>>> import numpy as np, qviz
>>> x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
>>> c = qviz.calibrate(x, qviz.QuantSpec(), "entropy")
>>> list(c.curve.columns)
['threshold', 'value']
"""

from .calibrator import CALIBRATORS, Calibrator, calibrate, calibrator_names
from .compare import compare_calibrators
from .registry import METHODS, Method, Option, register
from .result import Calibration

__all__ = ["CALIBRATORS", "METHODS", "Calibration", "Calibrator", "Method", "Option", "calibrate", "calibrator_names",
           "compare_calibrators", "register"]
