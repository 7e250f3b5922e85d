"""The hosted configuration: non-root container with a real health check, server limits set, no local paths."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_runs_as_non_root_with_a_timed_health_check():
    text = (ROOT / "Dockerfile").read_text()
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    health = re.search(r"^HEALTHCHECK (.*)$", text, re.M).group(1)
    for flag in ("--interval=", "--start-period=", "--timeout=", "--retries="):
        assert flag in health, flag
    assert "/_stcore/health" in health
    assert "QVIZ_MEMORY_MB" in text and "QVIZ_ALLOW_PATHS" not in text  # the hosted image never reads local paths
    assert "torch==2.13.0" in text and "whl/cpu" in text


def test_server_limits_in_the_config():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] <= 200
    assert cfg["server"]["maxMessageSize"] <= 50
    assert cfg["server"]["disconnectedSessionTTL"] <= 60
    assert cfg["client"]["showErrorDetails"] == "none"
