"""ONNX -> Graph: map each ONNX node onto the accelsim op vocabulary.

``onnx`` is an optional extra, imported only when a file is loaded. Initializers become
numpy weights on the nodes that declare them. Constant subgraphs (the shape arithmetic that
exporters emit around Reshape) are folded with numpy, so only real work reaches the IR; two
common exporter patterns are fused first: MatMul + bias Add -> one ``linear`` with bias, and
the Erf formulation of GELU -> ``gelu``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import AccelsimError, GraphError, SpecError, UnsupportedOpError
from ..ir import Graph, Source, TensorType
from ..ir.opdef import ShapeError

__all__ = ["load_onnx", "SUPPORTED_OPS"]

NodeProto = Any  # onnx.NodeProto; onnx is imported lazily

# ONNX element type names -> accelsim dtypes (uint8 and bool keep their one-byte width).
_ELEM_TYPES = {
    "FLOAT": "fp32", "FLOAT16": "fp16", "BFLOAT16": "bf16", "DOUBLE": "fp64", "INT8": "int8",
    "UINT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64", "BOOL": "int8",
}
_NP_TYPES = {
    "float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64", "int8": "int8",
    "uint8": "int8", "int16": "int16", "int32": "int32", "int64": "int64", "bool": "int8",
}
_STD_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class _Op:
    """One ONNX node to convert; ``index`` is its place in the file, for error messages."""

    index: int
    node: NodeProto
    attrs: dict[str, Any]

    @property
    def type(self) -> str:
        d = self.node.domain
        return self.node.op_type if d in _STD_DOMAINS else f"{d}.{self.node.op_type}"

    @property
    def raw_name(self) -> str:
        return self.node.name or (self.node.output[0] if self.node.output else "")

    @property
    def field(self) -> str:
        return f"graph.node[{self.index}] ({self.raw_name})"

    def input(self, i: int) -> str:
        """The i-th input tensor name, '' when absent (ONNX optional inputs)."""
        return self.node.input[i] if i < len(self.node.input) else ""


_Fold = Callable[[dict[str, Any], list[Any]], Any]        # (attributes, input arrays) -> array
_Converter = Callable[["_Importer", _Op], None]


# --------------------------------------------------------------------------- the importer


class _Importer:
    """Conversion state: which accelsim node or constant array each ONNX tensor is."""

    def __init__(self, path: str, model: Any) -> None:
        self.path = path
        self.model = model
        self.graph = Graph(Path(path).stem)
        self.opset = next((o.version for o in model.opset_import if o.domain in _STD_DOMAINS), 1)
        self.consts: dict[str, np.ndarray] = {}
        self.tensors: dict[str, str] = {}          # ONNX tensor -> accelsim node name
        self.types: dict[str, TensorType] = {}     # accelsim node name -> output type
        self.names: set[str] = set()
        self.used = {t for n in model.graph.node for t in n.input} | {o.name for o in model.graph.output}

    # ------------------------------------------------------------------ driver

    def run(self) -> Graph:
        from onnx import numpy_helper

        for init in self.model.graph.initializer:
            self.consts[init.name] = numpy_helper.to_array(init)
        for i, value_info in enumerate(self.model.graph.input):
            if value_info.name not in self.consts:
                self.add_input(i, value_info)
        ops = [_Op(i, n, _attrs(n)) for i, n in enumerate(self.model.graph.node)]
        for op in _fuse(ops, self.consts, {o.name for o in self.model.graph.output}):
            try:
                self.convert(op)
            except AccelsimError as exc:
                raise exc.located(file=self.path, field=op.field)
            except Exception as exc:  # malformed attribute values or arrays in the file
                raise SpecError(f"cannot convert ONNX {op.type}: {type(exc).__name__}: {exc}",
                                file=self.path, field=op.field) from None
        outputs = []
        for i, out in enumerate(self.model.graph.output):
            name = self.value(out.name, f"graph.output[{i}] ({out.name})")
            if name not in outputs:
                outputs.append(name)
        self.graph.set_outputs(outputs)
        self.graph.verify()
        return self.graph

    def convert(self, op: _Op) -> None:
        ins = [t for t in op.node.input if t]
        if op.type in _FOLD and ins and all(t in self.consts for t in ins):
            values = [self.consts[t] if t else None for t in op.node.input]
            self.consts[op.node.output[0]] = np.asarray(_FOLD[op.type](op.attrs, values))
        else:
            converter = _CONVERTERS.get(op.type)
            if converter is None and op.type in _FOLD:
                raise UnsupportedOpError(f"ONNX op {op.type!r} is supported on constants only (shape "
                                         "arithmetic); here an input is computed at run time",
                                         file=self.path, field=op.field)
            if converter is None:
                raise UnsupportedOpError(f"ONNX op {op.type!r} is not supported; supported: "
                                         + ", ".join(SUPPORTED_OPS), file=self.path, field=op.field)
            converter(self, op)
        for k, extra in enumerate(op.node.output[1:], start=1):
            if extra and extra in self.used:
                raise UnsupportedOpError(f"output {k} ({extra!r}) of ONNX {op.type} is used, but only "
                                         "the first output of a node is supported",
                                         file=self.path, field=op.field)

    # ------------------------------------------------------------------ naming and nodes

    def unique(self, raw: str, fallback: str) -> str:
        base = _sanitize(raw) or fallback
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def add_input(self, index: int, value_info: Any) -> None:
        field = f"graph.input[{index}] ({value_info.name})"
        shape, dt = _input_type(value_info, self.path, field)
        name = self.unique(value_info.name, "input")
        self.add_node(name, "input", [], {"shape": shape, "dtype": dt}, field)
        self.tensors[value_info.name] = name

    def add_node(self, name: str, kind: str, inputs: Sequence[str], attrs: dict[str, Any],
                 field: str, weights: dict[str, np.ndarray] | None = None) -> str:
        """Add a node and infer its type at once (linear time, and errors point at the node)."""
        node = self.graph.add(name, kind, tuple(inputs), attrs, source=Source(self.path, None, field))
        ins = [self.types[i] for i in inputs]
        try:
            self.types[name] = node.opdef.infer(ins, node.attrs)
        except ShapeError as exc:
            shapes = ", ".join(str(t) for t in ins)
            raise GraphError(f"layer {name!r} ({kind}): {exc}" + (f" (inputs: {shapes})" if shapes else ""),
                             file=self.path, field=field) from None
        if weights:
            self.graph.set_weights(name, weights)
        return name

    def emit(self, op: _Op, kind: str, inputs: Sequence[str], attrs: dict[str, Any] | None = None,
             weights: dict[str, np.ndarray] | None = None, *, suffix: str = "",
             output: bool = True) -> str:
        """Add the node that stands for ``op`` (``output``: it produces the op's first output)."""
        name = self.unique(op.raw_name + suffix if op.raw_name else "", op.node.op_type.lower() + suffix)
        self.add_node(name, kind, inputs, attrs or {}, op.field, weights)
        if output:
            self.tensors[op.node.output[0]] = name
        return name

    def alias(self, op: _Op, tensor: str) -> None:
        """``op``'s output is ``tensor`` itself (Identity, Dropout at inference)."""
        out = op.node.output[0]
        if tensor in self.consts:
            self.consts[out] = self.consts[tensor]
        else:
            self.tensors[out] = self.value(tensor, op.field)

    # ------------------------------------------------------------------ operands

    def value(self, tensor: str, field: str) -> str:
        """The node producing ``tensor``; a constant becomes a ``constant`` node on first use."""
        if tensor in self.tensors:
            return self.tensors[tensor]
        if tensor in self.consts:
            arr = self.consts[tensor]
            name = self.unique(tensor, "constant")
            self.add_node(name, "constant", [], {"shape": list(arr.shape), "dtype": _np_dtype(arr)},
                          field, {"value": arr})
            self.tensors[tensor] = name
            return name
        raise GraphError(f"tensor {tensor!r} is used before any node produces it "
                         "(is the graph topologically sorted?)", file=self.path, field=field)

    def const(self, op: _Op, i: int, what: str, *, optional: bool = False) -> np.ndarray | None:
        """Input ``i`` as an array; ops whose weights are computed at run time are unsupported."""
        tensor = op.input(i)
        if not tensor:
            if optional:
                return None
            raise SpecError(f"ONNX {op.type} needs input {i} ({what})", file=self.path, field=op.field)
        if tensor not in self.consts:
            raise UnsupportedOpError(f"ONNX {op.type} with a computed {what} ({tensor!r}) is not "
                                     "supported; it must be an initializer or a Constant",
                                     file=self.path, field=op.field)
        return self.consts[tensor]

    def shape_of(self, tensor: str, field: str) -> tuple[int, ...]:
        if tensor in self.consts:
            return tuple(self.consts[tensor].shape)
        return self.types[self.value(tensor, field)].shape


# --------------------------------------------------------------------------- helpers


def _sanitize(raw: str) -> str:
    """Exporter names like '/layer1/conv/Conv' -> 'layer1.conv.Conv' (dots are accelsim's paths)."""
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", raw.strip("/").replace("/", "."))
    return re.sub(r"\.{2,}", ".", name).strip(".")


def _attrs(node: NodeProto) -> dict[str, Any]:
    from onnx import TensorProto, helper, numpy_helper

    out: dict[str, Any] = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, TensorProto):
            value = numpy_helper.to_array(value)
        elif isinstance(value, float):
            value = _f32(value)
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        elif isinstance(value, list) and value and isinstance(value[0], float):
            value = [_f32(v) for v in value]
        out[attr.name] = value
    return out


