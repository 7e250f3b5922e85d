"""How one tensor becomes tasks on a cluster (:mod:`qviz.distributed`).

A tensor up to ``chunk_numel`` values is one task, :func:`qviz.distributed.weight_task`.
"""

from __future__ import annotations


def submit_weight(client, path: str, name: str, numel: int, spec, method: str, options: dict, chunk_numel: int, key: str):
    """A future of ``name``'s analysis row."""
    from .distributed import weight_task

    return client.submit(weight_task, path, name, spec, method, options, chunk_numel, key=key, pure=False)
