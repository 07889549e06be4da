"""The npu mapping search: tiling, loop order, spatial unrolling and bypass of each layer.

For one layer on one machine (``find_mapping``):

1. the mapspace (``space``): fanout fillings that respect each array axis' wiring and
   the constraints, best utilisation first; which keep/bypass choices are free;
2. if the whole space is small (``count_all``), every candidate is scored; otherwise greedy
   seeds (``candidates.seeds``: every fanout filling x keep choice x stationarity
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

``NpuSearch`` is the mapper that ``accelsim.mapping`` builds for ``kind: npu``, one per
``estimate``: it remembers answers by layer shape (in memory, an LRU of
``SHAPE_CACHE_SIZE`` shapes; on disk, ``store``), so ResNet-50's repeated bottlenecks are
searched once and a second run searches nothing, and ``map_all`` spreads a network's
distinct uncached layers over the executor it was given.
"""

from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from ...errors import MappingError
from ...hw.cost import Objective
from ...hw.npu import Mapping, NpuSpec, Problem, evaluate, prepare
from ...hw.npu.fast import Candidates, Scores, Tables, score, stack, tables, to_mapping
from .. import MapperOptions, Progress
from .candidates import count_all, enumerate_all, keys, seeds
from .constraints import NO_CONSTRAINTS, Constraints, read_constraints
from .space import Space, build_space
from .store import Keys, decode, encode, open_store

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SearchOptions", "find_mapping", "NpuSearch", "objective_key", "Searched", "warm", "SHAPE_CACHE_SIZE"]

# Layer shapes an NpuSearch remembers in memory: a network has tens of distinct shapes (ResNet-50:
# 24 conv and GEMM shapes), so this holds several networks' worth for a mapper reused across a sweep,
# at a few kilobytes per mapping.
SHAPE_CACHE_SIZE = 512


@dataclass(frozen=True)
class SearchOptions:
    """Effort of the search.

    ``exhaustive_limit``: spaces with at most this many candidates are enumerated whole;
    ``starts``: local searches per layer; ``steps``: moves per local search at most;
    ``kicks``: restarts after them, each from one of the best candidates so far perturbed
    by ``kick_moves`` random moves (``seed`` seeds them); ``budget``: candidates scored per
    layer at most; ``finalists``: candidates re-evaluated exactly.
    """

    exhaustive_limit: int = 20_000
    starts: int = 16
    steps: int = 100
    kicks: int = 100
    kick_moves: int = 5
    budget: int = 400_000
    finalists: int = 12
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

    from ...kernels.nest_search import search as kernel_search

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


def _search_one(problem: Problem, spec: NpuSpec, objective: Objective, constraints: Constraints,
                options: SearchOptions) -> Mapping:
    """One layer's search, as an executor runs it (a module-level function: it pickles)."""
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


def warm() -> None:
    """Load (or compile, the first time) the search's numba kernels into this process, by a
    token search of a tiny layer; worker processes forked afterwards inherit them."""
    from ...hw.npu.problem import DataSpace
    from ...hw.npu.spec import ActionEnergy, ArithmeticLevel, StorageLevel
    from ...hw.technology import Technology

    e = ActionEnergy(1e-12, 1e-12, 1e-12)
    spec = NpuSpec(name="warm-up", kind="npu", frequency_hz=1e9, technology=Technology(), levels=(
        StorageLevel(name="DRAM", cls="dram", word_bits=8, energy=e),
        StorageLevel(name="Buffer", cls="sram", word_bits=8, size_words=64, mesh_x=2, energy=e)),
        arithmetic=ArithmeticLevel(mesh_x=2, energy_j=1e-13))
    problem = Problem("warm-up", ("K", "C", "R", "P"), (2, 2, 3, 4), (
        DataSpace("Weights", (((1, 0),), ((1, 1),), ((1, 2),))),
        DataSpace("Inputs", (((1, 1),), ((1, 2), (1, 3)))),
        DataSpace("Outputs", (((1, 0),), ((1, 3),)), read_write=True)))
    find_mapping(problem, spec, options=SearchOptions(exhaustive_limit=0, starts=1, steps=1, kicks=0, budget=1,
                                                      finalists=1))


