"""Run any ONNX file with ONNX Runtime (CPU) and stream its activations into :class:`qviz.Calibrator`\\ s.

What is captured: the activation inputs of every ``MatMul``, ``Gemm`` and ``Conv`` (inputs that are not
weights: initializers and ``Constant`` outputs), in the main graph and inside ``If`` subgraphs at any depth;
with ``all_outputs=True`` every float node output too. Rows are named by the ONNX tensor name (the names
ONNX Runtime's calibration tables use). Each captured tensor is viewed as ``(C, N)`` with its reduction
(input-channel) axis first: the last axis of a MatMul's A, axis −2 of its B, axis 1 of a Conv input,
Gemm's per ``transA``/``transB``; other outputs use axis 1 for 4-D/5-D and the last axis otherwise.

How: the tensors are added to ``graph.output`` (traps.md) and the session runs with graph optimisation
disabled, so the values are the unfused graph's. A tensor inside an ``If`` branch is passed out as a new
output of the branch and of the ``If`` node (the other branch outputs an empty placeholder, skipped), up to
the main graph. External data is read from the model's folder by ONNX Runtime itself
(``session.model_external_initializers_file_folder_path``). ``Loop``/``Scan`` bodies are not captured.

Example
-------
>>> import numpy as np
>>> from onnx import helper, numpy_helper, TensorProto
>>> w = numpy_helper.from_array(np.eye(2, dtype=np.float32), "W")
>>> g = helper.make_graph([helper.make_node("Relu", ["x"], ["h"]), helper.make_node("MatMul", ["h", "W"], ["y"], name="mm")],
...     "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])], [w])
>>> m = OnnxModel(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString(), "m.onnx")
>>> [(p.tensor, p.node, p.axis) for p in m.points()]
[('h', 'mm', -1)]
>>> from qviz import QuantSpec
>>> acts = m.capture(QuantSpec(), data={"x": np.array([[-1.0, 2.0], [3.0, -4.0]], np.float32)})
>>> acts[0].name, acts[0].stats["min"], acts[0].stats["max"]
('h', 0.0, 3.0)
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass

import numpy as np

from ..spec import QuantSpec
from .memory import check_fits
from .stream import ActivationStream, channels_view

CAPTURE_OPS = ("MatMul", "Gemm", "Conv")
SMALL_EXTERNAL = 1 << 16  # external tensors up to this many bytes are read into the model (shape inputs)
_PREFIX = "qviz__"


@dataclass(frozen=True)
class Point:
    """One tensor to capture: its name, the node that consumes it (or produces it), the op and channel axis."""

    tensor: str
    node: str
    op: str
    axis: int
    port: int = 0


def _node_name(node, k: int, path: str) -> str:
    return node.name or f"{path}{node.op_type}_{k}"


def _graphs(node):
    from onnx import AttributeProto

    for a in node.attribute:
        if a.type == AttributeProto.GRAPH:
            yield a.name, a.g
        elif a.type == AttributeProto.GRAPHS:
            for g in a.graphs:
                yield a.name, g


def _weights(graph, out: set) -> set:
    for init in graph.initializer:
        out.add(init.name)
    for sp in graph.sparse_initializer:
        out.add(sp.values.name)
    for node in graph.node:
        if node.op_type == "Constant":
            out.update(node.output)
        for _, g in _graphs(node):
            _weights(g, out)
    return out


def _gemm_attr(node, name: str) -> int:
    return next((int(a.i) for a in node.attribute if a.name == name), 0)


def _elem_types(model) -> dict:
    """``{tensor name: ONNX elem type}`` from shape inference, over every graph."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is a help, not a requirement
        inferred = model
    types: dict = {}

    def walk(g):
        for vi in (*g.input, *g.output, *g.value_info):
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
                types[vi.name] = vi.type.tensor_type.elem_type
        for init in g.initializer:
            types[init.name] = init.data_type
        for node in g.node:
            for _, sub in _graphs(node):
                walk(sub)

    walk(inferred.graph)
    return types


