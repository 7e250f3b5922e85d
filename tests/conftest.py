"""Shared test setup for the quantization core.

* The repository root goes on ``sys.path`` so ``import qviz`` works without installing, and
  this folder too, so tests can ``import qviz_testutil``.
* Hypothesis runs deterministically (``derandomize``), with no deadline (the first
  call into torch is slow) and a modest number of examples, so the whole core suite
  stays well under a minute on two cores. ``HYPOTHESIS_PROFILE=thorough`` runs more.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent  # for ``import qviz_testutil``, with or without tests/__init__.py
for _p in (ROOT, HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

# The scan cache (qviz.scan_cache, used by `qviz scan` and the app) never writes to the real
# ~/.cache during tests: every test process, and the subprocesses it starts, use a fresh folder.
import tempfile  # noqa: E402

os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="qviz-test-cache-")

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "qviz",
        derandomize=True,
        deadline=None,
        max_examples=60,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.register_profile(
        "thorough",
        derandomize=False,
        deadline=None,
        max_examples=2000,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "qviz"))
except ImportError:  # pragma: no cover - hypothesis is in requirements-test.txt
    pass


@pytest.fixture
def rng():
    """A fresh, fixed-seed generator per test."""
    return np.random.default_rng(12345)
