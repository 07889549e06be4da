"""The closed-form sweep of ``npu.analysis`` against Timeloop's own algorithm, run literally.

``Recursion`` below transcribes Timeloop's ``NestAnalysis::ComputeDeltas``,
``ComputeTemporalWorkingSet``, ``FillSpatialDeltas``, ``ComputeAccurateMulticastedAccesses``
and ``ComputeNetworkLinkTransfers`` (loop-analysis/nest-analysis.cpp) with explicit box
sets: it walks the nest recursively (iterations 0 and 1 of every temporal loop, the first
child of every fanout), keeps each loop's last point set and stride, subtracts boxes and
compares children's deltas box by box. ``analysis`` instead sums per-position deltas in
closed form and groups children by translation. Both must give the same accesses, multicast
factors and link transfers at every storage level, on random mappings with spatial fanouts,
bypasses and both Timeloop stride rules.
"""

from __future__ import annotations

import math
import random

import pytest

from accelsim.hw.npu.analysis import _build_nest, _level_accesses, prepare
from accelsim.hw.npu.mapping import LevelMapping, Loop, Mapping
from accelsim.hw.npu.problem import DataSpace, Problem
from accelsim.hw.npu.spec import ArithmeticLevel, NpuSpec, StorageLevel
from accelsim.hw.npu.visits import multi_subtract
from accelsim.hw.technology import Technology


def _centroid(boxes: list) -> tuple[float, ...]:
    total = sum(math.prod(h - l for l, h in zip(lo, hi)) for lo, hi in boxes)
    return tuple(sum((lo[r] + (hi[r] - 1 - lo[r]) / 2) * math.prod(h - l for l, h in zip(lo, hi))
                     for lo, hi in boxes) / total for r in range(len(boxes[0][0])))


def _subtract(a: list, b: list) -> list:
    for box_b in b:
        a = [piece for box_a in a for piece in multi_subtract(box_a, box_b)]
    return a


def _size(boxes: list) -> int:
    return sum(math.prod(h - l for l, h in zip(lo, hi)) for lo, hi in boxes)


def _shift(boxes: list, move: tuple) -> list:
    return [(tuple(l + m for l, m in zip(lo, move)), tuple(h + m for h, m in zip(hi, move))) for lo, hi in boxes]


