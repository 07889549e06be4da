"""The npu mapper against exhaustive search, and its determinism, caching and constraints.

``brute_force`` below enumerates, independently of the mapper's own code, every mapping of
a small layer on a small machine: each way to fill the fanouts (within their sizes and the
array's ``unroll`` wiring), every split of each dimension's remaining factors over the
storage levels, every loop order of every level and every free keep/bypass choice, and
analyses each with ``analysis.evaluate``. For each objective (energy, latency, edp; ties
broken by the other metric) the mapper's choice must be at least as good as the best of
them, both when the mapper enumerates the (small) space itself and when it is forced onto
its heuristic path (greedy seeds and local search).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import replace

import pytest

from accelsim.errors import MappingError, SpecError
from accelsim.hw.npu import LevelMapping, Loop, Mapping, NpuSpec, Problem, evaluate, prepare
from accelsim.hw.npu.problem import DataSpace, gemm_problem
from accelsim.hw.npu.spec import ActionEnergy, ArithmeticLevel, StorageLevel
from accelsim.hw.technology import Technology
from accelsim.ir import Workload
from accelsim.mapping import MapperOptions, mapper_for
from accelsim.mapping.npu import search as npu_search
from accelsim.mapping.npu.constraints import read_constraints
from accelsim.mapping.npu.search import NpuSearch, SearchOptions, find_mapping, objective_key

OBJECTIVES = ("energy", "latency", "edp")


def conv1d(k: int, c: int, p: int, r: int) -> Problem:
    """Outputs[k, p] += Weights[k, c, r] * Inputs[c, p + r]."""
    dims = ("K", "C", "R", "P")
    return Problem("conv1d", dims, (k, c, r, p), (
        DataSpace("Weights", (((1, 0),), ((1, 1),), ((1, 2),))),
        DataSpace("Inputs", (((1, 1),), ((1, 2), (1, 3)))),
        DataSpace("Outputs", (((1, 0),), ((1, 3),)), read_write=True)))


def level(name: str, words: int | None, pj: float, *, mesh: tuple[int, int] = (1, 1), keep: tuple[str, ...] = (),
          bandwidth: float | None = None) -> StorageLevel:
    e = pj * 1e-12
    return StorageLevel(name=name, cls="dram" if words is None else "sram", word_bits=8, size_words=words,
                        mesh_x=mesh[0], mesh_y=mesh[1], keep=keep, exclusive=bool(keep), read_bandwidth=bandwidth,
                        energy=ActionEnergy(e, e, e))


def machine(*levels: StorageLevel, macs: tuple[int, int] = (1, 1)) -> NpuSpec:
    return NpuSpec(name="toy", kind="npu", frequency_hz=1e9, technology=Technology(), levels=levels,
                   arithmetic=ArithmeticLevel(mesh_x=macs[0], mesh_y=macs[1], energy_j=0.2e-12))


# (id, problem, machine): small enough to enumerate, varied enough to matter
CASES = [
    ("two-level", conv1d(2, 2, 4, 3), machine(level("DRAM", None, 100.0, bandwidth=1.0), level("Buffer", 16, 2.0))),
    ("three-level", conv1d(2, 1, 4, 3),
     machine(level("DRAM", None, 100.0), level("GLB", 24, 6.0), level("RF", 6, 1.0))),
    ("fanout", conv1d(2, 1, 4, 2),
     machine(level("DRAM", None, 100.0, bandwidth=2.0), level("GLB", 32, 6.0, keep=("Inputs", "Outputs")),
             level("RF", 8, 1.0, mesh=(2, 2)), macs=(2, 2))),
]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _splits(n: int, parts: int) -> list[tuple[int, ...]]:
    if parts == 1:
        return [(n,)]
    return [(f, *rest) for f in _divisors(n) for rest in _splits(n // f, parts - 1)]


def _fillings(problem: Problem, spec: NpuSpec) -> list[dict[tuple[int, int], dict[str, int]]]:
    """Every way to fill the fanouts: {(level, axis): {dim: factor}}."""
    slots = [(lv, axis, room) for lv in range(len(spec.levels)) for axis, room in enumerate(spec.fanout(lv))
             if room > 1]
    out: list[dict[tuple[int, int], dict[str, int]]] = [{}]
    for lv, axis, room in slots:
        grown = []
        for filling in out:
            used = {d: math.prod(f.get(d, 1) for f in filling.values()) for d in problem.dims}
            choices = [{}]
            for d, bound in zip(problem.dims, problem.bounds):
                choices = [dict(c, **({d: f} if f > 1 else {})) for c in choices
                           for f in _divisors(bound // used[d]) if math.prod(c.values()) * f <= room]
            grown += [{**filling, (lv, axis): c} for c in choices]
        out = grown
    return out


@functools.lru_cache(maxsize=None)
def brute_force(problem: Problem, spec: NpuSpec) -> list[tuple[int, float]]:
    """(cycles, energy) of every valid mapping (see the module docstring)."""
    ctx = prepare(problem, spec)
    names = [ds.name for ds in problem.dataspaces]
    keeps = []
    for i, lv in enumerate(spec.levels):
        if i == 0:
            keeps.append([tuple(names)])
        elif lv.exclusive:
            keeps.append([lv.keep])
        else:
            keeps.append([tuple(n for n, k in zip(names, bits) if k)
                          for bits in itertools.product((True, False), repeat=len(names))])
    results = []
    for filling in _fillings(problem, spec):
        spatial = [[Loop(d, f, "XY"[axis]) for axis in (1, 0) for d, f in filling.get((lv, axis), {}).items()]
                   for lv in range(len(spec.levels))]
        rem = [b // math.prod(f.get(d, 1) for f in filling.values()) for d, b in zip(problem.dims, problem.bounds)]
        for split in itertools.product(*(_splits(r, len(spec.levels)) for r in rem)):
            factors = [{d: split[j][lv] for j, d in enumerate(problem.dims) if split[j][lv] > 1}
                       for lv in range(len(spec.levels))]
            orders = [list(itertools.permutations(f)) for f in factors]
            for order, keep in itertools.product(itertools.product(*orders), itertools.product(*keeps)):
                mapping = Mapping(tuple(
                    LevelMapping(lv.name, tuple(Loop(d, factors[i][d]) for d in order[i]), tuple(spatial[i]), keep[i])
                    for i, lv in enumerate(spec.levels)))
                try:
                    a = evaluate(ctx, mapping)
                except MappingError:
                    continue
                results.append((a.cycles, a.energy_j))
    return results


@functools.lru_cache(maxsize=None)
def _best(case: str, objective: str) -> tuple[float, float]:
    _, problem, spec = next(c for c in CASES if c[0] == case)
    return min(objective_key(objective, c, e) for c, e in brute_force(problem, spec))  # type: ignore[arg-type]


def _no_worse(got: tuple[float, float], best: tuple[float, float]) -> bool:
    if got[0] < best[0] * (1 - 1e-12):
        return True
    return math.isclose(got[0], best[0], rel_tol=1e-12) and got[1] <= best[1] * (1 + 1e-12)


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("path", ["enumerated", "heuristic"])
@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_never_worse_than_exhaustive_search(case: str, path: str, objective: str) -> None:
    _, problem, spec = next(c for c in CASES if c[0] == case)
    options = SearchOptions(exhaustive_limit=20_000 if path == "enumerated" else 0)
    found = find_mapping(problem, spec, objective=objective, options=options)  # type: ignore[arg-type]
    assert found.exhaustive == (path == "enumerated")
    a = evaluate(prepare(problem, spec), found.mapping)
    assert (a.cycles, a.energy_j) == (found.cycles, found.energy_j)
    got = objective_key(objective, a.cycles, a.energy_j)  # type: ignore[arg-type]
    assert _no_worse(got, _best(case, objective)), (got, _best(case, objective))


def test_the_brute_force_covers_a_real_space() -> None:
    sizes = {case: len(brute_force(problem, spec)) for case, problem, spec in CASES}
    assert all(n > 100 for n in sizes.values()), sizes


def _resnet_layer(name: str = "a") -> Problem:
    from accelsim.hw.npu.problem import conv_problem
    dims = (("N", 1), ("G", 1), ("K", 64), ("C", 64), ("P", 14), ("Q", 14), ("R", 3), ("S", 3))
    return conv_problem(Workload(kind="conv", dims=dims, macs=0, ops=0, input_bytes=0, weight_bytes=0,
                                 output_bytes=0), name)


def test_same_inputs_same_mapping() -> None:
    from accelsim.hw import load_hardware

    spec = load_hardware("eyeriss")
    first = NpuSearch(MapperOptions(cache=False))(_resnet_layer(), spec, objective="edp")
    again = NpuSearch(MapperOptions(cache=False))(_resnet_layer(), spec, objective="edp")
    assert first == again


def test_equal_layers_are_searched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = npu_search.find_mapping

    def counting(problem, spec, **kw):
        calls.append(problem.name)
        return real(problem, spec, **kw)

    monkeypatch.setattr(npu_search, "find_mapping", counting)
    _, problem, spec = CASES[1]
    search = NpuSearch(MapperOptions(cache=False))
    other = replace(problem, name="other", bounds=(1, 1, 3, 4))
    out = search.map_all([replace(problem, name="a"), other, replace(problem, name="b")], spec, objective="energy")
    assert sorted(calls) == ["a", "other"]
    assert out[0] == out[2]
    search.map_all([replace(problem, name="c")], spec, objective="energy")
    search(replace(problem, name="d"), spec, objective="energy")
    assert len(calls) == 2
    search.map_all([problem], spec, objective="latency")  # another objective is another search
    assert len(calls) == 3


def test_each_estimate_gets_a_fresh_mapper() -> None:
    first, second = mapper_for("npu", MapperOptions(seed=3)), mapper_for("npu", MapperOptions(seed=3))
    assert isinstance(first, NpuSearch) and first is not second
    assert first.search.seed == 3
    assert mapper_for("systolic", MapperOptions()) is None


def test_gemm_dimensions_follow_the_arrays_convolution_wiring() -> None:
    from accelsim.hw import load_hardware

    spec = load_hardware("nvdla_small")  # X spreads input channels (C), Y output kernels (K)
    w = Workload(kind="gemm", dims=(("B", 1), ("M", 16), ("N", 32), ("K", 64)), macs=0, ops=0, input_bytes=0,
                 weight_bytes=0, output_bytes=0)
    mapping = find_mapping(gemm_problem(w, "fc"), spec, objective="latency").mapping
    spatial = {(loop.dim, loop.axis) for lm in mapping.levels for loop in lm.spatial}
    assert spatial == {("K", "X"), ("N", "Y")}  # GEMM K is reduced like C; N is the output like K


def test_constraints_fix_factors_orders_and_bypass(tmp_path) -> None:
    _, problem, spec = CASES[1]
    path = tmp_path / "c.yaml"
    path.write_text("mapspace_constraints:\n  targets:\n"
                    "  - {target: RF, type: temporal, factors: R=3 P=2, permutation: PR}\n"
                    "  - {target: GLB, type: bypass, bypass: [Weights]}\n", encoding="utf-8")
    mapping = find_mapping(problem, spec, objective="energy", constraints=read_constraints(path)).mapping
    rf, glb = mapping.level("RF"), mapping.level("GLB")
    assert [(loop.dim, loop.bound) for loop in rf.temporal][-2:] == [("R", 3), ("P", 2)]  # P innermost
    assert "Weights" not in glb.keep


def test_contradicting_the_architecture_is_an_error(tmp_path) -> None:
    _, problem, spec = CASES[2]
    path = tmp_path / "c.yaml"
    path.write_text("mapspace_constraints:\n  targets:\n  - {target: GLB, type: dataspace, keep: [Weights]}\n",
                    encoding="utf-8")
    with pytest.raises(SpecError, match="keeping Weights at 'GLB' contradicts the architecture") as exc:
        find_mapping(problem, spec, constraints=read_constraints(path))
    assert (exc.value.file, exc.value.line) == (str(path), 3)


def test_a_layer_that_fits_nowhere_is_a_mapping_error() -> None:
    problem = conv1d(2, 1, 4, 3)
    spec = machine(level("Buffer", 2, 1.0))  # the only level must hold everything
    with pytest.raises(MappingError, match="layer 'conv1d' fits no mapping on toy"):
        find_mapping(problem, spec)
