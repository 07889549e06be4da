"""A numpy reference interpreter: run a Graph forward on arrays, to check that a pass keeps
what a network computes.

Plain, slow and in float64: it is the yardstick for transformations, not a simulator. Its
conventions where the IR leaves a choice: ``leaky_relu`` has slope 0.01, ``hardsigmoid`` is
``relu6(x + 3) / 6`` (both PyTorch's defaults); ``gelu`` is the exact erf form; ``avgpool``
divides by the window's elements inside the explicitly padded input (PyTorch's
``count_include_pad``), never counting what ``ceil_mode`` hangs over the edge. A node's
``fused`` ops are applied to its output in order; other annotations do not change values.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable, Mapping

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import GraphError, UnsupportedOpError
from ..ir import OPS, Graph, Node, TensorType
from ..ir.opdef import normalize_attrs
from ..ir.ops import resolve_padding

__all__ = ["run_reference", "REFERENCE_OPS", "LayerKernel"]

Array = np.ndarray
_erf = np.vectorize(math.erf, otypes=[np.float64])

_UNARY: dict[str, Callable[[Array], Array]] = {
    "identity": lambda x: x,
    "dropout": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.01 * x),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hardsigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "neg": np.negative,
}
_BINARY: dict[str, Callable[[Array, Array], Array]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "max": np.maximum, "min": np.minimum,
}


class _Step:
    """What one kernel sees: the node, its input arrays, its output type and its weights."""

    def __init__(self, graph: Graph, node: Node, args: list[Array]) -> None:
        self.graph, self.node, self.args = graph, node, args
        self.a = node.attrs
        self.out: TensorType = graph.type_of(node.name)

    def weight(self, key: str) -> Array:
        arrays = self.graph.weights(self.node.name)
        if key not in arrays:
            raise GraphError(f"layer {self.node.name!r} ({self.node.op}) has no weight {key!r}; the "
                             "reference interpreter needs the model's weights",
                             file=self.node.source.file, line=self.node.source.line)
        return np.asarray(arrays[key], dtype=np.float64)

    def windows(self, kernel: tuple[int, int], dilation: tuple[int, int], fill: float) -> Array:
        """(N, C, P, Q, R, S) views of the padded input; ceil_mode's overhang is NaN."""
        x = self.args[0]
        stride = self.a["stride"] if self.a.get("stride") is not None else kernel
        t, l, b, r = resolve_padding(self.a, x.shape[2], x.shape[3], kernel, stride, dilation)
        x = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=fill)
        p, q = self.out.shape[2:]
        span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
        over = [max((n - 1) * s + sp - size, 0) for n, s, sp, size in zip((p, q), stride, span, x.shape[2:])]
        x = np.pad(x, ((0, 0), (0, 0), (0, over[0]), (0, over[1])), constant_values=np.nan)
        win = sliding_window_view(x, tuple(span), axis=(2, 3))
        return win[:, :, ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]][:, :, :p, :q]


def _conv2d(s: _Step) -> Array:
    w = s.weight("weight")
    win = s.windows(s.a["kernel"], s.a["dilation"], 0.0)
    g = s.a["groups"]
    cg, kg = w.shape[1], w.shape[0] // g
    y = np.concatenate([np.einsum("ncpqrs,kcrs->nkpq", win[:, i * cg:(i + 1) * cg], w[i * kg:(i + 1) * kg])
                        for i in range(g)], axis=1)
    return y + s.weight("bias")[None, :, None, None] if s.a["bias"] else y


def _linear(s: _Step) -> Array:
    y = s.args[0] @ s.weight("weight").T
    return y + s.weight("bias") if s.a["bias"] else y


def _per_channel(s: _Step, key: str) -> Array:
    return s.weight(key).reshape((-1,) + (1,) * (s.args[0].ndim - 2))


def _layernorm(s: _Step) -> Array:
    x = s.args[0]
    z = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + s.a["eps"])
    return z * s.weight("scale") + s.weight("bias")


def _softmax(s: _Step) -> Array:
    e = np.exp(s.args[0] - s.args[0].max(s.a["axis"], keepdims=True))
    return e / e.sum(s.a["axis"], keepdims=True)


