"""Calibrator speed: qviz against torch, ONNX Runtime and Model Optimizer, in one run on the same tensors.

Run ``python benchmarks/calibrators.py`` (``--quick`` for small tensors). Prints one
table of times and the ratios, and exits 1 if a target is missed:

* qviz ``entropy`` ≥ 20× faster than Model Optimizer's entropy (``HistogramCalibrator``,
  2048 bins) and ≥ 5× faster than ONNX Runtime's Entropy calibrator with 2048 bins;
* every qviz calibrator on the 16M tensors within 3× of torch's ``HistogramObserver``.

Each time is the best of ``--repeat`` runs (the slow references run once), all
from the raw tensor to the calibrated range.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "calibrate"))

import calib_refs

import qviz

METHODS = ("minmax", "moving_average", "percentile", "entropy", "mse", "aciq")


def best_time(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def tensors(quick: bool):
    rng = np.random.default_rng(0)
    big = 1 << (20 if quick else 24)
    small = 1 << (18 if quick else 20)
    return {
        f"gauss {small >> 20 or small / 2**20:g}M": rng.standard_normal(small, dtype=np.float32),
        f"gauss {big / 2**20:g}M": rng.standard_normal(big, dtype=np.float32),
        f"student-t(3) {big / 2**20:g}M": rng.standard_t(3, size=big).astype(np.float32),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="256K/1M elements instead of 1M/16M")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    spec = qviz.QuantSpec()  # int8 symmetric, TensorRT's setting
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; spec: {spec.describe()}")
    failures = []
    data = tensors(args.quick)
    big_n = max(x.size for x in data.values())
    for name, x in data.items():
        xt = torch.from_numpy(x)
        ref = {
            "torch HistogramObserver": best_time(lambda xt=xt: calib_refs.histogram_observer_qparams(xt), args.repeat),
            "ORT entropy (2048 bins)": best_time(lambda x=x: calib_refs.ort_entropy(x), 1),
            "modelopt entropy": best_time(lambda x=x: calib_refs.modelopt_entropy(x), 1),
            "modelopt mse (fixed)": best_time(lambda x=x: calib_refs.modelopt_mse_fixed(x), 1),
        }
        ours = {m: best_time(lambda m=m, x=x: qviz.calibrate(x, spec, m), args.repeat) for m in METHODS}
        hobs = ref["torch HistogramObserver"]
        print(f"\n{name}")
        print(f"  {'calibrator':28s} {'time (s)':>9s}  {'vs HistogramObserver':>21s}")
        for k, v in ref.items():
            print(f"  {k:28s} {v:9.3f}  {v / hobs:20.2f}x")
        for k, v in ours.items():
            print(f"  {'qviz ' + k:28s} {v:9.3f}  {v / hobs:20.2f}x")
        e = ours["entropy"]
        r_mo, r_ort = ref["modelopt entropy"] / e, ref["ORT entropy (2048 bins)"] / e
        r_mse = ref["modelopt mse (fixed)"] / ours["mse"]
        print(
            f"  qviz entropy is {r_mo:.0f}x faster than modelopt entropy (target >= 20x), "
            f"{r_ort:.0f}x faster than ORT entropy (target >= 5x); qviz mse {r_mse:.0f}x faster than modelopt mse"
        )
        if r_mo < 20:
            failures.append(f"{name}: entropy only {r_mo:.1f}x faster than modelopt")
        if r_ort < 5:
            failures.append(f"{name}: entropy only {r_ort:.1f}x faster than ORT")
        if x.size == big_n:
            for k, v in ours.items():
                if v > 3 * hobs:
                    failures.append(f"{name}: qviz {k} takes {v / hobs:.2f}x HistogramObserver's time (target <= 3x)")
    print()
    if failures:
        print("MISSED:\n  " + "\n  ".join(failures))
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
