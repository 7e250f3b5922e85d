"""The reference calibrators qviz is compared against, behind one small call each.

Used by the calibrator tests and by ``benchmarks/calibrators.py``. Test-only
dependencies: torch's observers, NVIDIA Model Optimizer (``nvidia-modelopt``) and
ONNX Runtime.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings

import numpy as np
import torch

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _modelopt():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from modelopt.torch.quantization.calib import HistogramCalibrator
        from modelopt.torch.quantization.calib import histogram as mo_hist
        from modelopt.torch.quantization.tensor_quant import fake_tensor_quant
    return HistogramCalibrator, mo_hist, fake_tensor_quant


def modelopt_histogram(x: np.ndarray, num_bins: int = 2048):
    """Model Optimizer's ``HistogramCalibrator`` after ``collect(x)`` (torch_hist path, |x| histogram)."""
    HistogramCalibrator, _, _ = _modelopt()
    cal = HistogramCalibrator(num_bits=8, num_bins=num_bins)
    cal.collect(torch.from_numpy(np.asarray(x, np.float32)))
    return cal._calib_hist.int().numpy(), cal._calib_bin_edges.numpy()


def modelopt_entropy(x, num_bits=8, unsigned=False, num_bins=2048, batches=1) -> float:
    """``HistogramCalibrator(...).compute_amax("entropy")`` on ``x`` (optionally in ``batches`` parts)."""
    HistogramCalibrator, _, _ = _modelopt()
    cal = HistogramCalibrator(num_bits=num_bits, unsigned=unsigned, num_bins=num_bins)
    for part in np.array_split(np.asarray(x, np.float32), batches):
        cal.collect(torch.from_numpy(np.ascontiguousarray(part)))
    return float(cal.compute_amax("entropy"))


def modelopt_entropy_on(hist, edges, num_bits=8, unsigned=False) -> float:
    """``_compute_amax_entropy`` on a given histogram."""
    _, mo_hist, _ = _modelopt()
    return float(mo_hist._compute_amax_entropy(np.array(hist), np.array(edges), num_bits, unsigned))


def modelopt_percentile(x, percentile=99.99, num_bins=2048) -> float:
    HistogramCalibrator, _, _ = _modelopt()
    cal = HistogramCalibrator(num_bits=8, num_bins=num_bins)
    cal.collect(torch.from_numpy(np.asarray(x, np.float32)))
    return float(cal.compute_amax("percentile", percentile=percentile))


def modelopt_mse_fixed(x, num_bits=8, unsigned=False, num_bins=2048, start_bin=128) -> float:
    """Model Optimizer's ``_compute_amax_mse`` with its ``fake_tensor_quant`` call fixed.

    0.37–0.47 call ``fake_tensor_quant(centers, amax, num_bits, unsigned)``, which puts
    ``num_bits`` into the ``bias`` slot and ``unsigned`` into ``num_bits``; here the
    arguments are passed by keyword. Everything else is the original loop.
    """
    _, _, fake_tensor_quant = _modelopt()
    hist, edges = modelopt_histogram(x, num_bins)
    counts = torch.from_numpy(hist).float()
    edges = torch.from_numpy(edges).float()
    centers = (edges[1:] + edges[:-1]) / 2
    mses, args = [], []
    for i in range(start_bin, len(centers)):
        amax = centers[i]
        q = fake_tensor_quant(centers, amax, None, num_bits=num_bits, unsigned=unsigned)
        mses.append(((q - centers) ** 2 * counts).mean())
        args.append(i)
    return float(centers[args[int(np.argmin(mses))]])


def histogram_observer_qparams(x, dtype=torch.quint8, qscheme=torch.per_tensor_affine):
    """torch ``HistogramObserver`` (defaults: 2048 bins, quint8 affine): ``(scale, zero_point)``."""
    from torch.ao.quantization.observer import HistogramObserver

    obs = HistogramObserver(dtype=dtype, qscheme=qscheme)
    obs(torch.from_numpy(np.asarray(x, np.float32)))
    s, z = obs.calculate_qparams()
    return float(s), int(z)


def ort_entropy(x, num_bins=2048, num_quantized_bins=128) -> float:
    """ONNX Runtime's Entropy calibrator (``HistogramCollector``, symmetric): the threshold."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    col = HistogramCollector("entropy", True, num_bins, num_quantized_bins, 99.99, "same")
    with contextlib.redirect_stdout(io.StringIO()):
        col.collect({"t": [np.asarray(x, np.float32)]})
        res = col.compute_collection_result()
    return float(res["t"][1])


def mse_of(x, qparams) -> float:
    """Real fake-quantization MSE (float64 mean) with qviz's fake_quantize."""
    import qviz

    x = np.asarray(x, np.float32)
    return float(np.mean((qviz.fake_quantize(x, qparams).astype(np.float64) - x) ** 2))


def torch_mse(x, scale, zero_point, qmin=0, qmax=255) -> float:
    t = torch.from_numpy(np.asarray(x, np.float32))
    fq = torch.fake_quantize_per_tensor_affine(t, scale, zero_point, qmin, qmax)
    return float(((fq.double() - t.double()) ** 2).mean())
