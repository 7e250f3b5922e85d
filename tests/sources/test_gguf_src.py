"""The GGUF reader against llama.cpp's own gguf-py: files written by GGUFWriter from the real MiniLM weights,
decoded bit for bit as ``gguf.quants.dequantize``; real per-(sub)block scales, mins and grids; bad files."""

from __future__ import annotations

import gguf
import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES
from gguf import GGMLQuantizationType as T
from gguf_testutil import WRITABLE, minilm, random_blocks, write_gguf

import qviz
from qviz import SourceError, open_source
from qviz.sources.gguf_blocks import DECODERS

Q = "encoder.layer.0.attention.self.query.weight"
UP = "encoder.layer.0.intermediate.dense.weight"
DOWN = "encoder.layer.0.output.dense.weight"  # rows of 1536 = 6 × 256: the TQ types' super-blocks
K_AND_IQ = [t for t in DECODERS if t not in WRITABLE]


def _bits(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float32).view(np.uint32)


@pytest.fixture(scope="module")
def weights():
    w = minilm([Q, UP, DOWN, "encoder.layer.0.attention.self.query.bias"])
    return {"q": w[Q][:64], "up": w[UP][:32], "down": w[DOWN][:16], "bias": w["encoder.layer.0.attention.self.query.bias"]}


def _src_of(t, weights):
    return weights["down"] if t.startswith("TQ") else weights["q"]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, weights):
    """Every type gguf-py can write, on slices of real MiniLM weights, plus F32 and F16 tensors."""
    d = tmp_path_factory.mktemp("gguf")
    tensors = {f"blk.{i}.attn_q.weight": (_src_of(t, weights), t) for i, t in enumerate(WRITABLE)}
    tensors["blk.0.attn_q.bias"] = weights["bias"]
    tensors["blk.0.ffn_up.weight"] = (weights["up"], "F16")
    return write_gguf(d / "mixed.gguf", tensors, block_count=len(WRITABLE), file_type=int(gguf.LlamaFileType.MOSTLY_Q4_0))


