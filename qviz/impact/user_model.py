"""Output error of a user's model (ONNX file or Hugging Face folder): fidelity to fp32 on calibration data.

With no task metric, the metric is how close the quantized model's output stays to the fp32 output on the
calibration data (the first output of an ONNX model; ``logits``, else ``last_hidden_state`` of a
``transformers`` model)::

    output_cosine = mean_i  ŷ_i·y_i / (‖ŷ_i‖ ‖y_i‖)     over samples i (each sample's output flattened)
    output_sqnr   = 10·log10(Σ y² / Σ (y − ŷ)²)          over all outputs (dB)

:func:`user_quantizer` returns an object with the interface of :class:`qviz.ModelQuantizer`
(``layers``, ``params``, ``evaluate(config, what)``, ``uniform``, ``split``, ``task_metric = "output_cosine"``),
so :func:`qviz.sensitivity`, :func:`qviz.layer_errors` and :func:`qviz.impact.metric_table` work unchanged.

* ``transformers``: :class:`HFQuantizer` is a :class:`ModelQuantizer` over the loaded module (Linear, Conv and
  GPT-2 ``Conv1D`` layers).
* ONNX: :class:`OnnxQuantizer` rewrites the graph: each quantized layer's weight initializer (or ``Constant``)
  holds ``fake_quantize(W)`` — per-channel on the weight's *output* axis (last for MatMul, per ``transB`` for
  Gemm, 0 for Conv) — and a quantized layer input goes through ``Mul(1/Δ) → Round → Add(z) → Max(qmin) →
  Min(qmax) → Sub(z) → Mul(Δ)`` (ONNX ``Round`` rounds half to even), which is :func:`qviz.fake_quantize`
  bit for bit (tested). Stochastic rounding is not available there.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, cast

import numpy as np
import pandas as pd

from ..spec import PerChannel, QuantSpec
from .quantized_model import WHAT, ModelQuantizer, check_what

METRIC = "output_cosine"


def output_cosine(ref: list, got: list) -> float:
    """Mean over samples of the cosine between each sample's flattened output and the fp32 one.

    When each sample's output is a single number (a score), the cosine of the vector of all samples' outputs.

    >>> output_cosine([np.array([[1.0, 0.0], [0.0, 2.0]])], [np.array([[1.0, 1.0], [0.0, 3.0]])])
    0.8535533905932737
    """
    r_rows = [np.asarray(r, np.float64).reshape(len(r) if np.ndim(r) > 1 else 1, -1) for r in ref]
    g_rows = [np.asarray(g, np.float64).reshape(r.shape) for r, g in zip(r_rows, got)]
    if not r_rows:
        return float("nan")
    if all(r.shape[1] < 2 for r in r_rows):  # one score per sample: the cosine of the vector of scores
        r_rows, g_rows = [np.concatenate([r.ravel() for r in r_rows])[None]], [np.concatenate([g.ravel() for g in g_rows])[None]]
    vals = []
    for r2, g2 in zip(r_rows, g_rows):  # batches may differ in length (padding): cosines per batch, then the mean
        num = (r2 * g2).sum(axis=1)
        den = np.linalg.norm(r2, axis=1) * np.linalg.norm(g2, axis=1)
        same = (r2 == g2).all(axis=1)
        vals.append(np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(same, 1.0, 0.0)))
    return float(np.concatenate(vals).mean())


def output_sqnr(ref: list, got: list) -> float:
    from .errors import sqnr_db

    return sqnr_db(np.concatenate([np.ravel(r) for r in ref]), np.concatenate([np.ravel(g) for g in got]))


class _Fidelity:
    """Shared by both quantizers: fp32 outputs once, then cosine/SQNR of any config's outputs."""

    task_metric = METRIC
    layers: list

    def outputs(self, config: dict, what: str = "weights") -> list:
        raise NotImplementedError

    def fidelity(self, config: dict | None = None, what: str = "weights") -> tuple[float, float]:
        """``(output_cosine, output_sqnr_db)`` under ``config``."""
        ref = self.outputs({})
        got = ref if not config else self.outputs(config, what)
        return output_cosine(ref, got), output_sqnr(ref, got)

    def evaluate(self, config: dict | None = None, what: str = "weights") -> float:
        return self.fidelity({k: v for k, v in (config or {}).items() if v is not None}, what)[0]

    def uniform(self, spec, layers=None) -> dict:
        return {n: spec for n in (self.layers if layers is None else layers)}

    def split(self, config: dict, what: str = "weights") -> tuple[dict, dict]:
        check_what(what)
        return (config if what in ("weights", "both") else {}), (config if what in ("activations", "both") else {})


