"""Figure builders: pure functions, binned data in, ``plotly.graph_objects.Figure`` out."""

from .calibration import curve_figure, thresholds_figure
from .channels import channel_range_figure, outlier_channels
from .distribution import codes_figure, display_range, histogram_figure
from .impact import errors_figure, pareto_figure, qat_figure, sensitivity_figure
from .heatmap import layer_heatmap
from .layers import layer_bars_figure, worst_layers
from .quantizer import error_figure, staircase, transfer_figure
from .tokens import channel_max_figure, scaling_sqnr_figure, token_heatmap_figure

__all__ = [
    "layer_bars_figure",
    "layer_heatmap",
    "sensitivity_figure", "errors_figure", "pareto_figure", "qat_figure",
    "worst_layers",
    "thresholds_figure",
    "curve_figure",
    "channel_range_figure",
    "outlier_channels",
    "histogram_figure", "codes_figure", "display_range", "transfer_figure", "staircase", "error_figure",
    "token_heatmap_figure", "channel_max_figure", "scaling_sqnr_figure"]
