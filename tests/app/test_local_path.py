"""The "Local path" source and the blocks × roles navigator (AppTest).

``qviz app FOLDER`` on a Llama-shaped sharded checkpoint: every picker opens on the
folder, Model layers shows the heatmap navigator, and a click on a cell (the widget
state the browser sends for a plotly point selection: AppTest has no way to click a
chart) or a row of the worst-N table points the inspector link at that tensor, which
the inspector then shows. Following the link in a real browser is tests/e2e. Hosted
(no variable): no path box anywhere. Escapes: one-line refusals.
"""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qs, urlparse

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Widget

import qviz.cli_commands
from qviz.path_policy import ALLOW_ENV, OPEN_ENV
from tests.app.conftest import APP, figures
from tests.llama_ckpt import WORST, write_llama

CLICKED = "model.layers.1.self_attn.q_proj.weight"


class _Selected(Widget):
    """A plotly chart whose point selection is ``selection`` (what the frontend sends after a click)."""

    def __init__(self, node, selection: dict):
        self.proto, self.root, self.type, self.key = node.proto, node.root, "plotly_chart", None
        self._selection = selection

    @property
    def value(self):
        return self._selection

    @property
    def _widget_state(self) -> WidgetState:
        ws = WidgetState()
        ws.id = self.proto.id
        ws.string_value = json.dumps({"selection": self._selection})
        return ws


def click_point(at: AppTest, key: str, tensor: str) -> None:
    """Select the heatmap point of ``tensor`` in the chart with ``key``, as a click in the browser does."""
    def walk(block) -> bool:
        for i, child in block.children.items():
            if isinstance(child, Block):
                if walk(child):
                    return True
            elif getattr(child, "type", "") == "plotly_chart" and child.proto.id.endswith(f"-{key}"):
                fig = json.loads(child.proto.spec)
                curve = next(j for j, t in enumerate(fig["data"]) if t["type"] == "scatter")
                dots = fig["data"][curve]
                k = [c[0] for c in dots["customdata"]].index(tensor)
                point = {"curve_number": curve, "point_number": k, "point_index": k, "x": dots["x"][k], "y": dots["y"][k],
                         "customdata": dots["customdata"][k]}
                block.children[i] = _Selected(child, {"points": [point], "point_indices": [k], "box": [], "lasso": []})
                return True
        return False

    assert walk(at._tree), f"no plotly chart with key {key}"


def jumps(at: AppTest) -> list[str]:
    """The URLs the page sends the browser to (``ui.navigator.go_to``)."""
    bodies = [e.proto.body for e in at.get("html")]
    return [b.split("window.location.assign(", 1)[1].split(")</script>", 1)[0] for b in bodies if "location.assign" in b]


def inspector_link(at: AppTest) -> dict:
    hrefs = [m.value for m in at.markdown if "in the tensor inspector" in m.value]
    assert hrefs, "no inspector link"
    href = hrefs[0].split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    return {k: v[0] for k, v in parse_qs(urlparse(href).query).items()}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_llama(tmp_path_factory.mktemp("models") / "llama", blocks=4)


@pytest.fixture(scope="module")
def launched(folder):
    """The app as ``qviz app FOLDER`` starts it: the environment qviz.cli_commands.app passes to streamlit."""
    seen = {}

    def fake_run(cmd, env=None, cwd=None, check=True):
        seen.update(env)
        return type("Done", (), {"returncode": 0})()

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(ALLOW_ENV, raising=False)
        mp.setattr(qviz.cli_commands.subprocess, "run", fake_run)
        assert qviz.cli.main(["app", str(folder)]) == 0
        mp.setenv(OPEN_ENV, seen[OPEN_ENV])
        mp.setenv(ALLOW_ENV, seen[ALLOW_ENV])
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        assert not at.exception, at.exception
        yield at


def test_qviz_app_folder_opens_everywhere(launched, folder):
    at = launched
    assert at.segmented_control(key="src").value == "Local path" and at.text_input(key="path").value == str(folder)
    at.switch_page("pages/inspector.py").run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="src").value == "Local path"
    assert at.selectbox(key="tensor").value == "model.embed_tokens.weight"  # the largest float tensor of the model


