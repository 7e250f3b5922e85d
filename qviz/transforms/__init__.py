"""The transforms lab: SmoothQuant scales, Hadamard rotations, activation granularity and the KV cache.

Pure compute (numpy, torch for the products); no streamlit. See
:func:`smooth_scales`, :func:`hadamard`, :func:`layer_output_error`, the sweeps in
:mod:`.sweep`, :func:`kv_cache_error`, and :class:`BuiltinActivations` for where ``X`` and ``W`` come from.
"""

from .activations import BuiltinActivations, open_activations
from .hadamard import BLOCKS, hadamard, valid_blocks
from .kv_cache import KV_BITS, KV_GRANULARITIES, attention, kv_cache_error
from .output_error import ACTIVATION_GRANULARITIES, LayerError, Transform, as_transform, layer_output_error
from .smooth import channel_absmax, smooth_scales
from .sweep import (ALPHAS, activation_granularity, alpha_sweep, best_alpha, block_sweep, granularity_table, model_table,
                    rotation_blocks, w8a8)

__all__ = [
    "smooth_scales", "channel_absmax", "hadamard", "valid_blocks", "BLOCKS", "layer_output_error", "LayerError",
    "Transform", "as_transform", "ACTIVATION_GRANULARITIES", "activation_granularity", "alpha_sweep", "best_alpha",
    "block_sweep", "granularity_table", "model_table", "rotation_blocks", "w8a8", "ALPHAS", "kv_cache_error", "attention",
    "KV_BITS", "KV_GRANULARITIES", "BuiltinActivations", "open_activations",
]