class Recursion:
    """Timeloop's recursive nest analysis on one nest (see the module docstring)."""

    def __init__(self, problem: Problem, nest, grid: dict[int, tuple[int, int]], legacy: bool) -> None:
        self.p, self.n, self.legacy = problem, nest, legacy
        self.grid = grid  # master loop -> (h_size, v_size)
        self.transform = [0] * len(problem.dims)
        self.epochs = 1
        loops = len(nest.dim)
        self.last = [[None] * len(problem.dataspaces) for _ in range(loops)]
        self.stride = [[None] * len(problem.dataspaces) for _ in range(loops)]
        self.prev_spatial: dict[int, dict[int, list]] = {}
        self.accesses = [[{} for _ in problem.dataspaces] for _ in range(loops)]
        self.links = [[0] * len(problem.dataspaces) for _ in range(loops)]
        self.boundary = set(nest.boundary)

    def working_set(self, loop: int) -> list[list]:
        span = self.n.span[loop]
        out = []
        for ds in self.p.dataspaces:
            lo = tuple(sum(c * self.transform[d] for c, d in rank) for rank in ds.ranks)
            hi = tuple(l + sum(c * (span[d] - 1) for c, d in rank) + 1 for l, rank in zip(lo, ds.ranks))
            out.append([(lo, hi)])
        return out

    def deltas(self, loop: int) -> list[list]:
        if self.n.axis[loop]:
            self.spatial(loop)
        else:
            self.temporal(loop)
        current = self.working_set(loop)
        out = []
        for i, boxes in enumerate(current):
            prev = self.last[loop][i]
            move = None if not prev else tuple(round(b - a) for a, b in zip(_centroid(prev), _centroid(boxes)))
            last = self.stride[loop][i]
            if self.legacy:
                subtract = last is None or move == last
                self.stride[loop][i] = move if subtract else None
            elif move is None or not any(move):
                subtract = True
            elif last is None or last == move:
                subtract, self.stride[loop][i] = True, move
            else:
                subtract, self.stride[loop][i] = False, None
            out.append(_subtract(boxes, prev) if subtract and prev else boxes)
            self.last[loop][i] = boxes
        return out

    def temporal(self, loop: int) -> None:
        n, d, step = self.n.bound[loop], self.n.dim[loop], self.n.stride[loop]
        if loop == 0:
            for i in range(len(self.p.dataspaces)):
                self.accesses[0][i][1] = self.accesses[0][i].get(1, 0) + n * self.epochs
            return
        saved = self.transform[d]
        runs = []
        runs.append((self.deltas(loop - 1), 1))
        self.transform[d] += step
        if n >= 2:
            self.epochs *= n - 1
            runs.append((self.deltas(loop - 1), n - 1))
            self.epochs //= n - 1
        self.transform[d] = saved
        if loop - 1 in self.boundary:
            for i in range(len(self.p.dataspaces)):
                words = sum(_size(delta[i]) * scale for delta, scale in runs) * self.epochs
                self.accesses[loop][i][1] = self.accesses[loop][i].get(1, 0) + words

    def translation(self, loop: int) -> list[tuple]:
        d = self.n.dim[loop]
        first = self.working_set(loop)
        self.transform[d] += self.n.stride[loop]
        second = self.working_set(loop)
        self.transform[d] -= self.n.stride[loop]
        return [tuple(round(b - a) for a, b in zip(_centroid(x), _centroid(y))) for x, y in zip(first, second)]

    def fill(self, loop: int, base: int, xstride: int, xlevel: int, out: dict[int, list]) -> None:
        n, d, step = self.n.bound[loop], self.n.dim[loop], self.n.stride[loop]
        base *= n
        saved = self.transform[d]
        if loop == 0:  # children are MACs: each gets one operation point
            for i in range(n):
                out[base + i] = [[(lo, tuple(x + 1 for x in lo))] for lo in self.point()]
                self.transform[d] += step
        elif self.n.axis[loop - 1]:
            for i in range(n):
                self.fill(loop - 1, base + i, 1 if i >= 1 else xstride * n, loop if i >= 1 else xlevel, out)
                self.transform[d] += step
        else:
            start = 0
            if xstride == 0:
                out[base] = self.deltas(loop - 1)
                self.transform[d] += step
                xstride, xlevel, start = 1, loop, 1
            else:
                xstride *= n
            moves = self.translation(xlevel) if start < n else []
            for i in range(start, n):
                out[base + i] = [_shift(boxes, m) for boxes, m in zip(out[base + i - xstride], moves)]
        self.transform[d] = saved

    def point(self) -> list[tuple[int, ...]]:
        return [tuple(sum(c * self.transform[d] for c, d in rank) for rank in ds.ranks) for ds in self.p.dataspaces]

    def spatial(self, loop: int) -> None:
        out: dict[int, list] = {}
        self.fill(loop, 0, 0, loop, out)
        prev = self.prev_spatial.get(loop)
        h, v = self.grid[loop]
        for i, ds in enumerate(self.p.dataspaces):
            same = lambda a, b: sorted(a) == sorted(b)  # noqa: E731
            linked: set[int] = set()
            if prev is not None:
                for e, delta in out.items():
                    if not delta[i]:
                        continue
                    col, row = e % h, e // h
                    for c, r in ((col, row - 1), (col, row + 1), (col - 1, row), (col + 1, row)):
                        n = r * h + c
                        if 0 <= c < h and 0 <= r < v and n in prev and same(delta[i], prev[n][i]):
                            linked.add(e)
            without = self._groups(out, i, set())
            with_links = self._groups(out, i, linked)
            size = _size(out[0][i])
            use = with_links if linked and sum(with_links.values()) < sum(without.values()) else without
            for m, count in use.items():
                self.accesses[loop][i][m] = self.accesses[loop][i].get(m, 0) + count * size * self.epochs
            if use is with_links and linked:
                self.links[loop][i] += len(linked) * size * self.epochs
        self.prev_spatial[loop] = out

    def _groups(self, out: dict[int, list], i: int, skip: set[int]) -> dict[int, int]:
        groups: list[tuple[list, int]] = []
        for e in sorted(out):
            if e in skip or not out[e][i]:
                continue
            for k, (boxes, count) in enumerate(groups):
                if sorted(boxes) == sorted(out[e][i]):
                    groups[k] = (boxes, count + 1)
                    break
            else:
                groups.append((out[e][i], 1))
        hist: dict[int, int] = {}
        for _, count in groups:
            hist[count] = hist.get(count, 0) + 1
        return hist


