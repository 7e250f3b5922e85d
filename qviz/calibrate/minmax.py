"""Min-max and moving-average min-max ranges.

``minmax``: ``[min x, max x]`` over everything observed; with
:func:`qviz.choose_qparams` this equals torch's ``MinMaxObserver`` /
``PerChannelMinMaxObserver`` bit for bit (symmetric ``absmax / 127.5`` for 8
bits); with ``narrow_range`` it is TensorRT's and ONNX Runtime's ``absmax / 127``.

``moving_average``: torch's ``MovingAverageMinMaxObserver`` (and its per-channel
twin): the first batch sets the range, every later batch moves it by
``m ← m + c·(m_batch − m)`` in float32, ``c = averaging_constant`` (0.01).

Example
-------
>>> import numpy as np
>>> from qviz.spec import QuantSpec
>>> from qviz.calibrate import Calibrator
>>> cal = Calibrator(QuantSpec(), "moving_average", averaging_constant=0.5)
>>> _ = cal.observe(np.array([-1.0, 1.0], dtype=np.float32)).observe(np.array([-3.0, 3.0], dtype=np.float32))
>>> float(cal.compute().clip_max.item())
2.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..spec import QuantSpec
from .histogram import Stats
from .result import empty_curve


def minmax(stats: Stats, spec: QuantSpec, curve_block: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, str]:
    """Exact min / max of the finite values per block (no search: empty curve)."""
    return stats.lo, stats.hi, empty_curve(), "none"


def moving_average(stats: Stats, spec: QuantSpec, curve_block: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, str]:
    """Running min / max as torch's ``MovingAverageMinMaxObserver`` (no search: empty curve)."""
    return stats.ma_lo, stats.ma_hi, empty_curve(), "none"