def test_layers_navigator_and_click_to_inspector(launched, folder):
    at = launched
    at.switch_page("pages/layers.py").run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="lsrc").value == "path"
    (heat,) = figures(at)  # the navigator replaces the bars
    assert [t["type"] for t in heat["data"]] == ["heatmap", "scatter"]
    assert list(heat["data"][0]["x"]) == ["in", "0", "1", "2", "3", "out"]
    worst = at.dataframe[0].value
    assert worst["name"].iloc[0] == WORST and worst["role"].iloc[0] == "down" and worst["block"].iloc[0] == "2"
    assert at.selectbox(key="open_layer").value == WORST
    assert inspector_link(at) == {"src": "Local path", "path": str(folder), "tensor": WORST}
    assert jumps(at) == []  # nothing clicked yet: the page stays

    click_point(at, "heat", CLICKED)
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="open_layer").value == CLICKED
    link = inspector_link(at)
    assert link["tensor"] == CLICKED and link["src"] == "Local path" and link["path"] == str(folder)
    (url,) = jumps(at)  # the click opens the inspector at once: the same URL as the link
    assert {k: v[0] for k, v in parse_qs(urlparse(json.loads(url)).query).items()} == link
    assert urlparse(json.loads(url)).path == "inspector"
    at.run()
    assert jumps(at) == []  # only on the click's own run

    # a row of the worst-N table picks its tensor too
    at.session_state["worst_table"] = {"selection": {"rows": [1], "columns": []}}
    at.run()
    assert not at.exception, at.exception
    second = at.dataframe[0].value["name"].iloc[1]
    assert at.selectbox(key="open_layer").value == second and inspector_link(at)["tensor"] == second
    (url,) = jumps(at)
    assert parse_qs(urlparse(json.loads(url)).query)["tensor"] == [second]

    # following the link: the inspector's URL-bound widgets take the link's values (the browser's part is tests/e2e)
    at.switch_page("pages/inspector.py")
    at.session_state["tensor"] = link["tensor"]
    at.run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="src").value == link["src"] and at.text_input(key="path").value == link["path"]
    assert at.selectbox(key="tensor").value == CLICKED
    stats = at.dataframe[0].value
    assert stats["numel"][0] == 32 * 32 and stats["dtype"][0] == "bfloat16"


def test_filters_by_role_and_kind(launched):
    at = launched
    at.switch_page("pages/layers.py").run()
    at.multiselect(key="hroles").set_value(["q", "k"]).run()
    assert not at.exception, at.exception
    (heat,) = figures(at)
    assert heat["data"][0]["y"] == ["q", "k"]
    assert set(at.dataframe[0].value["role"]) <= {"q", "k"}
    at.selectbox(key="hmetric").set_value("kurtosis").run()
    assert "kurtosis" in figures(at)[0]["layout"]["title"]["text"]


def test_hosted_configuration_has_no_path_box(monkeypatch):
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    monkeypatch.delenv(OPEN_ENV, raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert "Local path" not in at.segmented_control(key="src").options
    at.segmented_control(key="src").set_value("Upload").run()
    assert not [t for t in at.text_input if t.key == "path"]
    at.switch_page("pages/layers.py").run()
    assert not at.exception, at.exception
    assert list(at.segmented_control(key="lsrc").options) == ["Built-in", "Upload a checkpoint"]
    assert not [t for t in at.text_input if t.key == "path"]


def test_escapes_are_refused_in_one_line(folder, tmp_path, monkeypatch):
    secret = tmp_path / "secret.safetensors"
    secret.write_bytes((folder / "model-00001-of-00002.safetensors").read_bytes())
    os.symlink(secret, folder.parent / "link.safetensors")
    monkeypatch.setenv(ALLOW_ENV, str(folder.parent))
    monkeypatch.delenv(OPEN_ENV, raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.segmented_control(key="src").set_value("Local path").run()
    assert at.info and "Type the path" in at.info[0].value
    for bad in ("../secret.safetensors", str(secret), "link.safetensors"):
        at.text_input(key="path").set_value(bad).run()
        assert not at.exception, at.exception
        (err,) = at.error
        assert err.value.startswith(f"{bad}: is outside the folder this app may read") and "\n" not in err.value
        assert not figures(at)
    at.text_input(key="path").set_value("llama").run()  # relative to the allowed folder
    assert not at.error and at.selectbox(key="tensor").value == "model.embed_tokens.weight"
