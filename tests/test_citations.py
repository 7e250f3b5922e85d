"""What the app and the README cite can be looked up: authors and year, never the internal seed articles."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_internal_article_numbers_in_user_facing_text():
    files = [ROOT / "README.md", ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py")),
             *sorted((ROOT / "qviz").rglob("*.py"))]
    hits = [f"{f.relative_to(ROOT)}:{i}" for f in files for i, line in enumerate(f.read_text().splitlines(), 1)
            if re.search(r"\barticle\s*00\d", line, re.I)]
    assert not hits, hits


def test_integer_page_states_what_it_measured():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/integer.py").run()
    assert not at.exception, at.exception
    diff = next(m.value for m in at.metric if m.label.startswith("paths differ on"))
    n = int(diff.split()[0])
    assert any(f"differ on {n} of 256 inputs" in c.value for c in at.caption)
