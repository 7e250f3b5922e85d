"""Calibration data for user models (:mod:`qviz.data.calibration`)."""

from .calibration import (
    DEFAULT_BATCH,
    DEFAULT_SAMPLES,
    CalibrationData,
    corpus,
    data_kind,
    image_data,
    load_arrays,
    synthetic_arrays,
    text_data,
)

__all__ = ["CalibrationData", "DEFAULT_BATCH", "DEFAULT_SAMPLES", "corpus", "data_kind", "image_data", "load_arrays",
           "synthetic_arrays", "text_data"]
