"""Plain-text and CSV renderings of an Estimate (no third-party dependencies)."""

from __future__ import annotations

import csv
import io
from typing import Any, Sequence

from ..estimation import Estimate
from ..units import format_si

__all__ = ["render_table", "render_csv", "render_grid", "render_mappings"]


def _count(n: float) -> str:
    return format_si(n, "").strip() if n else "0"


def render_grid(header: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool]) -> str:
    """Columns padded to their widest cell; ``right`` aligns numeric columns to the right."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if right[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_table(est: Estimate) -> str:
    """The terminal table: one row per layer, then the totals."""
    levels = [name for name, _ in est.layers[0].bytes_by_level] if est.layers else []
    header = ["layer", "op", "output", "MACs", "cycles", "latency", "energy",
              *[f"{lv} B" for lv in levels], "util", "bound"]
    right = [False, False, False, True, True, True, True, *[True] * len(levels), True, False]
    rows = []
    for cost, shape in zip(est.layers, est.shapes):
        traffic = dict(cost.bytes_by_level)
        rows.append([
            cost.name, cost.op, "x".join(str(s) for s in shape), _count(cost.macs), cost.cycles,
            format_si(cost.latency_s, "s"), format_si(cost.energy_j, "J"),
            *[_count(traffic.get(lv, 0.0)) for lv in levels],
            f"{cost.utilization:.0%}" if cost.macs else "-", cost.bound,
        ])
    t = est.totals
    traffic = dict(t.bytes_by_level)
    rows.append(["TOTAL", "", "", _count(t.macs), t.cycles, format_si(t.latency_s, "s"),
                 format_si(t.energy_j, "J"), *[_count(traffic.get(lv, 0.0)) for lv in levels],
                 f"{t.utilization:.0%}", t.bound])
    power = t.energy_j / t.latency_s if t.latency_s else 0.0
    summary = (
        f"{est.model} on {est.hardware} ({est.kind}), batch {est.batch}, {est.precision}: "
        f"{format_si(t.latency_s, 's')}, {est.throughput_per_s:,.1f} samples/s, "
        f"{format_si(t.energy_j, 'J')}, {format_si(power, 'W')}, "
        f"{_count(t.macs)} MACs, {_count(t.params)} params"
    )
    return render_grid(header, rows, right) + "\n\n" + summary + "\n"


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested figures as flat columns, ``parent.child``; lists as JSON text."""
    import json

    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, name + "."))
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(value)
        else:
            out[name] = value
    return out


def render_csv(est: Estimate) -> str:
    """One row per layer plus a TOTAL row; columns are the JSON keys (SI units), nested ones
    flattened as ``bytes_by_level.dram``, ``details.gemm.M``; pandas reads it as it is."""
    data = est.to_dict()
    rows = [dict(layer, output_shape="x".join(map(str, layer["output_shape"]))) for layer in data["layers"]]
    rows.append({"name": "TOTAL", "op": "", "output_shape": "", **data["totals"]})
    rows = [_flat(row) for row in rows]
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def render_mappings(est: Estimate) -> str:
    """Each layer's loop nest, where its cost model chose one (``details["loop_nest"]``)."""
    parts = [f"\n{c.name}:\n{c.details['loop_nest'].rstrip()}\n" for c in est.layers if "loop_nest" in c.details]
    return "".join(parts) if parts else "\n(no mappings: this hardware family does not map loop nests)\n"


def render_train(step: Any) -> str:
    """A training step (``accelsim.training.step.TrainStep``): time by phase, memory by kind."""
    total = step.time_per_iteration_s
    phases = [("forward", step.forward.latency_s), ("backward", step.backward.latency_s),
              ("optimizer", step.update.latency_s), ("recompute", step.recompute_s)]
    rows = [[name, format_si(t, "s"), f"{t / total:.0%}" if total else "-"] for name, t in phases]
    rows.append(["TOTAL", format_si(total, "s"), "100%"])
    memory = [[kind.replace("_", " "), format_si(v, "B")] for kind, v in step.memory.to_dict().items()]
    capacity = step.memory_capacity_bytes
    summary = (f"{step.model} training on {step.hardware} ({step.kind}), batch {step.batch}, {step.precision}, "
               f"{step.optimizer}, recompute {step.recompute}: {format_si(total, 's')} per iteration, "
               f"{step.samples_per_s:,.1f} samples/s, {format_si(step.energy_j, 'J')}, memory "
               f"{format_si(step.memory.total, 'B')}" + (f" of {format_si(capacity, 'B')}" if capacity else ""))
    return (render_grid(["phase", "time", "share"], rows, [False, True, True]) + "\n\n"
            + render_grid(["memory", "bytes"], memory, [False, True]) + "\n\n" + summary + "\n")
