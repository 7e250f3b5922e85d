"""Activations of the user's own model: ONNX files (:mod:`.onnx_capture`) and Hugging Face folders (:mod:`.hf_capture`).

:func:`open_model` picks the runner; its ``capture(spec, method, data=…)`` returns the same
:class:`~qviz.models.capture.Activation` records as the built-ins, which :func:`qviz.analyze` turns into rows.
"""

from .memory import available_bytes, check_fits
from .onnx_capture import OnnxModel
from .runner import activation_frame, activation_rows, is_runnable, open_model

__all__ = ["OnnxModel", "activation_frame", "activation_rows", "available_bytes", "check_fits", "is_runnable", "open_model"]
