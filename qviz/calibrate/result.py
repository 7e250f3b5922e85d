"""What a calibrator returns: :class:`Calibration`.

A calibrator picks a clipping range ``[clip_min, clip_max]`` per block (on the
grid of :func:`qviz.blocks.grid_shape`); :func:`qviz.choose_qparams` turns it
into scale and zero point, and ``curve`` is what the method searched::

    method        curve.value at curve.threshold
    percentile    CDF (fraction of values ≤ threshold; of |x| when symmetric)
    entropy       KL(P ‖ Q) of TensorRT's search
    mse           mean squared error of fake-quantizing at that threshold
    aciq          MSE the fitted Laplace/Gaussian model predicts
    minmax        (empty: nothing searched)

For asymmetric specs each tail is searched on its own side: thresholds below 0
are candidate ``clip_min`` values, above 0 candidate ``clip_max`` values.

Example
-------
>>> import numpy as np
>>> from qviz.spec import QuantSpec
>>> from qviz.calibrate import calibrate
>>> c = calibrate(np.linspace(-1, 1, 1001, dtype=np.float32), QuantSpec(), "minmax")
>>> float(c.clip_min.item()), float(c.clip_max.item()), c.curve.columns.tolist()
(-1.0, 1.0, ['threshold', 'value'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..affine import QParams
from ..spec import QuantSpec

CURVE_COLUMNS = ["threshold", "value"]


def empty_curve() -> pd.DataFrame:
    return pd.DataFrame({"threshold": np.zeros(0), "value": np.zeros(0)})


@dataclass(frozen=True, eq=False)
class Calibration:
    """A calibrated range per block and the curve that chose it.

    Attributes
    ----------
    method : str
    spec : QuantSpec
    clip_min, clip_max : ndarray of float32
        Range per block, shaped as the block grid (``(1, …, 1)`` per-tensor). For a
        symmetric spec it is the symmetric range really used, ``±max(|min|, |max|)``.
    qparams : QParams
        ``qviz.choose_qparams(clip_min, clip_max, spec)``.
    curve : pandas.DataFrame
        Columns ``threshold`` and ``value`` (see the module docstring), for block
        ``curve_block``.
    curve_block : int
        Flat grid index of the block the curve is for (by default the one with the
        widest data range ``max - min``).
    criterion : str
        What ``value`` is (``"KL divergence"``, ``"MSE"``, ``"CDF"``, …).
    n, nonfinite, n_batches : int
        Finite values used, NaN/±Inf excluded, batches observed.
    data_min, data_max : ndarray of float32
        Exact min / max of the finite values per block (grid shaped).
    options : dict
        The method's options as used.
    """

    method: str
    spec: QuantSpec
    clip_min: np.ndarray
    clip_max: np.ndarray
    qparams: QParams
    curve: pd.DataFrame
    curve_block: int
    criterion: str
    n: int
    nonfinite: int
    n_batches: int
    data_min: np.ndarray
    data_max: np.ndarray
    options: dict = field(default_factory=dict)

    def chosen(self, block: int | None = None) -> tuple[float, float]:
        """``(clip_min, clip_max)`` of one block (default: ``curve_block``) as floats, to mark on the curve."""
        b = self.curve_block if block is None else block
        return float(np.ravel(self.clip_min)[b]), float(np.ravel(self.clip_max)[b])

    def describe(self) -> str:
        lo, hi = self.chosen()
        return (
            f"{self.method}: clip [{lo:.6g}, {hi:.6g}] (block {self.curve_block}) of data "
            f"[{float(np.ravel(self.data_min)[self.curve_block]):.6g}, "
            f"{float(np.ravel(self.data_max)[self.curve_block]):.6g}], {self.n} values"
            + (f", {self.nonfinite} NaN/Inf excluded" if self.nonfinite else "")
        )
