"""A long-lived (shared) ModelQuantizer keeps a bounded number of fake-quantized weight copies."""

from __future__ import annotations

import numpy as np

import qviz
from qviz.impact import quantized_model as qm


def test_weight_and_activation_caches_are_bounded_lru():
    mq = qviz.ModelQuantizer("digits_cnn")
    first = {n: mq.weight_qparams(n, qviz.QuantSpec(bits=2)).scale.copy() for n in mq.layers}
    for bits in range(2, 10):  # a sweep over eight specs
        for n in mq.layers:
            mq.weight_qparams(n, qviz.QuantSpec(bits=bits))
    assert len(mq._wq) == qm.WEIGHT_SPECS_KEPT * len(mq.layers)
    assert {k[1].bits for k in mq._wq} == {6, 7, 8, 9}  # the most recent specs stay
    for n in mq.layers:  # an evicted spec is recomputed, identically
        assert np.array_equal(mq.weight_qparams(n, qviz.QuantSpec(bits=2)).scale, first[n])
    for bits in range(1, 17):  # fill the activation cache with 16 (cheap) entries, then ask for one more spec
        mq._aq[qviz.QuantSpec(bits=bits)] = {}
    mq.activation_qparams(qviz.QuantSpec(bits=8, symmetric=False))
    assert len(mq._aq) <= qm.ACTIVATION_SPECS_KEPT
