"""The systolic family in SCALE-Sim mode against SCALE-Sim 3.0.0's own reports.

The reference figures are SCALE-Sim 3.0.0 runs on 32x32 arrays (all dataflows, CALC and
USER bandwidth modes), kept with their exact inputs in tests/data/scalesim (see its README).
Every one of the 30 COMPUTE/BANDWIDTH/DETAILED_ACCESS report fields must be equal.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .case import CASES, Check, Skipped, ValidationCase

__all__ = ["DATA", "load_cases", "topology_file", "config_file"]

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "scalesim"
SOURCE = "SCALE-Sim 3.0.0 reports (tests/data/scalesim)"


def load_cases(data: Path = DATA) -> dict[str, dict[str, str]]:
    """Case id -> reference row: the measured cases of reference.csv and remeasured.csv."""
    cases = {}
    for name in ("reference.csv", "remeasured.csv"):
        with open(data / name, newline="") as f:
            for row in csv.DictReader(f):
                if row["status"] == "ok":
                    cases[row["case_id"]] = row
    return cases


def topology_file(row: dict[str, str], data: Path = DATA) -> Path:
    name = row["layer"] if row["topology"] == "gemm" else f"{row['topology']}_{row['layer']}"
    return data / "topologies" / f"{name}.csv"


def config_file(row: dict[str, str], data: Path = DATA) -> Path:
    return data / "configs" / f"{row['cfg']}.cfg"


def _run() -> list[Check]:
    if not (DATA / "reference.csv").exists():
        raise Skipped(f"no SCALE-Sim reference data at {DATA}")
    from ..estimation import estimate
    from ..hw.systolic.memory import REPORT_FIELDS

    checks = []
    for case, row in sorted(load_cases().items()):
        (layer,) = estimate(topology_file(row), config_file(row)).layers
        got = layer.details["scalesim"]
        equal = sum(float(got[k]) == float(row[k]) for k in REPORT_FIELDS)
        checks.append(Check(f"scalesim.{case}", "Total Cycles", float(got["total_cycles"]),
                            float(row["total_cycles"]), 0.0, SOURCE))
        checks.append(Check(f"scalesim.{case}", f"report fields equal (of {len(REPORT_FIELDS)})",
                            float(equal), float(len(REPORT_FIELDS)), 0.0, SOURCE))
    return checks


CASES.add("scalesim", ValidationCase("scalesim", "SCALE-Sim 3.0.0 reports, 55 layers, exact", _run))
