"""qviz.sweep and best_settings: every setting's rows equal qviz.analyze's, bits per value, the budget pivot, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

import qviz
from qviz.analyze import COLUMNS
from qviz.cli import main
from qviz.sweep import SETTING_COLUMNS, settings

RNG = np.random.default_rng(2)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    w = RNG.laplace(size=(16, 64)).astype(np.float32)
    w[3, 10] = 25.0  # an outlier: per-group and MSE clipping pay off
    t = {"w": w, "b": RNG.normal(size=(16,)).astype(np.float32), "ids": np.arange(6, dtype=np.int64),
         "nan": np.full((2, 32), np.nan, np.float32)}
    p = tmp_path_factory.mktemp("sweep") / "m.safetensors"
    save_file(t, str(p))
    return p


def test_every_setting_row_is_the_analyze_row(ckpt):
    table = qviz.sweep(ckpt, bits=(3, 8), granularity=("tensor", "channel", "group"), calibrator=("minmax", "mse"),
                       group_size=16, chunk_numel=256)
    assert list(table.columns) == SETTING_COLUMNS + COLUMNS
    assert len(table) == 4 * 12 and table["setting"].nunique() == 12
    assert list(table["name"].iloc[::12]) == qviz.open_source(ckpt).names()  # tensors in file order, settings inside
    for s in settings((3, 8), ("tensor", "channel", "group"), ("minmax", "mse"), group_size=16):
        expected = qviz.analyze(ckpt, s.spec, s.method, chunk_numel=256)
        got = table[table["setting"] == s.label][COLUMNS].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=s.label)


def test_bits_per_value_counts_the_scales(ckpt):
    t = qviz.sweep(ckpt, bits=(4,), granularity=("tensor", "channel", "group"), calibrator=("minmax",), group_size=16,
                   base=qviz.QuantSpec(symmetric=False)).set_index(["name", "setting"])
    w = 16 * 64
    assert t.loc[("w", "int4 tensor minmax"), "bits_per_value"] == 4 + (32 + 4) / w
    assert t.loc[("w", "int4 channel minmax"), "bits_per_value"] == 4 + 16 * (32 + 4) / w
    assert t.loc[("w", "int4 group16 minmax"), "bits_per_value"] == 4 + (32 + 4) / 16
    assert math.isnan(t.loc[("ids", "int4 tensor minmax"), "bits_per_value"])  # not quantized


def test_best_setting_within_the_budget(ckpt):
    table = qviz.sweep(ckpt, bits=(2, 4, 8), granularity=("tensor", "group"), calibrator=("minmax", "mse"), group_size=16)
    best = qviz.best_settings(table, budget=4.5)
    assert list(best.index) == qviz.open_source(ckpt).names()
    w = table[(table["name"] == "w") & (table["bits_per_value"] <= 4.5)]
    assert best.loc["w", "sqnr_db"] == w["sqnr_db"].max()
    assert best.loc["w", "best"] == w.loc[w["sqnr_db"].idxmax(), "setting"]
    assert best.loc["w", "bits_per_value"] <= 4.5
    assert best.loc["ids", "best"] == "" and math.isnan(best.loc["ids", "sqnr_db"])
    # the pivot: one SQNR column per setting
    assert best.loc["w", "int8 tensor mse"] == table.set_index(["name", "setting"]).loc[("w", "int8 tensor mse"), "sqnr_db"]
    unlimited = qviz.best_settings(table)
    assert unlimited.loc["w", "sqnr_db"] >= best.loc["w", "sqnr_db"] and unlimited.loc["w", "best"].startswith("int8")
    tight = qviz.best_settings(table, budget=2.1)
    assert tight.loc["w", "best"].startswith("int2 tensor")


def test_a_tensor_is_read_once_for_all_settings(ckpt, monkeypatch):
    from qviz.sources.safetensors_src import SafetensorsSource

    reads = []
    real = SafetensorsSource._read
    monkeypatch.setattr(SafetensorsSource, "_read", lambda self, name: reads.append(name) or real(self, name))
    qviz.sweep(ckpt, bits=(2, 4, 8), granularity=("tensor", "channel"), calibrator=("minmax", "mse"))
    assert sorted(reads) == ["b", "ids", "nan", "w"]


@pytest.mark.parametrize("kw, msg", [
    (dict(granularity=("row",)), "granularity 'row'"),
    (dict(calibrator=("best",)), "calibrator 'best'"),
    (dict(bits=(4, 4)), "lists a value twice"),
    (dict(bits=(0,)), "bits"),
])
def test_bad_grids_say_what_to_change(ckpt, kw, msg):
    with pytest.raises(ValueError, match=msg):
        qviz.sweep(ckpt, **kw)


def test_cli_sweep_writes_the_long_table_and_the_pivot(ckpt, tmp_path, capsys):
    out = tmp_path / "sweep.csv"
    rc = main(["sweep", str(ckpt), "--bits", "2,4", "--granularity", "tensor,group", "--group-size", "16",
               "--calibrator", "minmax,mse", "--budget", "4.5", "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert rc == 0
    long = pd.read_csv(out)
    assert len(long) == 4 * 8 and {"setting", "bits_per_value", "sqnr_db", "clip_mse"} <= set(long.columns)
    best = pd.read_csv(tmp_path / "sweep.best.csv", index_col="name")
    expected = qviz.best_settings(qviz.sweep(ckpt, bits=(2, 4), granularity=("tensor", "group"), calibrator=("minmax", "mse"),
                                             group_size=16), 4.5)
    assert best.loc["w", "best"] == expected.loc["w", "best"] and best.loc["w", "sqnr_db"] == pytest.approx(expected.loc["w", "sqnr_db"], rel=1e-15)
    assert "budget 4.5 bits per value" in stdout and expected.loc["w", "best"] in stdout
    assert "wrote 32 rows (4 tensors × 8 settings)" in err


@pytest.mark.parametrize("argv, msg", [
    (["--bits", "4,x"], "--bits"),
    (["--granularity", "row"], "granularity 'row'"),
    (["--budget", "0"], "--budget"),
    (["--scheduler", "nowhere:"], "--scheduler"),
])
def test_cli_sweep_bad_arguments_are_one_line(ckpt, argv, msg, capsys):
    assert main(["sweep", str(ckpt), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qviz: error:") and msg in err and len(err.strip().splitlines()) == 1
