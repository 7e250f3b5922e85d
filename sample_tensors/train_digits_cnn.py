"""Train the built-in digits CNN and write ``sample_tensors/digits_cnn.safetensors``.

Run from the repo root: ``python sample_tensors/train_digits_cnn.py`` (about 2 s on
one CPU thread; deterministic: seed 0, one thread). Prints the test accuracy.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
from safetensors.torch import save_file

from qviz.models import digits_cnn


def main(epochs: int = 15, batch_size: int = 64, lr: float = 3e-3, out: str = digits_cnn.WEIGHTS) -> float:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # faster and deterministic for a model this small
    try:
        return _train(epochs, batch_size, lr, out)
    finally:
        torch.set_num_threads(threads)


def _train(epochs: int, batch_size: int, lr: float, out: str) -> float:
    torch.manual_seed(0)
    x_train, y_train, _, _ = digits_cnn.dataset()
    x, y = torch.from_numpy(x_train), torch.from_numpy(y_train)
    model = digits_cnn.make_module()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(epochs):
        digits_cnn.train_epoch(model, opt, x, y, batch_size, gen)
        sched.step()
    model.eval()
    acc = digits_cnn.evaluate(model)
    n = sum(p.numel() for p in model.parameters())
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, out, metadata={"test_accuracy": f"{acc:.4f}", "params": str(n)})
    os.chmod(out, 0o644)
    print(f"{n:,} parameters, trained in {time.perf_counter() - start:.1f} s, test accuracy {acc:.4f} -> {out}")
    return acc


if __name__ == "__main__":
    main()
