"""Layers grouped into the kernels a GPU runs: what inference compilers fuse.

A pointwise layer (``OpDef.pointwise``: activations, adds, a per-channel scale) joins the
kernel whose last layer produces one of its inputs when that output has no other reader,
is not a graph output and has the pointwise layer's own shape, and its other inputs come
from kernels that run before that one (they are read in the epilogue): it becomes the epilogue
(cuDNN/TensorRT conv + bias + residual add + ReLU; elementwise chains in one loop), so the
intermediate tensor never goes to memory. Reductions (softmax, norms) start kernels of
their own. A view (reshape, flatten: no bytes moved) runs no kernel at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...ir import Graph, Layer

__all__ = ["Kernel", "group_kernels"]


@dataclass(frozen=True)
class Kernel:
    """``head`` computes; ``epilogue`` are the pointwise layers fused after it, in order."""

    head: Layer
    epilogue: tuple[Layer, ...] = ()

    @property
    def name(self) -> str:
        return self.head.name

    @property
    def layers(self) -> tuple[Layer, ...]:
        return (self.head,) + self.epilogue

    @property
    def output_bytes(self) -> float:
        """What the kernel writes: the last layer's output."""
        return self.layers[-1].workload.output_bytes

    @property
    def epilogue_input_bytes(self) -> float:
        """Bytes the epilogue reads beyond the tensor it is handed (a residual, a mask)."""
        chain = {l.name for l in self.layers}
        total = 0.0
        for layer in self.epilogue:
            total += sum(t.nbytes for name, t in zip(layer.node.inputs, layer.inputs) if name not in chain)
        return total

    @property
    def epilogue_ops(self) -> int:
        return sum(l.workload.ops for l in self.epilogue)


def group_kernels(graph: Graph, layers: list[Layer], fuse: bool) -> list[Kernel | Layer]:
    """Each layer's kernel, in order: a ``Kernel`` for the first layer of each, the view
    ``Layer`` itself for a view (no kernel); fused layers do not appear."""
    if not fuse:
        return [layer if layer.is_view else Kernel(layer) for layer in layers]
    out: list[Kernel | Layer] = []
    open_at: dict[str, int] = {}  # tail layer name -> index of its kernel in ``out``
    where: dict[str, int] = {}  # every layer -> index of its kernel (or view) in ``out``
    outputs = set(graph.outputs)
    for layer in layers:
        if layer.is_view:
            where[layer.name] = len(out)
            out.append(layer)
            continue
        host = _host(graph, layer, open_at, where, outputs)
        if host is None:
            open_at[layer.name] = where[layer.name] = len(out)
            out.append(Kernel(layer))
            continue
        kernel = out[host]
        assert isinstance(kernel, Kernel)
        del open_at[kernel.layers[-1].name]
        out[host] = Kernel(kernel.head, kernel.epilogue + (layer,))
        open_at[layer.name] = where[layer.name] = host
    return out


def _host(graph: Graph, layer: Layer, open_at: dict[str, int], where: dict[str, int],
          outputs: set[str]) -> int | None:
    if not layer.pointwise:
        return None
    for name, t in zip(layer.node.inputs, layer.inputs):
        host = open_at.get(name)
        if host is None or t.shape != layer.output.shape or name in outputs \
                or graph.consumers(name) != [layer.name]:
            continue
        if all(where.get(other, -1) < host for other in layer.node.inputs if other != name):
            return host
    return None
