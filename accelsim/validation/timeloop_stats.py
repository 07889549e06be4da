"""Reading ``timeloop-model.stats.txt`` / ``timeloop-mapper.stats.txt``: Timeloop's report.

Validation compares accelsim with Timeloop's own outputs (the Timeloop/Accelergy tutorial
exercises in ../shared/reference/timeloop); this reads the two parts of the report it needs:
per level and data space the scalar reads, fills and updates (per instance), and the
summary's cycles, computes and energy per compute by component.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Stats", "parse_stats", "read_stats"]


@dataclass(frozen=True)
class Stats:
    """What a stats report says. ``levels``: {level: {"dataspaces": {name: {stat: value}},
    stat: value}} from "Buffer and Arithmetic Levels"; ``fj_per_compute``: the summary's
    {component (or "Total"): fJ per compute}."""

    levels: dict[str, dict]
    cycles: int
    computes: int
    fj_per_compute: dict[str, float]

    @property
    def energy_j(self) -> float:
        """Total energy (the report prints it per compute with two decimals)."""
        return self.fj_per_compute["Total"] * self.computes * 1e-15


def parse_stats(text: str) -> Stats:
    """The ``Stats`` of a report's text.

    Raises:
        ValueError: the text has no "Summary Stats" cycles or computes.
    """
    levels: dict[str, dict] = {}
    summary: dict[str, int] = {}
    fj: dict[str, float] = {}
    section = "levels"
    level: dict | None = None
    dataspace: dict | None = None
    for line in text.splitlines():
        if line.startswith("Networks"):
            section = "networks"
        elif line.startswith("Summary Stats"):
            section = "summary"
        if section == "levels":
            if m := re.match(r"^=== (.+) ===$", line):
                level, dataspace = levels.setdefault(m.group(1), {"dataspaces": {}}), None
            elif (m := re.match(r"^    (\w+):$", line)) and level is not None:
                dataspace = level["dataspaces"].setdefault(m.group(1), {})
            elif (m := re.match(r"^\s+([A-Za-z][A-Za-z ()\-]*?)\s*: (-?\d[\d.e+]*)", line)) and level is not None:
                (dataspace if dataspace is not None else level)[m.group(1).strip()] = float(m.group(2))
        elif section == "summary":
            if m := re.match(r"^Cycles: (\d+)", line):
                summary["cycles"] = int(m.group(1))
            elif m := re.match(r"^Computes = (\d+)", line):
                summary["computes"] = int(m.group(1))
            elif m := re.match(r"^    (\S+)\s+= ([\d.]+)$", line):
                fj[m.group(1)] = float(m.group(2))
    if "cycles" not in summary or "computes" not in summary:
        raise ValueError("not a Timeloop stats report: no 'Summary Stats' cycles and computes")
    return Stats(levels, summary["cycles"], summary["computes"], fj)


def read_stats(path: str | Path) -> Stats:
    """``parse_stats`` of a file."""
    return parse_stats(Path(path).read_text(encoding="utf-8"))
