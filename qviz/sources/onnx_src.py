"""ONNX models: every weight, wherever the exporter put it.

Weights live in ``graph.initializer``, in ``Constant`` nodes, in the
subgraphs of ``If`` / ``Loop`` / ``Scan`` (any graph attribute, at any depth),
and their bytes may sit in external data files next to the model. qviz walks
all of them without loading external data; each tensor's
:attr:`TensorInfo.node` names the node(s) that use it (``If_0/then_branch/MatMul_3``).
External files are read one tensor at a time, and only from inside the model's folder.

Example
-------
>>> import numpy as np
>>> from onnx import helper, numpy_helper, TensorProto
>>> w = numpy_helper.from_array(np.ones((2, 2), np.float32), "W")
>>> node = helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")
>>> g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
...                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w])
>>> src = OnnxSource(helper.make_model(g).SerializeToString(), "m.onnx")
>>> src.names(), src.info("W").node
(['W'], 'mm')
"""

from __future__ import annotations

from typing import Any

import os

import numpy as np

from .base import DEFAULT_MAX_NUMEL, Source, TensorInfo, fail

_CORRUPT = "the file is corrupted or truncated: export or download it again"


def _dtype(data_type: int) -> str:
    from onnx import helper

    try:
        name = np.dtype(helper.tensor_dtype_to_np_dtype(data_type)).name
    except (KeyError, TypeError, ValueError):
        return f"onnx:{data_type}"
    return {"bool": "bool", "bfloat16": "bfloat16"}.get(name, name)


