"""The fast path of ``analysis.evaluate`` for mapping searches: many candidates per call.

A search describes a candidate mapping with four small integer arrays instead of a
``Mapping`` (levels outermost first, as in ``NpuSpec.levels``):

* ``temporal[level, dim]``: the temporal loop bound of each dimension at each level (1 = no
  loop);
* ``order[level, :]``: the dimensions in loop order, innermost first (a permutation of all of
  them; those with bound 1 are skipped);
* ``spatial[level, axis, dim]``: the spatial loop bound of each dimension on the X (0) and Y
  (1) axis of the level's fanout; on each axis the loops run in dimension order, X inside Y;
* ``keep[level, dataspace]``: whether the level holds the data space.

A batch stacks them along a first axis (``Candidates``). ``score`` analyses a batch with the
compiled kernel ``accelsim.kernels.nest.analyse``; ``to_mapping`` turns one candidate into the
``Mapping`` that ``evaluate`` takes. The two agree exactly when link transfers are off, and
the search re-evaluates its finalists with ``evaluate`` (links on), so the fast path only
ranks (see the kernel's docstring and tests/unit/hw/test_npu_fast.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .analysis import Context
from .mapping import LevelMapping, Loop, Mapping

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Tables", "Candidates", "Scores", "tables", "score", "to_mapping", "stack"]


@dataclass(frozen=True)
class Tables:
    """The kernel's view of one problem on one machine (``Context``), as arrays."""

    bounds: "np.ndarray"
    coef: "np.ndarray"  # [dataspace, rank, dim]
    nranks: "np.ndarray"
    read_write: "np.ndarray"
    sliding: "np.ndarray"  # data spaces with a rank summing two dimensions (sliding windows)
    capacity: "np.ndarray"  # per level, outermost first; -1 = unbounded
    block: "np.ndarray"
    e_read: "np.ndarray"
    e_fill: "np.ndarray"
    e_update: "np.ndarray"
    e_leak: "np.ndarray"
    bw_read: "np.ndarray"  # -1 = unlimited
    bw_write: "np.ndarray"
    bw_shared: "np.ndarray"
    multicast: "np.ndarray"
    spatial_reduction: "np.ndarray"
    network_energy: "np.ndarray"
    instances: "np.ndarray"
    cluster: "np.ndarray"
    fan_x: "np.ndarray"
    fan_y: "np.ndarray"
    mac_energy: float
    extra_latency: int
    legacy: bool

    def packed(self) -> tuple:
        """The tables in the order the kernels take them (``kernels.nest.analyse``)."""
        return (self.bounds, self.coef, self.nranks, self.read_write, self.sliding, self.capacity, self.block,
                self.e_read, self.e_fill, self.e_update, self.e_leak, self.bw_read, self.bw_write, self.bw_shared,
                self.multicast, self.spatial_reduction, self.network_energy, self.instances, self.cluster,
                self.fan_x, self.fan_y, self.mac_energy, self.extra_latency, self.legacy)


@dataclass(frozen=True)
class Candidates:
    """A batch of candidate mappings (see the module docstring for the layout)."""

    temporal: "np.ndarray"  # [batch, level, dim] int64
    order: "np.ndarray"  # [batch, level, dim] int64
    spatial: "np.ndarray"  # [batch, level, 2, dim] int64
    keep: "np.ndarray"  # [batch, level, dataspace] bool

    def __len__(self) -> int:
        return int(self.temporal.shape[0])

    def take(self, index: "np.ndarray | list[int]") -> "Candidates":
        return Candidates(self.temporal[index], self.order[index], self.spatial[index], self.keep[index])


@dataclass(frozen=True)
class Scores:
    """What ``score`` found per candidate: ``status`` 0 when valid (else the kernel's
    reason code), cycles, energy in joules, and with ``detail`` the per-instance
    ``counts[b, level, dataspace] = (reads, fills, updates)``."""

    status: "np.ndarray"
    cycles: "np.ndarray"
    energy_j: "np.ndarray"
    counts: "np.ndarray | None" = None


def stack(parts: list[Candidates]) -> Candidates:
    """One batch of the candidates of several."""
    import numpy as np

    return Candidates(*(np.concatenate([getattr(c, f) for c in parts]) for f in
                        ("temporal", "order", "spatial", "keep")))


