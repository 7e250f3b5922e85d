"""Matrix product and convolution on quantized codes, in int32, with the zero-point corrections of Jacob et al., CVPR 2018, eq. 7.

With ``a ≈ S_a·(q_a - Z_a)`` and ``b ≈ S_b·(q_b - Z_b)`` (Jacob et al., CVPR 2018, eq. 7)::

    a·b ≈ S_a·S_b · Σ_k (q_a[i,k] - Z_a)(q_b[k,j] - Z_b)
        = S_a·S_b · ( Σ_k q_a·q_b                  product
                      - Z_b · Σ_k q_a[i,k]          row-sum term
                      - Z_a · Σ_k q_b[k,j]          column-sum term
                      + K · Z_a · Z_b )             constant term

Every term is an integer (int32 here; the accumulation is checked not to
overflow). A convolution is the same product over im2col patches: ``K`` becomes
``C·kh·kw`` (the paper writes the constant as ``z_x·z_w``; the sum over the
window makes it ``K·z_x·z_w``) and padding uses ``Z_x``, the code of a real 0.

Example
-------
>>> r = quantized_matmul(np.array([[130, 120]]), 128, np.array([[3], [5]]), 4)
>>> int(r.acc[0, 0]), int(r.product[0, 0]), int(r.row_term[0, 0]), int(r.col_term[0, 0]), r.constant
(-10, 990, -1000, -1024, 1024)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .multiplier import INT32_MAX, INT32_MIN


@dataclass(frozen=True, eq=False)
class IntProduct:
    """``acc = product + row_term + col_term + constant`` (all int32, shape of the output)."""

    product: np.ndarray
    row_term: np.ndarray
    col_term: np.ndarray
    constant: int
    acc: np.ndarray
    k: int

    def terms(self) -> dict:
        """The four contributions by name, for a table or a waterfall."""
        c = np.full(self.acc.shape, self.constant, dtype=np.int64)
        return {"Σ q_a·q_b": self.product, "−Z_b·Σ q_a": self.row_term, "−Z_a·Σ q_b": self.col_term, "K·Z_a·Z_b": c}


def _codes(q, what: str) -> np.ndarray:
    a = np.asarray(q)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{what} must be integer codes (e.g. uint8 from qviz.quantize), got dtype {a.dtype}")
    return a.astype(np.int64)


def _int32(v: np.ndarray, what: str) -> np.ndarray:
    if v.size and (v.min() < INT32_MIN or v.max() > INT32_MAX):
        raise ValueError(f"the {what} overflows int32: use fewer terms (smaller K) or narrower codes")
    return v.astype(np.int32)


def quantized_matmul(q_a, z_a: int, q_b, z_b: int) -> IntProduct:
    """``Σ_k (q_a - Z_a)(q_b - Z_b)`` for ``q_a`` of shape (M, K) and ``q_b`` of shape (K, N), term by term."""
    a, b = _codes(q_a, "q_a"), _codes(q_b, "q_b")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"q_a must be (M, K) and q_b (K, N); got {a.shape} and {b.shape}")
    za, zb, k = int(z_a), int(z_b), a.shape[1]
    product = _int32(a @ b, "product Σ q_a·q_b")
    row = _int32(-zb * a.sum(axis=1, keepdims=True) * np.ones((1, b.shape[1]), dtype=np.int64), "row-sum term")
    col = _int32(-za * b.sum(axis=0, keepdims=True) * np.ones((a.shape[0], 1), dtype=np.int64), "column-sum term")
    constant = k * za * zb
    acc64 = product.astype(np.int64) + row + col + constant
    return IntProduct(product, row, col, int(constant), _int32(acc64, "accumulator"), k)


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0, pad_value=0) -> tuple[np.ndarray, int, int]:
    """Patches of ``x`` (N, C, H, W) as rows (N, Ho·Wo, C·kh·kw), and (Ho, Wo)."""
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=pad_value)
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    n, c, ho, wo = win.shape[:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n, ho * wo, c * kh * kw), ho, wo


def quantized_conv2d(q_x, z_x: int, q_w, z_w: int, stride: int = 1, padding: int = 0) -> IntProduct:
    """2-D convolution (cross-correlation, as torch) of codes ``q_x`` (N, C, H, W) by ``q_w`` (O, C, kh, kw).

    Returns the terms shaped (N, O, Ho, Wo); ``k = C·kh·kw``. Padding is filled with ``z_x``.
    """
    x, w = _codes(q_x, "q_x"), _codes(q_w, "q_w")
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        raise ValueError(f"q_x must be (N, C, H, W) and q_w (O, C, kh, kw) with the same C; got {x.shape} and {w.shape}")
    if stride < 1 or padding < 0:
        raise ValueError("stride must be >= 1 and padding >= 0")
    cols, ho, wo = im2col(x, w.shape[2], w.shape[3], stride, padding, pad_value=int(z_x))
    wm = w.reshape(w.shape[0], -1).T  # (K, O)
    parts = [quantized_matmul(cols[i], z_x, wm, z_w) for i in range(x.shape[0])]

    def stack(name):
        return np.stack([getattr(p, name) for p in parts]).reshape(x.shape[0], ho, wo, -1).transpose(0, 3, 1, 2)

    return IntProduct(stack("product"), stack("row_term"), stack("col_term"), parts[0].constant, stack("acc"), parts[0].k)


@dataclass(frozen=True, eq=False)
class ProductCheck:
    """A float product next to its quantized, integer-only version."""

    exact: np.ndarray  # a @ b in float64
    dequantized: np.ndarray  # S_a·S_b·acc in float64
    fake_quant: np.ndarray  # (fake-quantized a) @ (fake-quantized b) in float64
    ints: IntProduct
    scale_a: float
    zero_a: int
    scale_b: float
    zero_b: int


def check_matmul(a, b, spec=None) -> ProductCheck:
    """Quantize float ``a`` (M, K) and ``b`` (K, N) with ``spec`` (min-max; default uint8 affine) and multiply in integers.

    ``dequantized`` equals ``fake_quant`` up to float64 rounding (the identity above);
    both differ from ``exact`` by the quantization error.
    """
    from ..affine import fake_quantize, quantize
    from ..calibrate import calibrate
    from ..spec import PerTensor, QuantSpec

    spec = spec or QuantSpec(bits=8, signed=False, symmetric=False)
    if not isinstance(spec.granularity, PerTensor):
        raise ValueError("check_matmul uses one scale and zero point per operand: pass a per-tensor spec")
    a32, b32 = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    qa, qb = calibrate(a32, spec, "minmax").qparams, calibrate(b32, spec, "minmax").qparams
    za, zb = int(np.ravel(qa.zero_point)[0]), int(np.ravel(qb.zero_point)[0])
    ints = quantized_matmul(quantize(a32, qa), za, quantize(b32, qb), zb)
    sa, sb = float(np.ravel(qa.scale)[0]), float(np.ravel(qb.scale)[0])
    fa, fb = fake_quantize(a32, qa).astype(np.float64), fake_quantize(b32, qb).astype(np.float64)
    return ProductCheck(a32.astype(np.float64) @ b32, sa * sb * ints.acc.astype(np.float64), fa @ fb, ints,
                        sa, za, sb, zb)
