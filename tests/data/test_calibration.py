"""Calibration data loaders: what each source gives, exactly, and one line for every bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from qviz.data import corpus, data_kind, image_data, load_arrays, synthetic_arrays, text_data


def test_corpus_is_a_few_dozen_public_domain_sentences():
    lines = corpus()
    assert 30 <= len(lines) <= 60 and len(set(lines)) == len(lines)
    assert lines[0].startswith("It is a truth universally acknowledged")
    d = text_data(None)
    assert d.kind == "corpus" and d.texts == lines and not d.synthetic


def test_text_file_and_samples(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("first\n\n  second  \nthird\n", encoding="utf-8")
    d = text_data(str(p), samples=2)
    assert d.texts == ["first", "second"] and d.description == "t.txt: 2 lines of text" and data_kind(str(p)) == "text"
    assert [b for b in d.text_batches(1)] == [["first"], ["second"]]
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        text_data(str(tmp_path / "bin.txt"))
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match="has no text lines"):
        text_data(str(tmp_path / "empty.txt"))
    with pytest.raises(ValueError, match="samples must be a positive integer"):
        text_data(None, samples=0)


def test_npz_and_npy_folder(tmp_path):
    a, b = np.arange(12, dtype=np.float32).reshape(4, 3), np.arange(4, dtype=np.int64)
    np.savez(tmp_path / "c.npz", a=a, b=b)
    d = load_arrays(str(tmp_path / "c.npz"), samples=3)
    assert d.kind == "npz" and d.n == 3 and np.array_equal(d.arrays["a"], a[:3]) and d.description == "c.npz: 3 samples of a, b"
    batches = list(d.array_batches(2))
    assert [len(x["a"]) for x in batches] == [2, 1] and np.array_equal(batches[1]["b"], b[2:3])
    folder = tmp_path / "npy"
    folder.mkdir()
    np.save(folder / "a.npy", a)
    d2 = load_arrays(str(folder))
    assert d2.kind == "npy-folder" and list(d2.arrays) == ["a"] and data_kind(str(folder)) == "arrays"
    np.savez(tmp_path / "scalar.npz", s=np.float32(1))
    with pytest.raises(ValueError, match="array 's' has shape \\(\\); every array needs a leading batch axis"):
        load_arrays(str(tmp_path / "scalar.npz"))
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="cannot be read as NumPy arrays"):
        load_arrays(str(tmp_path / "obj.npy"))  # never unpickled


def test_images_resized_and_normalised_exactly(tmp_path):
    px = np.array([[[0, 51, 255], [255, 255, 255]], [[102, 0, 0], [0, 0, 204]]], np.uint8)  # 2×2 RGB
    Image.fromarray(px).save(tmp_path / "a.png")
    Image.fromarray(px[::-1]).save(tmp_path / "b.png")
    d = image_data(str(tmp_path), (3, 2, 2), mean=[0.5, 0.0, 0.0], std=[0.5, 1.0, 2.0], name="img")
    x = d.arrays["img"]
    assert x.shape == (2, 3, 2, 2) and x.dtype == np.float32 and data_kind(str(tmp_path)) == "images"
    want = ((px.astype(np.float32) / 255 - np.array([0.5, 0, 0], np.float32)) / np.array([0.5, 1, 2], np.float32)).transpose(2, 0, 1)
    np.testing.assert_allclose(x[0], want, rtol=0, atol=1e-7)
    nhwc = image_data(str(tmp_path), (4, 4, 1), layout="NHWC", name="img").arrays["img"]
    assert nhwc.shape == (2, 4, 4, 1) and 0 <= nhwc.min() and nhwc.max() <= 1
    with pytest.raises(ValueError, match="image std must not be 0"):
        image_data(str(tmp_path), (3, 2, 2), std=0)
    with pytest.raises(ValueError, match="image mean has 2 values but the input has 3 channels"):
        image_data(str(tmp_path), (3, 2, 2), mean=[0, 0])
    (tmp_path / "c.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="c.png: is not a readable image"):
        image_data(str(tmp_path), (3, 2, 2))


def test_synthetic_from_a_signature():
    d = synthetic_arrays([("input_ids", ("batch", "seq"), "int64"), ("attention_mask", ("batch", "seq"), "int64"),
                          ("x", ("batch", 3), "float32")], 5, vocab=7)
    assert d.synthetic and d.arrays["input_ids"].shape == (5, 16) and d.arrays["input_ids"].max() < 7
    assert (d.arrays["attention_mask"] == 1).all() and d.arrays["x"].shape == (5, 3) and d.arrays["x"].dtype == np.float32
    per_call = synthetic_arrays([("sr", (), "int64"), ("audio", ("batch", "n"), "float32")], 3)
    assert per_call.arrays["sr"].shape == (3,) and per_call.arrays["audio"].shape == (3, 1, 16)
