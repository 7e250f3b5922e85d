"""Which runner a user's model gets: ONNX Runtime for ``.onnx`` files, ``transformers`` for model folders.

Example
-------
>>> is_runnable("samples")
False
"""

from __future__ import annotations

import glob
import os

from .hf_capture import HFModel, is_hf_folder
from .onnx_capture import OnnxModel


def _onnx_path(path) -> str | None:
    if not isinstance(path, (str, os.PathLike)):
        return None
    p = os.fspath(path)
    if os.path.isfile(p) and p.lower().endswith(".onnx"):
        return p
    if os.path.isdir(p) and not is_hf_folder(p):
        found = glob.glob(os.path.join(p, "*.onnx"))
        if len(found) == 1:
            return found[0]
    return None


def activation_frame(acts, synthetic: bool = False):
    """The :func:`qviz.analyze` rows of captured activations; ``synthetic`` flags every row."""
    import pandas as pd

    from ..analyze import COLUMNS, activation_row

    rows = []
    for act in acts:
        row = activation_row(act)
        if synthetic:
            row["flags"] = ",".join(f for f in (row["flags"], "synthetic") if f)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def activation_rows(model, spec, method: str = "minmax", **kw):
    """Run ``model`` (:func:`open_model`) on calibration data and return its activation rows (see :func:`qviz.analyze`)."""
    acts = model.capture(spec, method, **kw)
    return activation_frame(acts, model.synthetic)


def is_runnable(path) -> bool:
    """True for an ``.onnx`` file (or a folder with one) and a Hugging Face folder with ``config.json``."""
    return _onnx_path(path) is not None or is_hf_folder(path)


def open_model(path, label: str | None = None):
    """An :class:`OnnxModel` or :class:`HFModel` for ``path`` (bytes are an ONNX upload).

    Raises
    ------
    ValueError
        One line when ``path`` is neither.
    """
    if isinstance(path, (bytes, bytearray, memoryview)):
        return OnnxModel(path, label)
    onnx_path = _onnx_path(path)
    if onnx_path:
        return OnnxModel(onnx_path, label)
    if is_hf_folder(path):
        return HFModel(path, label)
    name = os.path.basename(os.path.normpath(os.fspath(path))) if isinstance(path, (str, os.PathLike)) else str(path)
    raise ValueError(f"{name}: qviz runs ONNX files and Hugging Face model folders (config.json + weights) only; "
                     "for this file, scan its weights without --activations/--data")
