"""Run a compressed network on the quantized and sparse kernels, to measure what it computes.

Accuracy after compression must come from the arithmetic the hardware does, not from a float
imitation of it. A layer with a ``quant`` annotation runs on ``kernels.quant``: its input is
quantised (asymmetric, at ``act_bits``, with a range calibrated on sample inputs), its weights
are the integer grid the quantize pass left (symmetric, per tensor or per output channel:
the scale is the largest magnitude over ``qmax``), the MACs run in integers with an int32
accumulator whose overflows are counted, and the accumulator is scaled back and the float
bias added. Zero weights take part in those integer sums as zeros, which is exactly what a
zero-skipping datapath leaves out. A pruned layer without ``quant`` runs on
``kernels.sparse`` (CSR values times the im2col'd input). Everything else runs on the
numpy reference interpreter (``passes.reference``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..ir import Graph, Node, Quant, Sparsity
from ..ir.ops import resolve_padding
from ..passes.reference import run_reference

__all__ = ["Executed", "run_compressed", "calibrate", "weight_grid", "ACC_BITS"]

ACC_BITS = 32
_LAYERS = ("conv2d", "linear")


@dataclass
class Executed:
    """The outputs, and what ran where: layers on integer and on sparse kernels, and the
    accumulator overflows seen (outputs whose partial sums left the int32 range)."""

    outputs: dict[str, np.ndarray]
    integer_layers: int = 0
    sparse_layers: int = 0
    overflows: int = 0


def weight_grid(w: np.ndarray, ann: Quant) -> tuple[np.ndarray, np.ndarray]:
    """The integers and scales (per tensor, or one per output channel) of a quantised weight."""
    levels = 1 if ann.weight_bits == 1 else 2 ** (ann.weight_bits - 1) - 1
    a = np.asarray(w, dtype=np.float64)
    rows = a.reshape(a.shape[0], -1) if ann.per_channel else a.reshape(1, -1)
    top = np.abs(rows).max(axis=1)
    scale = np.where(top > 0, top / levels, 1.0)
    per = scale.reshape((-1,) + (1,) * (a.ndim - 1)) if ann.per_channel else scale.reshape(())
    q = np.clip(np.rint(a / per), -levels, levels).astype(np.int64)
    if ann.weight_bits == 1:
        q = np.where(a < 0, -1, 1).astype(np.int64)
    return q, scale


def _conv_geometry(graph: Graph, node: Node, x: np.ndarray) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    a = node.attrs
    kernel = tuple(a["kernel"])
    stride = tuple(a["stride"])
    pads = resolve_padding(a, x.shape[2], x.shape[3], kernel, stride, tuple(a["dilation"]))
    return stride, tuple(pads)  # type: ignore[return-value]


def calibrate(graph: Graph, samples: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """(min, max) of the input of every quantised conv2d/linear layer, over ``samples``
    run through the float reference."""
    ranges: dict[str, tuple[float, float]] = {}

    def record(g: Graph, node: Node, args: list[np.ndarray]) -> None:
        if node.op in _LAYERS and isinstance(node.annotations.get("quant"), Quant):
            ranges[node.name] = (float(args[0].min()), float(args[0].max()))
        return None

    run_reference(graph, samples, layer_kernel=record)
    return ranges


def run_compressed(graph: Graph, inputs: Mapping[str, Any], *,
                   calibration: Mapping[str, tuple[float, float]] | None = None,
                   acc_bits: int = ACC_BITS) -> Executed:
    """Run ``graph`` on ``inputs`` with its compressed layers on the integer and sparse
    kernels; ``calibration`` gives each quantised layer's input range (default: the range
    of these inputs, from :func:`calibrate`).

    Raises:
        GraphError: a missing or ill-shaped input, a layer without weights.
    """
    ranges = dict(calibration) if calibration is not None else calibrate(graph, inputs)
    result = Executed(outputs={})

    def kernel(g: Graph, node: Node, args: list[np.ndarray]) -> np.ndarray | None:
        if node.op not in _LAYERS or "weight" not in g.weights(node.name):
            return None
        if node.op == "conv2d" and node.attrs["dilation"] != (1, 1):
            return None
        quant = node.annotations.get("quant")
        sparsity = node.annotations.get("sparsity")
        if isinstance(quant, Quant):
            out, overflows = _integer_layer(g, node, args[0], quant, ranges.get(node.name), acc_bits)
            result.integer_layers += 1
            result.overflows += overflows
            return out
        if isinstance(sparsity, Sparsity) and node.attrs.get("groups", 1) == 1:
            result.sparse_layers += 1
            return _sparse_layer(g, node, args[0])
        return None

    result.outputs = run_reference(graph, inputs, layer_kernel=kernel)
    return result


def _bias(g: Graph, node: Node) -> np.ndarray | None:
    b = g.weights(node.name).get("bias")
    return None if b is None or not node.attrs.get("bias", True) else np.asarray(b, dtype=np.float64)


def _integer_layer(g: Graph, node: Node, x: np.ndarray, ann: Quant, span: tuple[float, float] | None,
                   acc_bits: int) -> tuple[np.ndarray, int]:
    from ..kernels.quant import choose_params, qconv2d, qgemm, quantize

    lo, hi = span if span is not None else (float(x.min()), float(x.max()))
    act = choose_params(np.array([lo, hi]), ann.act_bits, symmetric=False)
    x_q = quantize(x, act).astype(np.int64)
    x_zero = int(act.zero_point[0])
    w_q, w_scale = weight_grid(np.asarray(g.weights(node.name)["weight"]), ann)
    if node.op == "linear":
        flat = x_q.reshape(-1, x_q.shape[-1])
        res = qgemm(flat, np.ascontiguousarray(w_q.T), x_zero, 0, acc_bits=acc_bits)
        acc = res.acc.reshape(x.shape[:-1] + (w_q.shape[0],)).astype(np.float64)
        out = acc * act.scale[0] * w_scale.reshape(-1)
    else:
        stride, pads = _conv_geometry(g, node, x)
        res = qconv2d(x_q, w_q, x_zero, 0, stride=stride, padding=pads, groups=node.attrs["groups"],
                      acc_bits=acc_bits)
        out = res.acc.astype(np.float64) * act.scale[0] * w_scale.reshape(1, -1, 1, 1)
    bias = _bias(g, node)
    if bias is not None:
        out = out + (bias if node.op == "linear" else bias[None, :, None, None])
    return out, int(res.overflows)


def _sparse_layer(g: Graph, node: Node, x: np.ndarray) -> np.ndarray:
    from ..kernels.sparse import encode, im2col, spmm_csr

    w = np.asarray(g.weights(node.name)["weight"], dtype=np.float64)
    csr = encode(w.reshape(w.shape[0], -1), "csr", value_bits=32)
    bias = _bias(g, node)
    if node.op == "linear":
        flat = x.reshape(-1, x.shape[-1])
        out = spmm_csr(csr, np.ascontiguousarray(flat.T)).T.reshape(x.shape[:-1] + (w.shape[0],))
        return out + bias if bias is not None else out
    stride, (t, l, b, r) = _conv_geometry(g, node, x)
    padded = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
    cols = im2col(padded, (w.shape[2], w.shape[3]), stride, 0)
    n = x.shape[0]
    p, q = g.type_of(node.name).shape[2:]
    out = spmm_csr(csr, cols).reshape(w.shape[0], n, p, q).transpose(1, 0, 2, 3)
    return out + bias[None, :, None, None] if bias is not None else out
