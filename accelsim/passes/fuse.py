"""The ``fuse`` pass: fold each batchnorm into the conv2d or linear before it, then fold each
activation that follows a conv2d, linear or add into that producer as a ``fused`` annotation.

Batchnorm in the IR is already a per-channel scale ``s`` and shift ``t`` (the ONNX importer
folds the running statistics into them), so after ``y = W x + b`` it gives
``s y + t = (s W) x + (s b + t)``: a conv (linear) whose output channel ``k`` has weights
``s[k] W[k]`` and bias ``s[k] b[k] + t[k]`` (``b = 0`` where there was no bias, and the
folded layer has one). Without weights the same layer is built, bias and all, so MACs and
shapes are those of the folded network.

A fold needs the producer's output to have no other reader and not to be a graph output;
a node with annotations of its own (other than ``fused`` on the producer) is left alone, as
folding would drop them, and so is a pair of which only one has its weights.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..ir import Fused, Graph, NodeSpec
from .manager import Pass

__all__ = ["fuse", "FUSE", "BATCHNORM_INTO", "ACTIVATIONS", "ACTIVATION_INTO"]

BATCHNORM_INTO = ("conv2d", "linear")
ACTIVATION_INTO = ("conv2d", "linear", "add")
ACTIVATIONS = ("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish",
               "hardsigmoid")


def fuse(graph: Graph) -> Graph:
    """The folded copy of ``graph`` (``graph`` itself is not changed)."""
    g = graph.copy()
    for name in [n.name for n in g.nodes() if n.op == "batchnorm"]:
        _fold_batchnorm(g, name)
    for name in [n.name for n in g.nodes() if n.op in ACTIVATIONS]:
        _fold_activation(g, name)
    return g


def _only_reader(g: Graph, producer: str, reader: str) -> bool:
    return g.consumers(producer) == [reader] and producer not in g.outputs


def _fold_batchnorm(g: Graph, name: str) -> None:
    bn = g.node(name)
    prod = g.node(bn.inputs[0])
    if (prod.op not in BATCHNORM_INTO or prod.annotations or bn.annotations
            or not _only_reader(g, prod.name, name)):
        return
    if prod.op == "linear" and g.type_of(prod.name).rank != 2:
        return  # batchnorm's channel axis (1) is then not the linear's output features
    pw, bw = g.weights(prod.name), g.weights(name)
    if pw or bw:
        if "weight" not in pw or not {"scale", "bias"} <= set(bw):
            return
        weights = _folded(pw, bw)
    else:
        weights = {}
    g.replace(prod.name, [NodeSpec(prod.name, prod.op, prod.inputs, {**prod.attrs, "bias": True},
                                   weights=weights, source=prod.source)], prod.name)
    g.remove(name)


def _folded(layer: Mapping[str, Any], bn: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Weight and bias of ``bn(layer(x))``, computed in float64, stored at the layer's dtype."""
    w = np.asarray(layer["weight"])
    dtype = w.dtype if np.issubdtype(w.dtype, np.floating) else np.float64
    s, t = (np.asarray(bn[k], dtype=np.float64) for k in ("scale", "bias"))
    b = np.asarray(layer["bias"], dtype=np.float64) if "bias" in layer else np.zeros_like(s)
    per_row = s.reshape((-1,) + (1,) * (w.ndim - 1))
    return {"weight": (w.astype(np.float64) * per_row).astype(dtype), "bias": (b * s + t).astype(dtype)}


def _fold_activation(g: Graph, name: str) -> None:
    act = g.node(name)
    prod = g.node(act.inputs[0])
    if (prod.op not in ACTIVATION_INTO or act.annotations or set(prod.annotations) - {"fused"}
            or not _only_reader(g, prod.name, name)):
        return
    before = prod.annotations.get("fused")
    g.annotate(prod.name, Fused((before.ops if isinstance(before, Fused) else ()) + (act.op,)))
    g.remove(name)


FUSE = Pass("fuse", fuse, doc="Fold batchnorm into the conv2d/linear before it and activations "
                              "into the conv2d/linear/add before them.")
