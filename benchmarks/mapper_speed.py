"""Speed of the npu mapper: evaluation rate, search quality per second, whole network.

One ResNet-50 layer, res2a_branch2b (3x3, 64 -> 64 channels on 56x56), on the bundled
``eyeriss`` machine:

1. *evaluation rate*: the same candidate mappings analysed by ``analysis.evaluate`` (plain
   CPython, the reference; one ``Mapping`` at a time) and by the compiled fast path
   (``hw.npu.fast.score``, a batch per call) - mappings per second, and their ratio;
2. *search*: ``find_mapping`` (objective edp) - candidates scored per second and the energy
   x delay it reaches, against a *random search* baseline given the same wall time
   (uniform random fanout filling, factor splits, loop orders and bypass choices, scored by
   the same fast path, seeded);
3. *whole network*: ``accelsim estimate resnet50 --hw eyeriss --json`` as a fresh process,
   median of 3, against the floor of any such process (``python -c "import numpy, yaml,
   networkx"``): *cold* (``--no-cache``: every distinct layer searched, on a process pool
   of one worker per CPU) and *warm* (every mapping read from the on-disk result cache, a
   scratch folder filled by one run first); and the cold costing in this process, searched
   serially (no executor), for comparison. numba's own cache is filled by a first run.

    python benchmarks/mapper_speed.py        # prints Markdown tables
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from accelsim.estimation import compile, estimate
from accelsim.hw import CostContext, cost_model, load_hardware
from accelsim.hw.npu import evaluate, prepare
from accelsim.hw.npu.fast import Candidates, score, tables, to_mapping
from accelsim.hw.npu.problem import conv_problem
from accelsim.ir import Workload
from accelsim.mapping import MapperOptions
from accelsim.mapping.npu.candidates import canonical, seeds
from accelsim.mapping.npu.search import NpuSearch, SearchOptions, find_mapping
from accelsim.mapping.npu.space import Space, build_space, divisors

ACCELSIM = str(Path(sys.executable).with_name("accelsim"))
SEED = 0


def layer():
    dims = (("N", 1), ("G", 1), ("K", 64), ("C", 64), ("P", 56), ("Q", 56), ("R", 3), ("S", 3))
    w = Workload(kind="conv", dims=dims, macs=0, ops=0, input_bytes=0, weight_bytes=0, output_bytes=0)
    return conv_problem(w, "res2a_branch2b")


class RandomSpace:
    """Uniform random candidates of a space, drawn with numpy (the baseline's proposals):
    a random fanout filling, for each dimension a random split of what is left over the
    temporal levels, random loop orders and random free keep/bypass choices."""

    def __init__(self, space: Space) -> None:
        self.space = space
        temporal = list(space.temporal_levels)
        # per fanout filling and dimension: every ordered split over the temporal levels
        self.splits = [[np.array(_splits(bound // int(grid[:, :, d].prod()), len(temporal)), np.int64)
                        for d, bound in enumerate(space.problem.bounds)] for grid in space.spatial]

    def draw(self, n: int, rng: np.random.Generator) -> Candidates:
        space = self.space
        nl, nd = space.fixed.shape
        temporal = list(space.temporal_levels)
        g = rng.integers(len(space.spatial), size=n)
        t = np.ones((n, nl, nd), np.int64)
        for gi in np.unique(g):
            rows = np.flatnonzero(g == gi)
            for d, options in enumerate(self.splits[gi]):
                t[np.ix_(rows, temporal, [d])] = options[rng.integers(len(options), size=len(rows))][:, :, None]
        o = rng.permuted(np.tile(np.arange(nd), (n, nl, 1)), axis=2)
        k = np.where(space.keep < 0, rng.random((n, nl, space.keep.shape[1])) < 0.5, space.keep > 0)
        s = np.stack(space.spatial)[g]
        return canonical(space, Candidates(t, o, s, k))


def _splits(n: int, parts: int) -> list[tuple[int, ...]]:
    if parts == 1:
        return [(n,)]
    return [(f, *rest) for f in divisors(n) for rest in _splits(n // f, parts - 1)]


def evaluation_rate(problem, spec) -> list[tuple[str, int, float]]:
    ctx = prepare(problem, spec)
    t = tables(ctx)
    space = build_space(problem, spec)
    cands = seeds(space, t)
    valid = np.flatnonzero(score(t, cands).status == 0)
    cands = cands.take(valid)
    mappings = [to_mapping(ctx, cands, i) for i in range(len(cands))]
    start = time.perf_counter()
    for m in mappings:
        evaluate(ctx, m)
    plain = time.perf_counter() - start
    big = Candidates(*(np.tile(getattr(cands, f), (200,) + (1,) * (getattr(cands, f).ndim - 1))
                       for f in ("temporal", "order", "spatial", "keep")))
    start = time.perf_counter()
    score(t, big)
    fast = time.perf_counter() - start
    return [("analysis.evaluate (plain Python, links on)", len(mappings), len(mappings) / plain),
            ("fast.score (compiled, batch)", len(big), len(big) / fast)]


def search_vs_random(problem, spec) -> list[tuple[str, float, int, float]]:
    ctx = prepare(problem, spec)
    t = tables(ctx)
    start = time.perf_counter()
    found = find_mapping(problem, spec, objective="edp", options=SearchOptions())
    ours = time.perf_counter() - start
    randoms = RandomSpace(build_space(problem, spec))
    rng = np.random.default_rng(SEED)
    best, tried, start = np.inf, 0, time.perf_counter()
    best_i: tuple[Candidates, int] | None = None
    while time.perf_counter() - start < ours:
        c = randoms.draw(4096, rng)
        s = score(t, c)
        tried += len(c)
        ok = np.flatnonzero(s.status == 0)
        if len(ok):
            edp = s.energy_j[ok] * s.cycles[ok]
            i = int(ok[np.argmin(edp)])
            if edp.min() < best:
                best, best_i = float(edp.min()), (c, i)
    spent = time.perf_counter() - start
    exact = evaluate(ctx, to_mapping(ctx, *best_i)) if best_i else None
    random_edp = exact.energy_j * exact.cycles if exact else float("inf")
    return [("npu mapper (find_mapping)", ours, found.scored, found.energy_j * found.cycles),
            ("random search, same time", spent, tried, random_edp)]


def _median_run(cmd: list[str], env: dict[str, str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def whole_network() -> list[tuple[str, float]]:
    cmd = [ACCELSIM, "estimate", "resnet50", "--hw", "eyeriss", "--json"]
    with tempfile.TemporaryDirectory(prefix="accelsim-cache-") as folder:
        env = {**os.environ, "ACCELSIM_CACHE_DIR": folder}
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)  # numba's cache, then the result cache
        floor = _median_run([sys.executable, "-c", "import numpy, yaml, networkx"], env)
        warm = _median_run(cmd, env)
        cold = _median_run(cmd + ["--no-cache"], env)
    spec = load_hardware("eyeriss")
    graph = compile("resnet50", precision=spec.default_precision)
    start = time.perf_counter()
    cost_model(spec, None, CostContext(mapper=NpuSearch(MapperOptions(cache=False)))).layer_costs(graph)
    in_process = time.perf_counter() - start
    return [("`python -c \"import numpy, yaml, networkx\"` (the floor)", floor),
            ("`accelsim estimate resnet50 --hw eyeriss --json`, warm result cache", warm),
            ("the same with `--no-cache` (searched on a process pool)", cold),
            ("the cold costing in process, searched serially", in_process)]


def main() -> None:
    problem, spec = layer(), load_hardware("eyeriss")
    find_mapping(problem, spec, options=SearchOptions(kicks=0, budget=10))  # load the kernels
    estimate("digits_cnn", spec, cache=False)
    print("Evaluation rate, res2a_branch2b on eyeriss (the same candidates):\n")
    print("| evaluator | mappings | mappings/s | x baseline |")
    print("|---|---|---|---|")
    rows = evaluation_rate(problem, spec)
    for name, n, rate in rows:
        print(f"| {name} | {n} | {rate:,.0f} | {rate / rows[0][2]:.0f} |")
    print("\nSearch, res2a_branch2b on eyeriss, objective edp:\n")
    print("| search | wall (s) | candidates scored | candidates/s | best energy x delay (J x cycles) |")
    print("|---|---|---|---|---|")
    for name, seconds, n, edp in search_vs_random(problem, spec):
        print(f"| {name} | {seconds:.2f} | {n:,} | {n / seconds:,.0f} | {edp:.4g} |")
    print("\nWhole network:\n")
    print("| run | wall (s) | x floor |")
    print("|---|---|---|")
    rows = whole_network()
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / rows[0][1]:.1f} |")


if __name__ == "__main__":
    main()
