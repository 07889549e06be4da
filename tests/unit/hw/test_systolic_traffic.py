"""The systolic default mode's DRAM traffic: hand counts on layers that fit, do not fit and
partly fit their buffers, the optimum a replacement policy can reach, and whole networks
against the weights they must stream."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from accelsim.estimation import estimate
from accelsim.hw import load_hardware
from accelsim.hw.systolic.dataflow import DATAFLOW_MAPS
from accelsim.hw.systolic.lowering import GemmJob, gemm_job, operand_tables
from accelsim.hw.systolic.traffic import gemm_traffic, role
from accelsim.ir import Graph

BIG = 10**9


def traffic(df: str, job: GemmJob, sram: tuple[int, int, int], R: int = 4, C: int = 4, bw=None):
    return gemm_traffic(df, R, C, job, sram, bw)


def reads(f) -> tuple[int, int, int, int]:
    return (f["dram_ifmap_reads"], f["dram_filter_reads"], f["dram_ofmap_reads"], f["dram_ofmap_writes"])


# --------------------------------------------------------------------------- hand counts

def test_roles_follow_the_dataflow_table():
    # column folds outer, row folds inner: an operand on both array dims has a tile per fold,
    # one on the row dim is swept again for every column fold, one on the column dim serves
    # the row folds of its column fold
    expect = {"ws": ("swept", "stationary", "reused"), "os": ("swept", "reused", "stationary"),
              "is": ("stationary", "swept", "reused")}
    for df, roles in expect.items():
        assert tuple(role(DATAFLOW_MAPS[df], op) for op in ("ifmap", "filter", "ofmap")) == roles


def test_ws_gemm_that_fits_reads_everything_once():
    # WS on 4 x 4, GEMM M = K = N = 8: 2 row folds (K) x 2 column folds (N), T = M = 8.
    # Everything fits (64 words each, outputs 8 x 4 = 32 per column fold): ifmap 64 reads,
    # filter 64, outputs written once, 64.
    assert reads(traffic("ws", GemmJob(8, 8, 8), (BIG,) * 3)) == (64, 64, 0, 64)


def test_ws_gemm_that_does_not_fit_rereads_each_pass():
    # Buffers of no words: the ifmap (swept) is read in each of the 2 column-fold passes,
    # 128; the filter is read once whatever the buffer (each fold has its own tile); each
    # output tile of 32 partial sums is written after both row folds (2 x 32 per column
    # fold) and read back before the second (32).
    assert reads(traffic("ws", GemmJob(8, 8, 8), (0, 0, 0))) == (128, 64, 2 * 32, 2 * 2 * 32)


def test_ws_gemm_that_partly_fits_rereads_what_did_not_stay():
    # ifmap buffer of 40 words: pass 1 reads 64, pass 2 the 24 that did not stay: 88.
    # ofmap buffer of 20 words: each 32-word tile spills 12 after row fold 1 and reads
    # them back: writes 2 x (12 + 32) = 88, reads 2 x 12 = 24.
    assert reads(traffic("ws", GemmJob(8, 8, 8), (40, 0, 20))) == (88, 64, 24, 88)


def test_os_filter_tile_serves_its_row_folds():
    # OS on 4 x 4, GEMM M = 12, K = 6, N = 8: 3 row folds (M) x 2 column folds (N), T = K = 6.
    # filter tile per column fold: K x 4 = 24 words for 3 row folds. Buffer 30: 48 reads;
    # buffer 20: 24 + 2 x 4 per tile, 64; buffer 0: 3 x 48 = 144. The ifmap (72 words) is
    # swept per column fold: buffer 100 -> 72, buffer 0 -> 144. Outputs once: 96.
    job = GemmJob(12, 8, 6)
    assert reads(traffic("os", job, (100, 30, 0))) == (72, 48, 0, 96)
    assert reads(traffic("os", job, (0, 20, 0))) == (144, 64, 0, 96)
    assert reads(traffic("os", job, (0, 0, 0))) == (144, 144, 0, 96)


def test_is_mirrors_ws():
    # IS: ifmap^T stationary (read once), filter swept per column fold (M), ofmap reused.
    # GEMM M = 8, K = 8, N = 5 on 4 x 4: 2 row folds (K) x 2 column folds (M), T = N = 5.
    assert reads(traffic("is", GemmJob(8, 5, 8), (0, 0, BIG))) == (64, 80, 0, 40)


def conv_layer(h: int, w: int, c: int, k: int, kernel: int, stride: int = 1, padding: int = 0,
               groups: int = 1) -> Graph:
    g = Graph("g")
    g.add("x", "input", (), {"shape": [1, c, h, w], "dtype": "int8"})
    g.add("conv", "conv2d", ("x",), {"out_channels": k, "kernel": kernel, "stride": stride,
                                     "padding": padding, "groups": groups, "bias": False})
    g.verify()
    return g


def test_conv_reads_each_input_word_once_when_it_fits():
    # 3 x 3 conv, 4 channels of 6 x 6, padding 1: im2col holds 36 x 36 = 1,296 entries
    # (windows overlap, and some fall on padding) but only 4 x 36 = 144 input words.
    job = gemm_job(conv_layer(6, 6, 4, 8, 3, padding=1).layers()[0])
    f = traffic("ws", job, (BIG,) * 3)
    assert f["dram_ifmap_reads"] == 144
    # the array reads the entries inside the image (per axis 6 outputs x 3 taps less 2 on
    # padding = 16) once per column fold (8 filters on 4 columns: 2)
    assert f["sram_ifmap_reads"] == 2 * 4 * 16 * 16


def test_strided_conv_skips_rows_no_window_reads():
    # 1 x 1 conv with stride 2 over 8 x 8: only 4 x 4 positions per channel are read.
    job = gemm_job(conv_layer(8, 8, 3, 4, 1, stride=2).layers()[0])
    assert traffic("ws", job, (BIG,) * 3)["dram_ifmap_reads"] == 3 * 16


# --------------------------------------------------------------------------- the optimum

def belady_misses(seq: list[int], capacity: int) -> int:
    """Misses of Belady's optimal replacement (evict the word used furthest in the future)."""
    nxt, seen = [0] * len(seq), {}
    for i in range(len(seq) - 1, -1, -1):
        nxt[i] = seen.get(seq[i], len(seq) + i)
        seen[seq[i]] = i
    held: dict[int, int] = {}
    misses = 0
    for i, word in enumerate(seq):
        if word not in held:
            misses += 1
            if capacity == 0:
                continue
            if len(held) >= capacity:
                del held[max(held, key=held.__getitem__)]
        held[word] = nxt[i]
    return misses


