"""Built-in models: a digits CNN trained in this repo and all-MiniLM-L6-v2, plus activation capture.

Each model module exposes ``NAME``, ``TITLE``, ``TASK_METRIC``, ``weights_path()``,
``build()`` (an eval-mode ``torch.nn.Module``), ``calibration_batches()``,
``run(model, batch)`` and ``evaluate(model)`` (the task metric). torch is
imported inside them, never at ``import qviz``.
"""
