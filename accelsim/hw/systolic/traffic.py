"""The default mode's DRAM traffic and timing of one GEMM: each datum counted each time it
really crosses the DRAM interface, in closed form.

Folds run column folds outer, row folds inner (:mod:`.timing`). Which folds an operand's
tile depends on follows from the dataflow table (:mod:`.dataflow`), so one rule serves
every dataflow:

* **stationary** (both of its dims on the array: WS filter, IS ifmap, OS ofmap): every
  fold has its own tile, so the operand is used in one pass.
* **swept** (the row dim and time: WS/OS ifmap, IS filter): the row folds sweep the whole
  operand once per column fold: ``n_cf`` passes over all of it.
* **reused** (the column dim and time: OS filter, WS/IS ofmap): column fold ``j``'s tile
  serves its ``n_rf`` row folds one after another: ``n_rf`` passes over that tile.

A buffer of ``S`` words that serves ``n`` passes over ``U`` distinct words reads
``U + (n - 1) * max(0, U - S)`` words from DRAM: everything once, and in each later pass
whatever the buffer could not keep. No replacement policy does better (a pass can find
at most ``S`` words still on chip), and Belady's optimal policy comes within a word per
pass of it (``tests/unit/hw/test_systolic_traffic.py``). ``U`` counts distinct addresses:
a convolution's overlapping windows (im2col duplicates) are fetched once per pass and the
positions of its padding not at all; an operand that fits its buffer is read exactly once.

Outputs that are reused accumulate in the ofmap buffer across the row folds: a tile that
fits is written once; one that does not spills ``W - S`` partial sums after every row fold
but the last and reads them back before the next (``(n - 1) * (W - S)`` reads, ``W +
(n - 1) * (W - S)`` writes).

Timing: folds are double buffered. While fold ``f`` computes (``2R + C + T - 2`` lines),
the reads of fold ``f + 1`` and the writes of fold ``f - 1`` use their interfaces (the
ofmap's carries both its partial-sum reads and its writes), at ``bandwidth`` words per cycle
each; a stage lasts as long as the slowest of them. The first fold's reads come before
(prologue), the last fold's writes after (epilogue). A pass's reads are spread over its
folds in proportion to their tiles. With no bandwidth limit (CALC: "never stalls") a GEMM
takes exactly its stall-free lines, so CALC can never be slower than USER, and the
traffic is the same in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .dataflow import DATAFLOW_MAPS, OPERANDS, DataflowMap, fold_length
from .lowering import ConvGeometry, GemmJob
from .timing import mapping_efficiency

__all__ = ["ROLES", "role", "pass_reads", "distinct_ifmap_words", "real_ifmap_elements",
           "gemm_traffic", "DEFAULT_FIELDS"]

ROLES = ("stationary", "swept", "reused")
_DIMS = {"ifmap": "MK", "filter": "KN", "ofmap": "MN"}

DEFAULT_FIELDS = (
    "total_cycles", "compute_cycles", "stall_cycles", "folds", "overall_util_pct",
    "mapping_efficiency_pct", "compute_util_pct",
    "sram_ifmap_reads", "sram_filter_reads", "sram_ofmap_writes",
    "dram_ifmap_reads", "dram_filter_reads", "dram_ofmap_reads", "dram_ofmap_writes",
)


def role(df: DataflowMap, operand: str) -> str:
    """``stationary``, ``swept`` or ``reused`` (see the module docstring)."""
    dims = _DIMS[operand]
    on_rows, on_cols = df.rows in dims, df.cols in dims
    return "stationary" if on_rows and on_cols else ("swept" if on_rows else "reused")


def pass_reads(distinct: int, passes: int, buffer_words: int) -> int:
    """DRAM reads of ``passes`` passes over ``distinct`` words through a buffer of
    ``buffer_words``: ``U + (n - 1) * max(0, U - S)``."""
    return distinct + (passes - 1) * max(0, distinct - buffer_words)


def _axis_hits(out: int, stride: int, pad: int, kernel: int, dilation: int, size: int) -> tuple[int, int]:
    """Along one image axis: how many input positions some window touches, and how many
    (output, kernel tap) pairs fall inside the image."""
    pos = (np.arange(out)[:, None] * stride - pad + np.arange(kernel)[None, :] * dilation)
    inside = (pos >= 0) & (pos < size)
    return int(np.unique(pos[inside]).size), int(inside.sum())


def distinct_ifmap_words(g: ConvGeometry) -> int:
    """Input words some window of the convolution reads (padding is not a word; with a
    stride above the kernel some rows are never read)."""
    rows, _ = _axis_hits(g.out[0], g.stride[0], g.pad_top, g.kernel[0], g.dilation[0], g.height)
    cols, _ = _axis_hits(g.out[1], g.stride[1], g.pad_left, g.kernel[1], g.dilation[1], g.width)
    return g.batch * g.channels * rows * cols


def real_ifmap_elements(g: ConvGeometry) -> int:
    """Entries of the im2col matrix that are input words (not padding): what the array
    reads from the ifmap SRAM in one pass."""
    _, rows = _axis_hits(g.out[0], g.stride[0], g.pad_top, g.kernel[0], g.dilation[0], g.height)
    _, cols = _axis_hits(g.out[1], g.stride[1], g.pad_left, g.kernel[1], g.dilation[1], g.width)
    return g.batch * g.channels * rows * cols


def _used(extent: int, block: int) -> np.ndarray:
    n = -(-extent // block)
    return np.minimum(block, extent - np.arange(n, dtype=np.int64) * block)


def _spread(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` words over folds in proportion to ``weights``, in whole words summing to it."""
    cum = np.cumsum(weights, dtype=np.int64)
    if cum[-1] == 0:
        return np.zeros_like(weights)
    share = (np.asarray(total, dtype=object) * cum.astype(object)) // int(cum[-1])
    share = share.astype(np.int64)
    return np.diff(share, prepend=0)