PROBLEM = Problem(
    name="conv1d_oc_ic", dims=("R", "P", "C", "K"), bounds=(3, 8, 4, 4),
    dataspaces=(DataSpace("Weights", (((1, 2),), ((1, 3),), ((1, 0),))),
                DataSpace("Inputs", (((1, 2),), ((1, 0), (1, 1)))),
                DataSpace("Outputs", (((1, 3),), ((1, 1),)), read_write=True)),
)


def _spec(meshes: list[tuple[int, int]]) -> NpuSpec:
    levels = tuple(StorageLevel(name=f"L{i}", cls="sram", word_bits=8, size_words=None, mesh_x=x, mesh_y=y)
                   for i, (x, y) in enumerate(meshes[:-1]))
    x, y = meshes[-1]
    return NpuSpec(name="t", kind="npu", frequency_hz=1e9, technology=Technology(), levels=levels,
                   arithmetic=ArithmeticLevel(mesh_x=x, mesh_y=y))


def _random_case(rng: random.Random) -> tuple[NpuSpec, Mapping]:
    """Three storage levels; fanouts of 1-4 on X and Y below some of them."""
    meshes = [(1, 1)]
    for _ in range(3):
        fx, fy = rng.choice([(1, 1), (1, 1), (2, 1), (4, 1), (2, 2), (1, 3)])
        meshes.append((meshes[-1][0] * fx, meshes[-1][1] * fy))
    spec = _spec(meshes)
    levels: list[LevelMapping] = []
    remaining = dict(zip(PROBLEM.dims, PROBLEM.bounds))
    for i in range(len(spec.levels) - 1, -1, -1):  # innermost first: it takes what is left
        fx, fy = spec.fanout(i)
        spatial = []
        for axis, room in (("X", fx), ("Y", fy)):
            for dim in rng.sample(PROBLEM.dims, len(PROBLEM.dims)):
                f = max(d for d in range(1, room + 1) if remaining[dim] % d == 0 and room % d == 0)
                f = rng.choice([1, f])
                if f > 1:
                    spatial.append(Loop(dim, f, axis))  # type: ignore[arg-type]
                    remaining[dim] //= f
                    room //= f
        temporal = []
        for dim in rng.sample(PROBLEM.dims, len(PROBLEM.dims)):
            divisors = [d for d in range(1, remaining[dim] + 1) if remaining[dim] % d == 0]
            f = remaining[dim] if i == 0 else rng.choice(divisors)
            if f > 1:
                temporal.append(Loop(dim, f))
                remaining[dim] //= f
        keep = tuple(ds.name for ds in PROBLEM.dataspaces if i == 0 or rng.random() < 0.7)
        levels.insert(0, LevelMapping(f"L{i}", tuple(temporal), tuple(spatial[::-1]), keep))
    return spec, Mapping(tuple(levels))


@pytest.mark.parametrize("legacy", [False, True], ids=["current", "legacy"])
@pytest.mark.parametrize("seed", range(40))
def test_sweep_equals_timeloop_recursion(seed: int, legacy: bool) -> None:
    spec, mapping = _random_case(random.Random(seed))
    ctx = prepare(PROBLEM, spec, legacy=legacy)
    nest = _build_nest(ctx, mapping)
    by_inner = list(reversed(mapping.levels))
    grid = {}
    for level in range(len(spec.levels)):
        loops = nest.fanout_loops(level)
        if loops:
            fx, fy = ctx.fanouts[level]
            x = math.prod(nest.bound[l] for l in loops if nest.axis[l] == "X")
            y = math.prod(nest.bound[l] for l in loops if nest.axis[l] == "Y")
            grid[loops[0]] = (max(fx, x), max(fy, y))
    sim = Recursion(PROBLEM, nest, grid, legacy)
    sim.deltas(len(nest.dim) - 1)
    for level in range(len(spec.levels)):
        loops = nest.fanout_loops(level)
        loop = loops[0] if loops else nest.first(level)
        for i, ds in enumerate(PROBLEM.dataspaces):
            accesses, link, _ = _level_accesses(ctx, nest, by_inner, level, i)
            expected = {m: a for m, a in sim.accesses[loop][i].items() if a}
            assert {m: a for m, a in accesses.items() if a} == expected, (level, ds.name)
            assert link == sim.links[loop][i], (level, ds.name)
