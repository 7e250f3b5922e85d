"""qviz.plots.layer_heatmap: blocks × roles, the right value in the right cell, light at LLM scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import qviz
from qviz.plots import layer_heatmap
from qviz.plots.heatmap import HEAT_METRICS, has_blocks, with_derived

ROLES = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
         "mlp.down_proj", "input_layernorm", "post_attention_layernorm"]


def llm_table(blocks: int = 80, seed: int = 0) -> pd.DataFrame:
    """An analyze-like table of an 80-block Llama: 9 roles per block + embed/norm/head = 10 rows of roles, weights and activations."""
    rng = np.random.default_rng(seed)
    names = [f"model.layers.{b}.{r}.weight" for b in range(blocks) for r in ROLES] + \
        ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"]
    n = len(names)
    w = pd.DataFrame({"name": names, "kind": "weight", "shape": [(8192, 28672)] * n, "sqnr_db": rng.normal(38, 3, n),
                      "psnr_db": rng.normal(50, 3, n), "kurtosis": rng.gamma(2, 3, n), "channel_range_ratio": rng.gamma(2, 10, n),
                      "min": -rng.gamma(2, 1, n), "max": rng.gamma(2, 1, n), "mse": rng.gamma(2, 1e-6, n), "clip_mse": 0.0})
    a = w[~w["name"].str.contains("norm|embed")].copy()
    a["kind"] = "activation"
    a["name"] = a["name"].str.replace(".weight", ":input", regex=False)
    return pd.concat([w, a], ignore_index=True)


@pytest.fixture(scope="module")
def big():
    return llm_table()


def test_light_at_80_blocks_by_10_roles(big):
    for metric in ("sqnr_db", "kurtosis", "max_abs"):
        fig = layer_heatmap(big, metric)
        size = len(fig.to_json())
        assert size <= 300_000, (metric, size)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 2 and [len(h.x) for h in heat] == [82, 82]  # in, 0..79, out
    assert len(heat[0].y) == 12 and len(heat[1].y) == 8  # weights: 9 roles + embed, norm, head; activations: 7 + head


def test_each_cell_holds_its_tensor(big):
    fig = layer_heatmap(big, "sqnr_db")
    heat, dots = fig.data[0], fig.data[1]
    by = big[big["kind"] == "weight"].set_index("name")["sqnr_db"]
    xs, ys = list(heat.x), list(heat.y)
    for (x, y, custom) in zip(dots.x, dots.y, dots.customdata):
        name, shape, text, more = custom
        v = by[name]
        assert heat.z[ys.index(y)][xs.index(x)] == pytest.approx(round(v, 4))
        assert text == f"{v:.4g}" and shape == "8192×28672" and more == ""
        block, role = qviz.layer_position(name)
        assert x == (str(block) if block is not None else ("in" if role == "embed" else "out")) and y == role
    assert len(dots.x) == len(by)  # every weight is one clickable cell
    assert "%{customdata[0]}" in dots.hovertemplate and "shape %{customdata[1]}" in dots.hovertemplate
    assert fig.layout.coloraxis.colorscale[0][1] == "rgb(165,0,38)"  # red = low SQNR = bad


def test_direction_and_colour_range():
    df = pd.DataFrame({"name": [f"blk.{b}.attn_q.weight" for b in range(3)], "kind": "weight", "shape": [(2, 2)] * 3,
                       "kurtosis": [1.0, 9.0, 3.0], "sqnr_db": [10.0, np.inf, np.nan]})
    fig = layer_heatmap(df, "kurtosis")
    assert fig.layout.coloraxis.cmin == 1.0 and fig.layout.coloraxis.cmax == 9.0
    assert fig.layout.coloraxis.colorscale[-1][1] == "rgb(165,0,38)"  # higher kurtosis is worse: red at the top
    fig = layer_heatmap(df, "sqnr_db")
    assert fig.data[0].z[0] == [10.0, 11.0, None]  # ∞ (exact) drawn at the end of the finite range, NaN blank
    assert [c[2] for c in fig.data[1].customdata] == ["10", "∞ (exact)", "—"]


def test_shared_cell_draws_the_worst():
    df = pd.DataFrame({"name": ["text.layers.0.self_attn.q_proj.weight", "vision.layers.0.self_attn.q_proj.weight",
                                "text.layers.1.self_attn.q_proj.weight"], "kind": "weight", "shape": [(2, 2)] * 3,
                       "sqnr_db": [30.0, 20.0, 25.0]})
    fig = layer_heatmap(df, "sqnr_db")
    assert fig.data[0].z[0][0] == 20.0
    custom = {c[0]: c[3] for c in fig.data[1].customdata}
    assert custom["vision.layers.0.self_attn.q_proj.weight"] == " (+1 more in this cell)"


def test_derived_columns_and_errors():
    df = with_derived(pd.DataFrame({"name": ["a", "b", "c"], "min": [-4.0, 1.0, np.nan], "max": [3.0, 2.0, 1.0],
                                    "mse": [2.0, 0.0, 1.0], "clip_mse": [0.5, 0.0, np.nan]}))
    np.testing.assert_array_equal(df["max_abs"], [4.0, 2.0, 1.0])
    np.testing.assert_array_equal(df["clip_share"], [0.25, 0.0, np.nan])
    with pytest.raises(ValueError, match="no column 'nope'"):
        layer_heatmap(df.assign(kind="weight", shape=[(1,)] * 3, sqnr_db=1.0), "nope")
    assert set(HEAT_METRICS) >= {"sqnr_db", "psnr_db", "kurtosis", "clip_share", "max_abs", "channel_range_ratio"}


def test_has_blocks():
    assert has_blocks(llm_table(3))
    assert not has_blocks(pd.DataFrame({"name": ["conv1.weight", "fc1.weight", "fc1:input"]}))
    assert not has_blocks(pd.DataFrame({"name": ["model.layers.0.mlp.up_proj.weight"]}))  # one block: bars read better


def test_in_the_html_report(tmp_path):
    from qviz.report import build_report
    from tests.llama_ckpt import write_llama

    page = build_report(write_llama(tmp_path / "llama", blocks=3), qviz.QuantSpec(), "minmax", histograms=0)
    assert "<h2>Blocks × roles</h2>" in page and page.count("window.PlotlyConfig") == 1
    np.save(tmp_path / "w.npy", np.linspace(-1, 1, 64, dtype=np.float32))
    assert "Blocks × roles" not in build_report(tmp_path / "w.npy", qviz.QuantSpec(), "minmax", histograms=0)
