"""qviz is the compute package: importing it must never import streamlit."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "qviz"


def test_import_qviz_does_not_import_streamlit():
    code = (
        "import sys; import qviz; import qviz.affine, qviz.blocks, qviz.metrics, qviz.samples, qviz.spec, qviz.arrays; "
        "bad = sorted(m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.')); "
        "print(len(bad)); assert not bad, bad"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "0"


def _imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
            "import_module",
            "__import__",
        ):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                yield node.args[0].value


def test_no_qviz_source_imports_streamlit():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) >= 7
    offenders = [
        f"{f.relative_to(ROOT)}: {m}"
        for f in files
        for m in _imported_modules(f)
        if m == "streamlit" or m.startswith("streamlit.")
    ]
    assert not offenders, offenders


def test_public_api():
    import qviz

    for name in [
        "QuantSpec", "PerTensor", "PerChannel", "PerGroup", "QParams", "choose_qparams", "quantize",
        "dequantize", "fake_quantize", "error_metrics", "Metrics", "block_min_max", "block_size",
        "grid_shape", "sample", "sample_names", "SAMPLES",
    ]:
        assert name in qviz.__all__, name
        assert hasattr(qviz, name), name