def _f32(value: float) -> float:
    """ONNX stores float attributes as float32: 1e-5 arrives as 9.99999974e-06; undo that."""
    return float(str(np.float32(value)))


def _np_dtype(arr: np.ndarray) -> str:
    try:
        return _NP_TYPES[arr.dtype.name]
    except KeyError:
        raise SpecError(f"constant arrays of type {arr.dtype.name} are not supported") from None


def _input_type(value_info: Any, path: str, field: str) -> tuple[list[int], str]:
    """Shape and dtype of a graph input; only the batch (axis 0) may be symbolic (-> 1)."""
    from onnx import TensorProto

    ttype = value_info.type.tensor_type if value_info.type.HasField("tensor_type") else None
    if ttype is None or not ttype.HasField("shape"):
        raise SpecError(f"input {value_info.name!r} has no tensor shape; export the model with "
                        "fixed input shapes", file=path, field=field)
    elem = TensorProto.DataType.Name(ttype.elem_type) if ttype.elem_type else "UNDEFINED"
    if elem not in _ELEM_TYPES:
        raise SpecError(f"input {value_info.name!r} has element type {elem}; supported: "
                        + ", ".join(_ELEM_TYPES), file=path, field=field)
    shape = []
    for axis, dim in enumerate(ttype.shape.dim):
        if dim.HasField("dim_value") and dim.dim_value > 0:
            shape.append(int(dim.dim_value))
        elif axis == 0:
            shape.append(1)
        else:
            raise SpecError(f"input {value_info.name!r} has a symbolic dimension "
                            f"{dim.dim_param or '?'!r} at axis {axis}; only the batch (axis 0) may "
                            "be symbolic, so export the model with fixed shapes", file=path, field=field)
    return shape, _ELEM_TYPES[elem]