@dataclass(frozen=True)
class _Folds:
    """The fold grid of one GEMM: ``n_rf`` row folds inner, ``n_cf`` column folds outer."""

    rows_used: np.ndarray
    cols_used: np.ndarray
    T: int

    @property
    def n_rf(self) -> int:
        return len(self.rows_used)

    @property
    def n_cf(self) -> int:
        return len(self.cols_used)

    def row_index(self) -> np.ndarray:
        return np.tile(np.arange(self.n_rf), self.n_cf)

    def col_index(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_cf), self.n_rf)


def _operand_reads(kind: str, folds: _Folds, distinct: int, buffer_words: int) -> np.ndarray:
    """Per-fold DRAM reads of a read operand."""
    i, j = folds.row_index(), folds.col_index()
    ru, cu = folds.rows_used[i], folds.cols_used[j]
    if kind == "stationary":
        return _spread(distinct, ru * cu)
    if kind == "swept":
        first = _spread(distinct, folds.rows_used)
        later = _spread(max(0, distinct - buffer_words), folds.rows_used)
        return np.concatenate([first] + [later] * (folds.n_cf - 1))
    tile = cu * folds.T  # reused: dense (never the convolution's ifmap)
    return np.where(i == 0, tile, np.maximum(0, tile - buffer_words))


