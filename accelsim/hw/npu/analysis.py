"""Timeloop's model of one mapping on an ``npu``: accesses, capacity, cycles and energy.

The figures are the ones ``timeloop-model`` prints (``timeloop-model.stats.txt``), computed
the way it computes them (``NestAnalysis``, ``tiling::CollapseTiles``, ``BufferLevel``):

* **tiles**: a level's tile of a data space is the box its loops and all inner loops
  sweep; its size is what the level must hold.
* **accesses to a level** (per instance) are the words its child fetches from it, summed
  over the positions Timeloop simulates (see ``visits.py``), split over the children of a
  spatial fanout by multicast and link transfers (see ``spatial.py``). The innermost level
  serves every MAC of its instance once per operand.
* **bypass**: a data space that skips a level is served by the next level out, which
  then sees the accesses the skipped level would have (scaled by its fanout).
* **reads, fills, updates**: read-only data: reads = accesses from below, fills = what the
  level fetches from above. Partial sums: updates = accesses from below; the first update
  of each output writes without reading, so reads = updates - partition size, and fills =
  what comes from above minus the partition size (none at the outermost level).
* **cycles** = the MAC array's cycles (temporal iterations), stretched at each level whose
  read, write or shared bandwidth (words/cycle/instance) cannot keep up.
* **energy** = per level and data space, ``ceil(accesses / block size)`` vector accesses of
  each kind times its energy, times the instances in use, plus leakage per instance-cycle;
  plus MACs times the MAC energy.

Usage for a search: ``ctx = prepare(problem, spec)`` once per layer and machine, then
``evaluate(ctx, mapping)`` per candidate (about 0.3 ms for a 3-level nest and 1.2 ms for
an Eyeriss-like 7-level one with two fanouts, in CPython; fanout groupings are cached in
the context across calls).
``check(ctx, mapping)`` answers the cheap question first: does it fit?
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from ...errors import MappingError
from .mapping import LevelMapping, Loop, Mapping
from .problem import DataSpace, Problem
from .spatial import Sharing
from .spec import NpuSpec
from .visits import Box, Vec, delta_step, multi_subtract, sweep, temporal_delta_sum

__all__ = ["Context", "DataSpaceStats", "LevelStats", "Analysis", "prepare", "evaluate", "check",
           "tile_sizes"]


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class DataSpaceStats:
    """One data space at one level, per instance (Timeloop's ``Scalar ... (per-instance)``)."""

    kept: bool
    tile_words: int
    partition_words: int
    reads: int
    fills: int
    updates: int
    temporal_reductions: int
    link_transfers: float
    instances: int
    energy_j: float  # all instances

    @property
    def accesses(self) -> int:
        return self.reads + self.fills + self.updates


@dataclass(frozen=True)
class LevelStats:
    """A storage level: per data space (in problem order), cycles and energy."""

    name: str
    dataspaces: tuple[DataSpaceStats, ...]
    utilized_words: int
    instances: int
    cycles: int
    leak_energy_j: float
    network_energy_j: float
    energy_j: float  # accesses + leakage + network, all instances


@dataclass(frozen=True)
class Analysis:
    """The whole mapping: levels outermost first, as in the spec."""

    levels: tuple[LevelStats, ...]
    macs: int
    mac_instances: int
    compute_cycles: int
    cycles: int
    mac_energy_j: float
    energy_j: float
    bound: str

    @property
    def utilization(self) -> float:
        """MACs done over MACs the array could do in ``cycles``."""
        return self.macs / (self.cycles * self.mac_instances) if self.cycles else 0.0


# ------------------------------------------------------------------------------ context


@dataclass(frozen=True)
class Context:
    """What does not depend on the mapping: the problem, the machine and derived tables."""

    problem: Problem
    spec: NpuSpec
    legacy: bool = False
    level_names: tuple[str, ...] = field(default=())  # innermost first
    fanouts: tuple[tuple[int, int], ...] = field(default=())  # innermost first
    # Fanout groupings already built, reused by later evaluations (a search revisits them).
    sharings: dict[tuple, Sharing] = field(default_factory=dict, compare=False, repr=False)


def prepare(problem: Problem, spec: NpuSpec, *, legacy: bool = False) -> Context:
    """Precompute the per-layer, per-machine tables that every ``evaluate`` reuses.

    ``legacy`` reproduces Timeloop releases before January 2025 (see ``visits.delta_step``),
    which made the published example outputs; the default follows the current Timeloop.
    """
    n = len(spec.levels)
    return Context(problem=problem, spec=spec, legacy=legacy,
                   level_names=tuple(spec.levels[n - 1 - i].name for i in range(n)),
                   fanouts=tuple(spec.fanout(n - 1 - i) for i in range(n)))


# ------------------------------------------------------------------------------ the nest


@dataclass
class _Nest:
    """Timeloop's flat loop nest, innermost loop first (``loop::Nest``)."""

    dim: list[int]
    bound: list[int]
    axis: list[str]
    level: list[int]  # storage level, innermost = 0
    boundary: list[int]  # per storage level: its outermost loop
    span: list[tuple[int, ...]]  # per loop: extent of each dimension swept by it and below
    stride: list[int]  # per loop: index step of its dimension in operation space

    def first(self, level: int) -> int:
        return self.boundary[level - 1] + 1 if level else 0

    def fanout_loops(self, level: int) -> list[int]:
        """The spatial loops of ``level`` (its fanout), outermost first; Timeloop numbers
        the children in this order and records the level's accesses at the outermost."""
        loops = []
        loop = self.first(level)
        while loop < len(self.dim) and self.axis[loop] and self.level[loop] == level:
            loops.append(loop)
            loop += 1
        return loops[::-1]


def _build_nest(ctx: Context, mapping: Mapping) -> _Nest:
    problem, spec = ctx.problem, ctx.spec
    if len(mapping.levels) != len(spec.levels):
        raise MappingError(f"the mapping has {len(mapping.levels)} levels but {spec.name} has "
                           f"{len(spec.levels)}: {', '.join(l.name for l in spec.levels)}")
    for lm, level in zip(mapping.levels, spec.levels):
        if lm.level != level.name:
            raise MappingError(f"the mapping's levels must follow {spec.name}'s, outermost first: "
                               f"{lm.level!r} where {level.name!r} is")
    nest = _Nest([], [], [], [], [], [], [])
    sizes = [1] * len(problem.dims)
    for inner_index in range(len(spec.levels)):
        lm = mapping.levels[len(spec.levels) - 1 - inner_index]
        loops: list[Loop] = [l for l in reversed(lm.spatial) if l.bound > 1]
        temporal = [l for l in reversed(lm.temporal) if l.bound > 1]
        if not temporal:  # Timeloop keeps one placeholder loop per temporal level
            temporal = [Loop(problem.dims[-1], 1)]
        for loop in loops + temporal:
            d = problem.dim_index(loop.dim)
            nest.dim.append(d)
            nest.bound.append(loop.bound)
            nest.axis.append(loop.axis)
            nest.level.append(inner_index)
            nest.stride.append(sizes[d])
            sizes[d] *= loop.bound
            nest.span.append(tuple(sizes))
        nest.boundary.append(len(nest.dim) - 1)
    for d, (have, want) in enumerate(zip(sizes, problem.bounds)):
        if have != want:
            raise MappingError(f"the factors of {problem.dims[d]} multiply to {have} across the "
                               f"levels, but the layer's {problem.dims[d]} is {want}")
    return nest


def _project(ds: DataSpace, vec: Sequence[int]) -> Vec:
    return tuple(sum(c * vec[d] for c, d in rank) for rank in ds.ranks)


def _extent(ds: DataSpace, span: Sequence[int]) -> Vec:
    return tuple(sum(c * (span[d] - 1) for c, d in rank) + 1 for rank in ds.ranks)


def _digits(nest: _Nest, below: int) -> tuple[list[int], list[list[int]]]:
    """Weights (n - 1) and carry moves in operation space of the temporal loops above loop
    ``below``, innermost first."""
    ndim = len(nest.span[0])
    weights: list[int] = []
    moves: list[list[int]] = []
    back = [0] * ndim  # sum of the steps of the digits passed so far
    for loop in range(below + 1, len(nest.dim)):
        if nest.axis[loop] or nest.bound[loop] < 2:
            continue
        step = [0] * ndim
        step[nest.dim[loop]] = nest.stride[loop]
        moves.append([s - b for s, b in zip(step, back)])
        back[nest.dim[loop]] += nest.stride[loop]
        weights.append(nest.bound[loop] - 1)
    return weights, moves


def _kept_tiles(ctx: Context, nest: _Nest, level: int, keep: tuple[str, ...]) -> dict[str, int]:
    span = nest.span[nest.boundary[level]]
    return {ds.name: math.prod(_extent(ds, span)) for ds in ctx.problem.dataspaces if ds.name in keep}


def tile_sizes(ctx: Context, mapping: Mapping) -> dict[str, dict[str, int]]:
    """{level: {data space: words}} of the tiles each level holds (kept data spaces only)."""
    nest = _build_nest(ctx, mapping)
    return {name: _kept_tiles(ctx, nest, i, mapping.level(name).keep) for i, name in enumerate(ctx.level_names)}


# ------------------------------------------------------------------------------ accesses


@dataclass
class _Tile:
    """One data space at one storage level while it is being collapsed (Timeloop's
    ``DataMovementInfo``)."""

    size: int
    accesses: dict[int, float] | None  # multicast factor -> accesses from below; None: not
    # computed, because the level below is bypassed and masking will replace them
    fanout: int
    link: float
    replication: int
    master_size: int | None  # tile of the fanout, if the level's innermost loop is spatial
    partition: int = 0
    share: float = 0.0  # parent accesses attributed to one instance (its fills)
    peer_accesses: float = 0.0
    peer_fills: float = 0.0

    @property
    def content(self) -> float:
        return sum(self.accesses.values()) if self.accesses else 0.0

    @property
    def weighted(self) -> float:
        return sum(a * m for m, a in self.accesses.items()) if self.accesses else 0.0


def _descriptor_boxes(kind: str, move: Vec | None, extent: Vec) -> list[Box]:
    zero = tuple(0 for _ in extent)
    if kind == "none":
        return []
    if kind == "sub" and move is not None:
        return multi_subtract((zero, extent), (tuple(-m for m in move), tuple(e - m for e, m in zip(extent, move))))
    return [(zero, extent)]


def _spatial_accesses(sharing: Sharing, extent: Vec, weights: Sequence[int], moves: Sequence[Vec],
                      *, points: bool, reuse: bool, legacy: bool) -> tuple[dict[int, float], float]:
    """({multicast: accesses}, link words) at a fanout over the simulated positions.

    ``points``: the fanout feeds MACs, whose "tile" is one operand point (no deltas)."""
    full = math.prod(extent)
    # state: (last non-zero move, previous position's delta as (kind, move) when links matter)
    State = tuple[Vec | None, tuple[str, Vec | None] | None]

    def visit(state: State, move: Vec | None) -> tuple[tuple[dict[int, float], float], State]:
        last, prev = state
        if points:
            size, kind, cur_move = 1, "full", None
        else:
            size, last, kind = delta_step(full, extent, last, move, reuse, legacy)
            cur_move = move if kind == "sub" else None
        cur = _descriptor_boxes(kind, cur_move, extent)
        prev_boxes = None if prev is None else _descriptor_boxes(prev[0], prev[1], extent)
        groups, link = sharing.reads(size, cur, prev_boxes, move if move is not None else tuple(0 for _ in extent))
        track = (kind, cur_move) if sharing.links else None
        return ({m: float(a) for m, a in groups.items()}, float(link)), (last, track)

    def add(x: tuple[dict[int, float], float], y: tuple[dict[int, float], float], w: int):
        out = dict(x[0])
        for m, a in y[0].items():
            out[m] = out.get(m, 0.0) + w * a
        return out, x[1] + w * y[1]

    groups, link = sweep(weights, moves, (None, None), visit, add)
    return groups, link


def _level_accesses(ctx: Context, nest: _Nest, mapping_by_inner: list[LevelMapping], level: int,
                    ds_index: int) -> tuple[dict[int, float], float, int]:
    """Accesses to ``level`` (per instance) from below, with the level's fanout."""
    ds = ctx.problem.dataspaces[ds_index]
    group = nest.fanout_loops(level)
    if not group and level == 0:  # every MAC iteration reads each operand once
        return {1: float(math.prod(b for b, a in zip(nest.bound, nest.axis) if not a))}, 0.0, 1
    child = nest.first(level) - 1  # outermost loop of the level below (-1: the MACs)
    weights, op_moves = _digits(nest, child)
    moves = [_project(ds, m) for m in op_moves]
    reuse = level == 0 or ds.name not in mapping_by_inner[level - 1].no_temporal_reuse
    if not group:
        extent = _extent(ds, nest.span[child])
        return {1: float(temporal_delta_sum(extent, weights, moves, reuse, ctx.legacy))}, 0.0, 1
    steps = []
    for loop in group:
        vec = [0] * len(ctx.problem.dims)
        vec[nest.dim[loop]] = nest.stride[loop]
        steps.append(_project(ds, vec))
    lm = mapping_by_inner[level]
    spec_level = ctx.spec.levels[len(ctx.spec.levels) - 1 - level]
    logical_x = math.prod(nest.bound[l] for l in group if nest.axis[l] == "X")
    logical_y = math.prod(nest.bound[l] for l in group if nest.axis[l] == "Y")
    phys_x, phys_y = ctx.fanouts[level]
    multicast = spec_level.multicast and ds.name not in lm.no_multicast
    if ds.read_write and not spec_level.spatial_reduction:
        multicast = False
    bounds = tuple(nest.bound[l] for l in group)
    grid = (max(phys_x, logical_x), max(phys_y, logical_y))
    links = ds.name not in lm.no_link_transfer
    key = (bounds, tuple(steps), grid, multicast, links)
    sharing = ctx.sharings.get(key)
    if sharing is None:
        sharing = ctx.sharings[key] = Sharing(bounds, steps, grid, multicast=multicast, links=links)
    fanout = math.prod(nest.bound[l] for l in group)
    extent = _extent(ds, nest.span[child]) if child >= 0 else tuple(1 for _ in ds.ranks)
    groups, link = _spatial_accesses(sharing, extent, weights, moves, points=child < 0, reuse=reuse,
                                     legacy=ctx.legacy)
    return groups, link, fanout


def _round(x: float) -> int:
    """C++ ``std::round`` (half away from zero) of a non-negative count."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def _collapse(tiles: list[_Tile], keep: list[bool], read_write: bool,
              rmw_first_update: list[bool]) -> list[tuple[int, int, int, int]]:
    """Timeloop's ``CollapseDataMovementNest`` after the per-level tiles are known:
    partition sizes, parent shares, bypass masking, link-transfer peers, then
    (reads, fills, updates, temporal reductions) per level, innermost first."""
    n = len(tiles)
    # Partition sizes: what one instance holds over the whole run.
    partition = tiles[-1].size
    tiles[-1].partition = partition
    for i in range(n - 2, -1, -1):
        outer = tiles[i + 1]
        denominator = outer.master_size if outer.master_size is not None else tiles[i].size
        if denominator:
            partition = partition * tiles[i].size // denominator
        tiles[i].partition = partition
    # Parent access share: the parent's accesses that fill one instance.
    for i in range(n - 1):
        outer = tiles[i + 1]
        tiles[i].share = sum(a * m / outer.fanout for m, a in (outer.accesses or {}).items())
    # Bypass: the next kept level out serves what the skipped one served.
    for cur in range(n):
        if tiles[cur].size == 0 or keep[cur]:
            continue
        outer = next((o for o in range(cur + 1, n) if tiles[o].size), None)
        if outer is None:
            t = tiles[cur]
            t.size, t.partition, t.accesses, t.share = 0, 0, {}, 0.0
            break
        if tiles[outer].accesses is None:  # one multicast factor (1): only the total matters
            tiles[outer].accesses = {1: tiles[cur].content * tiles[outer].fanout}
        else:
            weighted = tiles[outer].weighted
            factor = tiles[cur].content * tiles[outer].fanout / weighted if weighted else 0.0
            tiles[outer].accesses = {m: a * factor for m, a in tiles[outer].accesses.items() if a}
        tiles[outer].link = 0.0
        t = tiles[cur]
        t.size, t.partition, t.accesses, t.share = 0, 0, {}, 0.0
    for cur in range(n - 1, -1, -1):
        if not keep[cur]:
            tiles[cur] = _Tile(0, {}, tiles[cur].fanout, 0.0, tiles[cur].replication, None)
        else:
            tiles[cur].share = 0.0
            break
    # Link transfers at a level become reads and fills of its children.
    for cur in range(n - 1, 0, -1):
        if tiles[cur].link:
            per_child = tiles[cur].link / tiles[cur - 1].replication
            tiles[cur - 1].peer_accesses += per_child
            tiles[cur - 1].peer_fills += per_child
    out = []
    for cur, t in enumerate(tiles):
        if t.size == 0:
            out.append((0, 0, 0, 0))
            continue
        content = t.content + t.peer_accesses
        if read_write:
            updates = _round(t.content)
            if rmw_first_update[cur]:
                reads = _round(content)
                fills = _round(t.share + t.peer_fills)
            else:
                reads = _round(content - t.partition)
                outermost = not any(tiles[o].size for o in range(cur + 1, n))
                fills = _round(t.share + t.peer_fills - (0 if outermost else t.partition))
            out.append((reads, fills, updates, reads))
        else:
            out.append((_round(content), int(t.share + t.peer_fills), 0, 0))
    return out


# ------------------------------------------------------------------------------ checks


def _check_fit(ctx: Context, nest: _Nest, mapping_by_inner: list[LevelMapping]) -> None:
    """Spatial factors against the fanouts, tiles against capacities.

    Raises:
        MappingError: naming the level and what does not fit.
    """
    for i, name in enumerate(ctx.level_names):
        loops = [l for l in range(len(nest.dim)) if nest.level[l] == i and nest.axis[l]]
        fx, fy = ctx.fanouts[i]
        x = math.prod(nest.bound[l] for l in loops if nest.axis[l] == "X")
        y = math.prod(nest.bound[l] for l in loops if nest.axis[l] == "Y")
        if x > fx or y > fy:
            raise MappingError(f"level {name!r}: the spatial loops need a {x}x{y} fanout but the "
                               f"hardware has {fx}x{fy} children per instance", field=name)
        level = ctx.spec.levels[len(ctx.spec.levels) - 1 - i]
        capacity = level.effective_words
        if capacity is None:
            continue
        words = _kept_tiles(ctx, nest, i, mapping_by_inner[i].keep)
        if sum(words.values()) > capacity:
            parts = ", ".join(f"{k} {v}" for k, v in words.items())
            raise MappingError(f"level {name!r}: the tiles ({parts}: {sum(words.values())} words) "
                               f"overflow its capacity of {capacity} words", field=name)


def check(ctx: Context, mapping: Mapping) -> None:
    """Cheap validity test: factors cover the layer, spatial loops fit the fanouts, tiles
    fit the capacities, no data space is bypassed everywhere.

    Raises:
        MappingError: the first problem found (``field`` names the level, if one is at fault).
    """
    _validated(ctx, mapping)


def _validated(ctx: Context, mapping: Mapping) -> tuple[_Nest, list[LevelMapping]]:
    nest = _build_nest(ctx, mapping)
    by_inner = list(reversed(mapping.levels))
    for ds in ctx.problem.dataspaces:
        if not any(ds.name in lm.keep for lm in mapping.levels):
            raise MappingError(f"data space {ds.name!r} bypasses every level; keep it somewhere")
    _check_fit(ctx, nest, by_inner)
    return nest, by_inner


# ------------------------------------------------------------------------------ evaluate


def _vector(words: int, block: int) -> int:
    return -(-words // block)


def evaluate(ctx: Context, mapping: Mapping) -> Analysis:
    """Timeloop's statistics of ``mapping`` (see the module docstring).

    Raises:
        MappingError: the mapping does not cover the layer or does not fit the machine.
    """
    problem, spec = ctx.problem, ctx.spec
    nest, by_inner = _validated(ctx, mapping)
    n = len(spec.levels)
    spatial_above = []  # per level: (replication, x expansion, y expansion)
    for i in range(n):
        above = range(nest.boundary[i] + 1, len(nest.dim))
        spatial_above.append((
            math.prod(nest.bound[l] for l in above if nest.axis[l]),
            math.prod(nest.bound[l] for l in above if nest.axis[l] == "X"),
            math.prod(nest.bound[l] for l in above if nest.axis[l] == "Y"),
        ))
    compute_cycles = math.prod(b for b, a in zip(nest.bound, nest.axis) if not a)
    macs = math.prod(nest.bound)

    per_ds: list[list[tuple[int, int, int, int]]] = []
    tiles_by_ds: list[list[_Tile]] = []
    for p, ds in enumerate(problem.dataspaces):
        tiles = []
        keep = [ds.name in by_inner[i].keep for i in range(n)]
        for i in range(n):
            group = nest.fanout_loops(i)
            if i and not group and not keep[i - 1]:
                accesses, link, fanout = None, 0.0, 1
            else:
                accesses, link, fanout = _level_accesses(ctx, nest, by_inner, i, p)
            master = _extent(ds, nest.span[group[0]]) if group else None
            tiles.append(_Tile(
                size=math.prod(_extent(ds, nest.span[nest.boundary[i]])), accesses=accesses,
                fanout=fanout, link=link, replication=spatial_above[i][0],
                master_size=math.prod(master) if master is not None else None))
        rmw = [ds.name in by_inner[i].rmw_first_update for i in range(n)]
        per_ds.append(_collapse(tiles, keep, ds.read_write, rmw))
        tiles_by_ds.append(tiles)

    # Per level: bandwidth-limited cycles.
    level_cycles = []
    for i in range(n):
        level = spec.levels[n - 1 - i]
        reads = sum(per_ds[p][i][0] for p in range(len(problem.dataspaces)))
        writes = sum(per_ds[p][i][1] + per_ds[p][i][2] for p in range(len(problem.dataspaces)))
        slowdown = 1.0
        read_bw, write_bw = reads / compute_cycles, writes / compute_cycles
        if level.read_bandwidth is not None and level.read_bandwidth < read_bw:
            slowdown = min(slowdown, level.read_bandwidth / read_bw)
        if level.write_bandwidth is not None and level.write_bandwidth < write_bw:
            slowdown = min(slowdown, level.write_bandwidth / write_bw)
        if level.shared_bandwidth is not None and level.shared_bandwidth < read_bw + write_bw:
            slowdown = min(slowdown, level.shared_bandwidth / (read_bw + write_bw))
        level_cycles.append(math.ceil(compute_cycles / slowdown))
    busy = max([compute_cycles, *level_cycles])  # what leakage is charged for
    bound = "compute"
    if max(level_cycles, default=0) > compute_cycles:
        bound = ctx.level_names[max(range(n), key=lambda i: level_cycles[i])]
    cycles = busy + sum(level.network_latency_cycles for level in spec.levels)

    levels_out: list[LevelStats] = []
    total = 0.0
    for i in range(n):
        level = spec.levels[n - 1 - i]
        replication, x_exp, y_exp = spatial_above[i]
        clusters = min(x_exp * y_exp, max(level.instances // level.cluster_size, 1))
        cluster_util = (x_exp * y_exp) / clusters
        stats = []
        access_energy = 0.0
        network = 0.0
        for p, ds in enumerate(problem.dataspaces):
            reads, fills, updates, reductions = per_ds[p][i]
            tile = tiles_by_ds[p][i]
            e = level.energy
            energy = (_vector(reads, level.block_size) * e.read_j + _vector(fills, level.block_size) * e.fill_j
                      + _vector(updates, level.block_size) * e.update_j) / cluster_util * replication
            access_energy += energy
            network += level.network_energy_j * tile.content * replication
            stats.append(DataSpaceStats(
                kept=tile.size > 0, tile_words=tile.size, partition_words=tile.partition, reads=reads,
                fills=fills, updates=updates, temporal_reductions=reductions, link_transfers=tile.link,
                instances=replication, energy_j=energy))
        leak = level.energy.leak_j * busy * max(1, replication)
        level_energy = access_energy + leak + network
        total += level_energy
        levels_out.append(LevelStats(
            name=level.name, dataspaces=tuple(stats), utilized_words=sum(s.tile_words for s in stats),
            instances=replication, cycles=level_cycles[i], leak_energy_j=leak, network_energy_j=network,
            energy_j=level_energy))
    mac_energy = macs * spec.arithmetic.energy_j
    total += mac_energy
    return Analysis(levels=tuple(reversed(levels_out)), macs=macs, mac_instances=spec.arithmetic.instances,
                    compute_cycles=compute_cycles, cycles=cycles, mac_energy_j=mac_energy,
                    energy_j=total, bound=bound)
