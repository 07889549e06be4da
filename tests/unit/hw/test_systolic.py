"""The systolic model on cases small enough to derive by hand: SCALE-Sim's line-by-line
memory model (``--compat scalesim``) and the default mode's stall-free timing; the default
mode's traffic is tested in test_systolic_traffic.py.

Conventions: a *line* is one cycle of array demand, numbered from 0 from the first line of
the first fold. A read is served one cycle after its line is issued (hit latency 1), a
write in the cycle of its line. With no stalls, line l is issued at cycle l.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from accelsim.errors import MappingError, SpecError
from accelsim.estimation import estimate
from accelsim.hw import cost_model, load_hardware
from accelsim.hw.systolic.lowering import GemmJob, gemm_job
from accelsim.hw.systolic.memory import ArrayConfig, run_gemm
from accelsim.hw.systolic.timing import fold_cycles
from accelsim.hw.systolic.traffic import gemm_traffic
from accelsim.ir import Graph

KIB = 1024


def calc(df: str, R: int = 4, C: int = 4) -> ArrayConfig:
    """A CALC-mode array with 1 KiB SRAMs (1024 one-byte words each)."""
    return ArrayConfig(R, C, df, False, (KIB, KIB, KIB), (10, 10, 10))


# --------------------------------------------------------------------------- 4x4 array, 4x4x4 GEMM

def test_ws_4x4_gemm_4x4x4_default_by_hand():
    # WS on 4 x 4: Sr = K = 4, Sc = N = 4, T = M = 4; one fold of 2R + C + T - 2 = 14 lines
    # (filter preload 0-3, ifmap 4-10, ofmap 7-13). Every operand (16 words) fits its 1 KiB
    # buffer: 16 DRAM reads of ifmap and filter, 16 writes. CALC: 14 cycles. USER at 10
    # words per cycle: ceil(16 / 10) = 2 cycles of reads before the fold, 2 of writes after.
    f = gemm_traffic("ws", 4, 4, GemmJob(4, 4, 4), (KIB,) * 3, None)
    assert f["compute_cycles"] == f["total_cycles"] == 14 == fold_cycles("ws", 4, 4, 4, 4, 4)
    assert (f["sram_ifmap_reads"], f["sram_filter_reads"], f["sram_ofmap_writes"]) == (16, 16, 16)
    assert (f["dram_ifmap_reads"], f["dram_filter_reads"], f["dram_ofmap_writes"]) == (16, 16, 16)
    assert f["compute_util_pct"] == pytest.approx(100 * 64 / (16 * 14))
    assert f["mapping_efficiency_pct"] == 100.0
    u = gemm_traffic("ws", 4, 4, GemmJob(4, 4, 4), (KIB,) * 3, (10, 10, 10))
    assert (u["total_cycles"], u["stall_cycles"]) == (2 + 14 + 2, 4)
    assert u["overall_util_pct"] == pytest.approx(100 * 64 / (16 * 18))


def test_ws_4x4_gemm_4x4x4_scalesim_quirks_by_hand():
    # The same 14 lines; SCALE-Sim reports the index of the last one (13), prefetch-inclusive
    # 16 - (-2) = 18, and Compute Util over 2R + 2C + T - 3 = 17 cycles per fold.
    f = run_gemm(calc("ws"), GemmJob(4, 4, 4))
    assert (f["total_cycles"], f["compute_cycles"], f["total_cycles_incl_prefetch"]) == (13, 14, 18)
    assert f["compute_util_pct"] == (16 * 4) / (16 * 17) * 100  # SCALE-Sim's order of operations
    assert f["overall_util_pct"] == 100 * 64 / (13 * 16)
    assert f["sram_ofmap_writes"] == 16


def test_os_4x4_gemm_4x4x4_by_hand():
    # OS, T = K = 4. ifmap row p = c enters lane c at line c + k, filter column n = c at
    # line c + k: lines 0..6 (served 1..7).
    # SCALE-Sim: fold = T + R + C - 2 = 10 lines, outputs at lines T - 1 + j + c (j = drain
    # row, c = column): 3..9; ofmap writes 16 + (R + C) = 24 (double count).
    # Default: the accumulators drain after the last MAC, R more lines: 2R + C + T - 2 = 14
    # lines, 16 writes.
    s = run_gemm(calc("os"), GemmJob(4, 4, 4))
    d = gemm_traffic("os", 4, 4, GemmJob(4, 4, 4), (KIB,) * 3, None)
    assert (s["sram_ifmap_start_cycle"], s["sram_ifmap_stop_cycle"]) == (1, 7)
    assert (s["sram_filter_start_cycle"], s["sram_filter_stop_cycle"]) == (1, 7)
    assert (s["compute_cycles"], s["total_cycles"], s["sram_ofmap_writes"]) == (10, 9, 24)
    assert (s["sram_ofmap_start_cycle"], s["sram_ofmap_stop_cycle"]) == (3, 9)
    assert s["compute_util_pct"] == 100 * 64 / (16 * 10)  # OS: the real (SCALE-Sim) fold length
    assert (d["compute_cycles"], d["total_cycles"], d["sram_ofmap_writes"]) == (14, 14, 16)


def test_is_4x4_gemm_4x4x4_by_hand():
    # IS: the ifmap^T tile is preloaded (lines 0-3), filter^T streams after R = 4 idle lines
    # (lines 4..10), ofmap^T leaves after 2R - 1 = 7 (lines 7..13); SCALE-Sim reports the
    # index of the last line, 13.
    f = run_gemm(calc("is"), GemmJob(4, 4, 4))
    assert (f["sram_ifmap_start_cycle"], f["sram_ifmap_stop_cycle"]) == (1, 4)
    assert (f["sram_filter_start_cycle"], f["sram_filter_stop_cycle"]) == (5, 11)
    assert (f["sram_ofmap_start_cycle"], f["sram_ofmap_stop_cycle"]) == (7, 13)
    assert f["total_cycles"] == 13
    assert gemm_traffic("is", 4, 4, GemmJob(4, 4, 4), (KIB,) * 3, None)["total_cycles"] == 14


# --------------------------------------------------------------------------- USER-mode stalls

def test_user_mode_stalls_counted_twice_by_hand():
    # WS on 8 x 8, GEMM M = 1, K = N = 8 (one fold of 2*8 + 8 + 1 - 2 = 23 lines). SRAMs of
    # 100 words: sets of ceil(100/100) = 1 word, active and prefetch halves of 50 sets.
    # Filter: 64 words prefetched row by row (k = 0..7, lanes n), word of row k, lane n is
    # set 8k + n; 65 sets (the last one empty), window A = 50 sets, slide P = min(50, 65 -
    # 50) = 15. Bandwidth 10: the active half is 5 lines, cycles -5..-1; a refill is 5 lines
    # after the previous one ends: it ends 6 cycles later.
    # Line 0 preloads row k = 7 (sets 56..63): set 56 is outside [0, 50): slide to [15, 65),
    #   refill ends at 5; wait = 5 - (0 + 1) = 4.
    #   SCALE-Sim adds it twice: served at 0 + 1 + 8 = 9, stall 8.
    # Lines 1-5 (rows 6..2, sets 48..23) hit. Line 6 (row 1, sets 8..15): set 8 misses,
    #   slide to [30, 80) mod 65 (30..64, 0..14), refill ends at 11; set 15 misses again,
    #   slide to [45, 95) mod 65, refill ends at 17.
    #   SCALE-Sim (line issued at 6 + 8 = 14): wait 11 - 15 = -4 is *subtracted* (offset
    #   -3), then 17 - (14 - 3) = 6 added twice: served at 14 - 3 + 12 = 23, stall 8.
    # Line 7 (row 0) hits. Ifmap (8 words) and ofmap fit. Stalls: 16; last line 22.
    s = run_gemm(ArrayConfig(8, 8, "ws", True, (100, 100, 100), (10, 10, 10)), GemmJob(1, 8, 8))
    assert (s["stall_cycles"], s["total_cycles"], s["sram_filter_start_cycle"]) == (16, 22 + 16, 9)
    assert s["sram_filter_stop_cycle"] == 7 + 16 + 1
    # three refills after the 5-line prefetch, whole 10-word lines
    assert (s["dram_filter_start_cycle"], s["dram_filter_stop_cycle"]) == (-5, 17)
    assert s["dram_filter_reads"] == (5 + 3 * 5) * 10


# --------------------------------------------------------------------------- closed-form twin

SHAPES = [(1, 1, 1), (3, 5, 7), (7, 5, 3), (4, 4, 4), (9, 2, 17), (16, 1, 33), (33, 17, 5)]


@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("R,C", [(1, 1), (4, 4), (3, 5), (8, 2)])
def test_default_stall_free_cycles_equal_fold_cycles_and_cycle_level_kernel(df, R, C):
    # Three independent counts agree: the default mode's CALC cycles, the closed form
    # (systolic.timing.fold_cycles) and the register-level simulation (kernels/systolic.py).
    from accelsim.kernels.systolic import simulate

    rng = np.random.default_rng(0)
    for M, N, K in SHAPES:
        f = gemm_traffic(df, R, C, GemmJob(M, N, K), (KIB,) * 3, None)
        expected = fold_cycles(df, R, C, M, N, K)
        a = rng.integers(-3, 4, (M, K))
        b = rng.integers(-3, 4, (K, N))
        out, cycles = simulate(a, b, R, C, df)
        assert np.array_equal(out, a @ b)
        assert f["compute_cycles"] == f["total_cycles"] == expected == cycles, (M, N, K)


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_scalesim_stall_free_cycles_are_folds_times_lines_minus_one(df):
    lines = {"os": lambda R, C, T: T + R + C - 2}.get(df, lambda R, C, T: 2 * R + C + T - 2)
    for (M, N, K), (R, C) in itertools.product(SHAPES, [(4, 4), (3, 5)]):
        f = run_gemm(calc(df, R, C), GemmJob(M, N, K))
        sr, sc, t = {"os": (M, N, K), "ws": (K, N, M), "is": (K, M, N)}[df]
        folds = -(-sr // R) * -(-sc // C)
        assert f["total_cycles"] == folds * lines(R, C, t) - 1


# --------------------------------------------------------------------------- lowering, spec, costs

def conv_graph(groups: int = 1, batch: int = 1) -> Graph:
    g = Graph("g")
    g.add("x", "input", (), {"shape": [batch, 8, 10, 10], "dtype": "int8"})
    g.add("conv", "conv2d", ("x",), {"out_channels": 16, "kernel": 3, "padding": 1,
                                     "groups": groups, "bias": False})
    g.add("relu", "relu", ("conv",))
    g.verify()
    return g


def test_conv_lowers_to_im2col_gemm_per_group():
    g = conv_graph(groups=2, batch=3)
    job = gemm_job(g.layers()[0])
    # M = batch x 10 x 10 output pixels, N = 16 / 2 filters, K = (8 / 2) x 3 x 3, one per group
    assert (job.M, job.N, job.K, job.repeats) == (300, 8, 36, 2)
    assert job.conv.pad_top == 1 and job.conv.channels == 4
    assert gemm_job(g.layers()[1]) is None  # relu goes to the vector unit


def test_groups_cost_one_gemm_each(tmp_path):
    spec = load_hardware("edge_systolic")
    one = estimate(conv_graph(groups=1), spec).layers[0]
    two = estimate(conv_graph(groups=2), spec).layers[0]
    fig = two.details["systolic"]
    assert two.cycles == 2 * fig["total_cycles"]
    assert two.details["accesses"]["sram_reads"]["filter"] == 2 * fig["sram_filter_reads"]
    assert two.macs == one.macs // 2


def test_conv_and_vector_layer_on_gemmini_by_hand():
    # edge_systolic: 16 x 16 WS, int8 (1-byte words), SRAMs ifmap 64 KiB / filter 64 KiB /
    # ofmap 128 KiB, 16 words per cycle on each DRAM interface (USER: bandwidths are given),
    # 1 GHz, 16 nm.
    # conv: GEMM M = 10 x 10 pixels, N = 16 filters, K = 8 x 3 x 3 = 72; 115,200 MACs.
    #   WS folds: K = 72 over 16 rows -> 5 (16, 16, 16, 16, 8), N over 16 columns -> 1;
    #   each fold 2R + C + T - 2 = 32 + 16 + 100 - 2 = 146 lines: 730 stall-free cycles.
    #   DRAM reads: the 800 input words once (they fit; padding is no word), spread over
    #   the row folds by their rows: 177, 178, 178, 178, 89; the 1,152 weights once, 256 per
    #   full fold, 128 in the last. Before fold 1: max(ceil(177/16), 256/16) = 16 cycles;
    #   during each fold the next one's reads (at most 16 cycles) hide under its 146 lines.
    #   The 1,600 outputs accumulate in the ofmap SRAM and stay on chip: the working sets of
    #   conv (800 + 1,600 B) and relu (1,600 + 1,600 B) fit the 64 KiB ifmap SRAM.
    #   Cycles: 16 + 5 x 146 = 746. DRAM: 800 + 1,152 = 1,952 B.
    #   SRAM (array side): im2col entries inside the image, 8 x 28 x 28 = 6,272 (each axis:
    #   10 outputs x 3 taps, less the 2 that fall on padding); 1,152 weights; 5 x 1,600
    #   partial-sum writes.
    # relu on the vector unit: 1,600 ops on 16 lanes = 100 cycles; its input is on chip, its
    #   output (the graph's) goes out: 1,600 B at 16 B per cycle = 100 cycles.
    # Energy (technology table): DRAM (1.3 + 2.6) / 2 nJ per 64 bits = 243.75 pJ/B; int8 MAC
    # and add at 16 nm.
    from accelsim.hw.technology import Technology, add_energy_j, mac_energy_j

    est = estimate(conv_graph(), "edge_systolic")
    conv, relu = est.to_dict()["layers"]
    tech = Technology(16e-9)
    assert (conv["macs"], conv["cycles"], conv["bytes_dram"]) == (115200, 746, 1952)
    assert conv["latency_s"] == pytest.approx(0.746e-6)
    acc = conv["details"]["accesses"]
    assert acc["dram_reads"] == {"ifmap": 800, "filter": 1152, "ofmap": 0}
    assert acc["dram_writes"] == {"ofmap": 0}
    assert (acc["sram_reads"], acc["sram_writes"]) == ({"ifmap": 6272, "filter": 1152}, {"ofmap": 8000})
    assert conv["energy_by_component_j"]["dram"] == pytest.approx(1952 * 243.75e-12)
    assert conv["energy_by_component_j"]["compute"] == pytest.approx(115200 * mac_energy_j("int8", tech))
    assert (relu["ops"], relu["cycles"], relu["bytes_dram"]) == (1600, 100, 1600)
    assert relu["energy_by_component_j"]["dram"] == pytest.approx(1600 * 243.75e-12)
    assert relu["energy_by_component_j"]["compute"] == pytest.approx(1600 * add_energy_j("int8", tech))


def test_precision_mismatch_names_the_layer():
    g = conv_graph()
    with pytest.raises(MappingError, match="int8"):
        estimate(g, "edge_systolic", precision="fp16")


def test_compat_option_switches_a_default_spec_to_scalesim():
    spec = load_hardware("edge_systolic")
    assert spec.mode == "default"
    layer = conv_graph().layers()[0]
    default = cost_model(spec).layer_costs(conv_graph())[0]
    compat = cost_model(spec, {"compat": "scalesim"}).layer_costs(conv_graph())[0]
    assert "systolic" in default.details and "scalesim" in compat.details
    assert default.details["gemm"] == compat.details["gemm"] == {"M": 100, "N": 16, "K": 72, "repeats": 1}
    assert layer.macs == 100 * 16 * 72
    with pytest.raises(SpecError, match="compatibility mode"):
        cost_model(spec, {"compat": "timeloop"})


SPEC = """\
kind: systolic
frequency: 1 GHz
array: {rows: 8, cols: 8, dataflow: os}
sram: {ifmap: 1 KiB, filter: 1 KiB, ofmap: 1 KiB}
dram: {bandwidth: {ifmap: 8 GB/s, filter: 8 GB/s, ofmap: 8 GB/s}}
bandwidth_mode: user
"""


def test_spec_loads_with_defaults(tmp_path):
    path = tmp_path / "sa.yaml"
    path.write_text(SPEC)
    spec = load_hardware(path)
    assert (spec.rows, spec.cols, spec.dataflow, spec.precision, spec.mode) == (8, 8, "os", "int8", "default")
    assert spec.words_per_cycle() == (8, 8, 8) and spec.sram_words == (1024, 1024, 1024)
    assert spec.vector_lanes == 8 and spec.peak_macs_per_s == 64e9


@pytest.mark.parametrize("old,new,line,field,fragment", [
    ("array: {rows: 8, cols: 8, dataflow: os}", "array: {rows: 8, cols: 8, dataflow: xs}", 3,
     "array.dataflow", "expected one of is, os, ws"),
    ("sram: {ifmap: 1 KiB, filter: 1 KiB, ofmap: 1 KiB}", "sram: {ifmap: 64 B, filter: 1 KiB, ofmap: 1 KiB}",
     4, "sram.ifmap", "100 words"),
    ("dram: {bandwidth: {ifmap: 8 GB/s, filter: 8 GB/s, ofmap: 8 GB/s}}",
     "dram: {bandwidth: {ifmap: 8 GB/s, filter: 0.5 GB/s, ofmap: 8 GB/s}}", 5, "dram.bandwidth.filter",
     "one 1-byte word per cycle"),
    ("dram: {bandwidth: {ifmap: 8 GB/s, filter: 8 GB/s, ofmap: 8 GB/s}}", "dram: {type: ddr}", 6,
     "bandwidth_mode", "needs dram.bandwidth"),
    ("bandwidth_mode: user", "bandwith_mode: user", 6, "bandwith_mode", "did you mean"),
])
def test_spec_errors_are_located(tmp_path, old, new, line, field, fragment):
    path = tmp_path / "sa.yaml"
    path.write_text(SPEC.replace(old, new))
    with pytest.raises(SpecError) as info:
        load_hardware(path)
    assert (info.value.line, info.value.field) == (line, field)
    assert fragment in str(info.value)


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_scalesim_dram_reads_of_operands_that_fit_have_a_closed_form(df):
    # The kernel's DRAM counts against their closed forms where no refetch can happen.
    # CALC: a dense operand with fewer distinct words than an epoch (50 sets of
    # floor(65536 / 100) = 655 words) is fetched once: M*K ifmap words, K*N filter words.
    # USER: an operand within the active half is prefetched once, in whole lines of its
    # padded prefetch order (lane blocks padded to R or C lanes), capped at the active half.
    R, C, bw = 8, 4, 10
    for M, N, K in [(7, 5, 3), (33, 17, 9), (5, 40, 12)]:
        f = run_gemm(ArrayConfig(R, C, df, False, (65536,) * 3, (bw,) * 3), GemmJob(M, N, K))
        assert (f["dram_ifmap_reads"], f["dram_filter_reads"]) == (M * K, K * N)
        u = run_gemm(ArrayConfig(R, C, df, True, (65536,) * 3, (bw,) * 3), GemmJob(M, N, K))
        lanes = {"os": ("M", "N"), "ws": ("K", "N"), "is": ("M", "K")}[df]  # ifmap, filter lane dims
        blocks = {"os": (R, C), "ws": (R, C), "is": (C, R)}[df]
        dims = {"M": M, "N": N, "K": K}
        for op, lane, block, other in zip(("ifmap", "filter"), lanes, blocks, ((M * K), (K * N))):
            padded = -(-dims[lane] // block) * block * (other // dims[lane])
            lines = min(-(-32768 // bw), -(-padded // bw))
            assert u[f"dram_{op}_reads"] == lines * bw, (df, op, M, N, K)
            assert (u[f"dram_{op}_start_cycle"], u[f"dram_{op}_stop_cycle"]) == (-lines, -1)