@pytest.fixture(scope="module")
def kiq(tmp_path_factory):
    """Raw blocks of every K, IQ and NVFP4 type (finite scales, random codes), 3 rows each."""
    d = tmp_path_factory.mktemp("gguf")
    tensors = {}
    for i, t in enumerate(K_AND_IQ):
        bs = GGML_QUANT_SIZES[T[t]][0]
        cols = 256 if bs <= 256 else bs
        tensors[f"blk.{i}.ffn_down.weight"] = (random_blocks(t, 3 * cols // bs, seed=i), t, (3, cols))
    return write_gguf(d / "kiq.gguf", tensors)


def _reference(path):
    return {t.name: gguf.quants.dequantize(t.data, t.tensor_type) for t in gguf.GGUFReader(path).tensors}


def test_writable_types_bit_exact_with_real_weights(mixed, weights):
    src = open_source(mixed)
    ref = _reference(mixed)
    assert src.names() == list(ref)
    for i, t in enumerate(WRITABLE):
        name = f"blk.{i}.attn_q.weight"
        w = _src_of(t, weights)
        info = src.info(name)
        assert info.shape == w.shape and info.dtype == t and info.quantized == f"gguf:{t}" and "quantized" in info.flags
        x = src.load(name)
        np.testing.assert_array_equal(_bits(x), _bits(ref[name].reshape(w.shape)))
        qt = src.quantized(name)
        np.testing.assert_array_equal(_bits(qt.dequantize()), _bits(x))
        bs, ts = GGML_QUANT_SIZES[T[t]]
        assert qt.format == f"gguf:{t}" and qt.bits_per_weight == ts * 8 / bs
        assert qt.meta["ggml_type"] == t and qt.meta["ggml_shape"] == list(w.shape[::-1])  # ggml order: reversed
        # the real weights are close: the quantization really happened on these values
        rel = np.linalg.norm(x - w) / np.linalg.norm(w)
        assert rel < (0.9 if t.startswith("TQ") else 0.2), (t, rel)  # ternary with an absmax scale zeroes most values
    # F32 and F16 tensors load exactly as stored
    np.testing.assert_array_equal(src.load("blk.0.attn_q.bias"), weights["bias"])
    np.testing.assert_array_equal(src.load("blk.0.ffn_up.weight"), weights["up"].astype(np.float16).astype(np.float32))
    assert src.info("blk.0.ffn_up.weight").dtype == "float16" and not src.info("blk.0.ffn_up.weight").quantized


def test_k_and_iq_types_bit_exact(kiq):
    src = open_source(kiq)
    ref = _reference(kiq)
    for i, t in enumerate(K_AND_IQ):
        name = f"blk.{i}.ffn_down.weight"
        assert src.info(name).quantized == f"gguf:{t}"
        x = src.load(name)
        np.testing.assert_array_equal(_bits(x), _bits(ref[name].reshape(x.shape)), err_msg=t)
        qt = src.quantized(name)
        approx = "approximate" in qt.meta
        assert approx == t.startswith(("IQ2", "IQ3")), t
        # every decoded value of a block is one of that block's levels
        xb = x.reshape(qt.n_blocks, qt.block_size)
        for b in (0, qt.n_blocks - 1):
            assert np.isin(xb[b], qt.levels(b)).all(), t


@pytest.mark.parametrize("t", sorted(DECODERS))
def test_every_type_bit_exact_on_any_bytes(t):
    """Fully random bytes (NaN/Inf scales included) decode exactly as the reference."""
    from qviz.quantized import QuantizedTensor
    from qviz.sources.gguf_blocks import decode

    bs, ts = GGML_QUANT_SIZES[T[t]]
    raw = np.random.default_rng(7).integers(0, 256, size=(8, ts), dtype=np.uint8)
    with np.errstate(all="ignore"):
        ref = gguf.quants.dequantize(raw.reshape(1, -1), T[t]).reshape(-1)
        d = decode(raw, t)
        qt = QuantizedTensor(name="x", format=t, shape=(8 * bs,), bits=d.bits, block_size=d.block_size, codes=d.codes,
                             scales=d.scales, codebook=d.codebook, zero_points=d.zero_points, mins=d.mins)
        got = qt.dequantize()
    np.testing.assert_array_equal(got, ref)  # NaN where the reference has NaN


def test_q4_k_scales_and_mins_are_d_sc_and_dmin_m():
    """One hand-packed Q4_K super-block: 8 sub-blocks, scale d·sc and min dmin·m each."""
    sc = np.array([1, 2, 3, 4, 5, 6, 7, 8], np.uint8)
    m = np.array([0, 1, 2, 3, 4, 5, 6, 7], np.uint8)
    scales = np.concatenate([sc[:4], m[:4], (sc[4:] & 0xF) | ((m[4:] & 0xF) << 4)])  # 6-bit packing, values < 16
    codes = np.arange(256, dtype=np.uint8) % 16
    qs = (codes.reshape(4, 2, 32)[:, 0] | (codes.reshape(4, 2, 32)[:, 1] << 4)).reshape(-1)
    block = np.concatenate([np.float16(0.5).reshape(1).view(np.uint8), np.float16(0.25).reshape(1).view(np.uint8), scales, qs])
    from qviz.sources.gguf_blocks import decode

    d = decode(block.reshape(1, 144), "Q4_K")
    np.testing.assert_array_equal(d.scales, 0.5 * sc.astype(np.float32))
    np.testing.assert_array_equal(d.mins, 0.25 * m.astype(np.float32))
    np.testing.assert_array_equal(d.codes.reshape(-1), codes)
    ref = gguf.quants.dequantize(block.reshape(1, -1), T.Q4_K).reshape(8, 32)
    np.testing.assert_array_equal(ref, d.codes * d.scales[:, None] - d.mins[:, None])


def test_metadata_and_upload_bytes(mixed):
    src = open_source(open(mixed, "rb").read(), name="model.gguf")
    m = src.metadata
    assert m["architecture"] == "bert" and m["file_type"] == "MOSTLY_Q4_0" and m["quantization_version"] == 2
    assert m["block_count"] == len(WRITABLE) and m["tensor_types"]["F32"] == 1
    assert src.label == "model.gguf" and len(src) == len(WRITABLE) + 2
    with pytest.raises(SourceError, match="not quantized"):
        src.quantized("blk.0.attn_q.bias")


def _one_line(e, label):
    msg = str(e)
    assert "\n" not in msg and msg.startswith(label + ":") and ";" in msg, msg
    return msg


def test_wrong_magic(tmp_path):
    p = tmp_path / "bad.gguf"
    p.write_bytes(b"GGUX" + bytes(60))
    with pytest.raises(SourceError) as e:
        open_source(p)
    assert "GGUF magic" in _one_line(e.value, "bad.gguf")


def test_truncated_file_names_the_tensor(mixed, tmp_path):
    data = open(mixed, "rb").read()
    p = tmp_path / "cut.gguf"
    p.write_bytes(data[: len(data) - 100])
    with pytest.raises(SourceError) as e:
        open_source(p)
    msg = _one_line(e.value, "cut.gguf")
    assert "truncated" in msg and "blk.0.ffn_up.weight" in msg
    p.write_bytes(data[:40])  # inside the header
    with pytest.raises(SourceError) as e:
        open_source(p)
    _one_line(e.value, "cut.gguf")


def test_unknown_type_names_the_tensor(tmp_path):
    path = write_gguf(tmp_path / "u.gguf", {"blk.0.attn_q.weight": (np.ones((1, 32), np.float32), "Q8_0")})
    r = gguf.GGUFReader(path)
    f = r.tensors[0].field
    off = f.offset + sum(int(p.nbytes) for p in f.parts[:4])  # the type field follows name and dims
    data = bytearray(open(path, "rb").read())
    assert int.from_bytes(data[off : off + 4], "little") == int(T.Q8_0)
    data[off : off + 4] = (99).to_bytes(4, "little")
    p = tmp_path / "unknown.gguf"
    p.write_bytes(bytes(data))
    with pytest.raises(SourceError) as e:
        open_source(p)
    msg = _one_line(e.value, "unknown.gguf")
    assert "blk.0.attn_q.weight" in msg and "unknown GGML type 99" in msg


def test_analyze_runs_on_gguf(mixed):
    df = qviz.analyze(mixed, qviz.QuantSpec(bits=4), "minmax")
    assert len(df) == len(WRITABLE) + 2 and df["sqnr_db"].notna().all()


def test_chunked_load_equals_whole_decode(kiq, mixed, monkeypatch):
    """load() decodes in chunks of super-blocks; with tiny chunks every type still gives the reference's bits."""
    import qviz.sources.gguf_src as gs

    monkeypatch.setattr(gs, "CHUNK_VALUES", 300)  # not a multiple of any block: chunks of 1 or more super-blocks
    for path in (kiq, mixed):
        src, ref = open_source(path), _reference(path)
        for name in src.names():
            x = src.load(name)
            np.testing.assert_array_equal(_bits(x), _bits(ref[name].reshape(x.shape)), err_msg=name)


def test_magic_is_sniffed_without_the_extension(mixed, tmp_path):
    data = open(mixed, "rb").read()
    plain = tmp_path / "model"
    plain.write_bytes(data)
    assert open_source(plain).info("blk.0.attn_q.weight").quantized == "gguf:Q4_0"
    wrong = tmp_path / "model.npy"
    wrong.write_bytes(data)
    with pytest.raises(SourceError, match="content is a GGUF file") as e:
        open_source(wrong)
    _one_line(e.value, "model.npy")
