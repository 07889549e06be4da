"""One training step on one device: ``train(model, hw)`` -> ``TrainStep``.

The step is three graphs costed by the hardware's own cost model, one after the other:
the forward graph (batchnorms in training mode: batch statistics, so no convolution's
epilogue), the backward graph derived from it (``backward``) and the optimiser update over
every parameter. Recomputation adds the forward time of the layers it runs again. The
footprint (``memory``) must fit the device where its spec gives a capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import MappingError, SpecError
from ..estimation import Estimate, compile, estimate
from ..hw import HardwareSpec, load_hardware
from ..hw.cost import add_up
from ..ir import Graph, NodeSpec, dtype
from ..ir.ops_training import OPTIMIZERS
from .backward import backward_graph
from .memory import RECOMPUTE, Memory, mixed_precision, recomputed_layers, training_memory

__all__ = ["TrainStep", "train", "training_forward", "OPTIMIZER_NAMES", "RECOMPUTE"]

OPTIMIZER_NAMES = tuple(OPTIMIZERS)


@dataclass(frozen=True)
class TrainStep:
    """The cost of one iteration (SI units); ``forward``, ``backward`` and ``update`` are
    the estimates of the three graphs on the same machine."""

    model: str
    hardware: str
    kind: str
    batch: int
    precision: str
    optimizer: str
    recompute: str
    forward: Estimate
    backward: Estimate
    update: Estimate
    recompute_s: float
    memory: Memory
    memory_capacity_bytes: float | None
    devices: int = 1

    @property
    def time_per_iteration_s(self) -> float:
        return self.forward.latency_s + self.backward.latency_s + self.update.latency_s + self.recompute_s

    @property
    def samples_per_s(self) -> float:
        t = self.time_per_iteration_s
        return self.batch * self.devices / t if t > 0 else 0.0

    @property
    def energy_j(self) -> float:
        recompute_j = self.forward.totals.energy_j * (self.recompute_s / self.forward.latency_s
                                                      if self.forward.latency_s else 0.0)
        return (self.forward.totals.energy_j + self.backward.totals.energy_j
                + self.update.totals.energy_j + recompute_j)

    def as_estimate(self) -> Estimate:
        """All three phases as one estimate (layers in order), for tables and reports."""
        phases = (self.forward, self.backward, self.update)
        return Estimate(
            model=self.model, hardware=self.hardware, kind=self.kind, batch=self.batch,
            precision=self.precision, frequency_hz=self.forward.frequency_hz,
            layers=tuple(c for e in phases for c in e.layers),
            shapes=tuple(s for e in phases for s in e.shapes),
            peak_ops_per_s=self.forward.peak_ops_per_s, bandwidth_bps=self.forward.bandwidth_bps,
            schedule=self.forward.schedule,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``accelsim train --json`` (docs/json-format.md)."""
        layers = []
        for phase, est in (("forward", self.forward), ("backward", self.backward), ("optimizer", self.update)):
            for row in est.to_dict()["layers"]:
                layers.append({"phase": phase, **row})
        totals = add_up([self.forward.totals, self.backward.totals, self.update.totals])
        return {
            "model": self.model, "hardware": self.hardware, "kind": self.kind, "batch": self.batch,
            "precision": self.precision, "optimizer": self.optimizer, "recompute": self.recompute,
            "devices": self.devices,
            "time_per_iteration_s": self.time_per_iteration_s, "samples_per_s": self.samples_per_s,
            "forward_s": self.forward.latency_s, "backward_s": self.backward.latency_s,
            "optimizer_s": self.update.latency_s, "recompute_s": self.recompute_s,
            "energy_j": self.energy_j, "macs": totals.macs, "flops": totals.flops,
            "bytes_dram": totals.bytes_dram,
            "memory_bytes": self.memory.to_dict(), "memory_capacity_bytes": self.memory_capacity_bytes,
            "layers": layers,
        }


