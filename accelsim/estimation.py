"""Graph + hardware -> Estimate: the one entry point that the CLI, sweeps and reports share."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

from .errors import SpecError
from .frontend import load_model
from .hw import CostOptions, HardwareSpec, LayerCost, cost_model, load_hardware
from .ir import Graph, dtype

__all__ = ["Estimate", "compile", "estimate"]


@dataclass(frozen=True)
class Estimate:
    """Per-layer and total cost of one model on one machine. SI units throughout."""

    model: str
    hardware: str
    kind: str
    batch: int
    precision: str
    frequency_hz: float
    layers: tuple[LayerCost, ...]
    shapes: tuple[tuple[int, ...], ...]
    peak_ops_per_s: float | None = None
    bandwidth_bps: tuple[tuple[str, float], ...] = ()

    @property
    def totals(self) -> LayerCost:
        return reduce(lambda a, b: a + b, self.layers, LayerCost(name="total", op=""))

    @property
    def throughput_per_s(self) -> float:
        """Samples per second when layers run one after another."""
        latency = self.totals.latency_s
        return self.batch / latency if latency > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``accelsim estimate --json`` (see DESIGN.md)."""
        t = self.totals
        totals = _cost_dict(t)
        totals.pop("bound")
        totals.update(
            throughput_per_s=self.throughput_per_s,
            power_w=t.energy_j / t.latency_s if t.latency_s > 0 else 0.0,
            bound=t.bound,
        )
        layers = []
        for cost, shape in zip(self.layers, self.shapes):
            row = {"name": cost.name, "op": cost.op, "output_shape": list(shape)}
            row.update(_cost_dict(cost))
            layers.append(row)
        return {
            "model": self.model, "hardware": self.hardware, "kind": self.kind, "batch": self.batch,
            "precision": self.precision, "frequency_hz": self.frequency_hz,
            "totals": totals, "layers": layers,
        }


def _cost_dict(c: LayerCost) -> dict[str, Any]:
    out: dict[str, Any] = {
        "macs": c.macs, "ops": c.ops, "flops": c.flops, "params": c.params, "cycles": c.cycles,
        "latency_s": c.latency_s, "energy_j": c.energy_j,
        "energy_by_component_j": dict(c.energy_by_component_j),
    }
    for level, moved in c.bytes_by_level:
        out[f"bytes_{level}"] = moved
    out["utilization"] = c.utilization
    out["bound"] = c.bound
    out.update(c.details)
    return out


def _mapper_for(kind: str) -> Any:
    """The mapping search for a hardware kind, if the mapping layer has one."""
    from .mapping import MAPPERS

    return MAPPERS.get(kind) if kind in MAPPERS else None


def _batch_of(graph: Graph) -> int:
    shapes = [graph.type_of(name).shape for name in graph.inputs]
    return shapes[0][0] if shapes and shapes[0] else 1


def compile(model: Graph | str | Path, *, batch: int | None = None, precision: str | None = None) -> Graph:
    """Load (if needed) and prepare a model: batch size set (None keeps the model's own),
    tensors at ``precision`` (None keeps the declared types).

    Raises:
        SpecError: unknown precision; errors of :func:`load_model`.
        GraphError: a layer cannot take the batch or precision.
    """
    graph = model if isinstance(model, Graph) else load_model(model)
    if batch is not None:
        graph = graph.with_batch(batch)
    if precision is not None:
        try:
            graph = graph.cast(dtype(precision))
        except ValueError as exc:
            raise SpecError(str(exc), field="precision") from None
        graph.verify()
    return graph


def estimate(model: Graph | str | Path, hw: HardwareSpec | str | Path, *, batch: int | None = None,
             precision: str | None = None, mapping: str | Path | None = None,
             objective: str = "edp", compat: str | None = None,
             ert: str | Path | None = None, constraints: str | Path | None = None) -> Estimate:
    """Cost ``model`` on ``hw``. ``batch`` defaults to the model's own (1 in the zoo) and
    ``precision`` to the hardware's default precision. ``mapping`` evaluates a mapping file
    instead of searching one (spatial families), ``objective`` is what the mapper minimises
    (``energy``, ``latency`` or ``edp``), ``compat`` selects a compatibility mode
    (``scalesim``, ``timeloop-legacy``), ``ert`` gives Accelergy energies for a Timeloop
    architecture, and ``constraints`` narrows the mapper's search (Timeloop mapspace
    constraints for npu hardware).

    Raises:
        SpecError, GraphError: bad model or hardware input; constraints for hardware
            without a mapping search.
        MappingError: a layer cannot run on the hardware (e.g. no peak for its precision).
    """
    spec = hw if isinstance(hw, HardwareSpec) else load_hardware(hw, ert=ert)
    if objective not in ("energy", "latency", "edp"):
        raise SpecError(f"unknown objective {objective!r}; expected energy, latency or edp",
                        field="objective")
    mapper = _mapper_for(spec.kind)
    if constraints is not None and mapper is None:
        raise SpecError(f"mapping constraints apply to hardware with a mapping search; {spec.kind} hardware "
                        "has none", file=str(constraints), field="constraints")
    chosen = precision or getattr(spec, "default_precision", None)
    graph = compile(model, batch=batch, precision=chosen)
    options = CostOptions(mapping=Path(mapping) if mapping else None, objective=objective,  # type: ignore[arg-type]
                          compat=compat, mapper=mapper,
                          constraints=Path(constraints) if constraints else None)
    costing = cost_model(spec, options)
    costs = costing.layer_costs(graph)
    peak, bandwidth = costing.roof(chosen or "")
    types = graph.types()
    return Estimate(
        model=graph.name, hardware=spec.name, kind=spec.kind, batch=_batch_of(graph),
        precision=chosen or "as-declared", frequency_hz=spec.frequency_hz,
        layers=tuple(costs), shapes=tuple(types[c.name].shape for c in costs),
        peak_ops_per_s=peak, bandwidth_bps=bandwidth,
    )
