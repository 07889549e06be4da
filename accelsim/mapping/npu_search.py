"""The npu mapping search: tiling, loop order, spatial unrolling and bypass of each layer.

For one layer on one machine (``find_mapping``):

1. the mapspace (``npu_space``): fanout fillings that respect each array axis' wiring and
   the constraints, best utilisation first; which keep/bypass choices are free;
2. if the whole space is small (``count_all``), every candidate is scored; otherwise greedy
   seeds (``npu_candidates.seeds``: every fanout filling x keep choice x stationarity
   policy x loose or tight filling) are scored and the best few, from different fanout
   fillings, start the compiled iterated local search (``kernels.nest_search``): steepest
   descent over single moves (a prime factor between levels or exchanged with another
   dimension's, a loop swap, a bypass flip, a factor between a fanout and a level), then
   restarts from the best candidates perturbed by a few random moves;
3. scoring uses the compiled fast path (``accelsim.hw.npu.fast``: Timeloop's analysis
   without link transfers, a few microseconds per candidate); the best ``finalists``
   distinct candidates are re-evaluated with ``analysis.evaluate`` (links on) and the best
   of those is the answer.

Objectives: ``energy``, ``latency`` (cycles) or ``edp`` (energy x cycles); ties are broken
by the other metric (energy or cycles; for edp, energy), then by the order candidates were
found in. The random moves come from a generator seeded by ``SearchOptions.seed``: the same
inputs always give the same mapping.

``NpuSearch`` is the mapper ``accelsim.mapping`` registers for ``kind: npu``: it caches
results by (layer shape, machine, objective, constraints), so ResNet-50's repeated
bottlenecks are searched once, and ``map_all`` searches a network's distinct layers in
parallel processes.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..errors import AccelsimError, MappingError
from ..hw.cost import Objective
from ..hw.npu import Mapping, NpuSpec, Problem, evaluate, prepare
from ..hw.npu.fast import Candidates, Scores, Tables, score, stack, tables, to_mapping
from .npu_candidates import count_all, enumerate_all, keys, seeds
from .npu_constraints import NO_CONSTRAINTS, Constraints, read_constraints
from .npu_space import Space, build_space

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SearchOptions", "find_mapping", "NpuSearch", "search", "objective_key", "Searched"]


@dataclass(frozen=True)
class SearchOptions:
    """Effort of the search.

    ``exhaustive_limit``: spaces with at most this many candidates are enumerated whole;
    ``starts``: local searches per layer; ``steps``: moves per local search at most;
    ``kicks``: restarts after them, each from one of the best candidates so far perturbed
    by ``kick_moves`` random moves (``seed`` seeds them); ``budget``: candidates scored per
    layer at most; ``finalists``: candidates re-evaluated exactly; ``workers``: processes
    for ``map_all`` (None = one per CPU; 1 = none).
    """

    exhaustive_limit: int = 20_000
    starts: int = 16
    steps: int = 100
    kicks: int = 100
    kick_moves: int = 5
    budget: int = 400_000
    finalists: int = 12
    workers: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class Searched:
    """A search's answer with what it cost: candidates scored and exactly evaluated."""

    mapping: Mapping
    cycles: int
    energy_j: float
    scored: int
    exact: int
    exhaustive: bool


def objective_key(objective: Objective, cycles: float, energy_j: float) -> tuple[float, float]:
    """What the search minimises, then the tie-breaker."""
    if objective == "energy":
        return energy_j, cycles
    if objective == "latency":
        return cycles, energy_j
    return energy_j * cycles, energy_j


def _order(objective: Objective, s: Scores) -> "np.ndarray":
    """Indices of the valid candidates of ``s``, best first (stable)."""
    import numpy as np

    valid = np.flatnonzero(s.status == 0)
    cycles, energy = s.cycles[valid].astype(np.float64), s.energy_j[valid]
    first, second = objective_key(objective, cycles, energy)  # type: ignore[arg-type]
    return valid[np.lexsort((np.arange(len(valid)), second, first))]


