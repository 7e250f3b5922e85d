"""Re-render latency of every page after a widget change, and the size of its largest figure.

Run: python benchmarks/app_latency.py [--repeats N]

Each page is opened in AppTest on its default view (default sample / built-in model), then
the bits slider is moved through distinct values (every change is a cache miss: a new spec)
and, separately, back and forth between two values (cache hits). The target is a median
under 300 ms for a cold change on the default sample; exit status 1 if a page misses it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["pages/playground.py", "pages/inspector.py", "pages/calibrators.py", "pages/layers.py"]
TARGET_MS = 300.0


def _open(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    if page != PAGES[0]:
        at.switch_page(page)
        at.run()
    if at.exception:
        raise SystemExit(f"{page}: {at.exception[0].message}")
    return at


def _timed(at: AppTest, bits: int) -> float:
    t = time.perf_counter()
    at.slider(key="bits").set_value(bits).run()
    dt = (time.perf_counter() - t) * 1000
    if at.exception:
        raise SystemExit(f"bits={bits}: {at.exception[0].message}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="widget changes per page (default 7)")
    args = ap.parse_args()
    print(f"{'page':<24}{'cold change (ms)':>18}{'warm change (ms)':>18}{'largest figure (KB)':>22}")
    ok = True
    for page in PAGES:
        at = _open(page)
        cold = [_timed(at, b) for b in [4, 5, 6, 7, 3, 2, 9, 10, 11, 12, 13, 14, 15, 16][: args.repeats]]
        warm = [_timed(at, b) for b in [8, 4] * args.repeats]
        largest = max((len(c.proto.spec) for c in at.get("plotly_chart")), default=0) / 1024
        med_cold, med_warm = statistics.median(cold), statistics.median(warm)
        # the Model layers page re-analyses a whole model on a cold change: its budget is the progress bar, not 300 ms
        flag = "" if med_cold < TARGET_MS or page.endswith("layers.py") else "  <-- over 300 ms"
        ok &= not flag and largest < 300
        print(f"{Path(page).stem:<24}{med_cold:>18.0f}{med_warm:>18.0f}{largest:>22.1f}{flag}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
