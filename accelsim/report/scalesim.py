"""SCALE-Sim's report files, from an Estimate on a systolic machine.

``COMPUTE_REPORT.csv``, ``BANDWIDTH_REPORT.csv`` and ``DETAILED_ACCESS_REPORT.csv`` with
SCALE-Sim 3.0.0's header and row layout (``simulator.generate_reports``): ``LayerID, v1,
v2, ...,`` with a trailing comma, numbers written as SCALE-Sim writes them (cycle counts and
word counts as integers, start/stop cycles and percentages as Python floats). One row per
GEMM the array ran, numbered from 0: a grouped convolution of G groups gives G rows, as the
G layers SCALE-Sim would need; layers on the vector unit have no row. In ``scalesim`` mode
the figures are SCALE-Sim's own, otherwise accelsim's (quirks fixed, docs/systolic.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..errors import AccelsimError
from ..estimation import Estimate
from ..fileio import atomic_dir

__all__ = ["write_scalesim_reports", "REPORTS", "report_rows"]

_OPS = ("IFMAP", "Filter", "OFMAP")
_KEYS = ("ifmap", "filter", "ofmap")

# file -> (header after "LayerID, ", figure keys in column order)
REPORTS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "COMPUTE_REPORT.csv": (
        "Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, Overall Util %, "
        "Mapping Efficiency %, Compute Util %,",
        ("total_cycles_incl_prefetch", "total_cycles", "stall_cycles", "overall_util_pct",
         "mapping_efficiency_pct", "compute_util_pct")),
    "BANDWIDTH_REPORT.csv": (
        "Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, "
        "Avg IFMAP DRAM BW, Avg FILTER DRAM BW, Avg OFMAP DRAM BW,",
        tuple(f"bw_avg_{o}_{m}_bw" for m in ("sram", "dram") for o in _KEYS)),
    "DETAILED_ACCESS_REPORT.csv": (
        ", ".join(f"{m} {op} Start Cycle, {m} {op} Stop Cycle, {m} {op} {'Writes' if k == 'ofmap' else 'Reads'}"
                  for m in ("SRAM", "DRAM") for op, k in zip(_OPS, _KEYS)) + ",",
        tuple(f"{m}_{k}_{f}" for m in ("sram", "dram") for k in _KEYS
              for f in ("start_cycle", "stop_cycle", "writes" if k == "ofmap" else "reads"))),
}


def _text(key: str, value: Any) -> str:
    """A figure as SCALE-Sim prints it: start/stop cycles and ratios as floats, counts as ints."""
    if key.endswith(("_cycle", "_pct", "_bw")):
        return str(float(value))
    return str(int(value))


def report_rows(est: Estimate) -> list[Mapping[str, Any]]:
    """The figures of every GEMM the array ran, in layer order (repeats expanded).

    Raises:
        AccelsimError: no layer of the estimate has systolic array figures.
    """
    rows: list[Mapping[str, Any]] = []
    for cost in est.layers:
        figures = cost.details.get("scalesim") or cost.details.get("systolic")
        if figures is not None:
            rows.extend([figures] * int(cost.details["gemm"]["repeats"]))
    if not rows:
        raise AccelsimError(f"SCALE-Sim reports need a systolic array; {est.hardware} is a "
                            f"{est.kind} machine" if est.kind != "systolic"
                            else "SCALE-Sim reports need at least one conv or GEMM layer")
    return rows


def write_scalesim_reports(est: Estimate, folder: str | Path) -> Path:
    """Write the three SCALE-Sim report CSVs into ``folder`` (atomically); return its path.

    Raises:
        AccelsimError: the estimate has no systolic array figures.
        OSError: the folder cannot be written.
    """
    rows = report_rows(est)
    folder = Path(folder)
    with atomic_dir(folder) as scratch:
        for name, (header, keys) in REPORTS.items():
            lines = ["LayerID, " + header]
            for layer_id, figures in enumerate(rows):
                lines.append(f"{layer_id}, " + ", ".join(_text(k, figures[k]) for k in keys) + ",")
            (scratch / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
