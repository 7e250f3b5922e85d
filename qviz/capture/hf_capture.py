"""Run a Hugging Face model folder with ``transformers`` on CPU and capture every Linear/Conv input.

The folder is what ``save_pretrained`` writes: ``config.json`` and safetensors (or ``.bin``) weights, with a
tokenizer for text models. It loads from local files only (``local_files_only=True``) and never runs code
from the folder (``trust_remote_code=False``): a model that needs remote code is refused with one line.
Forward hooks on every ``nn.Linear``, ``nn.Conv1d/2d/3d`` and GPT-2's ``Conv1D`` (:mod:`qviz.models.capture`)
stream each layer's input into a :class:`qviz.Calibrator`.

Inputs: text through the folder's tokenizer (a text file, one sample per line, or qviz's built-in corpus by
default); an ``.npz`` of keyword arguments (``input_ids``, ``pixel_values``, …); or, without a tokenizer
or data, synthetic inputs: random token ids below ``vocab_size`` (or N(0, 1) ``pixel_values`` for image
models), flagged ``synthetic``. The model's output (for output fidelity) is ``logits`` when it has them,
else ``last_hidden_state``, else its first tensor.
"""

from __future__ import annotations

import glob
import json
import os

import numpy as np

from ..spec import QuantSpec
from .memory import check_fits

MAX_TOKENS = 128
SYNTHETIC_TOKENS = 16


def conv1d_class():
    """transformers' GPT-2 ``Conv1D`` (a Linear with a transposed weight), or None."""
    try:
        from transformers.pytorch_utils import Conv1D
    except ImportError:
        return None
    return Conv1D


def layer_kinds() -> tuple:
    import torch

    kinds = [torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d]
    c = conv1d_class()
    return tuple(kinds + ([c] if c is not None else []))


def is_hf_folder(path) -> bool:
    return isinstance(path, (str, os.PathLike)) and os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.json"))


