"""Will the model fit? Its size against the machine's free memory, checked before anything runs.

Running needs about ``factor`` × the weights' bytes (the weights, the runtime's copy and the activations
of a batch); a model that cannot fit is refused with one line instead of swapping the machine to death.

Example
-------
>>> check_fits("big.onnx", 10 * 2**30, available=2**30)
Traceback (most recent call last):
...
ValueError: big.onnx: running it needs about 20.0 GB (2 × its 10.0 GB of weights) but only 1.0 GB of memory is free; use a smaller model or a machine with more memory
"""

from __future__ import annotations

import os

FACTOR = 2.0


def available_bytes() -> int:
    """Free memory: ``MemAvailable`` of ``/proc/meminfo`` (Linux), else physical pages available."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def check_fits(label: str, weight_bytes: int, *, factor: float = FACTOR, available: int | None = None) -> None:
    """Raise ``ValueError`` (one line) when ``factor × weight_bytes`` exceeds the free memory."""
    free = available_bytes() if available is None else int(available)
    need = factor * weight_bytes
    if need > free:
        gb = 2.0**30
        raise ValueError(f"{label}: running it needs about {need / gb:.1f} GB ({factor:g} × its {weight_bytes / gb:.1f} GB of "
                         f"weights) but only {free / gb:.1f} GB of memory is free; use a smaller model or a machine with more memory")
