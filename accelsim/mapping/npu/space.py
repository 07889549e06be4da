"""The npu mapspace of one layer on one machine: what a mapping search may choose.

A candidate (``accelsim.hw.npu.fast``) gives each storage level temporal factors and a loop
order, each fanout spatial factors per mesh axis, and each level its kept data spaces. The
space says which of those are free and which are fixed:

* temporal loops go on storage levels, never on Timeloop's placeholder fanout levels;
* spatial factors fill each fanout with the dimensions its wiring allows on each axis
  (``unroll:`` in the hardware YAML; a GEMM's dimensions count as their convolution
  counterparts, ``problem.conv_names``);
* keep/bypass: the outermost level keeps everything (Timeloop's premise: all data starts
  there), a level's ``keep`` and ``bypass`` lists are fixed (a per-operand buffer keeps
  only its operand), placeholder levels keep nothing, everything else is free;
* a constraints file (``constraints``) fixes or bounds factors, fixes the innermost loop
  order and axis of dimensions, and fixes keep/bypass choices.

``Space.spatial`` lists the ways to fill the fanouts, best utilisation first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...errors import MappingError
from ...hw.npu import NpuSpec, Problem
from ...hw.npu.problem import conv_names
from ...registry import did_you_mean
from ..factors import divisors
from .constraints import NO_CONSTRAINTS, Constraints, Directive

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Space", "build_space", "divisors"]

# Spatial options kept per layer (best utilisation first), and per mesh axis while combining.
MAX_SPATIAL = 12
_PER_AXIS = 48
_BEAM = 256


@dataclass(frozen=True)
class Space:
    """The free and fixed parts of one layer's mapspace on one machine.

    Arrays are indexed ``[level, dim]`` (levels outermost first): ``fixed`` is a required
    temporal factor (0 = free), ``upper``/``lower`` bound it (0 / 1 = unbounded);
    ``prefix[level]`` lists the dimensions whose loops are fixed innermost, in order;
    ``keep[level, dataspace]`` is 1 (keep), 0 (bypass) or -1 (free); ``spatial`` holds the
    fanout fillings ``[level, axis, dim]``, best utilisation first; ``axis_dims`` what each
    fanout axis may spread.
    """

    problem: Problem
    spec: NpuSpec
    temporal_levels: tuple[int, ...]  # levels that may hold temporal loops, outermost first
    fixed: "np.ndarray"
    upper: "np.ndarray"
    lower: "np.ndarray"
    prefix: tuple[tuple[int, ...], ...]
    keep: "np.ndarray"
    spatial: tuple["np.ndarray", ...]
    utilization: tuple[float, ...]
    axis_dims: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]  # per level: dims allowed on X, Y
    spatial_fixed: "np.ndarray"  # [level, dim] a required spatial factor (0 = free)

    @property
    def free_bits(self) -> list[tuple[int, int]]:
        """(level, data space) pairs whose keep/bypass choice is free."""
        return [(int(l), int(p)) for l, p in zip(*(self.keep < 0).nonzero())]


def _level_index(spec: NpuSpec, d: Directive) -> int:
    names = [level.name for level in spec.levels]
    target = d.target
    if target not in names and f"inter_{target}_spatial" in names:
        target = f"inter_{target}_spatial"
    if target not in names:
        raise d.error(f"unknown level {d.target!r}; {did_you_mean(d.target, names)}")
    return names.index(target)


def _dim(problem: Problem, d: Directive, name: str) -> int:
    try:
        return problem.dim_index(name)
    except KeyError as exc:
        raise d.error(f"layer {problem.name!r}: {exc.args[0]}") from None


def _dataspace(problem: Problem, d: Directive, name: str) -> int:
    try:
        return problem.dataspace_index(name)
    except KeyError as exc:
        raise d.error(str(exc.args[0])) from None


def build_space(problem: Problem, spec: NpuSpec, constraints: Constraints = NO_CONSTRAINTS) -> Space:
    """The mapspace of ``problem`` on ``spec`` under ``constraints``.

    Raises:
        SpecError: a directive names an unknown level, dimension or data space, or
            contradicts the architecture (bypass at the outermost level, keep on a
            placeholder level, temporal factors on a placeholder level).
        MappingError: no way to fill the fanouts satisfies the constraints.
    """
    import numpy as np

    nl, nd, npp = len(spec.levels), len(problem.dims), len(problem.dataspaces)
    fixed = np.zeros((nl, nd), np.int64)
    upper = np.zeros((nl, nd), np.int64)
    lower = np.ones((nl, nd), np.int64)
    sfixed = np.zeros((nl, nd), np.int64)
    supper = np.zeros((nl, nd), np.int64)
    saxis = -np.ones((nl, nd), np.int64)
    prefix: list[tuple[int, ...]] = [()] * nl
    keep = -np.ones((nl, npp), np.int8)
    outermost = next(i for i, level in enumerate(spec.levels) if not level.dummy)
    for i, level in enumerate(spec.levels):
        for p, ds in enumerate(problem.dataspaces):
            if level.dummy or ds.name in level.bypass or (level.exclusive and ds.name not in level.keep):
                keep[i, p] = 0
            elif i == outermost or ds.name in level.keep:
                keep[i, p] = 1
    arch_keep = keep.copy()
    for d in constraints.directives:
        lv = _level_index(spec, d)
        if d.kind == "dataspace":
            for names, value in ((d.keep, 1), (d.bypass, 0)):
                for name in names:
                    p = _dataspace(problem, d, name)
                    if arch_keep[lv, p] >= 0 and arch_keep[lv, p] != value:
                        raise d.error(f"{'keeping' if value else 'bypassing'} {name} at {spec.levels[lv].name!r} "
                                      "contradicts the architecture")
                    keep[lv, p] = value
            continue
        factors = [(_dim(problem, d, name), op, v) for name, op, v in d.factors]
        if d.kind == "temporal":
            if spec.levels[lv].dummy and any(op != "<=" and v > 1 for _, op, v in factors):
                raise d.error(f"{spec.levels[lv].name!r} is a placeholder for a fanout and holds no temporal loops")
            for dim, op, v in factors:
                (fixed if op == "=" else upper if op == "<=" else lower)[lv, dim] = v
            if d.permutation is not None:
                prefix[lv] = tuple(dict.fromkeys(_dim(problem, d, n) for n in d.permutation))
            continue
        for dim, op, v in factors:
            (sfixed if op == "=" else supper)[lv, dim] = v
        if d.permutation is not None:
            split = len(d.permutation) if d.split is None else d.split
            for pos, name in enumerate(d.permutation):
                saxis[lv, _dim(problem, d, name)] = 0 if pos < split else 1
    temporal = tuple(i for i, level in enumerate(spec.levels) if not level.dummy)
    options = _spatial_options(problem, spec, sfixed, supper, saxis)
    if not options:
        raise MappingError(f"layer {problem.name!r}: no way to fill {spec.name}'s fanouts satisfies the spatial "
                           "constraints", file=constraints.source)
    axis_dims = tuple((tuple(_allowed(problem, spec, lv, 0, saxis)), tuple(_allowed(problem, spec, lv, 1, saxis)))
                      for lv in range(nl))
    return Space(problem=problem, spec=spec, temporal_levels=temporal, fixed=fixed, upper=upper, lower=lower,
                 prefix=tuple(prefix), keep=keep, spatial=tuple(o for o, _ in options),
                 utilization=tuple(u for _, u in options), axis_dims=axis_dims, spatial_fixed=sfixed)


def _allowed(problem: Problem, spec: NpuSpec, level: int, axis: int, saxis: "np.ndarray") -> list[int]:
    names = spec.unroll(level)[axis]
    out = []
    for dim in range(len(problem.dims)):
        if saxis[level, dim] >= 0 and saxis[level, dim] != axis:
            continue
        if names is None or any(n in names for n in conv_names(problem, dim)):
            out.append(dim)
    return out


def _axis_fillings(dims: list[int], rem: list[int], room: int, need: dict[int, int],
                   cap: dict[int, int]) -> list[dict[int, int]]:
    """Factor choices for one mesh axis: {dim: factor} with product <= room, each factor
    dividing what is left of its dimension, ``need`` factors exactly, ``cap`` at most."""
    out: list[dict[int, int]] = []

    def walk(i: int, left: int, chosen: dict[int, int]) -> None:
        if i == len(dims):
            out.append(dict(chosen))
            return
        d = dims[i]
        options = [need[d]] if d in need else [f for f in divisors(rem[d]) if f <= left and f <= cap.get(d, f)]
        for f in options:
            if f > left or rem[d] % f:
                continue
            if f > 1:
                chosen[d] = f
            walk(i + 1, left // f, chosen)
            chosen.pop(d, None)

    walk(0, room, {})
    out.sort(key=lambda c: (-math.prod(c.values()), sorted(c.items())))
    return out[:_PER_AXIS]


def _spatial_options(problem: Problem, spec: NpuSpec, sfixed: "np.ndarray", supper: "np.ndarray",
                     saxis: "np.ndarray") -> list[tuple["np.ndarray", float]]:
    """Fanout fillings ``[level, axis, dim]`` with their utilisation, best first: a beam over
    the mesh axes, each filled in every way ``_axis_fillings`` offers."""
    import numpy as np

    nl, nd = len(spec.levels), len(problem.dims)
    slots = [(lv, axis, room) for lv in range(nl) for axis, room in enumerate(spec.fanout(lv)) if room > 1]

    def rank(item: tuple[float, "np.ndarray"]) -> tuple[float, tuple[int, ...]]:
        return -item[0], tuple(-int(x) for x in item[1].ravel())

    beam: list[tuple[float, "np.ndarray"]] = [(1.0, np.ones((nl, 2, nd), np.int64))]
    for lv, axis, room in slots:
        dims = _allowed(problem, spec, lv, axis, saxis)
        need = {d: int(sfixed[lv, d]) for d in dims if sfixed[lv, d] and saxis[lv, d] == axis}
        cap = {d: int(supper[lv, d]) for d in dims if supper[lv, d]}
        grown = []
        for util, grid in beam:
            rem = [b // int(grid[:, :, d].prod()) for d, b in enumerate(problem.bounds)]
            for choice in _axis_fillings(dims, rem, room, need, cap):
                g = grid.copy()
                for d, f in choice.items():
                    g[lv, axis, d] = f
                grown.append((util * math.prod(choice.values()) / room, g))
        beam = sorted(grown, key=rank)[:_BEAM]
    out = [(grid, util) for util, grid in beam
           if all(not sfixed[lv, d] or grid[lv, :, d].prod() == sfixed[lv, d] for lv in range(nl) for d in range(nd))]
    return out[:MAX_SPATIAL]
