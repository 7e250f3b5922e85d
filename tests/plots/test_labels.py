"""Issue 17 item 20: no clipped or overlapping labels on the Formats scatter and the QAT chart."""

from __future__ import annotations

import pandas as pd

from qviz.plots.formats import label_positions, sqnr_bits_figure
from qviz.plots.impact import qat_figure


def test_formats_scatter_labels_do_not_overlap_or_clip():
    bits, sqnr = [4.0, 4.0, 4.25, 8.0], [20.0, 20.3, 20.1, 44.0]
    names = ["int4 asymmetric min-max", "int4 symmetric", "MXFP4", "int8 symmetric"]
    fig = sqnr_bits_figure(bits, sqnr, names, ["int", "int", "mx", "int"])
    pos = [p for t in fig.data for p in t.textposition]
    assert len(set(pos[:2] + [fig.data[1].textposition[0]])) == 3  # three points on top of each other: three places
    assert all(t.cliponaxis is False for t in fig.data)
    lo, hi = fig.layout.xaxis.range
    assert lo < 4.0 and hi > 8.0 and fig.layout.yaxis.range[1] > 44.0  # room for the end labels
    assert label_positions([0, 10], [0, 10]) == ["top center", "top center"]  # far apart: the default place


def test_qat_labels_fit_above_the_bars():
    df = pd.DataFrame({"bits": [2, 4, 8], "ptq": [0.1, 0.9, 0.98], "qat": [0.6, 0.97, 0.99], "fp32": [0.985] * 3})
    fig = qat_figure(df)
    assert all(t.cliponaxis is False for t in fig.data)
    assert fig.layout.yaxis.range[1] >= 1.12  # a label "99.0%" above a bar at 0.99 fits
    fp32 = fig.layout.annotations[0]
    assert fp32.text == "fp32" and fp32.yanchor == "top"  # under its line, not on the bars' labels above it