def tables(ctx: Context) -> Tables:
    """The kernel's tables for ``ctx`` (once per layer and machine).

    Raises:
        ValueError: a data space indexes two ranks with one dimension (no conv or GEMM
            does; the kernel's multicast grouping assumes it).
    """
    import numpy as np

    problem, spec = ctx.problem, ctx.spec
    nd, npp = len(problem.dims), len(problem.dataspaces)
    nr = max(len(ds.ranks) for ds in problem.dataspaces)
    coef = np.zeros((npp, nr, nd), np.int64)
    sliding = np.zeros(npp, np.bool_)
    for p, ds in enumerate(problem.dataspaces):
        for r, rank in enumerate(ds.ranks):
            for c, d in rank:
                coef[p, r, d] += c
            sliding[p] |= sum(1 for c, d in rank if c and problem.bounds[d] > 1) > 1
        if ((coef[p] != 0).sum(axis=0) > 1).any():
            raise ValueError(f"data space {ds.name!r} uses one dimension in two ranks")
    levels = spec.levels

    def col(values: list, dtype: type) -> "np.ndarray":
        return np.array(values, dtype=dtype)

    def bw(v: float | None) -> float:
        return -1.0 if v is None else float(v)

    fan = [spec.fanout(i) for i in range(len(levels))]
    return Tables(
        bounds=col(list(problem.bounds), np.int64), coef=coef,
        nranks=col([len(ds.ranks) for ds in problem.dataspaces], np.int64),
        read_write=col([ds.read_write for ds in problem.dataspaces], np.bool_), sliding=sliding,
        capacity=col([-1 if l.effective_words is None else l.effective_words for l in levels], np.int64),
        block=col([l.block_size for l in levels], np.int64),
        e_read=col([l.energy.read_j for l in levels], np.float64),
        e_fill=col([l.energy.fill_j for l in levels], np.float64),
        e_update=col([l.energy.update_j for l in levels], np.float64),
        e_leak=col([l.energy.leak_j for l in levels], np.float64),
        bw_read=col([bw(l.read_bandwidth) for l in levels], np.float64),
        bw_write=col([bw(l.write_bandwidth) for l in levels], np.float64),
        bw_shared=col([bw(l.shared_bandwidth) for l in levels], np.float64),
        multicast=col([l.multicast for l in levels], np.bool_),
        spatial_reduction=col([l.spatial_reduction for l in levels], np.bool_),
        network_energy=col([l.network_energy_j for l in levels], np.float64),
        instances=col([l.instances for l in levels], np.int64),
        cluster=col([l.cluster_size for l in levels], np.int64),
        fan_x=col([f[0] for f in fan], np.int64), fan_y=col([f[1] for f in fan], np.int64),
        mac_energy=float(spec.arithmetic.energy_j),
        extra_latency=int(sum(l.network_latency_cycles for l in levels)), legacy=bool(ctx.legacy))


def score(t: Tables, c: Candidates, *, detail: bool = False) -> Scores:
    """Cycles and energy of every candidate in ``c`` (see ``Scores``)."""
    import numpy as np

    from ...kernels.nest import analyse

    n = len(c)
    status = np.zeros(n, np.int64)
    cycles = np.zeros(n, np.int64)
    energy = np.zeros(n, np.float64)
    shape = (n, c.temporal.shape[1], t.coef.shape[0], 3) if detail else (1, 1, 1, 3)
    counts = np.zeros(shape, np.int64)
    if n:
        analyse(t.packed(), c.temporal, c.order, c.spatial, c.keep, status, cycles, energy, counts, detail)
    return Scores(status, cycles, energy, counts if detail else None)


def to_mapping(ctx: Context, c: Candidates, index: int, *, links: bool = True) -> Mapping:
    """Candidate ``index`` of ``c`` as a ``Mapping``; ``links`` False disables Timeloop's
    link transfers (``no_link_transfer`` for every data space), the fast path's model."""
    problem, spec = ctx.problem, ctx.spec
    dims = problem.dims
    names = tuple(ds.name for ds in problem.dataspaces)
    levels = []
    for lv, level in enumerate(spec.levels):
        temporal = [Loop(dims[d], int(c.temporal[index, lv, d]))
                    for d in (int(x) for x in c.order[index, lv]) if c.temporal[index, lv, d] > 1]
        spatial = [Loop(dims[d], int(c.spatial[index, lv, axis, d]), "XY"[axis])  # type: ignore[arg-type]
                   for axis in (0, 1) for d in range(len(dims)) if c.spatial[index, lv, axis, d] > 1]
        keep = tuple(n for p, n in enumerate(names) if c.keep[index, lv, p])
        levels.append(LevelMapping(level=level.name, temporal=tuple(reversed(temporal)),
                                   spatial=tuple(reversed(spatial)), keep=keep,
                                   no_link_transfer=() if links else names))
    return Mapping(tuple(levels))
