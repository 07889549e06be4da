"""The contract between ``estimate`` and every hardware family.

A family is a spec loader plus a cost model, registered under the spec's ``kind:``. Adding
a family means one new module and one ``FAMILIES.add`` line; ``estimate`` never changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Protocol, Sequence

from ..ir import Graph
from ..registry import Registry
from .spec import HardwareSpec, SpecReader

__all__ = ["LayerCost", "CostModel", "CostContext", "Family", "Flag", "NoOptions", "FAMILIES", "Schedule", "Serial",
           "merge_sums", "merge_max", "add_up", "Objective"]

Objective = Literal["energy", "latency", "edp"]


def merge_sums(a: tuple[tuple[str, float], ...], b: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    """Add two keyed breakdowns, keeping first-seen order."""
    out: dict[str, float] = dict(a)
    for key, value in b:
        out[key] = out.get(key, 0.0) + value
    return tuple(out.items())


def merge_max(a: tuple[tuple[str, float], ...], b: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    """Combine two keyed figures that do not add up (peak footprints), keeping first-seen order."""
    out: dict[str, float] = dict(a)
    for key, value in b:
        out[key] = max(out.get(key, value), value)
    return tuple(out.items())


@dataclass(frozen=True)
class LayerCost:
    """Cost of one layer (or, combined, of a whole model). SI units; the unit is in the name.

    ``ideal_s`` is the time the layer would take at the hardware's peak arithmetic rate;
    ``utilization`` is therefore ``ideal_s / latency_s``. ``bound`` names what limits the
    layer: ``compute`` or the memory level whose traffic takes longest.

    Memory: ``bytes_by_level`` is the traffic at each level as the family names them;
    ``offchip`` says which of those names are off-chip, so ``bytes_dram`` and
    ``bytes_onchip`` mean the same on every machine. ``footprint_by_level`` is what the
    layer keeps resident at each level (bytes); it combines by maximum, traffic by sum.

    ``counts`` are summable events a family counts (``spikes``, ``synaptic_ops``,
    ``adc_conversions``, ``kernel_launches``, ...), added in totals like energy.
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
    offchip: tuple[str, ...] = ()
    footprint_by_level: tuple[tuple[str, float], ...] = ()
    counts: tuple[tuple[str, float], ...] = ()
    time_by_bound_s: tuple[tuple[str, float], ...] = ()
    bound: str = "compute"
    # Family-specific figures of one layer (e.g. Timeloop-style ``accesses``, SCALE-Sim report
    # fields, the chosen mapping), nested under ``details`` in the JSON. Not combined in totals.
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

    @property
    def bytes_dram(self) -> float:
        """Off-chip traffic, whatever the machine calls its off-chip levels."""
        return sum(v for level, v in self.bytes_by_level if level in self.offchip)

    @property
    def bytes_onchip(self) -> float:
        """Traffic at every on-chip level, added up."""
        return sum(v for level, v in self.bytes_by_level if level not in self.offchip)

    def __add__(self, other: "LayerCost") -> "LayerCost":
        """Two layers' costs combined as if run one after the other (see ``Schedule``)."""
        bound_time = merge_sums(self.time_by_bound_s, other.time_by_bound_s)
        return LayerCost(
            name="total", op="",
            macs=self.macs + other.macs, ops=self.ops + other.ops, params=self.params + other.params,
            cycles=self.cycles + other.cycles, latency_s=self.latency_s + other.latency_s,
            ideal_s=self.ideal_s + other.ideal_s,
            energy_by_component_j=merge_sums(self.energy_by_component_j, other.energy_by_component_j),
            bytes_by_level=merge_sums(self.bytes_by_level, other.bytes_by_level),
            offchip=self.offchip + tuple(n for n in other.offchip if n not in self.offchip),
            footprint_by_level=merge_max(self.footprint_by_level, other.footprint_by_level),
            counts=merge_sums(self.counts, other.counts),
            time_by_bound_s=bound_time,
            bound=max(bound_time, key=lambda kv: kv[1])[0] if bound_time else "compute",
        )


class Schedule(Protocol):
    """How a machine's layers combine into one run: the model's latency and cycles.

    Energy, traffic and counts always add; latency is the schedule's business, because
    machines that overlap layers (GPU streams, pipelined crossbars, devices in a pipeline)
    finish sooner than the sum of their layers.
    """

    name: str

    def combine(self, layers: Sequence[LayerCost]) -> LayerCost: ...