def _ints(values: Any) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(-1)]


def _scalar(arr: np.ndarray | None) -> float | None:
    if arr is None or arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        return None
    return float(arr.reshape(()))


def _follow_batch(shape: list[int], in_shape: tuple[int, ...]) -> list[int]:
    """Write a leading dimension equal to the input's as 0 (copy), so ``with_batch`` still works."""
    if shape and in_shape and shape[0] == in_shape[0]:
        return [0] + shape[1:]
    return shape


# --------------------------------------------------------------------------- fusion


class _Net:
    """Producer and consumer indices of an ONNX node list, for pattern matching."""

    def __init__(self, ops: list[_Op], consts: dict[str, np.ndarray], outputs: set[str]) -> None:
        self.ops = ops
        self.consts = dict(consts)
        for op in ops:
            if op.type == "Constant" and op.node.output:
                try:
                    self.consts[op.node.output[0]] = _constant_value(op.attrs)
                except (SpecError, ValueError):
                    pass
        self.producer = {t: k for k, op in enumerate(ops) for t in op.node.output if t}
        self.consumers: dict[str, list[int]] = {}
        for k, op in enumerate(ops):
            for t in op.node.input:
                self.consumers.setdefault(t, []).append(k)
        self.outputs = outputs

    def sole_user(self, tensor: str, op_type: str) -> int | None:
        """The one node reading ``tensor`` if it has type ``op_type`` and nothing else reads it."""
        users = self.consumers.get(tensor, [])
        if len(users) != 1 or tensor in self.outputs or self.ops[users[0]].type != op_type:
            return None
        return users[0]

    def other(self, k: int, tensor: str) -> str | None:
        """The second operand of binary node ``k`` next to ``tensor``."""
        ins = list(self.ops[k].node.input)
        if len(ins) != 2 or tensor not in ins:
            return None
        return ins[1] if ins[0] == tensor else ins[0]

    def is_const(self, tensor: str | None, value: float) -> bool:
        got = _scalar(self.consts.get(tensor)) if tensor else None
        return got is not None and math.isclose(got, value, rel_tol=1e-3)