def _slice(s: _Step) -> Array:
    index = [slice(None)] * s.args[0].ndim
    index[s.a["axis"]] = slice(s.a["start"], s.a["end"], s.a["step"])
    return s.args[0][tuple(index)]


REFERENCE_OPS: dict[str, Callable[[_Step], Array]] = {
    "constant": lambda s: s.weight("value"),
    "conv2d": _conv2d,
    "linear": _linear,
    "matmul": lambda s: np.matmul(*s.args),
    "maxpool": lambda s: np.nanmax(s.windows(s.a["kernel"], (1, 1), -np.inf), axis=(4, 5)),
    "avgpool": lambda s: np.nanmean(s.windows(s.a["kernel"], (1, 1), 0.0), axis=(4, 5)),
    "global_avgpool": lambda s: s.args[0].mean(axis=(2, 3), keepdims=True),
    "global_maxpool": lambda s: s.args[0].max(axis=(2, 3), keepdims=True),
    "batchnorm": lambda s: s.args[0] * _per_channel(s, "scale") + _per_channel(s, "bias"),
    "layernorm": _layernorm,
    "softmax": _softmax,
    "scale": lambda s: s.args[0] * s.a["factor"],
    "concat": lambda s: np.concatenate(s.args, axis=s.a["axis"]),
    "reshape": lambda s: s.args[0].reshape(s.out.shape),
    "flatten": lambda s: s.args[0].reshape(s.out.shape),
    "transpose": lambda s: np.transpose(s.args[0], s.a["perm"]),
    "slice": _slice,
    "embedding": lambda s: s.weight("weight")[s.args[0]],
    **{name: (lambda f: lambda s: f(s.args[0]))(f) for name, f in _UNARY.items()},
    **{name: (lambda f: lambda s: f(*s.args))(f) for name, f in _BINARY.items()},
}


def _fused(graph: Graph, node: Node, value: Array) -> Array:
    fused = node.annotations.get("fused")
    for op in fused.ops if fused is not None else ():
        value = _kernel(op, node)(_Step(graph, _as_op(node, op), [value]))
    return value


def _as_op(node: Node, op: str) -> Node:
    return replace(node, op=op, attrs=normalize_attrs(OPS.get(op), {}))


def _kernel(op: str, node: Node) -> Callable[[_Step], Array]:
    if op not in REFERENCE_OPS:
        raise UnsupportedOpError(f"the reference interpreter has no {op!r} (layer {node.name!r})",
                                 file=node.source.file, line=node.source.line)
    return REFERENCE_OPS[op]


LayerKernel = Callable[[Graph, Node, list[Array]], "Array | None"]


def run_reference(graph: Graph, inputs: Mapping[str, Any], *,
                  layer_kernel: LayerKernel | None = None) -> dict[str, Array]:
    """Run ``graph`` on ``inputs`` (input name -> array); return each graph output's array.

    ``layer_kernel(graph, node, args)``, where given, runs a node its own way (the integer
    executor runs quantised layers on integer kernels); it returns None to leave the node to
    the reference. A node's fused ops follow either way.

    Raises:
        GraphError: a missing or ill-shaped input array, or a layer without its weights.
        UnsupportedOpError: an op this interpreter does not run.
    """
    graph.verify()
    values: dict[str, Array] = {}
    for node in graph.nodes():
        if node.op == "input":
            if node.name not in inputs:
                raise GraphError(f"no array for input {node.name!r}")
            x = np.asarray(inputs[node.name])
            want = graph.type_of(node.name).shape
            if x.shape != want:
                raise GraphError(f"input {node.name!r} has shape {list(x.shape)}, expected {list(want)}")
            values[node.name] = x if graph.type_of(node.name).dtype.is_index else x.astype(np.float64)
            continue
        args = [values[i] for i in node.inputs]
        out = layer_kernel(graph, node, args) if layer_kernel is not None else None
        if out is None:
            out = _kernel(node.op, node)(_Step(graph, node, args))
        values[node.name] = _fused(graph, node, out)
    return {name: values[name] for name in graph.outputs}
