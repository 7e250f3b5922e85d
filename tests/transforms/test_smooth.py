"""SmoothQuant scales against the reference's formula and guards (mit-han-lab/smoothquant, smooth_ln_fcs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qviz
from qviz.transforms import channel_absmax


def reference_scales(act_scales: torch.Tensor, weight: torch.Tensor, alpha: float) -> torch.Tensor:
    """The lines of smoothquant/smooth.py's smooth_ln_fcs that compute the scales (one Linear)."""
    weight_scales = weight.abs().max(dim=0, keepdim=True)[0]
    weight_scales = weight_scales.max(dim=0)[0].clamp(min=1e-5)
    return (act_scales.pow(alpha) / weight_scales.pow(1 - alpha)).clamp(min=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 0.85, 1.0])
def test_matches_the_reference_including_zero_channels(alpha):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 48)).astype(np.float32) * rng.uniform(0.01, 30, 48).astype(np.float32)
    w = rng.standard_normal((32, 48)).astype(np.float32)
    x[:, 3] = 0  # an all-zero activation channel
    w[:, 7] = 0  # an all-zero weight column
    act = torch.from_numpy(x).abs().max(dim=0)[0]
    want = reference_scales(act, torch.from_numpy(w), alpha).numpy()
    got = qviz.smooth_scales(channel_absmax(x, 0), channel_absmax(w, 0), alpha)
    np.testing.assert_allclose(got, want, rtol=2e-6)
    assert np.isfinite(got).all() and (got >= 1e-5 * (1 - 1e-6)).all()


def test_smoothing_equivalence_and_flattening():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((100, 64))
    x[:, [2, 40]] *= 80
    w = rng.standard_normal((16, 64))
    s = qviz.smooth_scales(np.abs(x).max(0), np.abs(w).max(0), 0.5).astype(np.float64)
    np.testing.assert_allclose((x / s) @ (w * s).T, x @ w.T, rtol=1e-12, atol=1e-12)  # (X/s)·(s·W)ᵀ = X·Wᵀ
    after = np.abs(x / s).max(0)
    assert after.max() / after.min() < (np.abs(x).max(0).max() / np.abs(x).max(0).min()) / 5
    # α = 0.5 balances: max|X_j/s_j| = max|W_j·s_j| = sqrt(max|X_j|·max|W_j|)
    np.testing.assert_allclose(after, np.abs(w * s).max(0), rtol=1e-6)


def test_bad_input_is_one_clear_line():
    with pytest.raises(ValueError, match="alpha must be a number from 0 to 1"):
        qviz.smooth_scales([1.0], [1.0], 1.5)
    with pytest.raises(ValueError, match="x_absmax has 2 channels but w_absmax has 3"):
        qviz.smooth_scales([1.0, 2.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="NaN or Inf"):
        qviz.smooth_scales([np.nan], [1.0])
    with pytest.raises(ValueError, match="empty"):
        qviz.smooth_scales([], [])
