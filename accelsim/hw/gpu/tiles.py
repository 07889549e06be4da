"""A GEMM on a GPU as thread-block tiles that run in waves over the SMs.

cuBLAS and CUTLASS split C = A B (M x N, reduction K) into tiles of BM x BN, each computed
by one thread block (CTA) that streams BK-deep slabs of A and B through shared memory. This
module picks, from a small catalogue of tile shapes and split-K factors, the plan that
finishes first, and times it from first principles:

* **Waves**: an SM holds as many CTAs as its shared memory (two pipeline stages each) and
  half its register file (the fp32 accumulators; the rest holds operand fragments) allow;
  ``ceil(tiles / (SMs x CTAs per SM))`` waves run one after another, the last one partly
  empty: wave quantisation.
* **Per wave** the time is the largest of the tensor (or CUDA-core) time of the busiest SM,
  that SM's shared-memory traffic (each operand byte written into shared memory and read
  out of it once, the least a tile can do) over its shared-memory bandwidth, the operand
  bytes the tiles stream from L2 over the L2 bandwidth, and the bytes the wave
  brings from HBM over the HBM bandwidth. Operands that fit in L2 together come from HBM
  once; otherwise each wave re-reads the rows of A and the columns of B its tiles touch
  (tiles run in a square-ish raster). Partial tiles at the edges compute in full.
* **Epilogue**: with one CTA per SM nothing overlaps the store of a finished tile, so each
  wave adds its output bytes over the HBM bandwidth; with several CTAs per SM another
  CTA's main loop hides it.
* **Split-K** divides K among CTAs when the output has too few tiles to fill the SMs; the
  partial sums go through an fp32 workspace (written and read once per extra split).

Nothing here is fitted: efficiency below peak comes only from these effects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Gemm", "GpuCore", "TilePlan", "TILE_SHAPES", "SPLIT_K", "plan_gemm", "plan_tile"]

# Thread-block tiles (BM, BN) of the cuBLAS/CUTLASS kernels for tensor cores and SIMT.
TILE_SHAPES: tuple[tuple[int, int], ...] = (
    (256, 128), (128, 256), (128, 128), (256, 64), (64, 256), (128, 64), (64, 128), (64, 64), (32, 32),
)
SPLIT_K: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16)
_SLAB_BYTES = 128   # a BK-deep slab row is one 128-byte line: BK = 64 at 16 bits, 32 at fp32
_ACCUMULATOR_BYTES = 4  # fp32 (int32 for integer GEMMs) accumulators
_STAGES = 2  # the fewest pipeline stages a CTA needs (double buffering)


@dataclass(frozen=True)
class Gemm:
    """``batch`` independent (M x K) @ (K x N) products; ``*_bytes`` are the unique bytes of
    each operand in memory (for an implicit-GEMM convolution A is the input, smaller than
    its im2col view) and ``element_bytes`` the width at which operands stream."""

    batch: int
    m: int
    n: int
    k: int
    a_bytes: float
    b_bytes: float
    c_bytes: float
    element_bytes: float


@dataclass(frozen=True)
class GpuCore:
    """What the tile model needs of one GPU at one precision."""

    sms: int
    rate_per_sm: float  # operations per second (a multiply-add is two)
    smem_bps_per_sm: float
    smem_per_sm: float
    registers_per_sm: float
    hbm_bps: float
    l2_bytes: float
    l2_bps: float | None


@dataclass(frozen=True)
class TilePlan:
    """The chosen tiling and its time, split by what bounds it."""

    tile: tuple[int, int, int]
    split_k: int
    ctas_per_sm: int
    tiles: int
    waves: int
    time_s: float
    compute_s: float
    smem_s: float
    l2_s: float
    hbm_s: float
    epilogue_s: float
    hbm_bytes: float
    l2_bytes: float
    bound: str  # "compute", "smem", "l2" or "hbm": the term that sets most waves' time

    @property
    def label(self) -> str:
        return "x".join(str(v) for v in self.tile)


def _ctas_per_sm(core: GpuCore, bm: int, bn: int, bk: int, element_bytes: float) -> int:
    stage = (bm + bn) * bk * element_bytes
    by_smem = int(core.smem_per_sm // (_STAGES * stage))
    by_registers = int((core.registers_per_sm / 2) // (bm * bn * _ACCUMULATOR_BYTES))
    return min(by_smem, by_registers)


def plan_tile(g: Gemm, core: GpuCore, bm: int, bn: int, split: int) -> TilePlan | None:
    bk = max(1, int(_SLAB_BYTES // g.element_bytes))
    ctas = _ctas_per_sm(core, bm, bn, bk, g.element_bytes)
    if ctas < 1:
        return None
    k_per_split = math.ceil(g.k / split)
    if split > 1 and k_per_split < 2 * bk:
        return None
    kt = math.ceil(k_per_split / bk) * bk
    tm, tn = math.ceil(g.m / bm), math.ceil(g.n / bn)
    output_tiles = g.batch * tm * tn
    tiles = output_tiles * split
    slots = core.sms * ctas
    waves = math.ceil(tiles / slots)
    tile_ops = 2 * bm * bn * kt
    # Unique bytes per element of A's rows and B's columns (below 1 for an implicit-GEMM conv).
    a_unique = g.a_bytes / max(g.batch * g.m * g.k * g.element_bytes, 1.0)
    b_unique = g.b_bytes / max(g.batch * g.k * g.n * g.element_bytes, 1.0)
    operands_fit_l2 = g.a_bytes + g.b_bytes <= core.l2_bytes
    workspace = 2 * (split - 1) * g.batch * g.m * g.n * _ACCUMULATOR_BYTES

    def wave(t: int) -> tuple[float, ...]:
        busiest = math.ceil(t / core.sms)
        compute = busiest * tile_ops / core.rate_per_sm
        streamed = t * (bm + bn) * kt * g.element_bytes
        smem = busiest * 2 * (bm + bn) * kt * g.element_bytes / core.smem_bps_per_sm
        share = t / tiles
        if operands_fit_l2:
            from_hbm = (g.a_bytes + g.b_bytes) * share
        else:
            rows = min(tm, math.ceil(math.sqrt(t)))
            cols = min(tn, math.ceil(t / rows))
            from_hbm = (rows * bm * a_unique + cols * bn * b_unique) * kt * g.element_bytes
        stores = (g.c_bytes + workspace) * share
        l2 = streamed / core.l2_bps if core.l2_bps else 0.0
        if ctas == 1:
            hbm, epilogue = from_hbm / core.hbm_bps, stores / core.hbm_bps
        else:
            hbm, epilogue = (from_hbm + stores) / core.hbm_bps, 0.0
        return compute, smem, l2, hbm, epilogue, from_hbm + stores, streamed

    full, last = wave(min(slots, tiles)), wave(tiles - (waves - 1) * slots)
    terms = [(waves - 1) * f + l for f, l in zip(full, last)]
    compute, smem, l2, hbm, epilogue, hbm_bytes, l2_bytes = terms
    # Each wave takes the max of its own terms (the last one is emptier), then its epilogue.
    time = (waves - 1) * (max(full[:4]) + full[4]) + max(last[:4]) + last[4]
    if not operands_fit_l2:  # the compulsory reads bound the re-read estimate from below
        floor = (g.a_bytes + g.b_bytes + g.c_bytes + workspace) / core.hbm_bps
        time = max(time, floor)
    names = ("compute", "smem", "l2", "hbm")
    bound = names[max(range(4), key=lambda i: full[i] if waves > 1 else last[i])]
    return TilePlan(tile=(bm, bn, bk), split_k=split, ctas_per_sm=ctas, tiles=tiles, waves=waves,
                    time_s=time, compute_s=compute, smem_s=smem, l2_s=l2, hbm_s=hbm, epilogue_s=epilogue,
                    hbm_bytes=max(hbm_bytes, g.a_bytes + g.b_bytes + g.c_bytes), l2_bytes=l2_bytes,
                    bound=bound)


def plan_gemm(g: Gemm, core: GpuCore) -> TilePlan:
    """The fastest plan over the tile catalogue and split-K factors (split-K only where the
    output tiles alone leave SMs idle); ties keep the earlier, larger tile.

    Raises:
        ValueError: no tile fits the SM's shared memory and registers.
    """
    best: TilePlan | None = None
    for bm, bn in TILE_SHAPES:
        output_tiles = g.batch * math.ceil(g.m / bm) * math.ceil(g.n / bn)
        for split in SPLIT_K:
            if split > 1 and output_tiles >= core.sms:
                break
            plan = plan_tile(g, core, bm, bn, split)
            if plan is not None and (best is None or plan.time_s < best.time_s):
                best = plan
    if best is None:
        raise ValueError(f"no thread-block tile fits {core.smem_per_sm:g} bytes of shared memory "
                         f"and {core.registers_per_sm:g} bytes of registers per SM")
    return best
