"""Graph + hardware -> Estimate: the one entry point that the CLI, sweeps and reports share."""

from __future__ import annotations

import math
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .errors import MappingError, SpecError
from .frontend import load_model
from .hw import FAMILIES, CostContext, HardwareSpec, LayerCost, Schedule, Serial, cost_model, family_options, load_hardware
from .ir import Graph, dtype

__all__ = ["Estimate", "compile", "estimate"]


@dataclass(frozen=True)
class Estimate:
    """Per-layer and total cost of one model on one machine. SI units throughout.

    ``schedule`` combines the layers into the totals: serial machines add latencies, others
    overlap layers (see ``accelsim.hw.Schedule``).
    """

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
    schedule: Schedule = field(default=Serial())

    @cached_property
    def totals(self) -> LayerCost:
        """The layers combined by the schedule (computed once: a frozen value)."""
        return self.schedule.combine(self.layers)

    @property
    def latency_s(self) -> float:
        return self.totals.latency_s

    @property
    def throughput_per_s(self) -> float:
        """Samples per second: the batch over the schedule's latency."""
        latency = self.totals.latency_s
        return self.batch / latency if latency > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``accelsim estimate --json`` (docs/json-format.md)."""
        totals = self.totals_dict()
        layers = []
        for cost, shape in zip(self.layers, self.shapes):
            row = {"name": cost.name, "op": cost.op, "output_shape": list(shape)}
            row.update(_cost_dict(cost))
            layers.append(row)
        return {
            "model": self.model, "hardware": self.hardware, "kind": self.kind, "batch": self.batch,
            "precision": self.precision, "frequency_hz": self.frequency_hz, "schedule": self.schedule.name,
            "totals": totals, "layers": layers,
        }

    def totals_dict(self) -> dict[str, Any]:
        """The ``totals`` object of :meth:`to_dict`."""
        t = self.totals
        totals = _cost_dict(t)
        totals.pop("details")
        totals.pop("bound")
        totals.update(
            throughput_per_s=self.throughput_per_s,
            power_w=t.energy_j / t.latency_s if t.latency_s > 0 else 0.0,
            bound=t.bound,
        )
        return totals


def _cost_dict(c: LayerCost) -> dict[str, Any]:
    return {
        "macs": c.macs, "ops": c.ops, "flops": c.flops, "params": c.params, "cycles": c.cycles,
        "latency_s": c.latency_s, "energy_j": c.energy_j,
        "energy_by_component_j": dict(c.energy_by_component_j),
        "bytes_dram": c.bytes_dram, "bytes_onchip": c.bytes_onchip,
        "bytes_by_level": dict(c.bytes_by_level),
        "footprint_bytes_by_level": dict(c.footprint_by_level),
        "counts": dict(c.counts),
        "utilization": c.utilization, "bound": c.bound,
        "details": dict(c.details),
    }


def _batch_of(graph: Graph) -> int:
    shapes = [graph.type_of(name).shape for name in graph.inputs]
    return shapes[0][0] if shapes and shapes[0] else 1


def compile(model: Graph | str | Path, *, batch: int | None = None, precision: str | None = None,
            passes: Sequence[str] = ()) -> Graph:
    """Load (if needed) and prepare a model: batch size set (None keeps the model's own),
    tensors at ``precision`` (None keeps the declared types), then the graph ``passes``
    (names in ``accelsim.passes.PASSES``) run in order.

    Raises:
        SpecError: unknown precision; errors of :func:`load_model`.
        GraphError: a layer cannot take the batch or precision.
        PassError: an unknown pass, passes out of their declared order, a pass that fails.
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
    if passes:
        from .passes import run_passes

        graph = run_passes(graph, list(passes))
    return graph


def estimate(model: Graph | str | Path, hw: HardwareSpec | str | Path, *, batch: int | None = None,
             precision: str | None = None, options: Any = None, seed: int = 0, cache: bool = True,
             executor: Any = None, jobs: int = 1, progress: Callable[[int, int], None] | None = None,
             passes: Sequence[str] = ()) -> Estimate:
    """Cost ``model`` on ``hw``. ``batch`` defaults to the model's own (1 in the zoo) and
    ``precision`` to the hardware's default precision; ``passes`` (e.g. ``["fuse"]``)
    transform the graph before it is costed (``compile``).

    ``options`` are the hardware family's own (``accelsim.hw.FAMILIES[kind].options``): an
    instance of that dataclass, or a mapping of its fields, e.g. for npu hardware
    ``{"mapping": "map.yaml", "objective": "energy", "constraints": ..., "compat": ...,
    "ert": ...}``. ``seed`` seeds every random choice (the mapping search); ``cache=False``
    bypasses the on-disk mapper cache; ``executor`` (a ``concurrent.futures.Executor``, e.g.
    a Dask client's) spreads mapping searches over workers; without one, ``jobs`` > 1 starts
    that many local processes for this call, only if the hardware has a mapping search, and
    1 searches in this process. ``progress`` is called with (layers done, layers in all).

    Raises:
        SpecError, GraphError: bad model or hardware input; an option the family does not take.
        MappingError: a layer cannot run on the hardware (e.g. no peak for its precision).
    """
    ert = options.get("ert") if isinstance(options, Mapping) else getattr(options, "ert", None)
    spec = hw if isinstance(hw, HardwareSpec) else load_hardware(hw, ert=ert)
    chosen_options = family_options(spec.kind, options)
    chosen = precision or spec.default_precision
    graph = compile(model, batch=batch, precision=chosen, passes=passes)
    with ExitStack() as stack:
        mapper = _mapper_for(spec.kind, seed=seed, cache=cache, executor=executor, jobs=jobs, stack=stack)
        costing = cost_model(spec, chosen_options, CostContext(mapper=mapper, progress=progress, cache=cache))
        try:
            costs = costing.layer_costs(graph)
        except MappingError as exc:  # the layer is in the model file; name the machine's too
            if spec.source and spec.source not in exc.message:
                exc.message = f"{exc.message} (hardware: {spec.source})"
            raise
    peak, bandwidth = costing.roof(chosen or "")
    types = graph.types()
    est = Estimate(
        model=graph.name, hardware=spec.name, kind=spec.kind, batch=_batch_of(graph),
        precision=chosen or "as-declared", frequency_hz=spec.frequency_hz,
        layers=tuple(costs), shapes=tuple(types[c.name].shape for c in costs),
        peak_ops_per_s=peak, bandwidth_bps=bandwidth, schedule=FAMILIES.get(spec.kind).schedule,
    )
    check_finite(est, spec.source)
    return est


def _first_non_finite(value: Any, path: str) -> tuple[str, float] | None:
    kind = type(value)
    if kind is float:
        return None if math.isfinite(value) else (path, value)
    if kind is dict:
        items: Any = value.items()
    elif kind is list or kind is tuple:
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    elif isinstance(value, float):  # a numpy float
        return None if math.isfinite(value) else (path, float(value))
    elif isinstance(value, Mapping):
        items = value.items()
    else:
        return None
    for key, item in items:
        found = _first_non_finite(item, f"{path}.{key}" if path and not str(key).startswith("[") else f"{path}{key}")
        if found:
            return found
    return None


def _is_finite(c: LayerCost) -> bool:
    """Whether every figure ``c`` exports is finite: the quick test of each value that most
    results pass (a huge integer count, valid JSON, is left to the exact walk)."""
    isfinite = math.isfinite
    try:
        if not (isfinite(c.latency_s) and isfinite(c.ideal_s) and isfinite(c.utilization)
                and isfinite(c.energy_j) and isfinite(c.bytes_dram) and isfinite(c.bytes_onchip)):
            return False
        for pairs in (c.energy_by_component_j, c.bytes_by_level, c.footprint_by_level, c.counts):
            for _, value in pairs:
                if not isfinite(value):
                    return False
    except (OverflowError, TypeError):
        return False
    return not c.details or _first_non_finite(dict(c.details), "") is None


def check_finite(est: Estimate, hardware_file: str | None) -> None:
    """Every figure of ``est`` is a finite number, so results are valid JSON (RFC 8259 has no
    Infinity or NaN).

    Raises:
        MappingError: naming the layer and the figure, and the hardware file whose values
            produced it.
    """
    for cost, shape in zip(est.layers, est.shapes):
        if _is_finite(cost):
            continue
        row = {"name": cost.name, "op": cost.op, "output_shape": list(shape), **_cost_dict(cost)}
        found = _first_non_finite(row, "")
        if found:
            figure, value = found
            raise MappingError(f"layer {cost.name!r}: {figure} is {value} on {est.hardware}; a value in "
                               f"{hardware_file or 'the hardware spec'} is out of range", file=hardware_file)
    found = _first_non_finite(est.totals_dict(), "totals.")
    if found:
        raise MappingError(f"{found[0]} is {found[1]} on {est.hardware}", file=hardware_file)


def _mapper_for(kind: str, *, seed: int, cache: bool, executor: Any, jobs: int, stack: ExitStack) -> Any:
    """The mapping search for a hardware kind, built for this call, if the mapping layer has
    one; local worker processes (``jobs`` > 1, no ``executor``) live as long as ``stack``."""
    from .mapping import MAPPERS

    if kind not in MAPPERS:
        return None
    from .mapping import MapperOptions, local_executor, mapper_for

    if executor is None and jobs > 1:
        executor = stack.enter_context(local_executor(jobs))
    return mapper_for(kind, MapperOptions(seed=seed, cache=cache, executor=executor))
