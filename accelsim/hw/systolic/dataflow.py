"""The three dataflows as data: how each operand moves through an R x C systolic array.

A GEMM ``ofmap[M, N] = ifmap[M, K] @ filter[K, N]`` is cut into folds (array-sized tiles,
:mod:`accelsim.hw.systolic.timing`). Within a fold, every operand occupies some *lanes* of
the array (rows fed from the left edge, or columns fed from the top or drained at the
bottom) and walks through a *time* index, one step per cycle. ``OperandFlow`` says, for one
operand, which GEMM dimension lies on the lanes and which in time, whether the lanes are
blocked by the row fold or the column fold, whether lane ``c`` runs ``c`` cycles late (the
systolic skew), and after how many idle cycles it starts. That is all the memory simulation
(:mod:`accelsim.kernels.systolic_memory`) needs; one model serves every dataflow.

Streaming operands are skewed; a tile that is preloaded into the PEs (WS filter, IS ifmap)
or drained out of them (OS ofmap) has its time index run over the row fold's R rows, bottom
row first, and is not skewed when preloaded. SCALE-Sim prefetches skewed operands along
anti-diagonals (its fix for issues #15/#16) and the others row by row; ``diagonal`` below
says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Mapping

__all__ = ["OperandFlow", "DataflowMap", "DATAFLOW_MAPS", "OPERANDS", "fold_length",
           "util_fold_length"]

OPERANDS = ("ifmap", "filter", "ofmap")
Dim = Literal["M", "N", "K"]


@dataclass(frozen=True)
class OperandFlow:
    """How one operand moves through a fold (see the module docstring).

    ``prefix = prefix_r * R + prefix_t * T + prefix_1`` idle lines come first; an output
    held in the PEs also waits for the accumulator drain (``R`` more) when the model
    includes it (``DataflowMap.output_drain``).
    """

    lane: Dim
    time: Dim
    lane_fold: Literal["row", "col"]
    time_blocked: bool = False
    skew: bool = True
    prefix_r: int = 0
    prefix_t: int = 0
    prefix_1: int = 0

    @property
    def diagonal(self) -> bool:
        """Prefetched along anti-diagonals (skewed operands) rather than row by row."""
        return self.skew

    def prefix(self, R: int, T: int) -> int:
        return self.prefix_r * R + self.prefix_t * T + self.prefix_1


@dataclass(frozen=True)
class DataflowMap:
    """One dataflow: the GEMM dims on rows/cols/time and how each operand flows.

    ``output_drain``: outputs stay in the PEs and leave through an R-cycle drain after the
    last MAC (OS). SCALE-Sim 3.0.0 leaves that drain out of its OS folds.
    """

    rows: Dim
    cols: Dim
    time: Dim
    ifmap: OperandFlow
    filter: OperandFlow
    ofmap: OperandFlow
    output_drain: bool = False

    def operand(self, name: str) -> OperandFlow:
        return {"ifmap": self.ifmap, "filter": self.filter, "ofmap": self.ofmap}[name]


_STATIONARY_OUT = OperandFlow("N", "M", "col", skew=True, prefix_r=2, prefix_1=-1)

DATAFLOW_MAPS: Mapping[str, DataflowMap] = MappingProxyType({
    # Output stationary: ifmap rows enter from the left, filter columns from the top, the
    # outputs accumulate in place and leave bottom row first.
    "os": DataflowMap(
        rows="M", cols="N", time="K",
        ifmap=OperandFlow("M", "K", "row"),
        filter=OperandFlow("N", "K", "col"),
        ofmap=OperandFlow("N", "M", "col", time_blocked=True, prefix_t=1, prefix_1=-1),
        output_drain=True,
    ),
    # Weight stationary: the filter tile is preloaded (R cycles), ifmap rows stream from the
    # left, partial sums leave at the bottom.
    "ws": DataflowMap(
        rows="K", cols="N", time="M",
        ifmap=OperandFlow("K", "M", "row", prefix_r=1),
        filter=OperandFlow("N", "K", "col", time_blocked=True, skew=False),
        ofmap=_STATIONARY_OUT,
    ),
    # Input stationary: WS with the roles of ifmap and filter swapped (ifmap^T preloaded).
    "is": DataflowMap(
        rows="K", cols="M", time="N",
        ifmap=OperandFlow("M", "K", "col", time_blocked=True, skew=False),
        filter=OperandFlow("K", "N", "row", prefix_r=1),
        ofmap=OperandFlow("M", "N", "col", skew=True, prefix_r=2, prefix_1=-1),
    ),
})


def fold_length(df: DataflowMap, R: int, C: int, T: int, *, drain: bool) -> int:
    """Demand lines per fold: ``2R + C + T - 2``, or ``T + R + C - 2`` for a dataflow whose
    output drain is left out (``drain=False``, SCALE-Sim's OS)."""
    return (2 * R if (drain or not df.output_drain) else R) + C + T - 2


def util_fold_length(df: DataflowMap, R: int, C: int, T: int) -> int:
    """SCALE-Sim's per-fold denominator of "Compute Util %": the fold length for OS, but
    ``2R + 2C + T - 3`` (C - 1 more than the fold) for WS and IS, where it measures a
    skewed-looking matrix that is not skewed."""
    return T + R + C - 2 if df.output_drain else 2 * R + 2 * C + T - 3
