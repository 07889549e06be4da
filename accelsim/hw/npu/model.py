"""The ``npu`` cost model: each conv or GEMM layer mapped and analysed as Timeloop would.

A layer's mapping comes from ``--mapping FILE`` (a Timeloop mapping YAML, applied to
every conv/GEMM layer) or from the mapper that ``accelsim.mapping`` builds for this kind
(``CostContext.mapper``, typed here by ``Mapper``): ``mapper.map_all(problems, spec,
objective=..., constraints=...)`` maps all of a graph's layers at once, so that the mapper
can search equal layers once, answer from its caches and spread the rest over its executor.
Its figures are ``analysis.evaluate``'s; ``details`` carries Timeloop's per-level access
counts and the loop nest.

``NpuOptions.compat`` "timeloop-legacy" reproduces Timeloop releases before January 2025.

Other layers (activations, pooling, adds) run *vector-style*: one operation per MAC unit
per cycle, their operands read from and results written to the outermost level once, no
reuse modelled; views (reshape, flatten) cost nothing. Bias additions of conv and linear
layers are not costed, as in Timeloop.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from ...errors import MappingError, SpecError
from ...ir import Graph, Layer
from ...ir.workload import Workload
from ..compression import plan, shrink
from ..cost import FAMILIES, CostContext, Family, LayerCost, Objective
from ..technology import add_energy_j
from .analysis import Analysis, evaluate, prepare
from .energy import default_mac_energy
from .mapping import Mapping, format_loop_nest
from .mapping_file import MappingFile, read_mapping
from .native import load_npu
from .options import NPU_FLAGS, NpuOptions
from .problem import MAPPABLE_KINDS, Problem, problem_for
from .spec import NpuSpec

__all__ = ["NpuModel", "Mapper", "COMPAT"]

# None: as current Timeloop; "timeloop-legacy": as Timeloop before January 2025, which made
# the published example outputs (see ``visits.delta_step``).
COMPAT = (None, "timeloop-legacy")


class Mapper(Protocol):
    """The mapper ``accelsim.mapping`` provides for ``npu`` hardware (``accelsim.mapping.Mapper``
    for npu problems): one layer, or many (same answers, in order; ``progress`` is called
    with (layers done, layers in all) as searches finish). ``constraints`` is a file that
    narrows the search."""

    def __call__(self, problem: Problem, spec: NpuSpec, *, objective: Objective,
                 constraints: Path | None = None) -> Mapping: ...

    def map_all(self, problems: Sequence[Problem], spec: NpuSpec, *, objective: Objective,
                constraints: Path | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[Mapping]: ...


class NpuModel:
    """Costs a graph on an ``NpuSpec`` (see the module docstring)."""

    def __init__(self, spec: NpuSpec, options: NpuOptions = NpuOptions(), context: CostContext = CostContext()) -> None:
        self.spec = spec
        self.options = options
        self.mapper = context.mapper
        self.progress = context.progress
        if options.compat not in COMPAT:
            raise SpecError(f"compatibility mode {options.compat!r} does not apply to npu hardware; expected "
                            + " or ".join(repr(c) for c in COMPAT if c), field="compat")
        self.legacy = options.compat == "timeloop-legacy"

    def roof(self, precision: str) -> tuple[float | None, tuple[tuple[str, float], ...]]:
        f = self.spec.frequency_hz
        levels = tuple((level.name, level.read_bandwidth * level.instances * level.word_bits / 8 * f)
                       for level in self.spec.levels if level.read_bandwidth and not level.dummy)
        return 2.0 * self.spec.arithmetic.instances * f, levels

    def _mapping(self, problem: Problem, layer: Layer,
                 searched: dict[str, Mapping]) -> tuple[Mapping, Callable[[MappingError], MappingError]]:
        """The layer's mapping, and how to place an error found while analysing it."""
        if self.options.mapping is not None:
            source: MappingFile = read_mapping(self.options.mapping, problem, self.spec)
            return source.mapping, source.locate
        return searched[layer.name], lambda exc: exc

    def _search(self, layers: list[Layer]) -> dict[str, Mapping]:
        """Mappings of ``layers`` from the mapper, unless a mapping file is given.

        Raises:
            MappingError: no mapper, or a layer that the mapper cannot place.
        """
        if self.options.mapping is not None or not layers:
            return {}
        if self.mapper is None:
            raise MappingError(f"no mapping search is available for npu hardware; give a Timeloop mapping "
                               f"for layer {layers[0].name!r} with --mapping FILE", file=self.spec.source)
        problems = [problem_for(self._workload(layer), layer.name) for layer in layers]
        mappings = self.mapper.map_all(problems, self.spec, objective=self.options.objective,
                                       constraints=self.options.constraints, progress=self.progress)
        return {layer.name: m for layer, m in zip(layers, mappings)}

    def _workload(self, layer: Layer) -> Workload:
        """The dense workload the layer costs on this machine (``hw.compression.shrink``)."""
        return shrink(layer.workload, self._plans[layer.name])

    def layer_costs(self, graph: Graph) -> list[LayerCost]:
        layers = graph.layers()
        # Filters side by side: the MAC mesh's x extent (skipping waits for the densest).
        self._plans = {layer.name: plan(layer.workload, self.spec.compression, lanes=self.spec.arithmetic.mesh_x,
                                        weight=graph.weights(layer.name).get("weight"))
                       for layer in layers}
        mapped = [layer for layer in layers if layer.workload.kind in MAPPABLE_KINDS and layer.workload.macs]
        searched = self._search(mapped)
        costs = []
        for layer in layers:
            w = layer.workload
            if w.kind in MAPPABLE_KINDS and w.macs:
                costs.append(self._mapped_cost(layer, searched))
            else:
                costs.append(self._vector_cost(layer))
        return costs

    def _mapped_cost(self, layer: Layer, searched: dict[str, Mapping]) -> LayerCost:
        spec = self.spec
        problem = problem_for(self._workload(layer), layer.name)
        try:
            mapping, locate = self._mapping(problem, layer, searched)
            ctx = prepare(problem, spec, legacy=self.legacy)
            try:
                result = evaluate(ctx, mapping)
            except MappingError as exc:
                raise locate(exc)
        except MappingError as exc:
            raise MappingError(f"layer {layer.name!r}: {exc.message}", file=exc.file, line=exc.line,
                               field=exc.field) from None
        names = tuple(ds.name for ds in problem.dataspaces)
        tiles = {level.name: {ds: s.tile_words for ds, s in zip(names, level.dataspaces) if s.kept}
                 for level in result.levels}
        cost = _layer_cost(layer, spec, result, names, format_loop_nest(mapping, names, tiles))
        return self._compressed(layer, cost, result)

    def _compressed(self, layer: Layer, cost: LayerCost, a: Analysis) -> LayerCost:
        """``cost`` with the MAC energy of the MACs that still spend it, at the width they
        run at, and what the machine exploited in ``details``."""
        p = self._plans[layer.name]
        if not (p.exploited or p.ignored):
            return cost
        spec = self.spec
        effective = layer.workload.macs * p.mac_fraction
        scale = effective / max(a.macs, 1)
        if p.run_bits < spec.arithmetic.word_bits and spec.arithmetic.energy_source == "technology":
            scale *= default_mac_energy(p.run_bits, spec.technology) / default_mac_energy(
                spec.arithmetic.word_bits, spec.technology)
        energy = tuple((k, v * scale if k == spec.arithmetic.name else v) for k, v in cost.energy_by_component_j)
        details = {**cost.details, "compression": {
            "exploited": list(p.exploited), "ignored": list(p.ignored), "effective_macs": effective,
            "imbalance": p.imbalance, "reduction_fraction": p.time_fraction / p.pack}}
        return replace(cost, energy_by_component_j=energy, details=details,
                       ideal_s=effective / (spec.arithmetic.instances * p.pack * spec.frequency_hz))

    def _vector_cost(self, layer: Layer) -> LayerCost:
        spec = self.spec
        w = layer.workload
        if w.kind == "data" and not w.weight_bytes:
            return LayerCost(name=layer.name, op=layer.op, params=layer.params)
        outer = next(level for level in spec.levels if not level.dummy)
        word_bytes = outer.word_bits / 8
        read_words = math.ceil((w.input_bytes + w.weight_bytes) / word_bytes)
        write_words = math.ceil(w.output_bytes / word_bytes)
        cycles = max(1, math.ceil(w.ops / spec.arithmetic.instances)) if w.ops else 0
        bound = "compute"
        for words, bandwidth in ((read_words, outer.read_bandwidth), (write_words, outer.write_bandwidth)):
            if bandwidth and words / bandwidth / outer.instances > cycles:
                cycles, bound = math.ceil(words / bandwidth / outer.instances), outer.name
        energy = {
            outer.name: (math.ceil(read_words / outer.block_size) * outer.energy.read_j
                         + math.ceil(write_words / outer.block_size) * outer.energy.update_j),
            spec.arithmetic.name: w.ops * add_energy_j(layer.compute_dtype.name, spec.technology),
        }
        latency = cycles / spec.frequency_hz
        return LayerCost(
            name=layer.name, op=layer.op, macs=w.macs, ops=w.ops, params=layer.params, cycles=cycles,
            latency_s=latency, energy_by_component_j=tuple(energy.items()),
            bytes_by_level=((outer.name, (read_words + write_words) * word_bytes),), offchip=(outer.name,),
            time_by_bound_s=((bound, latency),), bound=bound)