def _ofmap(kind: str, folds: _Folds, buffer_words: int, stays: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold DRAM reads (partial sums brought back) and writes of the output (none of
    the finished output when it ``stays`` on chip for the next layer)."""
    i, j = folds.row_index(), folds.col_index()
    ru, cu = folds.rows_used[i], folds.cols_used[j]
    if kind == "stationary":
        return np.zeros_like(ru), (0 if stays else 1) * ru * cu
    if kind == "swept":  # pragma: no cover - no dataflow sweeps its output
        raise AssertionError("an output swept by the row folds")
    tile = cu * folds.T
    spill = np.maximum(0, tile - buffer_words)
    last = i == folds.n_rf - 1
    return np.where(i > 0, spill, 0), np.where(last, 0 if stays else tile, spill)


def _stages(reads: np.ndarray, ofmap_reads: np.ndarray, writes: np.ndarray, lines: int,
            bandwidth: tuple[int, int, int] | None) -> int:
    """Cycles of the double-buffered fold pipeline (see the module docstring)."""
    n = writes.size
    if bandwidth is None:
        return n * lines
    bw_i, bw_w, bw_o = bandwidth

    def cyc(words: np.ndarray, bw: int) -> np.ndarray:
        return -(-words // bw)

    nxt = lambda a: np.append(a[1:], 0)  # noqa: E731 - what the next fold brings in
    prev = lambda a: np.insert(a[:-1], 0, 0)  # noqa: E731 - what the previous fold leaves
    prologue = max(cyc(reads[0, :1], bw_i)[0], cyc(reads[1, :1], bw_w)[0], cyc(ofmap_reads[:1], bw_o)[0])
    stage = np.maximum.reduce([np.full(n, lines, np.int64), cyc(nxt(reads[0]), bw_i), cyc(nxt(reads[1]), bw_w),
                               cyc(nxt(ofmap_reads) + prev(writes), bw_o)])
    return int(prologue + stage.sum() + cyc(writes[-1:], bw_o)[0])


@lru_cache(maxsize=4096)
def gemm_traffic(dataflow: str, rows: int, cols: int, job: GemmJob, sram_words: tuple[int, int, int],
                 bandwidth: tuple[int, int, int] | None,
                 on_chip: tuple[bool, bool] = (False, False)) -> Mapping[str, float | int]:
    """``DEFAULT_FIELDS`` of one GEMM (one of ``job.repeats``), plus ``cycles`` (what a GEMM
    costs: prologue, stages, epilogue). ``bandwidth`` is words per cycle on the ifmap, filter
    and ofmap interfaces, or None for none (CALC). ``on_chip``: the input is already in the
    ifmap buffer (left there by the layer before), the output stays there for the next."""
    df = DATAFLOW_MAPS[dataflow]
    ext = {"M": job.M, "N": job.N, "K": job.K}
    folds = _Folds(_used(ext[df.rows], rows), _used(ext[df.cols], cols), ext[df.time])
    conv = job.conv
    distinct = {"ifmap": distinct_ifmap_words(conv) if conv else job.M * job.K, "filter": job.K * job.N}
    kinds = {op: role(df, op) for op in OPERANDS}
    reads = np.stack([_operand_reads(kinds[op], folds, distinct[op], sram_words[k])
                      for k, op in enumerate(OPERANDS[:2])])
    if on_chip[0]:
        reads[0] = 0
    ofmap_reads, writes = _ofmap(kinds["ofmap"], folds, sram_words[2], on_chip[1])
    lines_per_fold = fold_length(df, rows, cols, folds.T, drain=True)
    compute = folds.n_rf * folds.n_cf * lines_per_fold
    cycles = _stages(reads, ofmap_reads, writes, lines_per_fold, bandwidth)
    elements = {"ifmap": real_ifmap_elements(conv) if conv else job.M * job.K, "filter": job.K * job.N}
    passes = {"stationary": 1, "swept": folds.n_cf, "reused": folds.n_rf}
    fields: dict[str, float | int] = {
        "total_cycles": cycles,
        "compute_cycles": compute,
        "stall_cycles": cycles - compute,
        "folds": folds.n_rf * folds.n_cf,
        "overall_util_pct": 100 * job.macs / (cycles * rows * cols),
        "mapping_efficiency_pct": 100 * mapping_efficiency(dataflow, rows, cols, job.M, job.N, job.K),
        "compute_util_pct": 100 * job.macs / (compute * rows * cols),
        "sram_ifmap_reads": elements["ifmap"] * passes[kinds["ifmap"]],
        "sram_filter_reads": elements["filter"] * passes[kinds["filter"]],
        "sram_ofmap_writes": job.M * job.N * passes[kinds["ofmap"]],
        "dram_ifmap_reads": int(reads[0].sum()),
        "dram_filter_reads": int(reads[1].sum()),
        "dram_ofmap_reads": int(ofmap_reads.sum()),
        "dram_ofmap_writes": int(writes.sum()),
        "cycles": cycles,
    }
    return MappingProxyType(fields)
