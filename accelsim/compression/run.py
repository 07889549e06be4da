"""``compress``: run compression passes on a model and show what they bought on a machine.

Each pass is a spec (``prune:0.8``, ``quantize:int8``; ``passes.specs``). After every pass the
model's stored bytes (``passes.storage``), MACs and quality (accuracy or output SNR, measured
on the integer and sparse kernels) are recorded; the model before and after is costed on the
hardware with ``estimate``, so latency and energy include only what that machine exploits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..estimation import Estimate, compile, estimate
from ..hw import HardwareSpec, load_hardware
from ..ir import Graph
from ..passes.specs import parse_pass
from ..passes.manager import PassManager
from .quality import Judge, Quality, measurable, seeded_weights

__all__ = ["Snapshot", "PassStep", "Compressed", "compress", "snapshot", "MEASURE"]

MEASURE = ("auto", "always", "never")


@dataclass(frozen=True)
class Snapshot:
    """One version of the model: its estimate on the machine, stored bytes and quality."""

    estimate: Estimate
    model_bytes: float
    quality: Quality | None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.estimate.totals_dict())
        out["model_bytes"] = self.model_bytes
        if self.quality is not None:
            out.update(self.quality.as_dict())
        return out


@dataclass(frozen=True)
class PassStep:
    """One pass as it ran: its spec, what it measured itself, and the model after it."""

    spec: str
    notes: dict[str, Any]
    by_layer: dict[str, dict[str, Any]]
    model_bytes: float
    macs: int
    params: int
    quality: Quality | None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pass": self.spec, "model_bytes": self.model_bytes, "macs": self.macs,
                               "params": self.params, "notes": self.notes, "layers": self.by_layer}
        if self.quality is not None:
            out.update(self.quality.as_dict())
        return out


@dataclass(frozen=True)
class Compressed:
    """The result of ``compress``: the model before and after, each pass, the new graph."""

    model: str
    hardware: str
    before: Snapshot
    after: Snapshot
    passes: tuple[PassStep, ...]
    graph: Graph
    quality_note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {"model": self.model, "hardware": self.hardware, "before": self.before.as_dict(),
               "after": self.after.as_dict(), "passes": [p.as_dict() for p in self.passes]}
        if self.quality_note:
            out["quality"] = self.quality_note
        out.update(self.extra)
        return out


def model_bytes(graph: Graph) -> float:
    from ..passes.storage import model_storage
    return float(model_storage(graph).total_bytes)


def snapshot(graph: Graph, spec: HardwareSpec, judge: Judge | None, *, batch: int | None,
             precision: str | None, options: Any = None, seed: int = 0, cache: bool = True) -> Snapshot:
    """The model ``graph`` costed on ``spec`` (at ``batch`` and ``precision``, as ``estimate``)
    with its stored bytes and, where judged, its quality."""
    est = estimate(graph, spec, batch=batch, precision=precision, options=options, seed=seed, cache=cache)
    return Snapshot(est, model_bytes(graph), judge(graph) if judge is not None else None)


def prepare(model: Graph | str | Path, *, measure: str = "auto", seed: int = 0) -> tuple[Graph, Judge | None]:
    """The model to compress and its judge: a zoo model without weights gets seeded weights
    where its quality is measured, so pruning and quantising act on real values."""
    graph = compile(model)
    if measure not in MEASURE:
        raise ValueError(f"measure must be one of {MEASURE}, got {measure!r}")
    if not measurable(graph, measure):
        return graph, None
    if not graph.has_weights:
        graph = seeded_weights(graph, seed)
    return graph, Judge(graph, seed=seed)


def compress(model: Graph | str | Path, hw: HardwareSpec | str | Path, passes: Sequence[str], *,
             batch: int | None = None, precision: str | None = None, options: Any = None, seed: int = 0,
             cache: bool = True, measure: str = "auto",
             progress: Callable[[int, int], None] | None = None) -> Compressed:
    """Run the pass specs ``passes`` on ``model`` and cost it on ``hw`` before and after.

    ``measure``: ``auto`` measures quality unless the model is too large for the numpy
    reference (``quality.MAX_MEASURED_MACS``), ``always`` or ``never``.

    Raises:
        PassError: an unknown or malformed pass spec, passes out of order, a failing pass.
        SpecError, GraphError, MappingError: as for ``estimate``.
    """
    spec = hw if isinstance(hw, HardwareSpec) else load_hardware(hw)
    configured = [parse_pass(text) for text in passes]
    PassManager([c.text for c in configured])  # the order constraints, checked before anything runs
    graph, judge = prepare(model, measure=measure, seed=seed)
    graph.verify()
    kw = dict(batch=batch, precision=precision, options=options, seed=seed, cache=cache)
    before = snapshot(graph, spec, judge, **kw)
    steps: list[PassStep] = []
    current = graph
    for i, c in enumerate(configured):
        result = c.run(current)
        current = result.graph
        current.verify()
        steps.append(PassStep(c.text, dict(result.notes), {k: dict(v) for k, v in result.by_layer.items()},
                              model_bytes(current), current.macs(), current.params(),
                              judge(current) if judge is not None else None))
        if progress:
            progress(i + 1, len(configured) + 1)
    after = snapshot(current, spec, judge, **kw)
    if progress:
        progress(len(configured) + 1, len(configured) + 1)
    if before.quality is not None:
        note = before.quality.note
    elif measure == "auto":
        note = "quality not measured: the model is too large for the numpy reference (use --measure always)"
    else:
        note = "quality not measured (--measure never)"
    return Compressed(graph.name, spec.name, before, after, tuple(steps), current, note)