class HFModel:
    """A ``transformers`` model folder ready to run on calibration data."""

    kind = "transformers"

    def __init__(self, folder, label: str | None = None):
        self.folder = os.fspath(folder)
        self.label = label or os.path.basename(os.path.normpath(self.folder))
        try:
            with open(os.path.join(self.folder, "config.json"), encoding="utf-8") as f:
                self.config = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"{self.label}: config.json cannot be read ({e}); save the model with save_pretrained") from None
        if not isinstance(self.config, dict):
            raise ValueError(f"{self.label}: config.json is not a JSON object; save the model with save_pretrained")
        files = [p for ext in ("safetensors", "bin") for p in glob.glob(os.path.join(self.folder, f"*.{ext}"))]
        if not files:
            raise ValueError(f"{self.label}: has config.json but no weights (.safetensors or .bin); save the model with save_pretrained")
        size = sum(os.path.getsize(p) for p in files)
        half = str(self.config.get("torch_dtype", self.config.get("dtype", ""))) in ("float16", "bfloat16")
        self.weight_bytes = size * (2 if half else 1)  # run in float32
        self.has_tokenizer = any(os.path.isfile(os.path.join(self.folder, f)) for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"))
        self._model = None
        self._tok = None
        self.data_description = ""
        self.synthetic = False

    # ------------------------------------------------------------------ loading
    def model(self, check_memory: bool = True):
        """The fp32 ``torch.nn.Module`` (loaded once, eval mode, CPU)."""
        if self._model is None:
            if check_memory:
                check_fits(self.label, self.weight_bytes)
            import torch
            import transformers

            transformers.utils.logging.disable_progress_bar()
            transformers.utils.logging.set_verbosity_error()
            try:
                cfg = transformers.AutoConfig.from_pretrained(self.folder, local_files_only=True, trust_remote_code=False)
            except ValueError as e:
                if "trust_remote_code" in str(e) or "auto_map" in self.config:
                    raise ValueError(f"{self.label}: needs code from the model folder (trust_remote_code), which qviz never runs; "
                                     "use a model transformers supports natively, or export it to ONNX") from None
                raise ValueError(f"{self.label}: transformers cannot read its config ({' '.join(str(e).split())[:160]}); "
                                 "check config.json") from None
            arch = (cfg.architectures or [None])[0]
            cls = getattr(transformers, arch, None) if arch else None
            cls = cls or transformers.AutoModel
            try:
                model = cls.from_pretrained(self.folder, local_files_only=True, trust_remote_code=False, dtype=torch.float32)
            except (OSError, ValueError, RuntimeError, KeyError) as e:
                raise ValueError(f"{self.label}: transformers cannot load it ({' '.join(str(e).split())[:200]}); "
                                 "check that the folder is complete") from None
            self._model = model.eval()
        return self._model

    def tokenizer(self):
        if self._tok is None and self.has_tokenizer:
            from transformers import AutoTokenizer

            try:
                tok = AutoTokenizer.from_pretrained(self.folder, local_files_only=True, trust_remote_code=False)
            except (OSError, ValueError) as e:
                raise ValueError(f"{self.label}: its tokenizer cannot be loaded ({' '.join(str(e).split())[:160]}); "
                                 "give an .npz of input_ids instead") from None
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token or tok.unk_token
            self._tok = tok
        return self._tok

    @property
    def is_image_model(self) -> bool:
        return "num_channels" in self.config and "image_size" in self.config and "vocab_size" not in self.config

    # ------------------------------------------------------------------ data
    def resolve_data(self, data=None, samples: int | None = None):
        """A :class:`qviz.data.CalibrationData`: text, arrays or synthetic (see the module docstring)."""
        from ..data import CalibrationData, data_kind, load_arrays, synthetic_arrays, text_data

        if isinstance(data, CalibrationData):
            return data
        if isinstance(data, dict):
            return CalibrationData("arrays", f"arrays given in Python: {', '.join(data)}", arrays={k: np.asarray(v) for k, v in data.items()})
        if data is None:
            if self.has_tokenizer:
                return text_data(None, samples)
            if self.is_image_model:
                c, s = int(self.config["num_channels"]), int(self.config["image_size"])
                return synthetic_arrays([("pixel_values", ("batch", c, s, s), "float32")], samples or 8)
            vocab = int(self.config.get("vocab_size") or 100)
            return synthetic_arrays([("input_ids", ("batch", "sequence"), "int64")], samples or 8, vocab=vocab,
                                    dims={"sequence": SYNTHETIC_TOKENS})
        path = os.fspath(data)
        kind = data_kind(path)
        if kind == "text":
            if not self.has_tokenizer:
                raise ValueError(f"{self.label}: has no tokenizer in its folder, so text cannot be fed; give an .npz of input_ids")
            return text_data(path, samples)
        if kind == "arrays":
            return load_arrays(path, samples)
        raise ValueError(f"{os.path.basename(path)}: images for a transformers folder are not supported; give an .npz of pixel_values")

    def batches(self, cdata, batch_size: int = 8) -> list:
        """Keyword-argument batches (torch tensors) for ``model(**batch)``."""
        import torch

        if cdata.texts:
            tok = self.tokenizer()
            out = []
            for texts in cdata.text_batches(batch_size):
                enc = tok(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
                out.append(dict(enc))
            return out
        out = []
        for b in cdata.array_batches(batch_size):
            batch = {}
            for k, v in b.items():
                if v.dtype.kind not in "fiub":
                    raise ValueError(f"{self.label}: array {k!r} has dtype {v.dtype}; give numbers")
                t = torch.from_numpy(np.ascontiguousarray(v))
                batch[k] = t.float() if t.is_floating_point() else t.long() if v.dtype.kind in "iu" else t
            out.append(batch)
        return out

    @staticmethod
    def run(model, batch):
        return model(**batch)

    @staticmethod
    def output(result):
        """The tensor whose fidelity is measured: ``logits``, ``last_hidden_state``, or the first tensor."""
        import torch

        for key in ("logits", "last_hidden_state"):
            v = getattr(result, key, None)
            if isinstance(v, torch.Tensor):
                return v
        if isinstance(result, torch.Tensor):
            return result
        return next(v for v in (result.values() if hasattr(result, "values") else result) if isinstance(v, torch.Tensor))

    def forward(self, model, batch):
        """One forward pass with the failure as one line."""
        try:
            return self.run(model, batch)
        except Exception as e:  # noqa: BLE001 - any model error is the user's data or model
            raise ValueError(f"{self.label}: the forward pass failed ({type(e).__name__}: {' '.join(str(e).split())[:200]}); "
                             f"check the calibration data's names ({', '.join(batch)}) and shapes") from None

    def capture(self, spec: QuantSpec, method: str = "minmax", *, data=None, samples: int | None = None, batch_size: int = 8,
                progress=None, sample_numel: int | None = None, check_memory: bool = True, **options):
        """Run on the calibration data; one Activation per Linear/Conv/Conv1D input (module order)."""
        from ..models.capture import capture

        cdata = self.resolve_data(data, samples)
        self.data_description, self.synthetic = cdata.description, cdata.synthetic
        model = self.model(check_memory)
        batches = self.batches(cdata, batch_size)
        kw = {} if sample_numel is None else {"sample_numel": sample_numel}
        total = len(batches)
        step = (lambda d, t, m: progress(d, total, m)) if progress else None
        acts = capture(model, batches, spec, method, run=lambda m, b: self.forward(m, b), kinds=layer_kinds(), progress=step,
                       **kw, **options)
        note = f"{'synthetic data — ' if cdata.synthetic else ''}{cdata.description}"
        for a in acts:
            a.note = "; ".join(n for n in (a.note, note) if n)
        return acts