@dataclass(frozen=True)
class Serial:
    """Layers run one after another: latency and cycles add up."""

    name: str = "serial"

    def combine(self, layers: Sequence[LayerCost]) -> LayerCost:
        return add_up(layers)


def add_up(layers: Sequence[LayerCost]) -> LayerCost:
    """The layers one after another: ``sum`` of ``LayerCost.__add__``, in one pass (linear
    in layers, where pairwise adding rebuilds every breakdown at each step)."""
    ints = [0, 0, 0, 0]  # macs, ops, params, cycles
    latency = ideal = 0.0
    energy: dict[str, float] = {}
    traffic: dict[str, float] = {}
    footprint: dict[str, float] = {}
    counts: dict[str, float] = {}
    bound_time: dict[str, float] = {}
    offchip: dict[str, None] = {}
    for c in layers:
        ints[0] += c.macs
        ints[1] += c.ops
        ints[2] += c.params
        ints[3] += c.cycles
        latency += c.latency_s
        ideal += c.ideal_s
        for into, pairs in ((energy, c.energy_by_component_j), (traffic, c.bytes_by_level),
                            (counts, c.counts), (bound_time, c.time_by_bound_s)):
            for key, value in pairs:
                into[key] = into.get(key, 0.0) + value
        for key, value in c.footprint_by_level:
            footprint[key] = max(footprint.get(key, value), value)
        offchip.update(dict.fromkeys(c.offchip))
    return LayerCost(
        name="total", op="", macs=ints[0], ops=ints[1], params=ints[2], cycles=ints[3],
        latency_s=latency, ideal_s=ideal, energy_by_component_j=tuple(energy.items()),
        bytes_by_level=tuple(traffic.items()), offchip=tuple(offchip),
        footprint_by_level=tuple(footprint.items()), counts=tuple(counts.items()),
        time_by_bound_s=tuple(bound_time.items()),
        bound=max(bound_time.items(), key=lambda kv: kv[1])[0] if bound_time else "compute",
    )


@dataclass(frozen=True)
class CostContext:
    """Services a cost model may use beyond its spec and options, supplied by ``estimate``.

    ``mapper``: the mapping search for this kind from ``accelsim.mapping`` (hardware code
    sits below the mapping layer and never imports it); ``progress``: called with (layers
    done, layers in all) as a slow cost model goes; ``cache``: whether a cost model may
    read and write its results in the on-disk cache (``accelsim.cache``; ``--no-cache``
    turns it off).
    """

    mapper: Any = None
    progress: Callable[[int, int], None] | None = None
    cache: bool = True


@dataclass(frozen=True)
class NoOptions:
    """The options of a family that takes none."""


@dataclass(frozen=True)
class Flag:
    """A command-line flag of ``accelsim estimate`` that fills one field of a family's options.

    ``path``: the value names a file (converted to ``Path``); ``choices``: the accepted
    values; ``type``: converts the text (argparse's ``type``); ``const``: the flag takes no
    value and sets the field to ``const`` (a switch such as ``--cuda-graphs``), and
    ``name`` then overrides the flag's spelling (``--no-fuse`` for ``fuse=False``). Families
    that share a field name share its flag (e.g. ``--compat``).
    """

    field: str
    help: str
    metavar: str = "VALUE"
    choices: tuple[str, ...] | None = None
    path: bool = False
    type: Callable[[str], Any] | None = None
    const: Any = None
    name: str | None = None

    @property
    def option(self) -> str:
        return self.name or "--" + self.field.replace("_", "-")


class CostModel(Protocol):
    """Costs every layer of a graph on one machine (graph-level so it may schedule)."""

    spec: HardwareSpec

    def layer_costs(self, graph: Graph) -> list[LayerCost]: ...

    def roof(self, precision: str) -> tuple[float | None, tuple[tuple[str, float], ...]]:
        """Peak ops/s at ``precision`` and (level, bandwidth) outermost first, for plots."""
        ...


@dataclass(frozen=True)
class Family:
    """One hardware family: how to read its spec, which options it takes and how to build
    its cost model (``cost_model(spec, options, context)``); ``schedule`` combines its layers."""

    kind: str
    load: Callable[[SpecReader, str], HardwareSpec]
    cost_model: Callable[[Any, Any, CostContext], CostModel]
    doc: str = ""
    options: type = NoOptions
    flags: tuple[Flag, ...] = ()
    schedule: Schedule = Serial()


FAMILIES: Registry[Family] = Registry("hardware kind", entry_point_group="accelsim.cost_models")