_FLOATS = {1, 10, 11, 16}  # FLOAT, FLOAT16, DOUBLE, BFLOAT16


def _placeholder(name: str, elem_type: int):
    """A ``Constant`` node giving an empty tensor of ``elem_type`` (the untaken branch's output)."""
    from onnx import helper

    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name + "_v", elem_type, [0], []))


def _expose(graph, wanted: set, types: dict, counter: list) -> list[tuple[str, str]]:
    """Add the ``wanted`` tensors produced in ``graph`` (or its ``If`` branches) to what it can output.

    Returns ``(name in this graph, original tensor name)`` pairs; the caller adds them to its outputs.
    """
    from onnx import helper

    found = []
    for node in graph.node:
        for out in node.output:
            if out in wanted:
                found.append((out, out))
    for node in list(graph.node):
        if node.op_type != "If":
            continue
        branches = {a.name: a.g for a in node.attribute if a.name in ("then_branch", "else_branch")}
        if len(branches) != 2:
            continue
        lists = {k: _expose(g, wanted, types, counter) for k, g in branches.items()}
        for side, items in lists.items():
            other = branches["else_branch" if side == "then_branch" else "then_branch"]
            for inner, original in items:
                et = types.get(original, 1)
                counter[0] += 1
                new = f"{_PREFIX}{counter[0]}"
                branches[side].output.append(helper.make_tensor_value_info(inner, et, None))
                ph = f"{new}_empty"
                other.node.append(_placeholder(ph, et))
                other.output.append(helper.make_tensor_value_info(ph, et, None))
                node.output.append(new)
                found.append((new, original))
    return found


def expose_outputs(model, tensors, types: dict) -> tuple[object, dict]:
    """``model`` (changed in place) with ``tensors`` added to its outputs; ``{output name: tensor}``.

    Tensors already among the outputs map to themselves; model inputs are left out (the caller has them).
    """
    from onnx import helper

    wanted = set(tensors)
    existing = {o.name for o in model.graph.output}
    inputs = {vi.name for vi in model.graph.input}
    found = _expose(model.graph, wanted - inputs, types, [0])
    mapping = {o: o for o in existing if o in wanted}
    for out, original in found:
        if out not in existing:
            model.graph.output.append(helper.make_tensor_value_info(out, types.get(original, 1), None))
            existing.add(out)
        mapping[out] = original
    return model, mapping


def _walk_outputs(model, layers) -> dict:
    """``{node name: its first output}`` for the named nodes (main graph and ``If`` branches)."""
    wanted, out = set(layers), {}

    def walk(g, path):
        for k, node in enumerate(g.node):
            name = _node_name(node, k, path)
            if name in wanted and node.output:
                out[name] = node.output[0]
            if node.op_type == "If":
                for aname, sub in _graphs(node):
                    walk(sub, f"{name}/{aname}/")

    walk(model.graph, "")
    return out


def _ort_message(e: Exception) -> str:
    text = " ".join(str(e).split())
    nodes = re.findall(r"running (\w+) node\. Name:'([^']*)'", text)  # nested If: the innermost node is last
    status = text.rsplit("Status Message: ", 1)
    msg = (status[1] if len(status) == 2 else text)[:200]
    if nodes:
        op, node = nodes[-1]
        return f"node {node!r} ({op}): {msg}"
    return msg[:240]


