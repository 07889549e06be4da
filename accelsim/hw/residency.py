"""Which activation tensors stay on chip between layers: one rule for every family that
keeps activations in an on-chip memory.

An activation stays on chip when its producer's working set (inputs + output) and every
consumer's fit in ``capacity`` bytes; a view (reshape, flatten) aliases its input. Graph
outputs always leave the chip, and graph inputs arrive from off chip (they are no layer's
output, so never resident).
"""

from __future__ import annotations

from ..ir import Graph, Layer

__all__ = ["resident_activations"]


def resident_activations(graph: Graph, layers: list[Layer], capacity: float) -> dict[str, bool]:
    """For each layer's output, whether it stays in an on-chip memory of ``capacity`` bytes."""
    working = {l.name: sum(t.nbytes for t in l.inputs) + l.output.nbytes for l in layers}
    outputs = set(graph.outputs)
    resident: dict[str, bool] = {}
    for l in layers:
        if l.workload.kind == "data" and l.node.inputs:  # a view aliases its input
            resident[l.name] = resident.get(l.node.inputs[0], False) and l.name not in outputs
            continue
        fits = working[l.name] <= capacity
        users = graph.consumers(l.name)
        resident[l.name] = (fits and l.name not in outputs
                            and all(working.get(u, 0.0) <= capacity for u in users))
    return resident
