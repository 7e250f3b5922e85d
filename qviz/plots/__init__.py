"""Figure builders: pure functions, binned data in, ``plotly.graph_objects.Figure`` out."""

from .distribution import codes_figure, display_range, histogram_figure

__all__ = ["histogram_figure", "codes_figure", "display_range"]