def _layer_cost(layer: Layer, spec: NpuSpec, a: Analysis, dataspaces: tuple[str, ...], nest: str) -> LayerCost:
    """LayerCost of an analysed layer; ``details`` as Timeloop's stats name things."""
    f = spec.frequency_hz
    accesses: dict[str, Any] = {}
    moved: list[tuple[str, float]] = []
    resident: list[tuple[str, float]] = []
    energy: list[tuple[str, float]] = []
    for level, stats in zip(spec.levels, a.levels):
        if level.dummy:
            continue
        accesses[level.name] = {name: {"reads": s.reads, "fills": s.fills, "updates": s.updates}
                                for name, s in zip(dataspaces, stats.dataspaces) if s.kept}
        words = sum(s.accesses for s in stats.dataspaces) * stats.instances
        moved.append((level.name, words * level.word_bits / 8))
        resident.append((level.name, stats.utilized_words * stats.instances * level.word_bits / 8))
        energy.append((level.name, stats.energy_j))
    energy.append((spec.arithmetic.name, a.mac_energy_j))
    latency = a.cycles / f
    return LayerCost(
        name=layer.name, op=layer.op, macs=layer.workload.macs, ops=layer.workload.ops, params=layer.params,
        cycles=a.cycles, latency_s=latency, ideal_s=a.macs / (spec.arithmetic.instances * f),
        energy_by_component_j=tuple(energy), bytes_by_level=tuple(moved), offchip=(moved[0][0],) if moved else (),
        footprint_by_level=tuple(resident), time_by_bound_s=((a.bound, latency),), bound=a.bound,
        details={"accesses": accesses,
                 "utilized_instances": {level.name: s.instances for level, s in zip(spec.levels, a.levels)
                                        if not level.dummy},
                 "loop_nest": nest})


FAMILIES.add("npu", Family(
    kind="npu", load=load_npu, cost_model=NpuModel, options=NpuOptions, flags=NPU_FLAGS,
    doc="Spatial accelerator (storage levels above a MAC array), analysed like Timeloop for a given mapping.",
))
