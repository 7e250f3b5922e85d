"""Calibrator tests: ``calib_refs`` (next to this file) wraps the reference implementations."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
