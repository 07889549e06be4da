"""Closed-form timing of a GEMM on an R x C systolic array (output, weight or input stationary).

The GEMM is ``out[M, N] = A[M, K] @ B[K, N]``. A dataflow decides which two GEMM dimensions
are laid out spatially on the array (``Sr`` along the R rows, ``Sc`` along the C columns)
and which one is streamed through it in time (``T``):

==========  ========  ========  ======  =============================================
dataflow    Sr (rows) Sc (cols) T       what stays in the PEs
==========  ========  ========  ======  =============================================
``os``      M         N         K       the outputs (accumulators)
``ws``      K         N         M       the weights B (preloaded)
``is``      K         M         N       the inputs A (preloaded, transposed)
==========  ========  ========  ======  =============================================

The problem is cut into ``folds = ceil(Sr / R) * ceil(Sc / C)`` tiles. Folds run strictly
back to back, with a full fill and drain each (no overlap), and an edge fold is padded with
zeros to the whole array and runs the same fixed schedule as a full one, so every fold costs

    2R + C + T - 2 cycles,

counted from the first cycle in which the fold moves data into the array to the cycle in
which its last output leaves the array (latched into the output buffer), inclusive. Where
the terms come from, per dataflow (:mod:`accelsim.kernels.systolic` moves the data register
by register and reproduces this count exactly):

* **OS**: ``(R - 1) + (C - 1)`` *fill skew*: row ``i`` of A enters the left edge ``i``
  cycles late and column ``j`` of B enters the top edge ``j`` cycles late, so operand pair
  ``k`` meets in PE ``(i, j)`` at cycle ``i + j + k``; ``+ T`` cycles of streaming: PE
  ``(R-1, C-1)`` does its last MAC at cycle ``R + C + T - 3``; then ``+ R`` *drain*: the
  accumulators shift down their columns, one row per cycle, out of the bottom edge, once
  the fold's last MAC is done (one drain phase for the whole array; an accumulator cannot
  shift into a PE that is still computing without a second, shadow register per PE).
  Total ``(R - 1) + (C - 1) + T + R``.
* **WS**: ``+ R`` *weight preload*: the stationary tile shifts in from the top edge, one
  row per cycle; then ``+ T`` rows of A stream in from the left edge, skewed by row
  (``+ R - 1``) and passed right one column per cycle (``+ C - 1``), while each partial sum
  runs down its column, one PE (one MAC) per cycle, and leaves at the bottom edge in the
  same cycle as the bottom PE adds its product. Output ``(m, j)`` leaves at cycle
  ``R + m + (R - 1) + j``; the last one at ``2R + C + T - 3``.
* **IS**: the same machine as WS with the roles swapped: the A tile (transposed, K x M) is
  preloaded, columns of B stream in from the left, and the partial sums of ``out^T``
  leave at the bottom: ``R + T + (R - 1) + (C - 1)``.

So the three dataflows share the same per-fold structure, ``R`` (preload or drain) plus
``R + C - 2`` (skew in and out) plus ``T`` (streaming).

Relation to SCALE-Sim 3.0.0 (see ``../shared/reference/scalesim/README.md``), whose
fold/padding/no-overlap model this follows, with two quirks fixed:

* SCALE-Sim's "Total Cycles" is the 0-based index of the last demand line
  (``folds * per_fold - 1``); this module counts cycles, so there is no ``- 1``.
* SCALE-Sim's OS fold is ``T + R + C - 2``: it forgets the ``R``-cycle drain of the
  accumulators, which its own paper includes (scale-sim-v3 issue #4). Here OS costs
  ``2R + C + T - 2`` like WS and IS.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Mapping

__all__ = ["Dataflow", "DATAFLOWS", "Unrolling", "UNROLLING", "unroll", "folds", "fold_latency",
           "fold_cycles", "mapping_efficiency"]

Dataflow = Literal["os", "ws", "is"]


@dataclass(frozen=True)
class Unrolling:
    """Which GEMM dimension (``"M"``, ``"N"`` or ``"K"``) each array axis carries."""

    rows: str  # spatial, along the R rows of PEs (Sr)
    cols: str  # spatial, along the C columns of PEs (Sc)
    time: str  # streamed through the array, one slice per cycle (T)

    def apply(self, M: int, N: int, K: int) -> tuple[int, int, int]:
        """``(Sr, Sc, T)`` for the GEMM ``A[M, K] @ B[K, N]``."""
        dims = {"M": M, "N": N, "K": K}
        return dims[self.rows], dims[self.cols], dims[self.time]


UNROLLING: Mapping[str, Unrolling] = MappingProxyType({
    "os": Unrolling(rows="M", cols="N", time="K"),
    "ws": Unrolling(rows="K", cols="N", time="M"),
    "is": Unrolling(rows="K", cols="M", time="N"),
})
DATAFLOWS: tuple[str, ...] = tuple(UNROLLING)


def _positive(name: str, value: int) -> int:
    value = operator.index(value)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def unroll(dataflow: str, M: int, N: int, K: int) -> tuple[int, int, int]:
    """``(Sr, Sc, T)`` of ``A[M, K] @ B[K, N]`` under ``dataflow``.

    Raises:
        ValueError: unknown dataflow, or a dimension below 1.
    """
    if dataflow not in UNROLLING:
        raise ValueError(f"unknown dataflow {dataflow!r}; expected one of " + ", ".join(DATAFLOWS))
    return UNROLLING[dataflow].apply(_positive("M", M), _positive("N", N), _positive("K", K))


def folds(dataflow: str, rows: int, cols: int, M: int, N: int, K: int) -> int:
    """Number of array-sized tiles, ``ceil(Sr / rows) * ceil(Sc / cols)``.

    Raises:
        ValueError: unknown dataflow, or a size below 1.
    """
    sr, sc, _ = unroll(dataflow, M, N, K)
    return math.ceil(sr / _positive("rows", rows)) * math.ceil(sc / _positive("cols", cols))


def fold_latency(rows: int, cols: int, T: int) -> int:
    """Cycles of one fold, ``2R + C + T - 2``: fill skew, streaming, and preload or drain.

    Raises:
        ValueError: a size below 1.
    """
    return 2 * _positive("rows", rows) + _positive("cols", cols) + _positive("T", T) - 2


def fold_cycles(dataflow: str, rows: int, cols: int, M: int, N: int, K: int) -> int:
    """Cycles of ``A[M, K] @ B[K, N]`` on a ``rows x cols`` array: ``folds * (2R + C + T - 2)``.

    Raises:
        ValueError: unknown dataflow, or a size below 1.
    """
    _, _, t = unroll(dataflow, M, N, K)
    return folds(dataflow, rows, cols, M, N, K) * fold_latency(rows, cols, t)


def mapping_efficiency(dataflow: str, rows: int, cols: int, M: int, N: int, K: int) -> float:
    """Mean over folds of the fraction of PEs holding real (not padding) work.

    A fold uses ``min(R, Sr - i*R) * min(C, Sc - j*C)`` PEs; summed over folds that is
    ``Sr * Sc``, so the mean is ``Sr * Sc / (folds * R * C)``, in (0, 1].

    Raises:
        ValueError: unknown dataflow, or a size below 1.
    """
    sr, sc, _ = unroll(dataflow, M, N, K)
    return sr * sc / (folds(dataflow, rows, cols, M, N, K) * rows * cols)