class NpuSearch:
    """The mapper for ``kind: npu`` hardware (``hw.npu.model.Mapper``), built from
    ``MapperOptions``: their ``seed`` and ``budget`` replace those of ``search``, the effort
    of each layer's search. Answers are remembered by layer shape: the last ``shapes``
    shapes in memory, and on disk unless ``options.cache`` is false."""

    def __init__(self, options: MapperOptions = MapperOptions(), *, search: SearchOptions = SearchOptions(),
                 shapes: int = SHAPE_CACHE_SIZE) -> None:
        self.options = options
        self.search = replace(search, seed=options.seed,
                              budget=search.budget if options.budget is None else options.budget)
        self._shapes = shapes
        self._memory: OrderedDict[tuple, Mapping] = OrderedDict()
        self._store = open_store() if options.cache else None
        self._constraints: dict[str, Constraints] = {}

    def _read(self, path: Path | None) -> Constraints:
        if path is None:
            return NO_CONSTRAINTS
        key = str(path)
        if key not in self._constraints:
            self._constraints[key] = read_constraints(path)
        return self._constraints[key]

    def _remember(self, key: tuple, mapping: Mapping) -> None:
        self._memory[key] = mapping
        self._memory.move_to_end(key)
        while len(self._memory) > self._shapes:
            self._memory.popitem(last=False)

    def __call__(self, problem: Problem, spec: NpuSpec, *, objective: Objective,
                 constraints: Path | None = None) -> Mapping:
        return self.map_all([problem], spec, objective=objective, constraints=constraints)[0]

    def map_all(self, problems: Sequence[Problem], spec: NpuSpec, *, objective: Objective,
                constraints: Path | None = None, progress: Progress | None = None) -> list[Mapping]:
        """The mapping of each problem. Each distinct shape is looked up in memory, then on
        disk, and otherwise searched (longest first: on the executor, or here), its answer
        remembered in both.

        Raises:
            SpecError, MappingError: as ``find_mapping``, for the first layer (in search
                order) whose search fails; with an executor, the same one as without.
        """
        cons = self._read(constraints)
        wanted = [(replace(p, name=""), spec, objective, cons) for p in problems]
        found: dict[tuple, Mapping] = {}
        todo: dict[tuple, Problem] = {}
        disk = Keys(spec, objective, cons, self.search) if self._store is not None else None
        for k, p in zip(wanted, problems):
            if k in found or k in todo:
                continue
            if k in self._memory:
                found[k] = self._memory[k]
                self._memory.move_to_end(k)
                continue
            if self._store is not None and disk is not None:
                hit = self._store.get(disk(p))
                if hit is not None:
                    try:
                        found[k] = decode(hit)
                    except ValueError:  # a damaged entry: searched and rewritten
                        pass
                    else:
                        self._remember(k, found[k])
                        continue
            todo[k] = p
        total = len(problems)

        def report() -> None:
            if progress is not None:
                progress(sum(1 for k in wanted if k in found), total)

        if found:
            report()
        items = sorted(todo.items(), key=lambda kv: -_work(kv[1]))
        args = [(p, spec, objective, cons, self.search) for _, p in items]
        for i, mapping in self._run(args):
            k, p = items[i]
            found[k] = mapping
            self._remember(k, mapping)
            if self._store is not None and disk is not None:
                self._store.put(disk(p), encode(mapping))
            report()
        return [found[k] for k in wanted]

    def _run(self, args: list[tuple[Problem, NpuSpec, Objective, Constraints, SearchOptions]]
             ) -> Iterator[tuple[int, Mapping]]:
        """(index, mapping) of each search as it finishes. Without an executor they run here
        in order, and the first failure stops them; with one, a failure cancels the searches
        after it, waits for those before it, and the first failure in order is raised."""
        executor = self.options.executor
        if executor is None or len(args) < 2:
            for i, a in enumerate(args):
                yield i, _search_one(*a)
            return
        futures = [executor.submit(_search_one, *a) for a in args]
        index = {f: i for i, f in enumerate(futures)}
        pending: set[Future] = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                failed = sorted(index[f] for f in done if f.exception() is not None)
                if failed:
                    first = failed[0]
                    for f in futures[first + 1:]:
                        f.cancel()
                    earlier = [f for f in futures[:first] if f in pending]
                    wait(earlier)
                    for f in futures[:first + 1]:
                        if f.exception() is not None:
                            raise f.exception()  # type: ignore[misc]
                for f in sorted(done, key=index.__getitem__):
                    yield index[f], f.result()
        finally:  # on an error or an interrupt, do not wait for the other layers' searches
            for f in pending:
                f.cancel()

    def clear(self) -> None:
        """Forget every mapping remembered in memory (the disk cache stays)."""
        self._memory.clear()
        self._constraints.clear()
