"""The npu fast path (``npu.fast`` + ``kernels.nest``) against ``analysis.evaluate``.

On random machines (fanouts, capacities, blocks, bandwidths, energies, multicast switches)
and random candidate mappings of 2-D convolutions with strides and dilations, a GEMM and a
grouped convolution, the kernel's per-instance reads, fills and updates of every level and
data space, its cycle count and its energy (to the bit: the kernel repeats the reference's
floating-point operations in order) must equal ``evaluate``'s on the same mapping with link
transfers off, in both Timeloop stride rules. With link transfers on, the two still agree
wherever ``evaluate`` found none to make.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from accelsim.errors import MappingError
from accelsim.hw.npu.analysis import evaluate, prepare
from accelsim.hw.npu.fast import Candidates, score, tables, to_mapping
from accelsim.hw.npu.problem import Problem, conv_problem, gemm_problem
from accelsim.hw.npu.spec import ActionEnergy, ArithmeticLevel, NpuSpec, StorageLevel
from accelsim.hw.technology import Technology
from accelsim.ir import Workload
from accelsim.kernels.nest import BAD_CAPACITY, BAD_FACTORS, OK


# A quantized, sparse layer's fields (weight and activation widths, densities, structure).
COMPRESSED = {"weight_bits": 4, "act_bits": 8, "out_bits": 16, "weight_density": 0.5, "act_density": 0.3,
              "sparsity_structure": "n:m"}


def _conv_workload(n: int = 1, g: int = 1, k: int = 4, c: int = 3, p: int = 4, q: int = 3, r: int = 3, s: int = 2,
                   stride: tuple[int, int] = (1, 1), dilation: tuple[int, int] = (1, 1), **fields: object) -> Workload:
    dims = (("N", n), ("G", g), ("K", k), ("C", c), ("P", p), ("Q", q), ("R", r), ("S", s))
    return Workload(kind="conv", dims=dims, macs=n * g * k * c * p * q * r * s, ops=0, input_bytes=0,
                    weight_bytes=0, output_bytes=0, strides=stride, dilation=dilation, **fields)


def _conv(**kw: object) -> Problem:
    return conv_problem(_conv_workload(**kw))


def _gemm_workload(m: int = 6, n: int = 4, k: int = 8, **fields: object) -> Workload:
    return Workload(kind="gemm", dims=(("B", 1), ("M", m), ("N", n), ("K", k)), macs=m * n * k, ops=0,
                    input_bytes=0, weight_bytes=0, output_bytes=0, **fields)


def _gemm(**kw: object) -> Problem:
    return gemm_problem(_gemm_workload(**kw))


PROBLEMS = [_conv(), _conv(stride=(2, 1), dilation=(1, 2)), _conv(n=2, g=2, k=2, c=2, p=6, q=2, r=3, s=1),
            _gemm(), _conv(stride=(1, 2), **COMPRESSED), _gemm(m=4, n=6, k=6, **COMPRESSED)]


@pytest.mark.parametrize("build, convert", [(_conv_workload, conv_problem), (_gemm_workload, gemm_problem)])
def test_widths_and_densities_reach_neither_path(build, convert) -> None:
    """Both evaluators read a layer only through its ``Problem``; a quantized, sparse layer's
    Problem is the dense one's, so the two paths cannot part over those fields (the Timeloop
    model takes word widths from the architecture's levels and has no sparsity). A cost
    model that starts using them must extend both paths and this test."""
    assert convert(build(**COMPRESSED)) == convert(build())


def _spec(rng: random.Random) -> NpuSpec:
    meshes = [(1, 1)]
    for _ in range(3):
        fx, fy = rng.choice([(1, 1), (1, 1), (2, 1), (4, 1), (2, 2), (1, 3), (3, 4)])
        meshes.append((meshes[-1][0] * fx, meshes[-1][1] * fy))
    levels = []
    for i, (x, y) in enumerate(meshes[:-1]):
        e = ActionEnergy(*(rng.choice([0.0, 1e-12, 3.7e-12, 2e-11]) for _ in range(4)))
        levels.append(StorageLevel(
            name=f"L{i}", cls="dram" if i == 0 else "sram", word_bits=8,
            size_words=None if i == 0 else rng.choice([None, None, 400, 2000]), block_size=rng.choice([1, 1, 2, 4]),
            mesh_x=x, mesh_y=y, read_bandwidth=rng.choice([None, 0.5, 2.0]),
            write_bandwidth=rng.choice([None, 1.0]), shared_bandwidth=rng.choice([None, None, 3.0]),
            energy=e, multicast=rng.random() < 0.8, spatial_reduction=rng.random() < 0.8,
            network_energy_j=rng.choice([0.0, 5e-13]), network_latency_cycles=rng.choice([0, 7])))
    x, y = meshes[-1]
    return NpuSpec(name="t", kind="npu", frequency_hz=1e9, technology=Technology(), levels=tuple(levels),
                   arithmetic=ArithmeticLevel(mesh_x=x, mesh_y=y, energy_j=2e-13))


def _candidate(rng: random.Random, problem: Problem, spec: NpuSpec) -> Candidates:
    nl, nd, npp = len(spec.levels), len(problem.dims), len(problem.dataspaces)
    temporal = np.ones((1, nl, nd), np.int64)
    spatial = np.ones((1, nl, 2, nd), np.int64)
    order = np.zeros((1, nl, nd), np.int64)
    keep = np.zeros((1, nl, npp), np.bool_)
    remaining = list(problem.bounds)
    for lv in range(nl - 1, -1, -1):  # innermost first; the outermost takes what is left
        for axis, room in enumerate(spec.fanout(lv)):
            for d in rng.sample(range(nd), nd):
                fits = [f for f in range(1, room + 1) if remaining[d] % f == 0 and room % f == 0]
                f = rng.choice([1, max(fits)])
                spatial[0, lv, axis, d] = f
                remaining[d] //= f
                room //= f
        for d in range(nd):
            divisors = [f for f in range(1, remaining[d] + 1) if remaining[d] % f == 0]
            f = remaining[d] if lv == 0 else rng.choice(divisors)
            temporal[0, lv, d] = f
            remaining[d] //= f
        order[0, lv] = rng.sample(range(nd), nd)
        keep[0, lv] = [lv == 0 or rng.random() < 0.7 for _ in range(npp)]
    return Candidates(temporal, order, spatial, keep)


def _reference(problem: Problem, spec: NpuSpec, c: Candidates, legacy: bool, links: bool):
    ctx = prepare(problem, spec, legacy=legacy)
    try:
        return evaluate(ctx, to_mapping(ctx, c, 0, links=links))
    except MappingError:
        return None


@pytest.mark.parametrize("legacy", [False, True], ids=["current", "legacy"])
@pytest.mark.parametrize("seed", range(60))
def test_fast_path_equals_evaluate_without_links(seed: int, legacy: bool) -> None:
    rng = random.Random(seed)
    problem = PROBLEMS[seed % len(PROBLEMS)]
    spec = _spec(rng)
    c = _candidate(rng, problem, spec)
    ctx = prepare(problem, spec, legacy=legacy)
    got = score(tables(ctx), c, detail=True)
    ref = _reference(problem, spec, c, legacy, links=False)
    if ref is None:
        assert got.status[0] == BAD_CAPACITY
        return
    assert got.status[0] == OK
    for lv, stats in enumerate(ref.levels):
        for p, s in enumerate(stats.dataspaces):
            assert tuple(got.counts[0, lv, p]) == (s.reads, s.fills, s.updates), (stats.name, p)
    assert got.cycles[0] == ref.cycles
    assert got.energy_j[0] == ref.energy_j  # same operations in the same order: the same bits


@pytest.mark.parametrize("seed", range(30))
def test_fast_path_equals_evaluate_when_no_link_is_used(seed: int) -> None:
    rng = random.Random(1000 + seed)
    problem = PROBLEMS[seed % len(PROBLEMS)]
    spec = _spec(rng)
    c = _candidate(rng, problem, spec)
    ref = _reference(problem, spec, c, False, links=True)
    if ref is None or any(s.link_transfers for level in ref.levels for s in level.dataspaces):
        return
    got = score(tables(prepare(problem, spec)), c)
    assert (got.cycles[0], got.energy_j[0]) == (ref.cycles, ref.energy_j)


def test_factors_that_do_not_cover_the_layer_are_rejected() -> None:
    problem, spec = PROBLEMS[0], _spec(random.Random(0))
    c = _candidate(random.Random(0), problem, spec)
    c.temporal[0, 0, 2] += 1
    assert score(tables(prepare(problem, spec)), c).status[0] == BAD_FACTORS


def test_row_stationary_on_eyeriss() -> None:
    # Filter rows (R) down the columns and output rows (P) along the rows: input rows are
    # shared along diagonals, so the inputs' multicast groups have unequal sizes (1, 2, 3,
    # 3, ..., 2, 1 children): the kernel's ordered group histogram must match Sharing's.
    from accelsim.hw import load_hardware

    spec = load_hardware("eyeriss")
    problem = _conv(k=8, c=4, p=14, q=6, r=3, s=3)
    d = {name: i for i, name in enumerate(problem.dims)}
    nl, nd = len(spec.levels), len(problem.dims)
    c = Candidates(np.ones((1, nl, nd), np.int64), np.tile(np.arange(nd), (1, nl, 1)),
                   np.ones((1, nl, 2, nd), np.int64), np.zeros((1, nl, 3), np.bool_))
    c.spatial[0, 1, 0, d["P"]] = 14
    c.spatial[0, 1, 1, d["R"]] = 3
    c.spatial[0, 1, 1, d["C"]] = 4
    c.temporal[0, 4, d["S"]] = 3  # psum_spad: the filter row slides along the input row
    c.temporal[0, 4, d["Q"]] = 6
    c.temporal[0, 3, d["K"]] = 8
    c.keep[0, 0] = True
    c.keep[0, 1, 1:] = True
    c.keep[0, 2, 1] = c.keep[0, 3, 0] = c.keep[0, 4, 2] = True  # ifmap, filter, psum spads
    ctx = prepare(problem, spec)
    got = score(tables(ctx), c, detail=True)
    ref = evaluate(ctx, to_mapping(ctx, c, 0, links=False))
    assert got.status[0] == OK
    assert [tuple(x) for x in got.counts[0].reshape(-1, 3)] == [
        (s.reads, s.fills, s.updates) for level in ref.levels for s in level.dataspaces]
    assert (got.cycles[0], got.energy_j[0]) == (ref.cycles, ref.energy_j)
