"""The ``null`` family: every layer costs nothing. Lets the pipeline be tested end to end."""

from __future__ import annotations

from ..ir import Graph
from .cost import FAMILIES, CostContext, Family, LayerCost, NoOptions
from .spec import HardwareSpec, SpecReader

__all__ = ["NullModel"]


def load_null(r: SpecReader, name: str) -> HardwareSpec:
    return HardwareSpec(name=name, kind="null", frequency_hz=r.quantity("frequency", "frequency", 1e9),
                        technology=r.technology(), source=r.path)


class NullModel:
    def __init__(self, spec: HardwareSpec, options: NoOptions = NoOptions(),
                 context: CostContext = CostContext()) -> None:
        self.spec = spec

    def layer_costs(self, graph: Graph) -> list[LayerCost]:
        return [LayerCost(name=l.name, op=l.op, macs=l.macs, ops=l.workload.ops, params=l.params)
                for l in graph.layers()]

    def roof(self, precision: str) -> tuple[float | None, tuple[tuple[str, float], ...]]:
        return None, ()


FAMILIES.add("null", Family(kind="null", load=load_null, cost_model=NullModel,
                            doc="Zero cost for every layer (for testing pipelines)."))
