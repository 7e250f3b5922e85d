"""qviz: see what quantization does to tensors and to a model's layers.

The compute package: numpy, pandas and torch only (never streamlit). The flow::

    QuantSpec ─► choose_qparams(min, max) ─► QParams ─► quantize / dequantize / fake_quantize
                                                         └─► error_metrics(x, x_hat, qparams)

Example
-------
>>> import qviz
>>> x = qviz.sample("gaussian")
>>> spec = qviz.QuantSpec(bits=8, symmetric=True)
>>> qp = qviz.choose_qparams(x.min(), x.max(), spec)
>>> m = qviz.error_metrics(x, qviz.fake_quantize(x, qp), qp)
>>> 30 < m.sqnr_db < 45
True
"""

from .affine import QParams, choose_qparams, dequantize, fake_quantize, quantize
from .analyze import analyze
from .blocks import block_min_max, block_size, grid_shape
from .calibrate import CALIBRATORS, Calibration, Calibrator, calibrate, calibrator_names, compare_calibrators
from .formats import FORMATS, Format, compare_formats, format_names, get_format
from .intarith import (
    QFormat,
    check_matmul,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    quantized_conv2d,
    quantized_matmul,
    requantize,
)
from .impact import ModelQuantizer, layer_errors, ptq_vs_qat, sensitivity, task_metric
from .metrics import Metrics, error_metrics
from . import models  # noqa: F401, E402 - registers the built-in models as sources (qviz.open_source("digits_cnn"))
from .positions import layer_position
from .quantized import QuantizedTensor
from .compare import compare  # already-quantized checkpoint against its original (the qviz.compare module stays importable)
from .samples import SAMPLES, sample, sample_names
from .sources import Source, SourceError, TensorInfo, builtin_names, open_source
from .spec import PerChannel, PerGroup, PerTensor, QuantSpec

# the transforms lab: SmoothQuant, Hadamard rotations, layer output error (qviz/transforms/)
from .transforms import hadamard, layer_output_error, smooth_scales
# activations of the user's own model (#13): ONNX files, Hugging Face folders, token × channel view, output error
from . import data
from .capture import open_model as open_user_model
from .impact.user_model import output_fidelity, user_quantizer
from .tokens import token_channel

__all__ = [
    "QuantSpec",
    "PerTensor",
    "PerChannel",
    "PerGroup",
    "QParams",
    "choose_qparams",
    "quantize",
    "dequantize",
    "fake_quantize",
    "error_metrics",
    "Metrics",
    "block_min_max",
    "block_size",
    "grid_shape",
    "sample",
    "sample_names",
    "SAMPLES",
    "Calibration",
    "Calibrator",
    "calibrate",
    "CALIBRATORS",
    "calibrator_names",
    "compare_calibrators",
    "open_source",
    "Source",
    "SourceError",
    "TensorInfo",
    "QuantizedTensor",
    "compare",
    "builtin_names",
    "analyze",
    "open_user_model",
    "user_quantizer",
    "output_fidelity",
    "token_channel",
    "layer_position",
    # from layer error to model error
    "ModelQuantizer",
    "task_metric",
    "layer_errors",
    "sensitivity",
    "ptq_vs_qat",
    # formats beyond uniform int, and integer-only arithmetic
    "FORMATS",
    "Format",
    "format_names",
    "get_format",
    "compare_formats",
    "quantize_multiplier",
    "multiply_by_quantized_multiplier",
    "requantize",
    "QFormat",
    "quantized_matmul",
    "quantized_conv2d",
    "check_matmul",
    # the transforms lab
    "smooth_scales",
    "hadamard",
    "layer_output_error",
]