def training_forward(graph: Graph) -> Graph:
    """``graph`` with its batchnorms in training mode (``batchnorm_train``)."""
    names = [n.name for n in graph.nodes() if n.op == "batchnorm"]
    if not names:
        return graph
    g = graph.copy()
    for name in names:
        node = g.node(name)
        g.replace(name, [NodeSpec(name, "batchnorm_train", node.inputs, dict(node.attrs),
                                  weights=dict(g.weights(name)), source=node.source)], name)
    return g


def _optimizer_graph(forward: Graph, precision: str, optimizer: str) -> Graph:
    g = Graph(f"{forward.name}.optimizer")
    params = forward.params()
    g.add("gradients", "input", (), {"shape": [max(params, 1)], "dtype": precision})
    g.add("update", "optimizer_step", ["gradients"],
          {"optimizer": optimizer, "master_bits": 32 if mixed_precision(precision) else dtype(precision).bits})
    g.set_outputs(["update"])
    return g


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def train(model: Graph | str | Path, hw: HardwareSpec | str | Path, *, batch: int | None = None,
          precision: str | None = None, optimizer: str = "sgd", recompute: str = "none",
          options: Any = None, seed: int = 0, cache: bool = True, jobs: int = 1,
          progress: Callable[[int, int], None] | None = None, passes: Sequence[str] = (),
          check_memory: bool = True) -> TrainStep:
    """Cost one training iteration of ``model`` on ``hw`` (arguments as :func:`estimate`,
    plus the ``optimizer`` (sgd, momentum, adam) and ``recompute`` (none, selective, full)).

    Raises:
        SpecError: an unknown optimizer, recompute policy or precision; bad model or hardware.
        MappingError: a layer the hardware cannot run; the step does not fit the device's
            memory (the message gives the size needed, by kind, and the capacity).
    """
    if optimizer not in OPTIMIZERS:
        raise SpecError(f"unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZERS)}",
                        field="optimizer")
    if recompute not in RECOMPUTE:
        raise SpecError(f"unknown recompute policy {recompute!r}; expected one of {', '.join(RECOMPUTE)}",
                        field="recompute")
    spec = hw if isinstance(hw, HardwareSpec) else load_hardware(hw)
    chosen = precision or spec.default_precision or "fp32"
    forward = training_forward(compile(model, batch=batch, precision=chosen, passes=passes))
    back = backward_graph(forward)
    memory = training_memory(forward, back.saved, chosen, optimizer, recompute)
    capacity = spec.memory_capacity_bytes
    if check_memory and capacity and memory.total > capacity:
        parts = ", ".join(f"{k.replace('_', ' ')} {_gib(v)}" for k, v in memory.to_dict().items()
                          if k != "total" and v)
        raise MappingError(f"training {forward.name} at batch {_batch(forward)} needs {_gib(memory.total)} "
                           f"({parts}) but {spec.name} has {_gib(capacity)}; try a smaller --batch or "
                           f"--recompute full", file=spec.source)
    common = dict(precision=chosen, options=options, seed=seed, cache=cache, jobs=jobs, progress=progress)
    fwd = estimate(forward, spec, **common)
    bwd = estimate(back.graph, spec, **common)
    upd = estimate(_optimizer_graph(forward, chosen, optimizer), spec, **common)
    _, again = recomputed_layers(forward, back.saved, recompute)
    by_name = {c.name: c for c in fwd.layers}
    recompute_s = sum(by_name[n].latency_s for n in again if n in by_name)
    return TrainStep(model=forward.name, hardware=spec.name, kind=spec.kind, batch=fwd.batch, precision=chosen,
                     optimizer=optimizer, recompute=recompute, forward=fwd, backward=bwd, update=upd,
                     recompute_s=recompute_s, memory=memory, memory_capacity_bytes=capacity)


def _batch(graph: Graph) -> int:
    shapes = [graph.type_of(n).shape for n in graph.inputs]
    return shapes[0][0] if shapes and shapes[0] else 1

