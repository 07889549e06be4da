"""The contract between ``estimate`` and every hardware family.

A family is a spec loader plus a cost model, registered under the spec's ``kind:``. Adding
a family means one new module and one ``FAMILIES.add`` line; ``estimate`` never changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Protocol

from ..ir import Graph
from ..registry import Registry
from .spec import HardwareSpec, SpecReader

__all__ = ["LayerCost", "CostModel", "CostOptions", "Family", "FAMILIES", "merge_sums", "Objective"]

Objective = Literal["energy", "latency", "edp"]


def merge_sums(a: tuple[tuple[str, float], ...], b: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    """Add two keyed breakdowns, keeping first-seen order."""
    out: dict[str, float] = dict(a)
    for key, value in b:
        out[key] = out.get(key, 0.0) + value
    return tuple(out.items())


@dataclass(frozen=True)
class LayerCost:
    """Cost of one layer (or, summed, of a whole model). SI units; the unit is in the name.

    ``ideal_s`` is the time the layer would take at the hardware's peak arithmetic rate;
    ``utilization`` is therefore ``ideal_s / latency_s``. ``bound`` names what limits the
    layer: ``compute`` or the memory level whose traffic takes longest.
    """

    name: str
    op: str
    macs: int = 0
    ops: int = 0
    params: int = 0
    cycles: int = 0
    latency_s: float = 0.0
    ideal_s: float = 0.0
    energy_by_component_j: tuple[tuple[str, float], ...] = ()
    bytes_by_level: tuple[tuple[str, float], ...] = ()
    time_by_bound_s: tuple[tuple[str, float], ...] = ()
    bound: str = "compute"
    # Family-specific figures that go into the layer's JSON as they are (e.g. Timeloop-style
    # ``accesses``, SCALE-Sim report fields, the chosen mapping). Not summed into totals.
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def energy_j(self) -> float:
        return sum(v for _, v in self.energy_by_component_j)

    @property
    def flops(self) -> int:
        return 2 * self.macs + self.ops

    @property
    def utilization(self) -> float:
        return self.ideal_s / self.latency_s if self.latency_s > 0 else 0.0

    def __add__(self, other: "LayerCost") -> "LayerCost":
        bound_time = merge_sums(self.time_by_bound_s, other.time_by_bound_s)
        return LayerCost(
            name="total", op="",
            macs=self.macs + other.macs, ops=self.ops + other.ops, params=self.params + other.params,
            cycles=self.cycles + other.cycles, latency_s=self.latency_s + other.latency_s,
            ideal_s=self.ideal_s + other.ideal_s,
            energy_by_component_j=merge_sums(self.energy_by_component_j, other.energy_by_component_j),
            bytes_by_level=merge_sums(self.bytes_by_level, other.bytes_by_level),
            time_by_bound_s=bound_time,
            bound=max(bound_time, key=lambda kv: kv[1])[0] if bound_time else "compute",
        )


@dataclass(frozen=True)
class CostOptions:
    """How a cost model should work, beyond the spec: given from the CLI or the API.

    ``mapping``: a mapping file to evaluate instead of searching (spatial families);
    ``objective``: what the mapper minimises; ``compat``: a compatibility mode such as
    ``"scalesim"`` (None = the family's default for the spec); ``mapper``: the mapping
    search, supplied by ``accelsim.mapping`` through ``estimate`` (hardware code sits below
    the mapping layer and never imports it); ``constraints``: a file that narrows the
    mapper's search (Timeloop mapspace constraints for ``npu``).
    """

    mapping: Path | None = None
    objective: Objective = "edp"
    compat: str | None = None
    mapper: Callable[..., Any] | None = None
    constraints: Path | None = None


class CostModel(Protocol):
    """Costs every layer of a graph on one machine (graph-level so it may schedule)."""

    spec: HardwareSpec

    def layer_costs(self, graph: Graph) -> list[LayerCost]: ...

    def roof(self, precision: str) -> tuple[float | None, tuple[tuple[str, float], ...]]:
        """Peak ops/s at ``precision`` and (level, bandwidth) outermost first, for plots."""
        ...


@dataclass(frozen=True)
class Family:
    """One hardware family: how to read its spec and how to build its cost model."""

    kind: str
    load: Callable[[SpecReader, str], HardwareSpec]
    cost_model: Callable[[Any, CostOptions], CostModel]
    doc: str = ""


FAMILIES: Registry[Family] = Registry("hardware kind", entry_point_group="accelsim.cost_models")
