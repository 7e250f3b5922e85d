"""From layer error to model error: task metric, per-layer sensitivity, mixed precision, PTQ against QAT.

=====================  =========================================================
``quantized_model``    :class:`ModelQuantizer`: fake-quantized weights/inputs, restored on exit
``metric``             :func:`task_metric` under ``{layer: spec or None}``
``errors``             :func:`layer_errors`: isolated against accumulated output SQNR
``sensitivity``        :func:`sensitivity`: one at a time and all but one, ranked
``mixed``              :func:`allocate_bits`, :func:`pareto`, :func:`config_json`
``qat``                :func:`qat_finetune`, :func:`ptq_vs_qat` on the digits CNN
=====================  =========================================================
"""

from .errors import layer_errors, sqnr_db
from .metric import metric_table, task_metric
from .mixed import allocate_bits, bits_table, config_json, model_size_mb, pareto
from .qat import ptq_vs_qat, qat_finetune, torch_fake_quantize
from .quantized_model import ModelQuantizer, quant_layers
from .sensitivity import sensitivity, sensitivity_report

__all__ = [
    "ModelQuantizer", "quant_layers", "task_metric", "metric_table", "layer_errors", "sqnr_db",
    "sensitivity", "sensitivity_report", "bits_table", "allocate_bits", "pareto", "config_json", "model_size_mb",
    "qat_finetune", "ptq_vs_qat", "torch_fake_quantize",
]
