"""Calibration data for running a user's model: files, folders, the built-in corpus, or synthetic inputs.

=================  ==============================================================================
``.npz``           one array per model input, named like the input, leading batch axis
folder of ``.npy`` the same, one file per input (``<input name>.npy``)
folder of images   ``.png/.jpg/.jpeg/.bmp`` resized to the input's H×W, scaled to [0, 1], then
                   ``(x − mean) / std`` per channel (defaults 0 and 1)
text file          one sample per line (blank lines skipped), for models with a tokenizer
(none, text)       qviz's built-in corpus: 36 public-domain sentences (:func:`corpus`)
(none, other)      synthetic inputs from the input signature: N(0, 1) floats, random token ids
                   below the vocabulary size; flagged ``synthetic`` because such ranges can mislead
=================  ==============================================================================

Every loaded set is a :class:`CalibrationData` whose ``description`` says in one line what it was;
analysis rows and pages show it.

Example
-------
>>> d = text_data(None, samples=4)
>>> d.kind, len(d.texts), d.synthetic
('corpus', 4, False)
>>> d.description
"qviz's built-in corpus: 4 public-domain sentences"
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

import numpy as np

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.txt")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
DEFAULT_SAMPLES = 32
DEFAULT_BATCH = 8


@dataclass
class CalibrationData:
    """Model inputs ready to batch.

    Attributes
    ----------
    kind : str
        ``"npz"``, ``"npy-folder"``, ``"images"``, ``"text"``, ``"corpus"`` or ``"synthetic"``.
    description : str
        One line saying what the data was (shown on rows and pages).
    arrays : dict
        ``{input name: ndarray}`` with a leading batch axis (array kinds).
    texts : list of str
        The samples (text kinds).
    """

    kind: str
    description: str
    arrays: dict = field(default_factory=dict)
    texts: list = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        return self.kind == "synthetic"

    @property
    def n(self) -> int:
        if self.texts:
            return len(self.texts)
        return min((len(a) for a in self.arrays.values()), default=0)

    def array_batches(self, batch_size: int = DEFAULT_BATCH):
        """``{name: array}`` batches of at most ``batch_size`` samples."""
        _check_batch(batch_size)
        for i in range(0, self.n, batch_size):
            yield {k: v[i : i + batch_size] for k, v in self.arrays.items()}

    def text_batches(self, batch_size: int = DEFAULT_BATCH):
        _check_batch(batch_size)
        for i in range(0, len(self.texts), batch_size):
            yield self.texts[i : i + batch_size]


def _check_batch(batch_size: int) -> None:
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch size must be a positive integer, got {batch_size!r}")


def _check_samples(samples) -> int | None:
    if samples is None:
        return None
    if not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    return int(samples)


def corpus() -> list[str]:
    """qviz's built-in calibration text: public-domain sentences, one per line."""
    with open(CORPUS, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def data_kind(path: str) -> str:
    """``"arrays"``, ``"images"`` or ``"text"``: what the file or folder at ``path`` holds."""
    label = os.path.basename(os.path.normpath(path)) or path
    if os.path.isdir(path):
        if glob.glob(os.path.join(path, "*.npy")):
            return "arrays"
        if any(f.lower().endswith(IMAGE_EXTENSIONS) for f in os.listdir(path)):
            return "images"
        raise ValueError(f"{label}: is a folder with neither .npy files nor images; give an .npz, a folder of .npy or images, or a text file")
    if not os.path.isfile(path):
        raise ValueError(f"{label}: calibration data does not exist; check the path")
    if path.lower().endswith((".npz", ".npy")):
        return "arrays"
    if path.lower().endswith(IMAGE_EXTENSIONS):
        raise ValueError(f"{label}: is one image; put calibration images in a folder and pass the folder")
    return "text"


def load_arrays(path: str, samples: int | None = None) -> CalibrationData:
    """An ``.npz`` (one array per input) or a folder of ``.npy`` files, never unpickled."""
    samples = _check_samples(samples)
    label = os.path.basename(os.path.normpath(path)) or path
    arrays: dict = {}
    try:
        if os.path.isdir(path):
            kind = "npy-folder"
            for f in sorted(glob.glob(os.path.join(path, "*.npy"))):
                arrays[os.path.splitext(os.path.basename(f))[0]] = np.load(f, allow_pickle=False, mmap_mode="r")
        elif path.lower().endswith(".npy"):
            kind = "npy-folder"
            arrays[os.path.splitext(label)[0]] = np.load(path, allow_pickle=False, mmap_mode="r")
        else:
            kind = "npz"
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f"{label}: cannot be read as NumPy arrays ({' '.join(str(e).split())[:120]}); save them with np.savez") from None
    if not arrays:
        raise ValueError(f"{label}: holds no arrays; save one array per model input with np.savez(path, **inputs)")
    for k, a in arrays.items():
        if a.ndim == 0 or a.shape[0] == 0:
            raise ValueError(f"{label}: array {k!r} has shape {a.shape}; every array needs a leading batch axis with at least one sample")
    n = min(len(a) for a in arrays.values())
    if samples:
        n = min(n, samples)
    arrays = {k: np.asarray(a[:n]) for k, a in arrays.items()}
    return CalibrationData(kind, f"{label}: {n} samples of {', '.join(arrays)}", arrays=arrays)


