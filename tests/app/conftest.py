"""AppTest helpers: absolute paths, a generous first-run timeout (importing torch takes seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def figures(at: AppTest) -> list[dict]:
    """The plotly figures on the page, as the JSON the browser receives."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def figure_sizes(at: AppTest) -> list[int]:
    return [len(c.proto.spec) for c in at.get("plotly_chart")]


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(at: AppTest, path: str) -> AppTest:
    """Switch ``at`` to ``pages/<path>`` and check it rendered without an exception."""
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    """The value of the st.metric whose label starts with ``label``."""
    return next(m.value for m in at.metric if m.label.startswith(label))