class _Pool:
    """The best ``size`` distinct candidates seen so far, by the fast score."""

    def __init__(self, size: int, objective: Objective) -> None:
        self.size = size
        self.objective = objective
        self.cands: Candidates | None = None
        self.scores: Scores | None = None

    def offer(self, c: Candidates, s: Scores) -> None:
        import numpy as np

        if self.cands is not None and self.scores is not None:
            c = stack([self.cands, c])
            s = Scores(*(np.concatenate([getattr(self.scores, f), getattr(s, f)])
                         for f in ("status", "cycles", "energy_j")))
        best = _order(self.objective, s)
        seen: set[bytes] = set()
        chosen = []
        for i, k in zip(best, keys(c.take(best))):
            if k not in seen:
                seen.add(k)
                chosen.append(i)
                if len(chosen) == self.size:
                    break
        self.cands = c.take(chosen)
        self.scores = Scores(s.status[chosen], s.cycles[chosen], s.energy_j[chosen])


def _starts(c: Candidates, s: Scores, objective: Objective, count: int) -> list[int]:
    """The best seeds, at most two per fanout filling, ``count`` in all."""
    per_grid: dict[bytes, int] = {}
    out = []
    for i in _order(objective, s):
        g = c.spatial[i].tobytes()
        if per_grid.get(g, 0) < 2:
            per_grid[g] = per_grid.get(g, 0) + 1
            out.append(int(i))
            if len(out) == count:
                break
    return out


_OBJECTIVES = {"energy": 0, "latency": 1, "edp": 2}  # kernels.nest_search's codes


def _local_search(space: Space, t: Tables, starts: Candidates, objective: Objective,
                  options: SearchOptions) -> tuple[Candidates, int]:
    """The compiled iterated local search (``kernels.nest_search``) from ``starts``: its
    best distinct candidates and how many candidates it scored."""
    import numpy as np

    from ..kernels.nest_search import search as kernel_search

    nl, nd = space.fixed.shape
    temporal_ok = np.zeros(nl, np.bool_)
    temporal_ok[list(space.temporal_levels)] = True
    axis_ok = np.zeros((nl, 2, nd), np.bool_)
    for lv, axes in enumerate(space.axis_dims):
        for axis, dims in enumerate(axes):
            axis_ok[lv, axis, list(dims)] = True
    size = options.finalists
    pt = np.ones((size, nl, nd), np.int64)
    po = np.zeros((size, nl, nd), np.int64)
    ps = np.ones((size, nl, 2, nd), np.int64)
    pk = np.zeros((size, nl, starts.keep.shape[2]), np.bool_)
    pkey = np.full((size, 2), np.inf)
    scored, count = kernel_search(
        t.packed(), temporal_ok, space.fixed, space.upper, space.lower,
        np.array([len(p) for p in space.prefix], np.int64), space.keep < 0, axis_ok, space.spatial_fixed,
        starts.temporal, starts.order, starts.spatial, starts.keep, _OBJECTIVES[objective], options.steps,
        options.kicks, options.kick_moves, options.seed, options.budget, pt, po, ps, pk, pkey)
    return Candidates(pt[:count], po[:count], ps[:count], pk[:count]), int(scored)


def find_mapping(problem: Problem, spec: NpuSpec, *, objective: Objective = "edp",
                 constraints: Constraints = NO_CONSTRAINTS, options: SearchOptions = SearchOptions()) -> Searched:
    """Search the best mapping of ``problem`` on ``spec`` (see the module docstring).

    Raises:
        SpecError: the constraints name unknown levels, dimensions or data spaces.
        MappingError: no candidate fits the machine (every one overflows a buffer or a
            fanout, or leaves a data space unkept).
    """
    ctx = prepare(problem, spec)
    t = tables(ctx)
    space = build_space(problem, spec, constraints)
    pool = _Pool(options.finalists, objective)
    scored = 0
    exhaustive = count_all(space, options.exhaustive_limit) <= options.exhaustive_limit
    if exhaustive:
        for batch in enumerate_all(space):
            pool.offer(batch, score(t, batch))
            scored += len(batch)
    else:
        c = seeds(space, t)
        s = score(t, c)
        pool.offer(c, s)
        scored += len(c)
        starts = c.take(_starts(c, s, objective, options.starts))
        if len(starts):
            found, searched = _local_search(space, t, starts, objective, options)
            pool.offer(found, score(t, found))
            scored += searched
    if pool.cands is None or not len(pool.cands):
        raise MappingError(f"layer {problem.name!r} fits no mapping on {spec.name}: every candidate overflows a "
                           "buffer or leaves an operand without a level to live in", file=constraints.source)
    best: tuple[tuple[float, float], int] | None = None
    results = []
    for i in range(len(pool.cands)):
        a = evaluate(ctx, to_mapping(ctx, pool.cands, i))
        results.append(a)
        key = objective_key(objective, a.cycles, a.energy_j)
        if best is None or key < best[0]:
            best = (key, i)
    assert best is not None
    i = best[1]
    return Searched(to_mapping(ctx, pool.cands, i), results[i].cycles, results[i].energy_j, scored,
                    len(results), exhaustive)