def _match_erf_gelu(net: _Net, e: int) -> tuple[list[int], str, str] | None:
    """x * 0.5 * (1 + erf(x / sqrt 2)) in its exporter variants -> (nodes, x, y)."""
    erf = net.ops[e].node
    p = net.producer.get(erf.input[0])
    if p is None or net.sole_user(erf.input[0], "Erf") != e:
        return None
    pre = net.ops[p]
    if pre.type == "Div" and net.is_const(pre.input(1), math.sqrt(2)):
        x = pre.input(0)
    elif pre.type == "Mul" and net.is_const(pre.input(1), 1 / math.sqrt(2)):
        x = pre.input(0)
    elif pre.type == "Mul" and net.is_const(pre.input(0), 1 / math.sqrt(2)):
        x = pre.input(1)
    else:
        return None
    a = net.sole_user(erf.output[0], "Add")
    if a is None or not net.is_const(net.other(a, erf.output[0]), 1.0):
        return None
    w = net.ops[a].node.output[0]
    m = net.sole_user(w, "Mul")
    if m is None:
        return None
    other, y = net.other(m, w), net.ops[m].node.output[0]
    if other == x or net.is_const(other, 0.5):        # (x * w) * 0.5 or (w * 0.5) * x
        f = net.sole_user(y, "Mul")
        last = net.other(f, y) if f is not None else None
        if f is None or not (net.is_const(last, 0.5) if other == x else last == x):
            return None
        return [p, e, a, m, f], x, net.ops[f].node.output[0]
    h = net.producer.get(other or "")                  # (x * 0.5) * w
    if h is None or net.sole_user(other, "Mul") != m or not net.is_const(net.other(h, x), 0.5):
        return None
    return [p, e, a, h, m], x, y


def _match_linear_bias(net: _Net, k: int) -> tuple[list[int], str, str] | None:
    """MatMul(x, W const 2-D) whose only user adds a (N,) constant -> (nodes, bias, y)."""
    mm = net.ops[k].node
    w = net.consts.get(mm.input[1]) if len(mm.input) == 2 else None
    if w is None or w.ndim != 2 or mm.input[0] in net.consts:
        return None
    a = net.sole_user(mm.output[0], "Add")
    bias = net.other(a, mm.output[0]) if a is not None else None
    b = net.consts.get(bias) if bias else None
    if b is None or b.shape != (w.shape[1],):
        return None
    return [k, a], bias, net.ops[a].node.output[0]


def _fuse(ops: list[_Op], consts: dict[str, np.ndarray], outputs: set[str]) -> list[_Op]:
    """Rewrite exporter patterns into single nodes, each placed where its last node was."""
    from onnx import helper

    net = _Net(ops, consts, outputs)
    taken: set[int] = set()
    placed: dict[int, _Op] = {}
    for k, op in enumerate(ops):
        if op.type == "Erf":
            match = _match_erf_gelu(net, k)
            if match and not taken.intersection(match[0]):
                nodes, x, y = match
                fused = helper.make_node("Gelu", [x], [y], name=op.raw_name)
                taken.update(nodes)
                placed[max(nodes)] = _Op(k, fused, {})
    for k, op in enumerate(ops):
        if op.type == "MatMul" and k not in taken:
            match = _match_linear_bias(net, k)
            if match and not taken.intersection(match[0]):
                nodes, bias, y = match
                fused = helper.make_node("MatMul", [*op.node.input, bias], [y], name=op.raw_name)
                taken.update(nodes)
                placed[max(nodes)] = _Op(k, fused, {})
    return [placed[k] if k in placed else op for k, op in enumerate(ops)
            if k in placed or k not in taken]


# --------------------------------------------------------------------------- constant folding