def demand(df: str, job: GemmJob, operand: str, R: int, C: int) -> list[int]:
    """The operand's word addresses in the order the folds use them (column folds outer)."""
    m = DATAFLOW_MAPS[df]
    ext = {"M": job.M, "N": job.N, "K": job.K}
    table = operand_tables(job, {"ifmap": "M", "filter": "K", "ofmap": "M"})[operand]
    a, b = table.dims
    seq = []
    for j, i in itertools.product(range(-(-ext[m.cols] // C)), range(-(-ext[m.rows] // R))):
        block = {m.rows: range(i * R, min(ext[m.rows], (i + 1) * R)),
                 m.cols: range(j * C, min(ext[m.cols], (j + 1) * C)), m.time: range(ext[m.time])}
        for x, y in itertools.product(block[a], block[b]):
            seq.append(int(table.base[0][x] + table.base[1][y]))
    return seq


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_reads_are_the_bound_belady_reaches_within_a_word_per_pass(df):
    # A pass can find at most S words still on chip, so U + (n - 1)(U - S) reads is a lower
    # bound for any policy; Belady's optimal policy, run on the real word order, reaches it
    # within one word per pass.
    rng = np.random.default_rng(1)
    for _ in range(12):
        M, N, K = (int(v) for v in rng.integers(3, 14, 3))
        job = GemmJob(M, N, K)
        for k, operand in enumerate(("ifmap", "filter")):
            seq = demand(df, job, operand, 4, 3)
            for S in (0, 5, len(set(seq)) // 2, len(set(seq))):
                sram = [BIG, BIG, BIG]
                sram[k] = S
                model = traffic(df, job, tuple(sram), 4, 3)[f"dram_{operand}_reads"]
                best = belady_misses(seq, S)
                passes = len(seq) // len(set(seq))
                assert model <= best <= model + passes, (df, operand, M, N, K, S)


# --------------------------------------------------------------------------- bandwidth modes

@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_calc_never_slower_than_user_and_traffic_the_same(df):
    rng = np.random.default_rng(2)
    for _ in range(30):
        M, N, K = (int(v) for v in rng.integers(1, 70, 3))
        sram = tuple(int(v) for v in rng.integers(0, 400, 3))
        bw = tuple(int(v) for v in rng.integers(1, 9, 3))
        calc = traffic(df, GemmJob(M, N, K), sram)
        user = traffic(df, GemmJob(M, N, K), sram, bw=bw)
        assert calc["total_cycles"] == calc["compute_cycles"] <= user["total_cycles"]
        assert reads(calc) == reads(user)


def test_slow_interface_stalls_by_hand():
    # WS 4 x 4, GEMM M = 4, K = 8, N = 4: 2 row folds of 14 lines. Filter tiles of 16 words
    # at 1 word per cycle: 16 before fold 1, then fold 1 lasts max(14, 16) = 16 while fold 2's
    # tile arrives; fold 2 takes 14; the 16 outputs leave at 1 per cycle: 16 + 16 + 14 + 16.
    f = traffic("ws", GemmJob(4, 4, 8), (BIG,) * 3, bw=(BIG, 1, 1))
    assert (f["total_cycles"], f["compute_cycles"], f["stall_cycles"]) == (62, 28, 34)


def test_bandwidths_in_a_spec_are_honoured_by_default(tmp_path):
    text = ("kind: systolic\nfrequency: 1 GHz\narray: {rows: 8, cols: 8}\n"
            "sram: {ifmap: 1 KiB, filter: 1 KiB, ofmap: 1 KiB}\n"
            "dram: {bandwidth: {ifmap: 8 GB/s, filter: 8 GB/s, ofmap: 8 GB/s}}\n")
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text + "bandwidth_mode: calc\n")
    (tmp_path / "c.yaml").write_text(text.split("dram")[0])
    assert [load_hardware(tmp_path / f"{n}.yaml").bandwidth_mode for n in "abc"] == ["user", "calc", "calc"]


def test_network_traffic_and_energy_do_not_depend_on_the_bandwidth_mode():
    spec = load_hardware("edge_systolic")
    user = estimate("resnet18", spec).to_dict()
    calc = estimate("resnet18", dataclasses.replace(spec, bandwidth_mode="calc")).to_dict()
    for a, b in zip(user["layers"], calc["layers"]):
        assert a["bytes_dram"] == b["bytes_dram"] and a["bytes_onchip"] == b["bytes_onchip"]
        assert a["energy_by_component_j"] == b["energy_by_component_j"]
        assert b["cycles"] <= a["cycles"]


# --------------------------------------------------------------------------- whole networks

def test_resnet50_on_tpu_v1_streams_its_weights_and_keeps_activations():
    # TPU v1 streams weights from DDR3 and keeps activations in its 24 MiB Unified Buffer
    # (Jouppi et al., ISCA 2017, Sections 2 and 7): at batch 1 and int8, DRAM traffic is the
    # 25.5 M conv/fc weight bytes plus the 150,528-byte image and 1,000 logits.
    est = estimate("resnet50", "tpu_v1").to_dict()
    weights = sum(l["details"]["accesses"]["dram_reads"]["filter"] for l in est["layers"]
                  if "accesses" in l["details"])
    convs = sum(l["params"] for l in est["layers"] if l["op"] == "conv2d")  # no conv has a bias
    assert weights == convs + 2048 * 1000  # the fc's bias is added on the vector path
    assert est["totals"]["bytes_dram"] == pytest.approx(weights + 150528 + 1000, rel=0.01)
    fc = next(l for l in est["layers"] if l["name"] == "fc")
    assert fc["details"]["accesses"]["dram_reads"]["filter"] == 2048 * 1000  # once, not 22 times


def test_alexnet_fc6_on_edge_systolic_reads_its_weights_once():
    est = estimate("alexnet", "edge_systolic").to_dict()
    fc6 = next(l for l in est["layers"] if l["name"].startswith("fc6") and "accesses" in l["details"])
    assert fc6["details"]["accesses"]["dram_reads"]["filter"] == 9216 * 4096


def test_depthwise_reads_activations_from_dram_at_most_as_often_as_from_sram():
    est = estimate("mobilenet_v2", "edge_systolic").to_dict()
    for l in est["layers"]:
        acc = l["details"].get("accesses")
        if acc and l["details"]["gemm"]["repeats"] > 1:
            assert acc["dram_reads"]["ifmap"] <= acc["sram_reads"]["ifmap"], l["name"]
