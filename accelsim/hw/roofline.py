"""The ``roofline`` family: peak arithmetic rate per precision plus a list of memory levels.

Each layer takes ``max(compute time, traffic / bandwidth of every level)``. Traffic assumes
perfect on-chip reuse (the roofline's premise): every operand crosses each on-chip level
once, weights come from the outermost memory once per layer, and an activation goes
off-chip only when its producer's or a consumer's working set (inputs + output) does not
fit in the largest on-chip memory. Graph inputs and outputs always live off-chip.

A spec may keep weights resident on chip across inferences (``resident_weights`` on an
on-chip level: a size, or ``all`` of what the activations leave free, i.e. the level less
the largest working set of a layer that fits it), as the Edge TPU compiler caches
parameters in its SRAM: layers claim the space in graph order, the layer where it runs out
partly, and each layer reads from off chip only the weight bytes that found no room. The
space they hold is no longer free for activations. Loading the resident weights once is not
part of an inference.
Energy is arithmetic (technology table, per precision) plus bytes times energy per byte of
each level, plus static power times time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import MappingError
from ..ir import DTYPES, Graph, Layer
from .residency import resident_activations
from .cost import FAMILIES, CostContext, Family, LayerCost, NoOptions
from ..units import parse_quantity
from .spec import HardwareSpec, SpecReader
from .technology import (OFFCHIP_TYPES, Technology, add_energy_j, mac_energy_j,
                         offchip_energy_per_byte_j, sram_energy_per_byte_j)

__all__ = ["MemoryLevel", "RooflineSpec", "RooflineModel"]

_MEMORY_TYPES = tuple(OFFCHIP_TYPES) + ("sram",)


@dataclass(frozen=True)
class MemoryLevel:
    """One level of the memory hierarchy; ``bandwidth_bps`` None means never a bottleneck."""

    name: str
    type: str
    size_bytes: float | None
    bandwidth_bps: float | None
    energy_per_byte_j: float
    resident_weights_bytes: float = 0.0
    resident_weights_all: bool = False  # whatever the activations leave free

    @property
    def offchip(self) -> bool:
        return self.type != "sram"


@dataclass(frozen=True)
class RooflineSpec(HardwareSpec):
    peak_ops: tuple[tuple[str, float], ...] = ()
    vector_ops: float | None = None
    default_precision: str = "fp32"
    memories: tuple[MemoryLevel, ...] = ()
    static_power_w: float = 0.0
    mac_energy_override: tuple[tuple[str, float], ...] = ()

    def peak(self, dtype: str) -> float | None:
        return dict(self.peak_ops).get(dtype)

    @property
    def memory_capacity_bytes(self) -> float | None:
        offchip = [m for m in self.memories if m.offchip]
        return offchip[0].size_bytes if offchip else None


def _load_memory(r: SpecReader, index: int, tech: Technology) -> MemoryLevel:
    name = r.string("name")
    kind = r.string("type", "dram" if index == 0 else "sram", _MEMORY_TYPES)
    size = r.quantity("size", "bytes", None)
    bandwidth = r.quantity("bandwidth", "bandwidth", None)
    if kind == "sram" and size is None and not r.has("energy_per_byte"):
        raise r.error(None, "an sram level needs 'size' (or an explicit 'energy_per_byte')")
    default_energy = (offchip_energy_per_byte_j(kind) if kind != "sram"
                      else sram_energy_per_byte_j(size or 1.0, tech))
    energy = r.quantity("energy_per_byte", "energy", default_energy, positive=False)
    resident, every = 0.0, False
    if r.has("resident_weights"):
        if kind != "sram" or size is None:
            raise r.error("resident_weights", "only an sram level with a 'size' can keep weights resident")
        every = r.mapping["resident_weights"] == "all"
        resident = r.get("resident_weights", lambda v: 0.0 if v == "all" else parse_quantity(v, "bytes"))
        if resident > size:
            raise r.error("resident_weights", f"{resident:g} bytes of resident weights do not fit the "
                                              f"level's {size:g} bytes")
    r.finish()
    return MemoryLevel(name, kind, size, bandwidth, energy, resident, every)


def load_roofline(r: SpecReader, name: str) -> RooflineSpec:
    tech = r.technology()
    peaks = r.child("peak")
    peak_ops = []
    for dtype_name in list(peaks.mapping):
        if dtype_name not in DTYPES:
            raise peaks.error(dtype_name, f"unknown precision {dtype_name!r}; expected one of "
                                          + ", ".join(DTYPES))
        peak_ops.append((str(dtype_name), peaks.quantity(dtype_name, "ops_rate")))
    if not peak_ops:
        raise r.error("peak", "give at least one precision, e.g. {int8: 92 TOPS}")
    default = r.string("default_precision", peak_ops[0][0], tuple(d for d, _ in peak_ops))
    levels = tuple(_load_memory(m, i, tech) for i, m in enumerate(r.children("memories")))
    names = [m.name for m in levels]
    if len(set(names)) != len(names):
        raise r.error("memories", f"memory names must be unique, got {names}")
    overrides = r.child("mac_energy", None)
    mac_override = []
    for dtype_name in list(overrides.mapping):
        if dtype_name not in DTYPES:
            raise overrides.error(dtype_name, f"unknown precision {dtype_name!r}")
        mac_override.append((str(dtype_name), overrides.quantity(dtype_name, "energy")))
    spec = RooflineSpec(
        name=name, kind="roofline",
        frequency_hz=r.quantity("frequency", "frequency"),
        technology=tech, source=r.path,
        peak_ops=tuple(peak_ops),
        vector_ops=r.quantity("vector_peak", "ops_rate", None),
        default_precision=default,
        memories=levels,
        static_power_w=r.quantity("static_power", "power", 0.0, positive=False),
        mac_energy_override=tuple(mac_override),
    )
    return spec


class RooflineModel:
    """Costs layers on a :class:`RooflineSpec` (see the module docstring for the model)."""

    def __init__(self, spec: RooflineSpec, options: NoOptions = NoOptions(),
                 context: CostContext = CostContext()) -> None:
        self.spec = spec
        self.offchip = tuple(m.name for m in spec.memories if m.offchip)

    def _weight_budgets(self, layers: list[Layer]) -> dict[str, float]:
        """Bytes of each on-chip level that keep weights: as given, or for ``all`` the level
        less the largest working set (inputs + output) of a layer that fits it, so that every
        activation that could stay on chip still does."""
        working = [sum(t.nbytes for t in l.inputs) + l.output.nbytes for l in layers]
        budgets = {}
        for m in self.spec.memories:
            if m.resident_weights_all and m.size_bytes:
                budgets[m.name] = m.size_bytes - max((w for w in working if w <= m.size_bytes), default=0.0)
            elif m.resident_weights_bytes:
                budgets[m.name] = m.resident_weights_bytes
        return budgets

    def _weights_resident(self, layers: list[Layer], budgets: dict[str, float]) -> dict[str, float]:
        """Bytes of each layer's weights that stay on chip (see the module docstring)."""
        left = sum(budgets.values())
        held: dict[str, float] = {}
        for layer in layers:
            held[layer.name] = min(layer.workload.weight_bytes, left)
            left -= held[layer.name]
        return held

    def _activation_capacity(self, held: dict[str, float], budgets: dict[str, float]) -> float:
        """The largest on-chip level's bytes left for activations once resident weights
        have taken theirs."""
        onchip = [m for m in self.spec.memories if not m.offchip and m.size_bytes]
        if not onchip:
            return 0.0
        largest = max(onchip, key=lambda m: m.size_bytes or 0.0)
        return (largest.size_bytes or 0.0) - min(sum(held.values()), budgets.get(largest.name, 0.0))

    def _rates(self, layer: Layer) -> tuple[str, float, float]:
        dtype = layer.compute_dtype.name
        peak = self.spec.peak(dtype)
        if peak is None:
            where = layer.node.source
            raise MappingError(
                f"layer {layer.name!r} computes in {dtype} but {self.spec.name} has no peak for {dtype} "
                f"(has: {', '.join(d for d, _ in self.spec.peak_ops)}); try --precision "
                f"{self.spec.default_precision}", file=where.file, line=where.line, field=where.field)
        return dtype, peak, self.spec.vector_ops or peak

    def roof(self, precision: str) -> tuple[float | None, tuple[tuple[str, float], ...]]:
        return self.spec.peak(precision), tuple(
            (m.name, m.bandwidth_bps) for m in self.spec.memories if m.bandwidth_bps)

    def layer_costs(self, graph: Graph) -> list[LayerCost]:
        spec = self.spec
        layers = graph.layers()
        budgets = self._weight_budgets(layers)
        held = self._weights_resident(layers, budgets)
        resident = resident_activations(graph, layers, self._activation_capacity(held, budgets))
        costs = []
        for layer in layers:
            w = layer.workload
            view = w.kind == "data" and w.weight_bytes == 0
            compute_s = ideal_s = 0.0
            energy: dict[str, float] = {}
            if w.macs or w.ops:
                dtype, peak, vector = self._rates(layer)
                ideal_s = 2 * w.macs / peak
                compute_s = ideal_s + w.ops / vector
                mac_e = dict(spec.mac_energy_override).get(dtype) or mac_energy_j(dtype, spec.technology)
                energy["compute"] = w.macs * mac_e + w.ops * add_energy_j(dtype, spec.technology)
            times = {"compute": compute_s}
            traffic: dict[str, float] = {}
            for index, level in enumerate(spec.memories):
                if view:
                    moved = 0.0
                elif index == 0:
                    moved = w.weight_bytes - held[layer.name]
                    moved += 0.0 if resident.get(layer.name) else layer.output.nbytes
                    moved += sum(t.nbytes for name, t in zip(layer.node.inputs, layer.inputs)
                                 if not resident.get(name, False))
                else:
                    moved = w.total_bytes
                traffic[level.name] = moved
                energy[level.name] = moved * level.energy_per_byte_j
                if level.bandwidth_bps:
                    times[level.name] = moved / level.bandwidth_bps
            bound = max(times, key=lambda k: times[k])
            latency = times[bound]
            if spec.static_power_w:
                energy["static"] = spec.static_power_w * latency
            cycles = latency * spec.frequency_hz - 1e-9
            if not all(math.isfinite(v) for v in (cycles, *energy.values())):
                where = layer.node.source
                raise MappingError(
                    f"layer {layer.name!r} gets a time or energy too large to represent on "
                    f"{spec.name} (is a peak, bandwidth, frequency or energy in {spec.source} out of "
                    f"range?)", file=where.file, line=where.line, field=where.field)
            costs.append(LayerCost(
                name=layer.name, op=layer.op, macs=w.macs, ops=w.ops, params=layer.params,
                cycles=math.ceil(cycles), latency_s=latency,
                ideal_s=ideal_s, energy_by_component_j=tuple(energy.items()),
                bytes_by_level=tuple(traffic.items()), offchip=self.offchip,
                time_by_bound_s=((bound, latency),), bound=bound,
            ))
        return costs


FAMILIES.add("roofline", Family(
    kind="roofline", load=load_roofline, cost_model=RooflineModel,
    doc="Peak arithmetic per precision and a list of memory levels; max(compute, traffic/bandwidth).",
))