def text_data(path: str | None, samples: int | None = None) -> CalibrationData:
    """A text file (one sample per line), or the built-in corpus when ``path`` is None."""
    samples = _check_samples(samples)
    if path is None:
        texts = corpus()[:samples]
        return CalibrationData("corpus", f"qviz's built-in corpus: {len(texts)} public-domain sentences", texts=texts)
    label = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            texts = [line.strip() for line in f if line.strip()]
    except UnicodeDecodeError:
        raise ValueError(f"{label}: is not UTF-8 text; give a text file with one sample per line") from None
    except OSError as e:
        raise ValueError(f"{label}: cannot be read ({e.strerror}); check the path") from None
    if not texts:
        raise ValueError(f"{label}: has no text lines; write one calibration sample per line")
    texts = texts[:samples]
    return CalibrationData("text", f"{label}: {len(texts)} lines of text", texts=texts)


def _per_channel(values, channels: int, what: str) -> np.ndarray:
    v = np.atleast_1d(np.asarray(values, dtype=np.float32))
    if v.size not in (1, channels):
        raise ValueError(f"image {what} has {v.size} values but the input has {channels} channels; give 1 or {channels}")
    return np.broadcast_to(v, (channels,)).astype(np.float32)


def image_data(folder: str, shape: tuple, *, mean=0.0, std=1.0, layout: str = "NCHW", samples: int | None = None,
               name: str = "input") -> CalibrationData:
    """Images of ``folder`` as one ``(N, C, H, W)`` (or NHWC) float32 array for the input ``name``.

    Each image is converted to RGB (C = 3) or grey (C = 1), resized to H×W (bilinear; a dynamic H or W
    takes the first image's), scaled to ``[0, 1]`` and normalised ``(x − mean) / std`` per channel.
    """
    samples = _check_samples(samples)
    from PIL import Image, UnidentifiedImageError

    label = os.path.basename(os.path.normpath(folder)) or folder
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"image layout must be NCHW or NHWC, got {layout!r}")
    if len(shape) != 3:
        raise ValueError(f"{label}: the model input {name!r} has shape {tuple(shape)}, not an image batch (N, C, H, W); give an .npz instead")
    c, h, w = shape if layout == "NCHW" else (shape[2], shape[0], shape[1])
    if not isinstance(c, int) or c not in (1, 3):
        raise ValueError(f"{label}: the image input {name!r} has shape {tuple(shape)}; qviz needs 1 or 3 channels")
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))[:samples]
    if not files:
        raise ValueError(f"{label}: has no images ({', '.join(IMAGE_EXTENSIONS)})")
    if not (isinstance(h, int) and h > 0 and isinstance(w, int) and w > 0):  # dynamic H/W: the first image's size
        try:
            with Image.open(os.path.join(folder, files[0])) as first:
                w0, h0 = first.size
        except (OSError, UnidentifiedImageError) as e:
            raise ValueError(f"{label}/{files[0]}: is not a readable image ({e}); remove it from the folder") from None
        h = h if isinstance(h, int) and h > 0 else h0
        w = w if isinstance(w, int) and w > 0 else w0
    m, s = _per_channel(mean, c, "mean"), _per_channel(std, c, "std")
    if (s == 0).any():
        raise ValueError("image std must not be 0")
    out = []
    for f in files:
        try:
            with Image.open(os.path.join(folder, f)) as src:
                img = src.convert("RGB" if c == 3 else "L").resize((w, h), Image.Resampling.BILINEAR)
                a = np.asarray(img, dtype=np.float32) / 255.0
        except (OSError, UnidentifiedImageError) as e:
            raise ValueError(f"{label}/{f}: is not a readable image ({e}); remove it from the folder") from None
        a = a.reshape(h, w, c)
        a = (a - m) / s
        out.append(a.transpose(2, 0, 1) if layout == "NCHW" else a)
    arr = np.stack(out).astype(np.float32)
    return CalibrationData("images", f"{label}: {len(out)} images resized to {h}×{w}, mean {m.tolist()}, std {s.tolist()}",
                           arrays={name: arr})


