"""The backward graph of a forward graph: each layer's gradients as workloads of their own.

For every layer on a path from a parameter to the loss, the gradient with respect to each
input that needs one and to its weights, as the kernels a framework runs:

* ``conv2d``: the input gradient is the transposed product ``dY (N*P*Q x K) @ W (K x C*R*S)``
  added into the input's shape (col2im), the weight gradient ``dY^T @ X`` over the
  ``N*P*Q`` positions (implicit GEMM): two GEMMs of the forward MAC count. Depthwise
  convolutions have memory-bound gradients, as forward.
* ``linear``: ``dX = dY W`` and ``dW = dY^T X``; ``matmul``: one GEMM per operand.
* everything else is memory-bound (``vjp``): it reads the incoming gradient and what the
  derivative needs from forward (the input of an activation, a norm or max-pooling, the
  output of a softmax) and writes the input's gradient. An add passes its gradient on
  unchanged, a view reshapes it, and a tensor read by several layers sums their gradients.

The first layer's input (the data) needs no gradient, so its input gradient is skipped, as
frameworks do. The graph's inputs are ``saved:NAME`` (forward activations kept for the
backward pass), ``param:NAME`` (weights read by input gradients) and ``grad:NAME`` (the
loss gradient of each forward output).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph, Layer, TensorType

__all__ = ["Backward", "backward_graph", "MATRIX_KINDS"]

MATRIX_KINDS = ("conv", "gemm")
# The derivative of these reads the layer's output, not its input.
_READS_OUTPUT = ("softmax", "log_softmax", "sigmoid", "tanh", "relu", "relu6")
# Gradient passes through unchanged where the shapes agree.
_PASS_THROUGH = ("add", "sub", "identity", "dropout", "neg", "scale", "cast")


@dataclass(frozen=True)
class Backward:
    """``graph``: the backward pass; ``saved``: the forward tensors it reads."""

    graph: Graph
    saved: tuple[str, ...]


class _Builder:
    def __init__(self, forward: Graph) -> None:
        self.forward = forward
        self.types = forward.types()
        self.g = Graph(f"{forward.name}.backward")
        self.saved: dict[str, str] = {}
        self.grads: dict[str, list[str]] = {}

    def source(self, prefix: str, name: str, t: TensorType | None = None) -> str:
        node = f"{prefix}:{name}"
        if node not in self.g:
            t = t or self.types[name]
            self.g.add(node, "input", (), {"shape": list(t.shape), "dtype": t.dtype.name})
            if prefix == "saved":
                self.saved[name] = node
        return node

    def add(self, name: str, op: str, inputs: list[str], attrs: dict) -> str:
        self.g.add(name, op, inputs, attrs)
        return name

    def gradient_of(self, name: str) -> str | None:
        parts = self.grads.get(name)
        if not parts:
            return None
        total = parts[0]
        for i, part in enumerate(parts[1:], 1):
            total = self.add(f"{name}.grad_sum{i}", "add", [total, part], {})
        return total

    def give(self, tensor: str, grad: str) -> None:
        self.grads.setdefault(tensor, []).append(grad)


def backward_graph(forward: Graph) -> Backward:
    """The backward pass of ``forward`` (see the module docstring); ``forward`` unchanged."""
    b = _Builder(forward)
    layers = forward.layers()
    needs: set[str] = set()
    for layer in layers:
        if layer.params or any(i in needs for i in layer.node.inputs):
            needs.add(layer.name)
    for out in forward.outputs:
        if out in needs:
            b.give(out, b.source("grad", out))
    for layer in reversed(layers):
        if layer.name not in needs:
            continue
        dy = b.gradient_of(layer.name)
        if dy is not None:
            _layer_backward(b, layer, dy, needs)
    b.g.set_outputs([n.name for n in b.g.nodes() if n.op != "input" and not b.g.consumers(n.name)])
    b.g.verify()
    return Backward(b.g, tuple(b.saved))


def _layer_backward(b: _Builder, layer: Layer, dy: str, needs: set[str]) -> None:
    w, a, name = layer.workload, layer.node.attrs, layer.name
    wanted = [(i, t) for i, t in zip(layer.node.inputs, layer.inputs) if i in needs]
    if layer.op == "conv2d" and not (w.dim("C") == 1 and w.dim("G") > 1):
        g, n, k, c = w.dim("G"), w.dim("N"), w.dim("K"), w.dim("C")
        pq, rs = w.dim("P") * w.dim("Q"), w.dim("R") * w.dim("S")
        x = layer.inputs[0]
        weight = b.source("param", f"{name}.weight", TensorType((g * k, c) + tuple(a["kernel"]), x.dtype))
        for i, t in wanted:
            b.give(i, b.add(f"{name}.dgrad", "gemm", [dy, weight],
                            {"batch": g, "m": n * pq, "n": c * rs, "k": k, "shape": list(t.shape)}))
        b.add(f"{name}.wgrad", "gemm", [b.source("saved", layer.node.inputs[0]), dy],
              {"batch": g, "m": k, "n": c * rs, "k": n * pq, "shape": [g * k, c, *a["kernel"]]})
        if a["bias"]:
            _bias_grad(b, layer, dy, g * k)
        return
    if layer.op == "linear":
        x = layer.inputs[0]
        rows, fan_in, fan_out = x.numel // x.shape[-1], x.shape[-1], a["out_features"]
        weight = b.source("param", f"{name}.weight", TensorType((fan_out, fan_in), x.dtype))
        for i, t in wanted:
            b.give(i, b.add(f"{name}.dgrad", "gemm", [dy, weight],
                            {"m": rows, "n": fan_in, "k": fan_out, "shape": list(t.shape)}))
        b.add(f"{name}.wgrad", "gemm", [dy, b.source("saved", layer.node.inputs[0])],
              {"m": fan_out, "n": fan_in, "k": rows, "shape": [fan_out, fan_in]})
        if a["bias"]:
            _bias_grad(b, layer, dy, fan_out)
        return
    if layer.op == "matmul":
        (an, at), (bn, bt) = zip(layer.node.inputs, layer.inputs)
        batch, m, kk, nn = w.dim("B"), w.dim("M"), w.dim("K"), w.dim("N")
        if an in needs:
            b.give(an, b.add(f"{name}.dgrad_a", "gemm", [dy, b.source("saved", bn)],
                             {"batch": batch, "m": m, "n": kk, "k": nn, "shape": list(at.shape)}))
        if bn in needs:
            b.give(bn, b.add(f"{name}.dgrad_b", "gemm", [b.source("saved", an), dy],
                             {"batch": batch, "m": kk, "n": nn, "k": m, "shape": list(bt.shape)}))
        return
    if layer.is_view:  # so is its gradient
        for i, t in wanted:
            b.give(i, b.add(f"{name}.grad", "reshape", [dy], {"shape": list(t.shape)}))
        return
    per_element = w.ops / max(layer.output.numel, 1) + w.macs * 2 / max(layer.output.numel, 1)
    if layer.params and not wanted or layer.op == "embedding":  # weights only (embedding tables)
        reads = [dy] + [b.source("saved", i) for i in layer.node.inputs]
        b.add(f"{name}.wgrad", "vjp", reads, {"shape": [layer.params], "ops_per_element": 1.0})
        return
    for index, (i, t) in enumerate(wanted):
        if layer.op in _PASS_THROUGH and t.shape == layer.output.shape:
            b.give(i, dy)
            continue
        reads = [dy]
        if layer.op in _READS_OUTPUT:
            reads.append(b.source("saved", name))
        elif layer.op not in _PASS_THROUGH and w.kind != "data":
            reads += [b.source("saved", other) for other in layer.node.inputs]
        suffix = "" if len(wanted) == 1 else f"_{index}"
        b.give(i, b.add(f"{name}.grad{suffix}", "vjp", reads,
                        {"shape": list(t.shape), "ops_per_element": max(per_element, 1.0)}))
    if w.kind == "conv":  # depthwise: the weight gradient is memory-bound too
        reads = [dy, b.source("saved", layer.node.inputs[0])]
        b.add(f"{name}.wgrad", "vjp", reads, {"shape": [layer.params], "ops_per_element": 2.0 * w.macs / layer.params})


def _bias_grad(b: _Builder, layer: Layer, dy: str, channels: int) -> None:
    """The bias gradient: ``dY`` summed over every position of each output channel."""
    b.add(f"{layer.name}.bgrad", "vjp", [dy],
          {"shape": [channels], "ops_per_element": layer.output.numel / channels})

