"""One GEMM on a systolic array with double-buffered SRAMs, as SCALE-Sim 3.0.0 simulates it.

:func:`run_gemm` lays the GEMM's operands out as address tables
(:mod:`.lowering`), describes the dataflow to the line-by-line memory kernel
(:mod:`accelsim.kernels.systolic_memory`) and turns what it returns into the fields of
SCALE-Sim's COMPUTE_REPORT, BANDWIDTH_REPORT and DETAILED_ACCESS_REPORT, every field as
SCALE-Sim 3.0.0 reports it, quirks included (``--compat scalesim``; the default mode's
closed form is :mod:`.traffic`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Mapping

import numpy as np

from ...cache import ResultCache
from .dataflow import DATAFLOW_MAPS, OPERANDS, DataflowMap, OperandFlow, fold_length, util_fold_length
from .lowering import GemmJob, Tables, operand_tables

__all__ = ["ArrayConfig", "run_gemm", "GemmStore", "REPORT_FIELDS", "COMPUTE_FIELDS", "BANDWIDTH_FIELDS",
           "DETAIL_FIELDS", "CALC_READ_BANDWIDTH"]

COMPUTE_FIELDS = ("total_cycles_incl_prefetch", "total_cycles", "stall_cycles", "overall_util_pct",
                  "mapping_efficiency_pct", "compute_util_pct")
BANDWIDTH_FIELDS = tuple(f"bw_avg_{o}_{m}_bw" for m in ("sram", "dram") for o in OPERANDS)
DETAIL_FIELDS = tuple(
    f"{m}_{o}_{f}" for m in ("sram", "dram") for o in OPERANDS
    for f in ("start_cycle", "stop_cycle", "writes" if o == "ofmap" else "reads"))
REPORT_FIELDS = COMPUTE_FIELDS + BANDWIDTH_FIELDS + DETAIL_FIELDS

# SCALE-Sim's CALC mode times its (never stalling) read prefetches at 10 words per cycle,
# "arbitrary" in its own words (single_layer_sim.py); only DRAM start cycles depend on it.
CALC_READ_BANDWIDTH = 10
_SETS = 100  # SCALE-Sim tracks each read buffer as 100 sets, half active, half prefetch
_ACTIVE_FRACTION = 0.5


@dataclass(frozen=True)
class ArrayConfig:
    """What the memory model needs to know of a machine (hashable, so runs can be cached).

    Sizes are in words; ``bandwidth`` is the DRAM bandwidth of ifmap, filter and ofmap in
    whole words per cycle (USER mode). In CALC mode reads never stall and the ofmap drains
    ``cols`` words per cycle.
    """

    rows: int
    cols: int
    dataflow: str
    user: bool
    sram_words: tuple[int, int, int]
    bandwidth: tuple[int, int, int] = (10, 10, 10)


def _kernel() -> ModuleType:
    """The compiled memory kernel, imported on first use: a run whose every GEMM comes from
    the result cache never loads numba."""
    from ...kernels import systolic_memory

    return systolic_memory


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _used(extent: int, block: int) -> np.ndarray:
    n = _cdiv(extent, block)
    return np.minimum(block, extent - np.arange(n, dtype=np.int64) * block)


def _sram_accesses(flow: OperandFlow, extents: dict[str, int], folds: tuple[int, int],
                   T: int, df: DataflowMap) -> int:
    """Words one operand moves between SRAM and the array, counted over the padded fold
    shapes as SCALE-Sim does (padding positions of a convolution included)."""
    n_rf, n_cf = folds
    if flow.time_blocked:
        return extents[df.rows] * extents[df.cols]
    if flow.lane_fold == "row":
        return extents[df.rows] * n_cf * T
    return extents[df.cols] * n_rf * T


def _fold_means(rows_used: np.ndarray, cols_used: np.ndarray, R: int, C: int, T: int,
                length: int) -> tuple[float, float]:
    """Mean mapping efficiency and compute utilisation over folds, summed fold by fold in
    SCALE-Sim's order (columns outer) so that the floating-point result is the same."""
    eff = util = 0.0
    for cu in cols_used.tolist():
        for ru in rows_used.tolist():
            eff += (ru * cu) / (R * C)
            util += (ru * cu * T) / (R * C * length)
    n = len(rows_used) * len(cols_used)
    return eff / n, util / n