def _search_one(args: tuple[Problem, NpuSpec, Objective, Constraints, SearchOptions]) -> Mapping:
    problem, spec, objective, constraints, options = args
    return find_mapping(problem, spec, objective=objective, constraints=constraints, options=options).mapping


def _work(problem: Problem) -> int:
    """A rough size of a layer's search, to start the longest first: its moves grow with
    the prime factors of its loop bounds."""
    count = 0
    for bound in problem.bounds:
        p = 2
        while bound > 1:
            while bound % p == 0:
                bound //= p
                count += 1
            p += 1
    return count


class NpuSearch:
    """The mapper for ``kind: npu`` hardware (``hw.npu.model.Mapper``), with a cache."""

    def __init__(self, options: SearchOptions = SearchOptions()) -> None:
        self.options = options
        self._cache: dict[tuple, Mapping] = {}
        self._constraints: dict[str, Constraints] = {}

    def _read(self, path: Path | None) -> Constraints:
        if path is None:
            return NO_CONSTRAINTS
        key = str(path)
        if key not in self._constraints:
            self._constraints[key] = read_constraints(path)
        return self._constraints[key]

    @staticmethod
    def _key(problem: Problem, spec: NpuSpec, objective: Objective, constraints: Constraints) -> tuple:
        return replace(problem, name=""), spec, objective, constraints

    def __call__(self, problem: Problem, spec: NpuSpec, *, objective: Objective,
                 constraints: Path | None = None) -> Mapping:
        return self.map_all([problem], spec, objective=objective, constraints=constraints)[0]

    def map_all(self, problems: Sequence[Problem], spec: NpuSpec, *, objective: Objective,
                constraints: Path | None = None) -> list[Mapping]:
        """The mapping of each problem; each distinct shape is searched once (and never
        again while this object lives), distinct shapes in parallel processes.

        Raises:
            SpecError, MappingError: as ``find_mapping``, for the first layer that fails.
        """
        cons = self._read(constraints)
        wanted = [self._key(p, spec, objective, cons) for p in problems]
        todo: dict[tuple, Problem] = {}
        for k, p in zip(wanted, problems):
            if k not in self._cache and k not in todo:
                todo[k] = p
        if todo:
            items = sorted(todo.items(), key=lambda kv: -_work(kv[1]))
            args = [(p, spec, objective, cons, self.options) for _, p in items]
            for (k, _), mapping in zip(items, self._run(args)):
                self._cache[k] = mapping
        return [self._cache[k] for k in wanted]

    def _run(self, args: list[tuple[Problem, NpuSpec, Objective, Constraints, SearchOptions]]) -> list[Mapping]:
        workers = self.options.workers or os.cpu_count() or 1
        workers = min(workers, len(args))
        if workers < 2 or len(args) < 4:
            return [_search_one(a) for a in args]
        import multiprocessing

        try:
            context = multiprocessing.get_context("fork")
        except ValueError:  # no fork on this platform: stay in this process
            return [_search_one(a) for a in args]
        # A token search here first loads (or compiles) the numba kernels once; the forked
        # workers inherit them instead of each loading (or compiling) them again.
        problem, spec, objective, constraints, options = args[-1]
        try:
            find_mapping(problem, spec, objective=objective, constraints=constraints,
                         options=replace(options, exhaustive_limit=0, starts=1, kicks=0, budget=1, finalists=1))
        except AccelsimError:  # the layer's own search reports it
            pass
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        try:
            return list(pool.map(_search_one, args, chunksize=1))
        finally:  # on an error, do not wait for the other layers' searches
            pool.shutdown(wait=True, cancel_futures=True)

    def clear(self) -> None:
        """Forget every cached mapping."""
        self._cache.clear()
        self._constraints.clear()


search = NpuSearch()
