"""Hadamard rotations (QuaRot, SpinQuant): spread an outlier channel over all channels.

An orthonormal ``R`` leaves a Linear layer unchanged, ``(X·R)·(W·R)ᵀ = X·Wᵀ``, and a
Hadamard ``R`` mixes every channel into every other with equal weight ±1/√n, so one
huge channel becomes n moderate ones (lower max|x|, kurtosis towards Gaussian)::

    Sylvester     H₁ = [1],  H₂ₖ = [[Hₖ, Hₖ], [Hₖ, −Hₖ]],   R = H_n / √n   (n a power of two)
    block         R = diag(H_b, …, H_b) / √b                 (b | n: widths such as 384 = 3·128)
    randomised    R = D · R,  D = diag(±1) drawn from ``seed``   (QuaRot's random_hadamard_matrix)

The induced-outlier case: the first row and column of H are all +1, so a vector whose
channels all share one sign (a large mean, a DC offset) is mapped onto one channel of
size √n·mean — the rotation *creates* an outlier; random signs break that pattern.

Example
-------
>>> import numpy as np
>>> r = hadamard(4)
>>> (r * 2).astype(int).tolist()
[[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]
>>> bool(np.allclose(r @ r.T, np.eye(4)))
True
"""

from __future__ import annotations

import numpy as np

#: the block sizes of a block-diagonal Hadamard for widths that are not a power of two
BLOCKS = (16, 32, 64, 128)


def is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def sylvester(n: int) -> np.ndarray:
    """The ±1 Sylvester Hadamard matrix of order ``n`` (a power of two), unnormalised, float64."""
    if not is_power_of_two(n):
        raise ValueError(f"a Sylvester Hadamard matrix needs a power-of-two order, got {n}")
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def valid_blocks(n: int) -> list[int]:
    """Block sizes a block-diagonal Hadamard of width ``n`` can use: powers of two (≥ 2) dividing ``n``."""
    return [b for b in (1 << k for k in range(1, max(n, 1).bit_length())) if n % b == 0]


def default_block(n: int) -> int:
    """``n`` itself for a power of two, else the largest of :data:`BLOCKS` dividing ``n``."""
    if is_power_of_two(n):
        return n
    for b in sorted(BLOCKS, reverse=True):
        if n % b == 0:
            return b
    raise ValueError(
        f"hadamard: width {n} is not a power of two and none of the blocks {', '.join(map(str, BLOCKS))} divides it; "
        f"widths that work are powers of two or multiples of 16 (e.g. {16 * (n // 16) or 16} or {16 * (n // 16 + 1)})"
    )


def hadamard(n: int, block: int | None = None, seed: int | None = None) -> np.ndarray:
    """An orthonormal (randomised, block-diagonal) Hadamard matrix of width ``n``.

    Parameters
    ----------
    n : int
        Width (a Linear layer's input features).
    block : int, optional
        Block size of a block-diagonal Hadamard, a power of two dividing ``n``
        (16, 32, 64 or 128 in practice). Default: ``n`` when ``n`` is a power of two,
        else the largest of 128, 64, 32, 16 dividing ``n``.
    seed : int, optional
        When given, the rows are multiplied by random signs ``D = diag(±1)`` (a
        randomised Hadamard, ``D·H``), drawn with ``numpy.random.default_rng(seed)``.

    Returns
    -------
    ndarray of float32, shape (n, n)
        ``R`` with ``R·Rᵀ = I``; rotate with ``X·R`` and ``W·R``.

    Raises
    ------
    ValueError
        A width no block divides, or a block that is not a power of two dividing ``n``
        (the message lists the blocks that work).

    Examples
    --------
    >>> hadamard(384, block=128).shape
    (384, 384)
    >>> hadamard(100)
    Traceback (most recent call last):
    ...
    ValueError: hadamard: width 100 is not a power of two and none of the blocks 16, 32, 64, 128 divides it; widths that work are powers of two or multiples of 16 (e.g. 96 or 112)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"hadamard: the width must be a positive int, got {n!r}")
    n = int(n)
    if block is None:
        b = default_block(n)
    else:
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
            raise ValueError(f"hadamard: block must be a positive int such as 16, 32, 64 or 128, got {block!r}")
        b = int(block)
        if not is_power_of_two(b) or n % b:
            works = valid_blocks(n)
            raise ValueError(
                f"hadamard: block {b} is not a power of two dividing the width {n}; "
                + (f"blocks that work for {n}: {', '.join(map(str, works))}" if works else f"{n} is odd: no Hadamard block fits it")
            )
    h = (sylvester(b) / np.sqrt(b)).astype(np.float32)
    r = h if b == n else np.kron(np.eye(n // b, dtype=np.float32), h)
    if seed is not None:
        signs = np.random.default_rng(seed).integers(0, 2, n).astype(np.float32) * 2 - 1
        r = signs[:, None] * r
    return np.ascontiguousarray(r, dtype=np.float32)


def block_structure(r: np.ndarray) -> int:
    """The smallest power-of-two ``b`` such that ``r`` is block-diagonal with aligned ``b × b`` blocks (``n`` if none)."""
    n = r.shape[0]
    total = np.count_nonzero(r)
    for b in valid_blocks(n):
        if b == n:
            break
        diag = np.einsum("ibic->ibc", r.reshape(n // b, b, n // b, b))
        if np.count_nonzero(diag) == total:
            return b
    return n


def rotate(x: np.ndarray, r: np.ndarray, block: int | None = None) -> np.ndarray:
    """``x · r`` for ``x`` of shape (m, n), block by block when ``r`` is block-diagonal (n·b instead of n² per row)."""
    n = r.shape[0]
    b = block_structure(r) if block is None else block
    if b >= n:
        return _mm(x, r)
    k = n // b
    blocks = np.ascontiguousarray(np.einsum("ibic->ibc", r.reshape(k, b, k, b)))
    xb = np.ascontiguousarray(x.reshape(x.shape[0], k, b).transpose(1, 0, 2))  # (k, m, b)
    return np.ascontiguousarray(_mm(xb, blocks).transpose(1, 0, 2)).reshape(x.shape[0], n)


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 matrix product through torch (multithreaded BLAS without numpy's small-matrix overheads).

    Transposed views (``w.T``) go to BLAS as they are (torch passes the transpose flag): no copy.
    """
    import torch

    def t(m):
        return torch.from_numpy(m if all(s >= 0 for s in m.strides) else np.ascontiguousarray(m))

    return torch.matmul(t(a), t(b)).numpy()
