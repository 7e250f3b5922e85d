"""A 38k-parameter CNN for scikit-learn's bundled 8×8 digits (offline, trained in seconds).

Architecture (input ``(N, 1, 8, 8)``, pixels scaled to [0, 1])::

    conv1 1→16 3×3 pad 1 · ReLU · conv2 16→32 3×3 pad 1 · ReLU · maxpool 2
    · flatten 512 · fc1 512→64 · ReLU · fc2 64→10                (38,282 parameters)

``sample_tensors/train_digits_cnn.py`` trains it and writes
``sample_tensors/digits_cnn.safetensors``. The first 1,437 shuffled images
(seed 0) are the training and calibration set; the last 360 are the test set,
and test accuracy is the task metric.

Example
-------
>>> model = build()
>>> round(evaluate(model), 2) >= 0.95
True
"""

from __future__ import annotations

from collections.abc import Iterator

from typing import Any

import os

import numpy as np
from ..sources.base import SourceError
from ..sources.safetensors_src import SafetensorsSource

NAME = "digits_cnn"
TITLE = "Digits CNN (38k params, scikit-learn 8×8 digits)"
TASK_METRIC = "accuracy"
N_TRAIN = 1437
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WEIGHTS = os.path.join(ROOT, "sample_tensors", "digits_cnn.safetensors")


def weights_path() -> str:
    """The shipped safetensors file."""
    return WEIGHTS


def make_module() -> Any:
    """The untrained network (torch imported here, not at qviz import)."""
    from torch import nn

    class DigitsCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
            self.fc1 = nn.Linear(512, 64)
            self.fc2 = nn.Linear(64, 10)

        def forward(self, x):
            import torch.nn.functional as F

            x = F.relu(self.conv1(x))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc2(F.relu(self.fc1(x.flatten(1))))

    return DigitsCNN()


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled ``digits.csv.gz`` (read directly: importing sklearn takes seconds)."""
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    path = os.path.join(os.path.dirname(spec.origin), "datasets", "data", "digits.csv.gz") if spec and spec.origin else ""
    if os.path.isfile(path):
        with gzip.open(path, "rt") as f:
            data = np.loadtxt(f, delimiter=",", dtype=np.float64)
        return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SourceError(
            "digits_cnn: its data set comes from scikit-learn, which is not installed; pip install scikit-learn"
        ) from None
    d = load_digits()
    return d.images, d.target


_CACHE: dict = {}


def dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``; images float32 ``(N, 1, 8, 8)`` in [0, 1]."""
    if "data" not in _CACHE:
        images, target = _digits()
        order = np.random.default_rng(0).permutation(len(target))
        x = (images[order] / 16.0).astype(np.float32)[:, None]
        y = target[order].astype(np.int64)
        _CACHE["data"] = (x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:])
    return tuple(a.copy() for a in _CACHE["data"])


def build(path: str | None = None) -> Any:
    """The trained model in eval mode, weights read from the shipped safetensors."""
    import torch

    src = SafetensorsSource(path or WEIGHTS, os.path.basename(path or WEIGHTS))
    model = make_module()
    model.load_state_dict({k: torch.from_numpy(src.load(k)) for k in src.names()})
    return model.eval()


def calibration_batches(batch_size: int = 256, limit: int | None = None) -> Iterator[Any]:
    """Training images in batches (torch tensors), the calibration data."""
    import torch

    x = dataset()[0][:limit]
    for i in range(0, len(x), batch_size):
        yield torch.from_numpy(x[i : i + batch_size])


def run(model: Any, batch: Any) -> Any:
    """One forward pass on a calibration batch."""
    return model(batch)


def train_epoch(model: Any, opt: Any, x: Any, y: Any, batch_size: int, generator: Any) -> None:
    """One epoch of shuffled mini-batch cross-entropy training (used by the training script and QAT)."""
    import torch

    model.train()
    for idx in torch.randperm(len(x), generator=generator).split(batch_size):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()


def evaluate(model: Any) -> float:
    """Test accuracy (the task metric), 0 to 1."""
    import torch

    _, _, x, y = dataset()
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean())