class OnnxSource(Source):
    """An ``.onnx`` file (path or bytes); external data resolved against the file's folder."""

    def __init__(self, data: Any, label: str, max_numel: int = DEFAULT_MAX_NUMEL):
        super().__init__(label, max_numel)
        import onnx

        is_bytes = isinstance(data, (bytes, bytearray, memoryview))
        size = len(data) if is_bytes else os.path.getsize(data)
        if size == 0:
            raise fail(label, "is empty (0 bytes)", "choose the real .onnx file")
        self._base = None if is_bytes else os.path.dirname(os.path.abspath(data))
        try:
            if is_bytes:
                model = onnx.load_model_from_string(bytes(data))
            else:
                model = onnx.load(os.fspath(data), load_external_data=False)
        except Exception as e:  # protobuf DecodeError and friends
            raise fail(label, f"is not a readable ONNX model ({' '.join(str(e).split())[:120]})", _CORRUPT) from None
        if not model.HasField("graph"):
            raise fail(label, "is not an ONNX model (no graph)", "choose an .onnx file exported by torch.onnx or tf2onnx")
        self._protos: dict = {}
        self._walk(model.graph, "")
        if not self._infos:
            raise fail(label, "holds no weights (no initializers or Constant nodes)", "choose a model exported with its weights")

    # ------------------------------------------------------------------ discovery
    def _add(self, name: str, tensor, node: str):
        key, i = name or "constant", 1
        while key in self._infos:
            i += 1
            key = f"{name}#{i}"
        self._protos[key] = tensor
        self._infos[key] = TensorInfo(key, tuple(tensor.dims), _dtype(tensor.data_type), node)

    def _walk(self, graph, path: str):
        from onnx import AttributeProto, helper, numpy_helper

        users: dict[str, list[str]] = {}
        for k, node in enumerate(graph.node):
            for inp in node.input:
                users.setdefault(inp, []).append(path + (node.name or f"{node.op_type}_{k}"))
        for init in graph.initializer:
            self._add(init.name, init, ", ".join(users.get(init.name, [])) or path.rstrip("/"))
        for sp in graph.sparse_initializer:
            self._add(sp.values.name, _densify(sp), ", ".join(users.get(sp.values.name, [])) or path.rstrip("/"))
        for k, node in enumerate(graph.node):
            node_path = path + (node.name or f"{node.op_type}_{k}")
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                out = node.output[0] if node.output else node_path
                for a in node.attribute:
                    if a.name == "value":
                        self._add(out, a.t, node_path)
                    elif a.name in ("value_float", "value_floats", "value_int", "value_ints"):
                        v = helper.get_attribute_value(a)
                        kind = np.float32 if "float" in a.name else np.int64
                        self._add(out, numpy_helper.from_array(np.asarray(v, dtype=kind), out), node_path)
            for a in node.attribute:
                if a.type == AttributeProto.GRAPH:
                    self._walk(a.g, f"{node_path}/{a.name}/")
                elif a.type == AttributeProto.GRAPHS:
                    for j, g in enumerate(a.graphs):
                        self._walk(g, f"{node_path}/{a.name}.{j}/")

    # ------------------------------------------------------------------ reading
    def _external(self, name: str, tensor):
        from onnx import TensorProto

        meta = {e.key: e.value for e in tensor.external_data}
        where = meta.get("location", "")
        if self._base is None:
            raise fail(
                self.label,
                f"tensor {name!r} is stored in the external file {where!r}, which an upload does not include",
                "open the .onnx file from its folder instead",
            )
        path = os.path.realpath(os.path.join(self._base, where))
        if not where or os.path.isabs(where) or not path.startswith(os.path.realpath(self._base) + os.sep):
            raise fail(
                self.label,
                f"tensor {name!r} points to external data {where!r} outside the model's folder",
                "refused for safety: keep external data files next to the model",
            )
        if not os.path.isfile(path):
            raise fail(
                self.label,
                f"tensor {name!r} needs the external data file {where!r}, which is missing",
                "copy it next to the .onnx file",
            )
        offset = int(meta.get("offset", 0) or 0)
        info = self._infos[name]
        itemsize = np.dtype(_np_dtype(tensor.data_type)).itemsize
        length = int(meta.get("length", 0) or info.numel * itemsize)
        if length != info.numel * itemsize or offset + length > os.path.getsize(path):
            raise fail(
                self.label,
                f"tensor {name!r} claims {length:,} bytes at offset {offset:,} of {where!r}, which does not fit",
                _CORRUPT,
            )
        with open(path, "rb") as f:
            f.seek(offset)
            raw = f.read(length)
        t = TensorProto()
        t.CopyFrom(tensor)
        del t.external_data[:]
        t.data_location = TensorProto.DEFAULT
        t.raw_data = raw
        return t

    def _read(self, name: str):
        from onnx import TensorProto, numpy_helper

        tensor = self._protos[name]
        if tensor.data_location == TensorProto.EXTERNAL:
            tensor = self._external(name, tensor)
        if self._infos[name].dtype.startswith("onnx:") or tensor.data_type == TensorProto.STRING:
            raise fail(
                self.label,
                f"tensor {name!r} has ONNX type {tensor.data_type}, which is not a number qviz reads",
                "qviz reads float, integer and bool weights",
            )
        try:
            a = numpy_helper.to_array(tensor)
        except Exception as e:
            raise fail(self.label, f"tensor {name!r} cannot be decoded ({' '.join(str(e).split())[:100]})", _CORRUPT) from None
        if a.dtype.kind not in "fiubc":  # ml_dtypes bfloat16 / float8: widen to float32 here
            a = a.astype(np.float32)
        return a


def _densify(sp):
    """A SparseTensorProto (COO values + flat or (nnz, rank) indices) as a dense TensorProto."""
    from onnx import numpy_helper

    values, idx = numpy_helper.to_array(sp.values), numpy_helper.to_array(sp.indices).astype(np.int64)
    dense = np.zeros(tuple(sp.dims), dtype=values.dtype)
    flat = idx if idx.ndim == 1 else np.ravel_multi_index(tuple(idx.T), dense.shape)
    dense.reshape(-1)[flat] = values
    return numpy_helper.from_array(dense, sp.values.name)


def _np_dtype(data_type: int):
    from onnx import helper

    return helper.tensor_dtype_to_np_dtype(data_type)
