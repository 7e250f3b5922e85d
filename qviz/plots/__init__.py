"""Figure builders: pure functions, binned data in, ``plotly.graph_objects.Figure`` out."""

from .distribution import codes_figure, display_range, histogram_figure
from .quantizer import error_figure, staircase, transfer_figure

__all__ = ["histogram_figure", "codes_figure", "display_range", "transfer_figure", "staircase", "error_figure"]