def _read_constants(cfg: ArrayConfig, k: int, flow: OperandFlow, tables: Tables,
                    lanes: tuple[np.ndarray, ...], times: tuple[np.ndarray, ...], block: int,
                    lane_extent: int, time_extent: int) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Read buffer ``k``'s constants (``CALC_FIELDS`` or ``USER_FIELDS``) and, for a USER
    buffer that cannot hold the whole operand, the set lists of its prefetch order."""
    words = cfg.sram_words[k]
    active = math.ceil(words * _ACTIVE_FRACTION)
    prefetch = words - active
    empty = np.zeros(1, np.int64)
    if not cfg.user:
        items = words // _SETS
        active_sets = int(_ACTIVE_FRACTION * _SETS)
        prefetch_sets = _SETS - active_sets
        return ([active_sets * items, prefetch_sets * items, items, CALC_READ_BANDWIDTH, prefetch_sets],
                empty, empty)
    bw = cfg.bandwidth[k]
    per_set = math.ceil(words / _SETS)
    dense = tables.height == 1 and tables.width == 1
    valid = (lane_extent * time_extent if dense
             else _kernel().count_words(*lanes, *times, tables.height, tables.width))
    n_sets = valid // per_set + 1
    ptr = ids = empty
    # A dense operand prefetched row by row needs no set lists (see _set_of in the kernel).
    computed = dense and not flow.diagonal
    if math.ceil(active / per_set) < n_sets and not computed:  # the window will slide
        seq = _kernel().prefetch_sequence(*lanes, *times, tables.height, tables.width, lane_extent, block,
                                time_extent, flow.diagonal)
        ptr, ids, n_sets = _kernel().build_sets(seq, per_set, tables.n_addr, dense)
    active_sets = min(math.ceil(active / per_set), n_sets)
    prefetch_sets = min(math.ceil(prefetch / per_set), n_sets - active_sets)
    padded = _cdiv(lane_extent, block) * block * time_extent  # the prefetch order, -1s included
    init = min(_cdiv(active, bw), _cdiv(padded, bw))
    return ([int(n_sets), active_sets, prefetch_sets, init, _cdiv(prefetch, bw), bw,
             computed, lane_extent, block, time_extent, per_set], ptr, ids)


@dataclass(frozen=True)
class _Run:
    """What the kernel returned for one GEMM, with the fold geometry it ran."""

    raw: Mapping[str, int]
    rows_used: np.ndarray
    cols_used: np.ndarray
    T: int
    sram: Mapping[str, int]  # array-side SRAM accesses per operand, before quirks


def _inputs(cfg: ArrayConfig, df: DataflowMap, job: GemmJob) -> tuple:
    """The kernel's operand arguments: descriptors, concatenated address tables, per-operand
    sizes, read-buffer constants and set lists."""
    R, C = cfg.rows, cfg.cols
    extents = {"M": job.M, "N": job.N, "K": job.K}
    T = extents[df.time]
    tables = operand_tables(job, {name: df.operand(name).lane for name in OPERANDS})
    desc = np.zeros((3, 6), np.int64)
    rd_const = np.zeros((2, len(_kernel().USER_FIELDS)), np.int64)
    lane_tables: list[tuple[np.ndarray, ...]] = []
    time_tables: list[tuple[np.ndarray, ...]] = []
    sets: list[np.ndarray] = []
    for k, name in enumerate(OPERANDS):
        flow = df.operand(name)
        lanes = tables[name].along(flow.lane)
        times = tables[name].along(flow.time)
        block = R if flow.lane_fold == "row" else C
        desc[k] = (flow.lane_fold == "col", block, flow.time_blocked, flow.skew,
                   flow.prefix(R, T), extents[flow.time])
        lane_tables.append(lanes)
        time_tables.append(times)
        if name != "ofmap":
            const, ptr, ids = _read_constants(cfg, k, flow, tables[name], lanes, times, block,
                                              extents[flow.lane], extents[flow.time])
            rd_const[k, :len(const)] = const
            sets += [ptr, ids]
    offsets = [np.cumsum([0] + [len(t[0]) for t in tabs[:-1]]).astype(np.int64)
               for tabs in (lane_tables, time_tables)]
    concat = [np.concatenate([t[i] for t in tabs]) for tabs in (lane_tables, time_tables) for i in range(3)]
    per_op = [np.array([getattr(tables[n], attr) for n in OPERANDS], np.int64)
              for attr in ("height", "width", "n_addr")]
    dense = np.array([tables[n].height == 1 and tables[n].width == 1 for n in OPERANDS], np.int64)
    return (desc, *offsets, *concat, per_op[0], per_op[1], dense, per_op[2], rd_const, *sets)


def _simulate(cfg: ArrayConfig, job: GemmJob) -> _Run:
    df = DATAFLOW_MAPS[cfg.dataflow]
    R, C = cfg.rows, cfg.cols
    extents = {"M": job.M, "N": job.N, "K": job.K}
    T = extents[df.time]
    words = cfg.sram_words[2]
    active = math.ceil(words * _ACTIVE_FRACTION)
    wconst = np.array([words, active, words - active, cfg.bandwidth[2] if cfg.user else C], np.int64)
    rows_used = _used(extents[df.rows], R)
    cols_used = _used(extents[df.cols], C)
    desc, lane_off, time_off, lb, ly, lx, tb, ty, tx, height, width, dense, n_addr, rd_const, *sets = \
        _inputs(cfg, df, job)
    res = _kernel().simulate_memory(R, fold_length(df, R, C, T, drain=False), rows_used, cols_used,
                          desc, lane_off, time_off, lb, ly, lx, tb, ty, tx, height, width, dense, n_addr,
                          cfg.user, rd_const, *sets, wconst, True)
    raw = dict(zip(_kernel().RESULT_FIELDS, (int(v) for v in res)))
    if raw["error"]:  # pragma: no cover - a demanded address that was never prefetched
        raise AssertionError("systolic memory model: an address is missing from its prefetch order")
    folds = (len(rows_used), len(cols_used))
    sram = {name: _sram_accesses(df.operand(name), extents, folds, T, df) for name in OPERANDS}
    return _Run(raw, rows_used, cols_used, T, sram)


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


@lru_cache(maxsize=4096)
def run_gemm(cfg: ArrayConfig, job: GemmJob) -> Mapping[str, float | int]:
    """The report fields (``REPORT_FIELDS``) of one GEMM (one of ``job.repeats``), plus
    ``compute_cycles`` (the stall-free demand lines) and ``cycles`` (the span from the first
    DRAM read to the last DRAM write, what a layer costs). Cached: identical layers of a
    network are simulated once.
    """
    run = _simulate(cfg, job)
    raw = run.raw
    R, C = cfg.rows, cfg.cols
    df = DATAFLOW_MAPS[cfg.dataflow]
    lines = raw["lines"]
    folds = len(run.rows_used) * len(run.cols_used)
    total = raw["last_ofmap_cycle"]  # the 0-based index of the last line, plus stalls
    ofmap_writes = run.sram["ofmap"] + (folds * (R + C) if df.output_drain else 0)
    mapping, util = _fold_means(run.rows_used, run.cols_used, R, C, run.T,
                                util_fold_length(df, R, C, run.T))
    span = raw["dram_ofmap_stop"] - min(raw["dram_ifmap_start"], raw["dram_filter_start"])
    fields: dict[str, float | int] = {
        "total_cycles_incl_prefetch": span,
        "total_cycles": total,
        "stall_cycles": raw["stall_cycles"],
        "overall_util_pct": _ratio(job.macs * 100, total * R * C),
        "mapping_efficiency_pct": mapping * 100,
        "compute_util_pct": util * 100,
    }
    counts = {"ifmap": run.sram["ifmap"], "filter": run.sram["filter"], "ofmap": ofmap_writes}
    for name in OPERANDS:
        fields[f"bw_avg_{name}_sram_bw"] = _ratio(counts[name], total)
    for name in OPERANDS:
        moved = raw[f"dram_{name}_{'writes' if name == 'ofmap' else 'reads'}"]
        fields[f"bw_avg_{name}_dram_bw"] = _ratio(moved, raw[f"dram_{name}_stop"] - raw[f"dram_{name}_start"] + 1)
    for name in OPERANDS:
        verb = "writes" if name == "ofmap" else "reads"
        fields[f"sram_{name}_start_cycle"] = raw[f"sram_{name}_start"]
        fields[f"sram_{name}_stop_cycle"] = raw[f"sram_{name}_stop"]
        fields[f"sram_{name}_{verb}"] = counts[name]
    for name in OPERANDS:
        verb = "writes" if name == "ofmap" else "reads"
        fields[f"dram_{name}_start_cycle"] = raw[f"dram_{name}_start"]
        fields[f"dram_{name}_stop_cycle"] = raw[f"dram_{name}_stop"]
        fields[f"dram_{name}_{verb}"] = raw[f"dram_{name}_{verb}"]
    fields["compute_cycles"] = lines
    fields["cycles"] = span
    return MappingProxyType(fields)


class GemmStore:
    """``run_gemm``'s figures on disk (``accelsim.cache``), keyed by the array and the GEMM's
    shape, so that a network simulated once costs a file read per layer shape afterwards.
    ``SCHEMA`` is bumped whenever a change to the memory model changes any figure."""

    SCHEMA = 2

    def __init__(self, root: Path | None = None) -> None:
        self._store = ResultCache("systolic-gemms", schema=self.SCHEMA, root=root)

    def run(self, cfg: ArrayConfig, job: GemmJob) -> Mapping[str, float | int]:
        """``run_gemm(cfg, job)``, from the store when it holds it."""
        key = {"array": cfg, "gemm": replace(job, repeats=1)}
        found = self._store.get(key)
        if isinstance(found, dict) and set(found) == set(REPORT_FIELDS) | {"compute_cycles", "cycles"}:
            return MappingProxyType(found)
        fields = run_gemm(cfg, job)
        self._store.put(key, dict(fields))
        return fields