# ---------------------------------------------------------------------------------------------- transformers
class _HFAdapter:
    """What :class:`ModelQuantizer` expects of a built-in's module: batches, run, evaluate."""

    def __init__(self, owner):
        self.owner = owner

    def calibration_batches(self, limit=None):
        return self.owner.batches[: limit if limit is None else max(1, -(-limit // self.owner.batch_size))]

    def run(self, model, batch):
        return self.owner.hf.forward(model, batch)

    def evaluate(self, model):
        return self.owner.fidelity_of_model(model)[0]


class HFQuantizer(_Fidelity, ModelQuantizer):  # type: ignore[misc]
    """A ``transformers`` folder as a :class:`ModelQuantizer` whose metric is output fidelity to fp32."""

    def __init__(self, hf, method: str = "minmax", *, data=None, samples: int | None = None, batch_size: int = 8, **options):
        from ..capture.hf_capture import layer_kinds

        self.hf, self.name, self.method, self.options = hf, hf.label, method, options
        self.cdata = hf.resolve_data(data, samples)
        self.batch_size = batch_size
        self.model = hf.model()
        self.batches = hf.batches(self.cdata, batch_size)
        self.source, self.module = hf, _HFAdapter(self)  # type: ignore[assignment]
        self.calibration_limit = None
        self._modules: dict[str, Any] = {n: m for n, m in self.model.named_modules() if isinstance(m, layer_kinds())}
        self.layers = list(self._modules)
        self.params = {n: int(m.weight.numel()) for n, m in self._modules.items()}
        self._fp32 = {n: m.weight.detach().clone() for n, m in self._modules.items()}
        self._wq: dict = {}
        self._aq: dict = {}
        self._fp32_metric = None
        self._ref: list | None = None

    @property
    def data_description(self) -> str:
        return self.cdata.description

    @property
    def synthetic(self) -> bool:
        return self.cdata.synthetic

    def activation_qparams(self, spec: QuantSpec, progress=None) -> dict:
        if spec not in self._aq:
            from ..capture.hf_capture import layer_kinds
            from ..models.capture import capture

            with self.apply():
                acts = capture(self.model, self.batches, spec, self.method, run=self.module.run, sample_numel=1,
                               progress=progress, kinds=layer_kinds(), **self.options)
            bad = [a for a in acts if a.calibration is None]
            if bad:
                raise ValueError(f"{bad[0].name}: {bad[0].error}")
            self._aq[spec] = {a.layer: cast(Any, a.calibration).qparams for a in acts}
        return self._aq[spec]

    def _run_outputs(self, model) -> list:
        import torch

        with torch.no_grad():
            return [self.hf.output(self.hf.forward(model, b)).detach().float().numpy() for b in self.batches]

    def outputs(self, config: dict, what: str = "weights") -> list:
        if not config:
            if self._ref is None:
                with self.apply():
                    self._ref = self._run_outputs(self.model)
            return self._ref
        w, a = self.split(config, what)
        with self.apply(w, a):
            return self._run_outputs(self.model)

    def fidelity_of_model(self, model) -> tuple[float, float]:
        got = self._run_outputs(model)
        ref = self.outputs({})
        return output_cosine(ref, got), output_sqnr(ref, got)

    def evaluate(self, config: dict | None = None, what: str = "weights") -> float:
        return _Fidelity.evaluate(self, config, what)


# ---------------------------------------------------------------------------------------------- ONNX
@dataclasses.dataclass(frozen=True)
class OnnxLayer:
    name: str
    op: str
    weight: str
    weight_axis: int  # output-channel axis of the weight
    act: str  # activation input tensor ("" when none)
    act_axis: int


def _walk(graph, path: str = ""):
    """``(graph, index, node, unique name)`` over the main graph and ``If`` branches, depth first."""
    from ..capture.onnx_capture import _graphs, _node_name

    for k, node in enumerate(list(graph.node)):
        name = _node_name(node, k, path)
        yield graph, k, node, name
        if node.op_type == "If":
            for aname, sub in _graphs(node):
                yield from _walk(sub, f"{name}/{aname}/")


def _find_weight(model, name: str):
    """The TensorProto holding weight ``name`` (initializer or Constant value) in any graph of ``model``."""
    for g, _, node, _ in _walk(model.graph):
        if node.op_type == "Constant" and name in node.output:
            return next(a.t for a in node.attribute if a.name == "value")
    stack = [model.graph]
    while stack:
        g = stack.pop()
        for init in g.initializer:
            if init.name == name:
                return init
        for node in g.node:
            from ..capture.onnx_capture import _graphs

            stack.extend(sub for _, sub in _graphs(node))
    return None


def _fq_nodes(x: str, y: str, qp, axis: int, ndim: int, tag: str) -> list:
    """ONNX nodes computing ``y = fake_quantize(x, qp)`` (see the module docstring)."""
    from onnx import helper, numpy_helper

    spec = qp.spec
    scale = np.asarray(qp.scale, np.float32).reshape(-1)
    zp = np.asarray(qp.zero_point).astype(np.float32).reshape(-1)
    inv = (np.float32(1) / scale).astype(np.float32)
    if scale.size > 1:
        shape = [scale.size] + [1] * (ndim - 1 - (axis % ndim))
    else:
        shape = []
    consts = {"inv": inv.reshape(shape), "zp": zp.reshape(shape), "scale": scale.reshape(shape),
              "qmin": np.float32(spec.qmin), "qmax": np.float32(spec.qmax), "off": np.float32(spec.level_offset)}
    nodes = [helper.make_node("Constant", [], [f"{tag}_{k}"], value=numpy_helper.from_array(np.asarray(v, np.float32), f"{tag}_{k}_v"))
             for k, v in consts.items()]
    t = f"{tag}_t"
    nodes.append(helper.make_node("Mul", [x, f"{tag}_inv"], [t + "0"]))
    cur = t + "0"
    if spec.level_offset:
        nodes.append(helper.make_node("Sub", [cur, f"{tag}_off"], [t + "0o"]))
        cur = t + "0o"
    nodes += [helper.make_node("Round", [cur], [t + "1"]), helper.make_node("Add", [t + "1", f"{tag}_zp"], [t + "2"]),
              helper.make_node("Max", [t + "2", f"{tag}_qmin"], [t + "3"]), helper.make_node("Min", [t + "3", f"{tag}_qmax"], [t + "4"]),
              helper.make_node("Sub", [t + "4", f"{tag}_zp"], [t + "5"])]
    cur = t + "5"
    if spec.level_offset:
        nodes.append(helper.make_node("Add", [cur, f"{tag}_off"], [t + "5o"]))
        cur = t + "5o"
    nodes.append(helper.make_node("Mul", [cur, f"{tag}_scale"], [y]))
    return nodes


class OnnxQuantizer(_Fidelity):
    """An ONNX model whose MatMul/Gemm/Conv layers (those with a weight) can run fake-quantized."""

    def __init__(self, om, method: str = "minmax", *, data=None, samples: int | None = None, batch_size: int = 8, **options):
        from onnx import numpy_helper

        self.om, self.name, self.method, self.options = om, om.label, method, options
        self.cdata = om.resolve_data(data, samples)
        weights = om._weights
        self._layers: dict = {}
        for _, _, node, name in _walk(om.proto.graph):
            if node.op_type not in ("MatMul", "Gemm", "Conv") or node.domain not in ("", "ai.onnx"):
                continue
            ins = list(node.input[:2])
            if node.op_type == "Conv":
                w_port = 1 if len(ins) > 1 and ins[1] in weights else None
            else:
                w_port = next((p for p in (1, 0) if p < len(ins) and ins[p] in weights), None)
            if w_port is None:
                continue
            from ..capture.onnx_capture import _gemm_attr

            if node.op_type == "Conv":
                w_axis, a_axis = 0, 1
            elif node.op_type == "MatMul":
                w_axis, a_axis = (-1, -1) if w_port == 1 else (-2, -2)
            else:
                w_axis = (0 if _gemm_attr(node, "transB") else 1) if w_port == 1 else (1 if _gemm_attr(node, "transA") else 0)
                a_axis = (0 if _gemm_attr(node, "transA") else 1) if w_port == 1 else (1 if _gemm_attr(node, "transB") else 0)
            act = ins[1 - w_port] if node.op_type != "Conv" else ins[0]
            act = act if act and act not in weights else ""
            self._layers[name] = OnnxLayer(name, node.op_type, ins[w_port], w_axis, act, a_axis)
        if not self._layers:
            raise ValueError(f"{om.label}: has no MatMul, Gemm or Conv with a weight; there is no layer to quantize")
        self.batch_size = batch_size
        self.feeds = list(om.feeds(self.cdata, batch_size))
        self._drop_idle()
        self.layers = list(self._layers)
        self._w: dict = {}
        for layer in self._layers.values():
            if layer.weight not in self._w:
                t = _find_weight(om.proto, layer.weight)
                self._w[layer.weight] = numpy_helper.to_array(t, base_dir=om.base or "").astype(np.float32)
        self.params = {n: int(self._w[l.weight].size) for n, l in self._layers.items()}
        self._aq: dict = {}
        self._ndim: dict = {}
        self._ref: list | None = None

    @property
    def data_description(self) -> str:
        return self.cdata.description

    @property
    def synthetic(self) -> bool:
        return self.cdata.synthetic

    def _drop_idle(self) -> None:
        """Keep the layers that run on the data (an untaken ``If`` branch's layers never do)."""
        from ..capture.onnx_capture import _walk_outputs, expose_outputs

        outs = _walk_outputs(self.om.proto, self._layers)
        model, mapping = expose_outputs(copy.deepcopy(self.om.proto), outs.values(), self.om._types)
        sess = self.om.session(model)
        want = [o.name for o in sess.get_outputs() if o.name in mapping]
        ran = set()
        for f in self.feeds[:1]:
            ran |= {mapping[k] for k, v in zip(want, self.om.run(sess, f, want)) if np.size(v)}
        self._layers = {n: l for n, l in self._layers.items() if outs.get(n) in ran}
        if not self._layers:
            raise ValueError(f"{self.om.label}: none of its MatMul/Gemm/Conv layers ran on the calibration data; check the data")

    def weight_spec(self, layer: str, spec: QuantSpec) -> QuantSpec:
        from ..analyze import weight_spec

        w = self._w[self._layers[layer].weight]
        if isinstance(spec.granularity, PerChannel) and w.ndim >= 2:
            spec = dataclasses.replace(spec, granularity=PerChannel(self._layers[layer].weight_axis % w.ndim))
        return weight_spec(spec, w.shape)[0]

    def fq_weight(self, layer: str, spec: QuantSpec) -> np.ndarray:
        from ..affine import fake_quantize
        from ..calibrate import calibrate

        w = self._w[self._layers[layer].weight]
        tspec = self.weight_spec(layer, spec)
        return fake_quantize(w, calibrate(w, tspec, self.method, **self.options).qparams)

    def activation_qparams(self, spec: QuantSpec) -> dict:
        """``{activation tensor: QParams}`` calibrated on the fp32 model (cached per spec)."""
        if spec not in self._aq:
            acts = self.om.capture(spec, self.method, data=self.cdata, batch_size=self.batch_size, sample_numel=1,
                                   check_memory=False, **self.options)
            bad = [a for a in acts if a.calibration is None]
            if bad:
                raise ValueError(f"{bad[0].name}: {bad[0].error}")
            self._aq[spec] = {a.name: cast(Any, a.calibration).qparams for a in acts}
            self._ndim.update(self.om.ndims)
        return self._aq[spec]

    def build(self, weights: dict | None = None, activations: dict | None = None, expose=()):
        """The rewritten model (ModelProto) and the names of the extra outputs ``{output: tensor}``."""
        from onnx import numpy_helper

        from ..capture.onnx_capture import expose_outputs

        weights, activations = weights or {}, activations or {}
        unknown = [n for n in (*weights, *activations) if n not in self._layers]
        if unknown:
            raise ValueError(f"{unknown[0]}: not a MatMul/Gemm/Conv layer of {self.name} with a weight; layers are {', '.join(self.layers[:8])}…")
        model = copy.deepcopy(self.om.proto)
        for n, s in weights.items():
            if s is None:
                continue
            t = _find_weight(model, self._layers[n].weight)
            from onnx import helper

            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type))
            t.CopyFrom(numpy_helper.from_array(self.fq_weight(n, s).astype(dtype), t.name))
        todo = {n: s for n, s in activations.items() if s is not None and self._layers[n].act}
        if todo:
            self._insert_fq(model.graph, "", todo, [0])
        mapping: dict = {}
        if expose:
            model, mapping = expose_outputs(model, expose, self.om._types)
        return model, mapping

    def _insert_fq(self, graph, path: str, todo: dict, counter: list) -> None:
        """Put the fake-quantization chain before every layer of ``todo`` in ``graph`` and its ``If`` branches."""
        from ..capture.onnx_capture import _graphs, _node_name

        new = []
        for k, node in enumerate(list(graph.node)):
            name = _node_name(node, k, path)
            if node.op_type == "If":
                for aname, sub in _graphs(node):
                    self._insert_fq(sub, f"{name}/{aname}/", todo, counter)
            if name in todo:
                layer = self._layers[name]
                qp = self.activation_qparams(todo[name]).get(layer.act)
                if qp is not None:
                    counter[0] += 1
                    tag = f"qviz_fq{counter[0]}"
                    new += _fq_nodes(layer.act, tag + "_y", qp, layer.act_axis, self._ndim.get(layer.act, 2), tag)
                    for i, inp in enumerate(node.input):
                        if inp == layer.act:
                            node.input[i] = tag + "_y"
            new.append(node)
        del graph.node[:]
        graph.node.extend(new)

    def _run(self, model, outputs=None) -> list:
        sess = self.om.session(model)
        names = outputs or [sess.get_outputs()[0].name]
        return [self.om.run(sess, f, names) for f in self.feeds]

    def outputs(self, config: dict, what: str = "weights") -> list:
        if not config:
            if self._ref is None:
                self._ref = [r[0] for r in self._run(self.om.proto)]
            return self._ref
        w, a = self.split(config, what)
        return [r[0] for r in self._run(self.build(w, a)[0])]

    def layer_errors(self, spec: QuantSpec, what: str = "weights", progress=None) -> pd.DataFrame:
        """Isolated and accumulated output SQNR of every layer (see :func:`qviz.layer_errors`).

        Isolated: only this layer quantized, the rest fp32, so its input is the fp32 one; accumulated:
        every layer quantized. Both read the layer's output tensor from the same run of the whole model.
        """
        from ..capture.onnx_capture import _walk_outputs
        from .errors import sqnr_db

        outs = _walk_outputs(self.om.proto, self.layers)

        def record(weights, acts, names):
            model, mapping = self.build(weights, acts, expose=[outs[n] for n in names])
            sess = self.om.session(model)
            want = [o.name for o in sess.get_outputs() if o.name in mapping]
            got: dict = {}
            for f in self.feeds:
                for k, v in zip(want, self.om.run(sess, f, want)):
                    if np.size(v):
                        got.setdefault(mapping[k], []).append(np.ravel(v))
            return {t: np.concatenate(v) for t, v in got.items()}

        ref = record({}, {}, self.layers)
        w, a = self.split(self.uniform(spec), what)
        acc = record(w, a, self.layers)
        rows = []
        for i, name in enumerate(self.layers):
            t = outs[name]
            ow, oa = self.split({name: spec}, what)
            iso = record(ow, oa, [name])
            if t in ref:
                rows.append({"layer": name, "isolated_sqnr_db": sqnr_db(ref[t], iso[t]), "accumulated_sqnr_db": sqnr_db(ref[t], acc[t])})
            if progress:
                progress(i + 1, len(self.layers), name)
        return pd.DataFrame(rows, columns=["layer", "isolated_sqnr_db", "accumulated_sqnr_db"])


def user_quantizer(path, method: str = "minmax", *, data=None, samples: int | None = None, batch_size: int = 8, **options):
    """An :class:`OnnxQuantizer` or :class:`HFQuantizer` for an ``.onnx`` file or a model folder.

    Example
    -------
    >>> import numpy as np, tempfile, os
    >>> from onnx import helper, numpy_helper, TensorProto, save
    >>> w = numpy_helper.from_array(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), "W")
    >>> g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])], [w])
    >>> p = os.path.join(tempfile.mkdtemp(), "m.onnx"); save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), p)
    >>> mq = user_quantizer(p, data={"x": np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)})
    >>> mq.layers, mq.task_metric, mq.evaluate()
    (['mm'], 'output_cosine', 1.0)
    >>> 0.99 < mq.evaluate(mq.uniform(QuantSpec(bits=8)), "both") < 1.0
    True
    """
    from ..capture import open_model
    from ..capture.onnx_capture import OnnxModel

    model = open_model(path)
    if isinstance(model, OnnxModel):
        return OnnxQuantizer(model, method, data=data, samples=samples, batch_size=batch_size, **options)
    return HFQuantizer(model, method, data=data, samples=samples, batch_size=batch_size, **options)


def output_fidelity(mq, spec: QuantSpec, progress=None) -> pd.DataFrame:
    """Cosine and SQNR of the output to fp32 with every layer's weights, inputs, or both under ``spec``.

    Returns
    -------
    pandas.DataFrame
        ``what`` (weights, activations, both), ``output_cosine``, ``output_sqnr_db``.
    """
    rows = []
    for i, what in enumerate(WHAT):
        cos, sq = mq.fidelity(mq.uniform(spec), what)
        rows.append({"what": what, "output_cosine": cos, "output_sqnr_db": sq})
        if progress:
            progress(i + 1, len(WHAT), what)
    return pd.DataFrame(rows)
