"""Integer-only arithmetic (Jacob et al., CVPR 2018): fixed-point multipliers, requantization, Qm.n, quantized matmul/conv.

Example
-------
>>> quantize_multiplier(0.5)
(1073741824, 0)
"""

from .fixed_point import QFormat
from .matmul import IntProduct, ProductCheck, check_matmul, im2col, quantized_conv2d, quantized_matmul
from .multiplier import (
    INT32_MAX,
    INT32_MIN,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)
from .requantize import Requantization, requantize

__all__ = [
    "quantize_multiplier", "multiply_by_quantized_multiplier", "saturating_rounding_doubling_high_mul",
    "rounding_divide_by_pot", "INT32_MIN", "INT32_MAX", "requantize", "Requantization", "QFormat",
    "quantized_matmul", "quantized_conv2d", "im2col", "IntProduct", "check_matmul", "ProductCheck",
]