def synthetic_arrays(inputs: list, samples: int = 8, *, seed: int = 0, vocab: int | None = None,
                     dims: dict | None = None) -> CalibrationData:
    """Inputs made from a signature: N(0, 1) floats, token ids in ``[0, vocab)``, ones for masks.

    ``inputs`` is a list of ``(name, shape, dtype)``; unknown (symbolic) dimensions other than the
    batch take ``dims.get(name, 16)``. The leading axis is the batch (``samples`` long); when some
    input is 0-d, every array instead gets a leading sample axis before the whole input shape (batch 1).

    >>> d = synthetic_arrays([("ids", ("batch", "seq"), "int64"), ("mask", ("batch", "seq"), "int64")], 2, vocab=5)
    >>> d.arrays["ids"].shape, int(d.arrays["ids"].max()) < 5, d.arrays["mask"].min(), d.synthetic
    ((2, 16), True, np.int64(1), True)
    """
    samples = _check_samples(samples) or 8
    rng = np.random.default_rng(seed)
    per_call = any(len(tuple(shape)) == 0 for _, shape, _ in inputs)  # a 0-d input: one sample per model call
    arrays = {}
    for name, shape, dtype in inputs:
        shape = list(shape)
        fill = [d if isinstance(d, int) and d > 0 else (dims or {}).get(str(d), 16) for d in shape]
        if per_call:
            dims_ = [samples] + ([1] + fill[1:] if shape and not (isinstance(shape[0], int) and shape[0] > 0) else fill)
        else:
            dims_ = [samples] + fill[1:]
        dt = np.dtype(dtype)
        if dt.kind in "iu":
            low_name = name.lower()
            if "mask" in low_name:
                a = np.ones(dims_, dtype=dt)
            elif "type" in low_name or "position" in low_name:
                a = np.zeros(dims_, dtype=dt)
            else:
                a = rng.integers(0, vocab or 100, size=dims_).astype(dt)
        elif dt.kind == "b":
            a = np.ones(dims_, dtype=dt)
        else:
            a = rng.standard_normal(dims_).astype(dt)
        arrays[name] = a
    what = ", ".join(f"{k} {tuple(v.shape)}" for k, v in arrays.items())
    return CalibrationData("synthetic", f"synthetic: {samples} random samples from the input signature ({what})", arrays=arrays)