class OnnxModel:
    """An ONNX model ready to run on calibration data.

    Parameters
    ----------
    data : str | os.PathLike | bytes
        The ``.onnx`` file (external data next to it) or its bytes.
    label : str, optional
        Name used in messages.
    """

    kind = "onnx"

    def __init__(self, data, label: str | None = None):
        import onnx

        is_bytes = isinstance(data, (bytes, bytearray, memoryview))
        path = "" if is_bytes else os.fspath(data)
        self.path: str | None = path or None
        self.label = label or (os.path.basename(path) if path else "model.onnx")
        try:
            self.proto = onnx.load_model_from_string(bytes(data)) if is_bytes else onnx.load(path, load_external_data=False)
        except Exception as e:  # noqa: BLE001 - protobuf errors
            raise ValueError(f"{self.label}: is not a readable ONNX model ({' '.join(str(e).split())[:120]}); export it again") from None
        self.base: str | None = None if is_bytes else os.path.dirname(os.path.abspath(path))
        self.weight_bytes = len(data) if is_bytes else os.path.getsize(path) + self._external_bytes()
        self._weights = _weights(self.proto.graph, set())
        self._types = _elem_types(self.proto)
        self.data_description = ""
        self.synthetic = False
        self.ndims: dict = {}

    def _external_bytes(self) -> int:
        """Bytes of the external data files; small external tensors (shape inputs) are read in (ORT needs them at load).

        External files must sit inside the model's folder (a location outside it is refused, as by the reader).
        """
        from onnx import TensorProto
        from onnx.external_data_helper import load_external_data_for_tensor

        files = set()
        base = os.path.realpath(self.base or ".")

        def walk(g):
            for t in g.initializer:
                if t.data_location != TensorProto.EXTERNAL:
                    continue
                meta = {e.key: e.value for e in t.external_data}
                where = meta.get("location", "")
                real = os.path.realpath(os.path.join(base, where))
                if not where or os.path.isabs(where) or not real.startswith(base + os.sep) or not os.path.isfile(real):
                    raise ValueError(f"{self.label}: tensor {t.name!r} needs external data {where!r}, which is missing or outside "
                                     "the model's folder; keep external data files next to the model")
                files.add(real)
                if int(meta.get("length", 0) or 0) <= SMALL_EXTERNAL:
                    load_external_data_for_tensor(t, base)
                    t.data_location = TensorProto.DEFAULT
                    del t.external_data[:]
            for node in g.node:
                for _, sub in _graphs(node):
                    walk(sub)

        walk(self.proto.graph)
        return sum(os.path.getsize(f) for f in files)

    # ------------------------------------------------------------------ signature
    @property
    def inputs(self) -> list[tuple[str, tuple, str]]:
        """``(name, shape, numpy dtype)`` of every model input (symbolic dims as strings)."""
        from onnx import helper

        inits = {i.name for i in self.proto.graph.initializer}
        out = []
        for vi in self.proto.graph.input:
            if vi.name in inits:
                continue
            tt = vi.type.tensor_type
            shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim)
            try:
                dt = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type)).name
            except (KeyError, TypeError):
                dt = "float32"
            out.append((vi.name, shape, dt))
        return out

    def points(self, all_outputs: bool = False) -> list[Point]:
        """The tensors :meth:`capture` observes, once each, in graph order (see the module docstring)."""
        seen: dict = {}

        def walk(g, path):
            for k, node in enumerate(g.node):
                name = _node_name(node, k, path)
                if node.op_type in CAPTURE_OPS and node.domain in ("", "ai.onnx"):
                    for port, t in enumerate(node.input[:2]):
                        if not t or t in self._weights or t in seen or self._types.get(t, 1) not in _FLOATS:
                            continue
                        if node.op_type == "MatMul":
                            axis = -1 if port == 0 else -2
                        elif node.op_type == "Gemm":
                            axis = (0 if _gemm_attr(node, "transA") else 1) if port == 0 else (1 if _gemm_attr(node, "transB") else 0)
                        else:
                            if port:
                                continue
                            axis = 1
                        seen[t] = Point(t, name, node.op_type, axis, port)
                if all_outputs:
                    for t in node.output:
                        if t and t not in seen and t not in self._weights and self._types.get(t) in _FLOATS:
                            seen[t] = Point(t, name, node.op_type, 99, -1)
                for aname, sub in _graphs(node):
                    if node.op_type == "If":
                        walk(sub, f"{name}/{aname}/")

        walk(self.proto.graph, "")
        return list(seen.values())

    # ------------------------------------------------------------------ running
    def session(self, model=None):
        """An ONNX Runtime CPU session of ``model`` (default: this one), graph optimisation disabled."""
        import onnxruntime as ort

        ort.set_default_logger_severity(4)  # failures come back as one line, not as ORT's coloured log
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.log_severity_level = 3
        if self.base:
            so.add_session_config_entry("session.model_external_initializers_file_folder_path", self.base)
        m = model if model is not None else self.proto
        try:
            return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - ORT raises its own classes
            raise ValueError(f"{self.label}: ONNX Runtime cannot load it ({_ort_message(e)}); check that it runs with onnxruntime") from None

    def exposed(self, tensors) -> tuple[object, dict]:
        """A copy of the model whose outputs include ``tensors``; ``{output name: tensor}`` of the added ones."""
        return expose_outputs(copy.deepcopy(self.proto), tensors, self._types)

    def resolve_data(self, data=None, samples: int | None = None, *, mean=0.0, std=1.0, layout: str = "NCHW"):
        """A :class:`qviz.data.CalibrationData` from a path, a dict of arrays, or None (synthetic)."""
        from ..data import CalibrationData, data_kind, image_data, load_arrays, synthetic_arrays

        if isinstance(data, CalibrationData):
            return data
        if isinstance(data, dict):
            n = min((len(np.atleast_1d(v)) for v in data.values()), default=0)
            return CalibrationData("arrays", f"arrays given in Python: {', '.join(data)}", arrays={k: np.asarray(v) for k, v in data.items()})
        if data is None:
            return synthetic_arrays(self.inputs, samples or 8)
        kind = data_kind(os.fspath(data))
        if kind == "arrays":
            return load_arrays(os.fspath(data), samples)
        if kind == "images":
            imgs = [(n, s) for n, s, d in self.inputs if len(s) == 4 and np.dtype(d).kind == "f"]
            if not imgs:
                raise ValueError(f"{self.label}: has no image input (N, C, H, W) for a folder of images; give an .npz with its inputs")
            name, shape = imgs[0]
            return image_data(os.fspath(data), tuple(shape[1:]), mean=mean, std=std, layout=layout, samples=samples, name=name)
        raise ValueError(f"{os.path.basename(os.fspath(data))}: an ONNX model takes arrays, not text; give an .npz with one array per input "
                         f"({', '.join(n for n, _, _ in self.inputs)}) or a folder of images")

    def feeds(self, data, batch_size: int = 8):
        """Check ``data`` against the inputs (one line naming the input and the expected shape) and batch it.

        Each array is either ``(N, *input shape)`` — one sample per model call — or has the input's rank with the
        model's batch axis first, then sliced in batches of ``batch_size``.
        """
        from ..data.calibration import _check_batch

        _check_batch(batch_size)
        arrays = data.arrays
        sig = self.inputs
        names = [n for n, _, _ in sig]
        extra = [k for k in arrays if k not in names]
        modes = set()
        cast = {}
        for name, shape, dtype in sig:
            want = f"{dtype} of shape ({', '.join(str(d) for d in shape)})"
            if name not in arrays:
                hint = f" (the file has {', '.join(extra)})" if extra else ""
                raise ValueError(f"{data.description.split(':')[0]}: has no array for input {name!r}, which expects {want}{hint}; "
                                 f"save one array per input with np.savez(path, {name}=…)")
            a = arrays[name]
            if a.ndim == len(shape) + 1:
                mode = "per-call"
                inner = a.shape[1:]
            elif a.ndim == len(shape) and a.ndim:
                mode = "batched"
                inner = a.shape
            else:
                raise ValueError(f"{data.description.split(':')[0]}: input {name!r} expects {want} (or a leading sample axis "
                                 f"before it); the array has rank {a.ndim}, shape {a.shape}")
            fixed = [(i, d) for i, d in enumerate(shape) if isinstance(d, int) and d > 0 and not (mode == "batched" and i == 0)]
            bad = [(i, d) for i, d in fixed if inner[i] != d]
            if bad:
                raise ValueError(f"{data.description.split(':')[0]}: input {name!r} expects {want}; the array has shape {a.shape} "
                                 f"(axis {bad[0][0]} is {inner[bad[0][0]]}, not {bad[0][1]})")
            want_dt, got = np.dtype(dtype), a.dtype
            if want_dt.kind != got.kind and not (want_dt.kind in "iu" and got.kind in "iu"):
                raise ValueError(f"{data.description.split(':')[0]}: input {name!r} expects {want}; the array is {got.name}")
            cast[name] = want_dt
            modes.add(mode)
        if len(modes) > 1:
            raise ValueError(f"{data.description.split(':')[0]}: mixes arrays with and without a leading sample axis; give every input "
                             "either its own rank (batch axis first) or one more leading axis for the samples")
        mode = modes.pop() if modes else "batched"
        n = min((len(arrays[k]) for k in names), default=1)
        if mode == "per-call":
            for i in range(n):
                yield {k: np.ascontiguousarray(arrays[k][i], dtype=cast[k]) for k in names}
        else:
            for i in range(0, n, batch_size):
                yield {k: np.ascontiguousarray(arrays[k][i : i + batch_size], dtype=cast[k]) for k in names}

    def run(self, session, feed: dict, outputs=None) -> list:
        """``session.run`` with any failure as one line naming the node."""
        import onnxruntime as ort

        ro = ort.RunOptions()
        ro.log_severity_level = 4
        try:
            return session.run(outputs, feed, ro)
        except Exception as e:  # noqa: BLE001 - ORT raises its own classes
            raise ValueError(f"{self.label}: running the model failed at {_ort_message(e)}; check the calibration data's shapes and types") from None

    def capture(self, spec: QuantSpec, method: str = "minmax", *, data=None, samples: int | None = None, batch_size: int = 8,
                all_outputs: bool = False, progress=None, sample_numel: int | None = None, check_memory: bool = True,
                mean=0.0, std=1.0, layout: str = "NCHW", **options):
        """Run on the calibration data; one :class:`~qviz.models.capture.Activation` per captured tensor.

        ``data``: a path (``.npz``, folder of ``.npy`` or images), a dict of arrays, a
        :class:`qviz.data.CalibrationData`, or None for synthetic inputs (then ``self.synthetic`` is True).
        """
        if check_memory:
            check_fits(self.label, self.weight_bytes)
        cdata = self.resolve_data(data, samples, mean=mean, std=std, layout=layout)
        self.data_description, self.synthetic = cdata.description, cdata.synthetic
        points = self.points(all_outputs)
        by_name = {p.tensor: p for p in points}
        model, mapping = self.exposed(by_name)
        sess = self.session(model)
        outs = [o.name for o in sess.get_outputs() if o.name in mapping]
        kw = {} if sample_numel is None else {"sample_numel": sample_numel}
        stream = ActivationStream(spec, method, **kw, **options)
        rev: dict = {}
        for k, v in mapping.items():
            rev.setdefault(v, []).append(k)
        total = max(1, -(-cdata.n // batch_size))
        for i, feed in enumerate(self.feeds(cdata, batch_size)):
            values = self.run(sess, feed, outs)
            got = dict(zip(outs, values))
            for p in points:  # graph order; model inputs come from the feed
                if p.tensor in feed:
                    x = feed[p.tensor]
                else:
                    key = next((k for k in rev.get(p.tensor, ()) if k in got and np.size(got[k])), None)
                    if key is None:
                        continue
                    x = got[key]
                x = np.asarray(x)
                if x.dtype.kind != "f":
                    continue
                self.ndims[p.tensor] = x.ndim
                axis = (1 if x.ndim >= 4 else -1) if p.axis == 99 else p.axis
                if x.ndim and -x.ndim <= axis < x.ndim:
                    stream.add(p.tensor, p.node, channels_view(x, axis))
                elif x.ndim == 0:
                    stream.add(p.tensor, p.node, channels_view(x, 0))
            if progress:
                progress(i + 1, total, f"calibration batch {i + 1}")
        note = f"{'synthetic data — ' if cdata.synthetic else ''}{cdata.description}"
        return stream.results(note)
