"""Progress of a long scan in values per second, with an ETA: :class:`ScanMeter`.

:func:`qviz.analyze` calls ``progress(done, total, name)`` after each tensor, and
also passes ``values=(values_done, values_total)`` when the callback has a
``values`` parameter. :class:`ScanMeter` turns that into one line::

    37/291 tensors · 1.21/6.40 G values · 312M values/s · ETA 17 s

Example
-------
>>> m = ScanMeter(clock=iter([0.0, 2.0]).__next__)
>>> m.line(1, 4, (100_000_000, 400_000_000))
'1/4 tensors · 0.10/0.40 G values · 50M values/s · ETA 6 s'
"""

from __future__ import annotations

import inspect
import time


def _eta(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "…"
    s = int(round(seconds))
    return f"{s} s" if s < 90 else f"{s // 60} min {s % 60:02d} s"


class ScanMeter:
    """Throughput and time left of a scan, from the values done so far (started at construction)."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.start = clock()

    def rate(self, values_done: int) -> float:
        dt = self.clock() - self.start
        return values_done / dt if dt > 0 else float("nan")

    def line(self, done: int, total: int, values: tuple[int, int] | None = None) -> str:
        """``done/total tensors`` and, with ``values``, G values, values/s and the ETA."""
        text = f"{done}/{total} tensors"
        if values is None:
            return text
        vd, vt = values
        r = self.rate(vd)
        left = (vt - vd) / r if r and r == r and r > 0 else float("nan")
        return f"{text} · {vd / 1e9:.2f}/{vt / 1e9:.2f} G values · {r / 1e6:.0f}M values/s · ETA {_eta(left)}"


def wants_values(callback) -> bool:
    """True when ``callback`` takes a ``values`` keyword (the richer progress protocol)."""
    try:
        return "values" in inspect.signature(callback).parameters
    except (TypeError, ValueError):
        return False
