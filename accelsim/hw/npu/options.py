"""What ``accelsim estimate`` may tell the npu cost model beyond the spec, and its flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from ...errors import SpecError
from ..cost import Flag, Objective

__all__ = ["NpuOptions", "NPU_FLAGS", "OBJECTIVES"]

OBJECTIVES: tuple[str, ...] = get_args(Objective)


@dataclass(frozen=True)
class NpuOptions:
    """``mapping``: a mapping file evaluated instead of searching; ``objective``: what the
    mapper minimises; ``constraints``: Timeloop mapspace constraints narrowing the search;
    ``compat``: ``timeloop-legacy`` reproduces Timeloop before January 2025; ``ert``: the
    Accelergy energy table read with a Timeloop architecture.

    Raises:
        SpecError: an unknown objective.
    """

    mapping: Path | None = None
    objective: Objective = "edp"
    constraints: Path | None = None
    compat: str | None = None
    ert: Path | None = None

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise SpecError(f"unknown objective {self.objective!r}; expected " + ", ".join(OBJECTIVES),
                            field="objective")


NPU_FLAGS = (
    Flag("mapping", "evaluate this mapping (accelsim or Timeloop mapping YAML) instead of searching",
         metavar="FILE", path=True),
    Flag("objective", "what the mapper minimises (default edp: energy x delay)", choices=OBJECTIVES),
    Flag("constraints", "Timeloop mapspace constraints that narrow the npu mapper's search",
         metavar="FILE", path=True),
    Flag("compat", "reproduce another tool's figures, quirks included (timeloop-legacy: Timeloop before "
         "January 2025)", choices=("timeloop-legacy",)),
    Flag("ert", "Accelergy energy reference table for a Timeloop architecture", metavar="FILE", path=True),
)