def _fold_div(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    x, y = v
    if np.issubdtype(x.dtype, np.integer) and np.issubdtype(y.dtype, np.integer):
        return np.trunc(x / y).astype(np.result_type(x, y))
    return x / y


def _axes(a: dict[str, Any], v: list[Any]) -> tuple[int, ...] | None:
    """Axes from the second input (opset >= 13) or the attribute (older opsets)."""
    if len(v) > 1 and v[1] is not None:
        return tuple(_ints(v[1]))
    return tuple(a["axes"]) if "axes" in a else None


def _fold_unsqueeze(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    return np.expand_dims(v[0], _axes(a, v))


def _fold_squeeze(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    axes = _axes(a, v)
    return np.squeeze(v[0]) if axes is None else np.squeeze(v[0], axis=axes)


def _reshape_target(in_shape: Sequence[int], target: Any, allowzero: int) -> list[int]:
    shape = _ints(target)
    if allowzero:
        return shape
    return [in_shape[i] if s == 0 else s for i, s in enumerate(shape)]


def _fold_slice(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    x = v[0]
    starts = _ints(v[1]) if len(v) > 1 else list(a["starts"])
    ends = _ints(v[2]) if len(v) > 2 else list(a["ends"])
    axes = _ints(v[3]) if len(v) > 3 and v[3] is not None else list(a.get("axes", range(len(starts))))
    steps = _ints(v[4]) if len(v) > 4 and v[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[axis] = slice(start, end, step)
    return x[tuple(index)]


def _fold_cast(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    from onnx import helper

    return v[0].astype(helper.tensor_dtype_to_np_dtype(a["to"]))


def _fold_flatten(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    x = v[0]
    axis = a.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), -1)


def _fold_constant_of_shape(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    fill = a.get("value", np.zeros(1, np.float32))
    return np.full(_ints(v[0]), fill.reshape(-1)[0], dtype=fill.dtype)


# op type -> numpy evaluation, used when every input of the node is a known constant.
_FOLD: dict[str, _Fold] = {
    "Add": lambda a, v: v[0] + v[1],
    "Sub": lambda a, v: v[0] - v[1],
    "Mul": lambda a, v: v[0] * v[1],
    "Div": _fold_div,
    "Neg": lambda a, v: -v[0],
    "Sqrt": lambda a, v: np.sqrt(v[0]),
    "Concat": lambda a, v: np.concatenate([x for x in v if x is not None], axis=a["axis"]),
    "Gather": lambda a, v: np.take(v[0], v[1], axis=a.get("axis", 0)),
    "Unsqueeze": _fold_unsqueeze,
    "Squeeze": _fold_squeeze,
    "Reshape": lambda a, v: v[0].reshape(_reshape_target(v[0].shape, v[1], a.get("allowzero", 0))),
    "Transpose": lambda a, v: np.transpose(v[0], a.get("perm")),
    "Cast": _fold_cast,
    "Slice": _fold_slice,
    "Flatten": _fold_flatten,
    "ConstantOfShape": _fold_constant_of_shape,
    "Range": lambda a, v: np.arange(v[0].item(), v[1].item(), v[2].item(), dtype=v[0].dtype),
    "Identity": lambda a, v: v[0],
    "MatMul": lambda a, v: v[0] @ v[1] + (v[2] if len(v) > 2 else 0),
}


# --------------------------------------------------------------------------- converters


def _constant_value(a: dict[str, Any]) -> np.ndarray:
    if "value" in a:
        return np.asarray(a["value"])
    for key, dt in (("value_float", np.float32), ("value_floats", np.float32),
                    ("value_int", np.int64), ("value_ints", np.int64)):
        if key in a:
            return np.asarray(a[key], dtype=dt)
    raise SpecError(f"Constant with {', '.join(a) or 'no value'} is not supported; expected value, "
                    "value_float(s) or value_int(s)")


def _constant(ctx: _Importer, op: _Op) -> None:
    ctx.consts[op.node.output[0]] = _constant_value(op.attrs)


def _shape(ctx: _Importer, op: _Op) -> None:
    shape = ctx.shape_of(op.input(0), op.field)
    start, end = op.attrs.get("start", 0), op.attrs.get("end", None)
    ctx.consts[op.node.output[0]] = np.array(shape[start:end], dtype=np.int64)


def _identity(ctx: _Importer, op: _Op) -> None:
    ctx.alias(op, op.input(0))


def _pads(ctx: _Importer, op: _Op, x: str, kernel: tuple[int, int], stride: tuple[int, int],
          dilation: tuple[int, int]) -> tuple[int, ...] | str:
    """ONNX pads [x1_begin, x2_begin, x1_end, x2_end] are already (top, left, bottom, right)."""
    auto = op.attrs.get("auto_pad", "NOTSET")
    if auto == "VALID":
        return (0, 0, 0, 0)
    if auto == "SAME_UPPER":
        return "same"
    if auto == "SAME_LOWER":  # like 'same', but the odd pixel goes first
        h, w = ctx.types[x].shape[2:4]
        totals = [max((-(-size // s) - 1) * s + d * (k - 1) + 1 - size, 0)
                  for size, k, s, d in zip((h, w), kernel, stride, dilation)]
        return (totals[0] - totals[0] // 2, totals[1] - totals[1] // 2, totals[0] // 2, totals[1] // 2)
    if auto not in ("NOTSET", ""):
        raise SpecError(f"unknown auto_pad {auto!r}")
    pads = tuple(op.attrs.get("pads", (0, 0, 0, 0)))
    if len(pads) != 4:
        raise UnsupportedOpError(f"only 2-D {op.type} is supported; pads has {len(pads)} values")
    return pads


def _pair(op: _Op, key: str, default: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    value = tuple(int(v) for v in op.attrs.get(key, default))
    if len(value) != 2:
        raise UnsupportedOpError(f"only 2-D {op.type} is supported; {key} is {list(value)}")
    return value  # type: ignore[return-value]


def _conv(ctx: _Importer, op: _Op) -> None:
    w = ctx.const(op, 1, "weight")
    if w.ndim != 4:
        raise UnsupportedOpError("only 2-D Conv is supported (a 4-D weight); "
                                 f"got weight shape {list(w.shape)}")
    kernel = (int(w.shape[2]), int(w.shape[3]))
    if "kernel_shape" in op.attrs and tuple(op.attrs["kernel_shape"]) != kernel:
        raise SpecError(f"kernel_shape {op.attrs['kernel_shape']} does not match the weight "
                        f"shape {list(w.shape)}")
    x = ctx.value(op.input(0), op.field)
    stride, dilation = _pair(op, "strides"), _pair(op, "dilations")
    bias = ctx.const(op, 2, "bias", optional=True)
    weights = {"weight": w} if bias is None else {"weight": w, "bias": bias.reshape(-1)}
    ctx.emit(op, "conv2d", [x], {
        "out_channels": int(w.shape[0]), "kernel": kernel, "stride": stride, "dilation": dilation,
        "padding": _pads(ctx, op, x, kernel, stride, dilation), "groups": int(op.attrs.get("group", 1)),
        "bias": bias is not None}, weights)


def _pool(kind: str) -> _Converter:
    def convert(ctx: _Importer, op: _Op) -> None:
        if "kernel_shape" not in op.attrs:
            raise SpecError(f"{op.type} needs kernel_shape")
        kernel = _pair(op, "kernel_shape")
        if _pair(op, "dilations") != (1, 1):
            raise UnsupportedOpError(f"dilated {op.type} is not supported")
        stride = _pair(op, "strides")
        x = ctx.value(op.input(0), op.field)
        ctx.emit(op, kind, [x], {"kernel": kernel, "stride": stride,  # ONNX's default stride is 1
                                 "ceil_mode": bool(op.attrs.get("ceil_mode", 0)),
                                 "padding": _pads(ctx, op, x, kernel, stride, (1, 1))})
    return convert


def _linear(ctx: _Importer, op: _Op, x: str, weight: np.ndarray, bias: np.ndarray | None) -> None:
    """``weight`` is already in linear's (out, in) layout."""
    weights = {"weight": np.ascontiguousarray(weight)}
    if bias is not None:
        weights["bias"] = bias
    ctx.emit(op, "linear", [x], {"out_features": int(weight.shape[0]), "bias": bias is not None}, weights)


def _gemm(ctx: _Importer, op: _Op) -> None:
    a = op.attrs
    if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
        raise UnsupportedOpError("Gemm is supported with alpha = beta = 1 and transA = 0 only")
    b = ctx.const(op, 1, "B")
    if b.ndim != 2:
        raise SpecError(f"Gemm's B must be 2-D, got shape {list(b.shape)}")
    weight = b if a.get("transB", 0) else b.T
    x, out = ctx.value(op.input(0), op.field), int(weight.shape[0])
    c = op.input(2)
    bias = ctx.consts.get(c) if c else None
    if not c or (bias is not None and bias.ndim <= 2 and _broadcasts(bias.shape, (1, out))):
        vector = None if bias is None else np.broadcast_to(bias, (1, out))[0].copy()
        _linear(ctx, op, x, weight, vector)
        return
    # A bias that is computed, or varies per row: keep it as an explicit add.
    lin = ctx.emit(op, "linear", [x], {"out_features": out, "bias": False},
                   {"weight": np.ascontiguousarray(weight)}, output=False)
    ctx.emit(op, "add", [lin, ctx.value(c, op.field)], suffix="_bias")


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """``shape`` broadcasts to ``target`` without enlarging it."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _matmul(ctx: _Importer, op: _Op) -> None:
    """Constant 2-D right operand -> linear; else matmul. A third input is a fused bias Add."""
    a, b, bias = op.input(0), op.input(1), op.input(2)
    w = ctx.consts.get(b)
    if w is not None and w.ndim == 2 and a not in ctx.consts:
        _linear(ctx, op, ctx.value(a, op.field), w.T, ctx.consts[bias] if bias else None)
        return
    mm = ctx.emit(op, "matmul", [ctx.value(a, op.field), ctx.value(b, op.field)], output=not bias)
    if bias:
        ctx.emit(op, "add", [mm, ctx.value(bias, op.field)], suffix="_bias")


def _binary(kind: str) -> _Converter:
    def convert(ctx: _Importer, op: _Op) -> None:
        a, b = op.input(0), op.input(1)
        if kind in ("mul", "div") and _try_scale(ctx, op, kind, a, b):
            return
        ctx.emit(op, kind, [ctx.value(a, op.field), ctx.value(b, op.field)])
    return convert


def _try_scale(ctx: _Importer, op: _Op, kind: str, a: str, b: str) -> bool:
    """Multiplying or dividing by a scalar is a ``scale`` (no parameter tensor, e.g. 1/sqrt(d))."""
    x, c = (b, a) if kind == "mul" and a in ctx.consts else (a, b)
    factor = _scalar(ctx.consts.get(c))
    if factor is None or x in ctx.consts or (kind == "div" and factor == 0):
        return False
    t = ctx.types[ctx.value(x, op.field)]
    if not t.dtype.is_float or ctx.consts[c].ndim > t.rank:
        return False
    ctx.emit(op, "scale", [ctx.value(x, op.field)], {"factor": 1 / factor if kind == "div" else factor})
    return True


def _unary(kind: str) -> _Converter:
    def convert(ctx: _Importer, op: _Op) -> None:
        ctx.emit(op, kind, [ctx.value(op.input(0), op.field)])
    return convert


def _clip(ctx: _Importer, op: _Op) -> None:
    if ctx.opset < 11:
        lo, hi = op.attrs.get("min"), op.attrs.get("max")
    else:
        lo = _scalar(ctx.const(op, 1, "min", optional=True))
        hi = _scalar(ctx.const(op, 2, "max", optional=True))
    if lo == 0 and hi == 6:
        kind = "relu6"
    elif lo == 0 and (hi is None or math.isinf(hi)):
        kind = "relu"
    else:
        raise UnsupportedOpError(f"Clip is supported as relu6 (min 0, max 6) or relu (min 0) only; "
                                 f"got min {lo}, max {hi}")
    ctx.emit(op, kind, [ctx.value(op.input(0), op.field)])


def _batchnorm(ctx: _Importer, op: _Op) -> None:
    """Fold the running statistics into accelsim's per-channel scale and shift."""
    gamma, beta = ctx.const(op, 1, "scale"), ctx.const(op, 2, "bias")
    mean, var = ctx.const(op, 3, "mean"), ctx.const(op, 4, "var")
    eps = float(op.attrs.get("epsilon", 1e-5))
    scale = gamma / np.sqrt(var + eps)
    shift = beta - mean * scale
    ctx.emit(op, "batchnorm", [ctx.value(op.input(0), op.field)], {"eps": eps},
             {"scale": scale.astype(gamma.dtype), "bias": shift.astype(gamma.dtype)})


def _layernorm(ctx: _Importer, op: _Op) -> None:
    x = ctx.value(op.input(0), op.field)
    rank = ctx.types[x].rank
    axis = int(op.attrs.get("axis", -1))
    if axis % max(rank, 1) != rank - 1:
        raise UnsupportedOpError(f"LayerNormalization over axes from {axis} of a rank-{rank} tensor; "
                                 "only the last axis is supported")
    scale = ctx.const(op, 1, "scale").reshape(-1)
    bias = ctx.const(op, 2, "bias", optional=True)
    bias = np.zeros_like(scale) if bias is None else bias.reshape(-1)
    ctx.emit(op, "layernorm", [x], {"eps": float(op.attrs.get("epsilon", 1e-5))},
             {"scale": scale, "bias": bias})


def _softmax(ctx: _Importer, op: _Op) -> None:
    axis = int(op.attrs.get("axis", -1 if ctx.opset >= 13 else 1))
    ctx.emit(op, "softmax", [ctx.value(op.input(0), op.field)], {"axis": axis})


def _lrn(ctx: _Importer, op: _Op) -> None:
    a = op.attrs
    ctx.emit(op, "lrn", [ctx.value(op.input(0), op.field)], {
        "size": int(a["size"]), "alpha": float(a.get("alpha", 1e-4)), "beta": float(a.get("beta", 0.75)),
        "k": float(a.get("bias", 1.0))})


def _concat(ctx: _Importer, op: _Op) -> None:
    ins = [ctx.value(t, op.field) for t in op.node.input if t]
    ctx.emit(op, "concat", ins, {"axis": int(op.attrs["axis"])})


def _reshape_to(ctx: _Importer, op: _Op, x: str, shape: list[int]) -> None:
    ctx.emit(op, "reshape", [x], {"shape": _follow_batch(shape, ctx.types[x].shape)})


def _reshape(ctx: _Importer, op: _Op) -> None:
    target = _ints(ctx.const(op, 1, "shape"))
    if op.attrs.get("allowzero", 0) and 0 in target:
        raise UnsupportedOpError("Reshape with allowzero = 1 and a 0 dimension is not supported")
    _reshape_to(ctx, op, ctx.value(op.input(0), op.field), target)


def _flatten(ctx: _Importer, op: _Op) -> None:
    x = ctx.value(op.input(0), op.field)
    shape = ctx.types[x].shape
    axis = int(op.attrs.get("axis", 1))
    axis = axis + len(shape) if axis < 0 else axis
    if axis == 1 and len(shape) >= 2:
        ctx.emit(op, "flatten", [x])
    else:
        _reshape_to(ctx, op, x, [math.prod(shape[:axis]), math.prod(shape[axis:])])


def _squeeze_like(fold: _Fold) -> _Converter:
    """Squeeze and Unsqueeze of an activation are reshapes to the shape numpy computes."""
    def convert(ctx: _Importer, op: _Op) -> None:
        x = ctx.value(op.input(0), op.field)
        view = np.broadcast_to(np.zeros((), np.int8), ctx.types[x].shape)  # no allocation
        axes = ctx.const(op, 1, "axes", optional=True)
        _reshape_to(ctx, op, x, list(fold(op.attrs, [view, axes]).shape))
    return convert


def _transpose(ctx: _Importer, op: _Op) -> None:
    x = ctx.value(op.input(0), op.field)
    perm = op.attrs.get("perm") or list(reversed(range(ctx.types[x].rank)))
    ctx.emit(op, "transpose", [x], {"perm": [int(p) for p in perm]})


def _gather(ctx: _Importer, op: _Op) -> None:
    table = ctx.consts.get(op.input(0))
    if table is None or table.ndim != 2 or op.attrs.get("axis", 0) != 0 or op.input(1) in ctx.consts:
        raise UnsupportedOpError("Gather is supported only as an embedding lookup: a constant 2-D "
                                 "table indexed along axis 0 by an activation")
    ctx.emit(op, "embedding", [ctx.value(op.input(1), op.field)], {
        "num_embeddings": int(table.shape[0]), "dim": int(table.shape[1]), "dtype": _np_dtype(table)},
        {"weight": table})


def _variadic(kind: str) -> _Converter:
    """Sum, Max, Min of n inputs: a chain of n - 1 binary nodes (one input is the identity)."""
    def convert(ctx: _Importer, op: _Op) -> None:
        ins = [t for t in op.node.input if t]
        if len(ins) == 1:
            ctx.alias(op, ins[0])
            return
        acc = ctx.value(ins[0], op.field)
        for k, t in enumerate(ins[1:], start=1):
            last = k == len(ins) - 1
            acc = ctx.emit(op, kind, [acc, ctx.value(t, op.field)], suffix="" if last else f"_{k}",
                           output=last)
    return convert


_UNARY = {
    "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Gelu": "gelu", "HardSwish": "hardswish",
    "HardSigmoid": "hardsigmoid", "LeakyRelu": "leaky_relu", "Exp": "exp", "Sqrt": "sqrt", "Neg": "neg",
    "GlobalAveragePool": "global_avgpool", "GlobalMaxPool": "global_maxpool",
}

# ONNX op type -> converter. Each adds the node(s) for one ONNX node, or records a constant.
_CONVERTERS: dict[str, _Converter] = {
    **{onnx_op: _unary(kind) for onnx_op, kind in _UNARY.items()},
    "Constant": _constant, "Shape": _shape, "Identity": _identity, "Dropout": _identity,
    "Conv": _conv, "MaxPool": _pool("maxpool"), "AveragePool": _pool("avgpool"),
    "Gemm": _gemm, "MatMul": _matmul,
    "Add": _binary("add"), "Sub": _binary("sub"), "Mul": _binary("mul"), "Div": _binary("div"),
    "Sum": _variadic("add"), "Max": _variadic("max"), "Min": _variadic("min"), "Clip": _clip,
    "BatchNormalization": _batchnorm, "LayerNormalization": _layernorm, "Softmax": _softmax,
    "LRN": _lrn, "Concat": _concat, "Reshape": _reshape, "Flatten": _flatten,
    "Squeeze": _squeeze_like(_fold_squeeze), "Unsqueeze": _squeeze_like(_fold_unsqueeze),
    "Transpose": _transpose, "Gather": _gather,
}

SUPPORTED_OPS: tuple[str, ...] = tuple(sorted(set(_CONVERTERS)))
"""ONNX op types the importer converts (others in ``_FOLD`` work on constants only)."""


# --------------------------------------------------------------------------- entry point


def _read(path: str) -> Any:
    import onnx

    if not Path(path).is_file():
        raise SpecError("file not found", file=path)
    try:
        model = onnx.load(path)
    except Exception as exc:  # protobuf DecodeError, missing external data, ...
        raise SpecError(f"not a valid ONNX model: {type(exc).__name__}: {exc}".rstrip(": "),
                        file=path) from None
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise SpecError("not a valid ONNX model (no IR version or graph)", file=path)
    return model


def load_onnx(path: str | Path) -> Graph:
    """Import an ONNX model as a verified Graph, with its initializers as weights.

    Raises:
        SpecError: not an ONNX file, or onnx is not installed; malformed node attributes.
        UnsupportedOpError: an ONNX op (or op variant) with no accelsim equivalent.
        GraphError: shapes that do not agree.
    """
    path = str(path)
    try:
        import onnx  # noqa: F401  (an optional extra)
    except ImportError:
        raise SpecError("reading ONNX models needs the optional 'onnx' package "
                        "(pip install onnx)", file=path) from None
    model = _read(path)
    try:
        return _Importer(path, model).run()
    except AccelsimError as exc:
        raise exc.located(file=path)
    except Exception as exc:  # e.g. an initializer numpy cannot represent
        raise SpecError(f"cannot import ONNX model: {type(exc).__name__}: {exc}", file=path) from None
