"""Candidate mappings in a ``Space``: greedy seeds and full enumeration.

* ``seeds``: for every fanout filling, keep choice and loop-order policy, the levels are
  filled greedily from the innermost out, each dimension (innermost loop first) taking the
  largest factor with which every buffer still fits. A policy orders each level's loops so
  that one data space's irrelevant loops run innermost (it stays put longest), then the
  next one's: the six priority orders of weights, inputs and outputs are the classic
  weight-, input- and output-stationary nests. Each policy is filled twice: *loose* (a level
  takes any loop that fits) and *tight* (a level takes only loops over dimensions its own
  data depends on, leaving the others to run, innermost, at the level above, where they
  do not refetch that data).
* ``enumerate_all``: every candidate of a small space (for exhaustive search), in batches.

Loop orders are kept canonical (fixed innermost prefix, then the level's loops, then the
dimensions without a loop in dimension order) so that equal nests compare equal; the local
search (``kernels.nest_search``) keeps them the same way.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Iterator

from ...hw.npu.fast import Candidates, Tables
from .space import Space, divisors

if TYPE_CHECKING:
    import numpy as np

__all__ = ["seeds", "enumerate_all", "count_all", "canonical", "keys"]


def _policies(npp: int) -> list[tuple[int, ...]]:
    """Data-space priority orders for the loop-order policies (all of them)."""
    return list(itertools.permutations(range(npp)))


def _relevance(space: Space) -> list[list[bool]]:
    """relevance[p][d]: data space p depends on dimension d."""
    return [[d in ds.dims() for d in range(len(space.problem.dims))] for ds in space.problem.dataspaces]


def _policy_order(space: Space, level: int, policy: tuple[int, ...], rel: list[list[bool]]) -> list[int]:
    fixed = list(space.prefix[level])
    rest = [d for d in range(len(space.problem.dims)) if d not in fixed]
    rest.sort(key=lambda d: (tuple(rel[p][d] for p in policy), d))
    return fixed + rest


def _keep_choices(space: Space, limit: int) -> list["np.ndarray"]:
    """Keep arrays for every setting of the free bits (all kept first), or only all-kept
    when there are more than ``limit`` settings."""
    import numpy as np

    bits = space.free_bits
    base = np.where(space.keep < 0, 1, space.keep).astype(np.bool_)
    if 2 ** len(bits) > limit:
        return [base]
    out = []
    for mask in range(2 ** len(bits)):
        k = base.copy()
        for i, (lv, p) in enumerate(bits):
            k[lv, p] = not (mask >> i) & 1
        out.append(k)
    return out


def seeds(space: Space, t: Tables, *, keep_limit: int = 16) -> Candidates:
    """Greedy candidates for every fanout filling, keep choice, loop-order policy and
    loose or tight filling (see the module docstring), filled by the compiled
    ``kernels.nest_search.greedy_seeds``."""
    import numpy as np

    from ...kernels.nest_search import greedy_seeds

    problem = space.problem
    nl, nd = len(space.spec.levels), len(problem.dims)
    rel = _relevance(space)
    grids = np.stack(space.spatial)
    keeps = np.stack(_keep_choices(space, keep_limit))
    orders = np.stack([np.array([_policy_order(space, lv, policy, rel) for lv in range(nl)], np.int64)
                       for policy in _policies(len(problem.dataspaces))])
    n = len(grids) * len(keeps) * len(orders) * 2
    out = np.ones((n, nl, nd), np.int64)
    ok = np.zeros(n, np.bool_)
    temporal_ok = np.zeros(nl, np.bool_)
    temporal_ok[list(space.temporal_levels)] = True
    lists = [divisors(b) for b in problem.bounds]
    bound_divs = np.zeros((nd, max(map(len, lists))), np.int64)
    for d, found in enumerate(lists):
        bound_divs[d, :len(found)] = found
    greedy_seeds(t.packed(), temporal_ok, space.fixed, space.upper, space.lower, np.array(rel, np.bool_), grids, keeps,
                 orders, bound_divs, out, ok)
    g, k, q, _ = np.unravel_index(np.arange(n), (len(grids), len(keeps), len(orders), 2))
    ok = np.flatnonzero(ok)
    return canonical(space, Candidates(out[ok], orders[q[ok]], grids[g[ok]], keeps[k[ok]]))


def canonical(space: Space, c: Candidates) -> Candidates:
    """The same candidates with loop orders in canonical form (see the module docstring)."""
    import numpy as np

    nd = c.order.shape[2]
    present = np.take_along_axis(c.temporal, c.order, axis=2) > 1
    is_prefix = np.zeros(c.order.shape, np.bool_)
    for lv, dims in enumerate(space.prefix):
        if dims:
            is_prefix[:, lv, :len(dims)] = True
    pos = np.arange(nd)
    key = np.where(is_prefix, pos - nd, np.where(present, pos, nd + c.order))
    order = np.take_along_axis(c.order, np.argsort(key, axis=2, kind="stable"), axis=2)
    return Candidates(c.temporal, order, c.spatial, c.keep)


def keys(c: Candidates) -> list[bytes]:
    """A hashable key per candidate (canonical candidates: equal nests, equal keys)."""
    import numpy as np

    n = len(c)

    def rows(a: "np.ndarray") -> "np.ndarray":
        return a.reshape(n, math.prod(a.shape[1:])).astype(np.int64)

    flat = np.concatenate([rows(c.temporal), rows(c.order), rows(c.spatial), rows(c.keep)], axis=1)
    flat = np.ascontiguousarray(flat)
    return [row.tobytes() for row in flat]


def _factorisations(n: int, parts: int, fixed: list[int], upper: list[int], lower: list[int]) -> list[tuple[int, ...]]:
    """Ordered factorisations of ``n`` over ``parts`` levels within the bounds."""
    out: list[tuple[int, ...]] = []

    def walk(i: int, left: int, acc: tuple[int, ...]) -> None:
        if i == parts - 1:
            f = left
            if (not fixed[i] or f == fixed[i]) and (not upper[i] or f <= upper[i]) and f >= lower[i]:
                out.append(acc + (f,))
            return
        options = [fixed[i]] if fixed[i] else divisors(left)
        for f in options:
            if left % f or (upper[i] and f > upper[i]) or f < lower[i]:
                continue
            walk(i + 1, left // f, acc + (f,))

    walk(0, n, ())
    return out


def _per_dim(space: Space, grid: "np.ndarray") -> list[list[tuple[int, ...]]] | None:
    temporal = space.temporal_levels
    sp = grid.prod(axis=1)
    out = []
    for d, bound in enumerate(space.problem.bounds):
        s = int(sp[:, d].prod())
        if bound % s:
            return None
        out.append(_factorisations(bound // s, len(temporal), [int(space.fixed[l, d]) for l in temporal],
                                   [int(space.upper[l, d]) for l in temporal],
                                   [int(space.lower[l, d]) for l in temporal]))
    return out


def _orders(space: Space, level: int, present: list[int]) -> list[list[int]]:
    fixed = list(space.prefix[level])
    free = [d for d in present if d not in fixed]
    rest = [d for d in range(len(space.problem.dims)) if d not in fixed and d not in free]
    return [fixed + list(p) + rest for p in itertools.permutations(free)]


def count_all(space: Space, limit: int) -> int:
    """Candidates ``enumerate_all`` yields, or ``limit + 1`` once it is known to exceed it."""
    total = 0
    keeps = len(_keep_choices(space, 1 << 30))
    for grid in space.spatial:
        per_dim = _per_dim(space, grid)
        if per_dim is None:
            continue
        if math.prod(len(x) for x in per_dim) * keeps > limit * 50:
            return limit + 1
        for combo in itertools.product(*per_dim):
            n = keeps
            for i, lv in enumerate(space.temporal_levels):
                present = sum(1 for d in range(len(combo)) if combo[d][i] > 1 and d not in space.prefix[lv])
                n *= math.factorial(present)
            total += n
            if total > limit:
                return limit + 1
    return total


def enumerate_all(space: Space, batch: int = 4096) -> Iterator[Candidates]:
    """Every candidate of the space (fanout fillings x keep choices x factorisations x loop
    orders), in batches of about ``batch``."""
    import numpy as np

    nl, nd = len(space.spec.levels), len(space.problem.dims)
    temporal = space.temporal_levels
    keeps = np.stack(_keep_choices(space, 1 << 30))
    nk = len(keeps)
    tfs: list["np.ndarray"] = []
    grids: list["np.ndarray"] = []
    which: list[int] = []  # per candidate: its factors (index into tfs)
    orders: list[list[list[int]]] = []

    def flush() -> Candidates:
        t, g = np.stack(tfs), np.stack(grids)
        idx = np.repeat(np.array(which, np.int64), nk)
        o = np.repeat(np.array(orders, np.int64), nk, axis=0)
        k = np.tile(keeps, (len(which), 1, 1))
        return Candidates(t[idx], o, g[idx], k)

    for grid in space.spatial:
        per_dim = _per_dim(space, grid)
        if per_dim is None:
            continue
        for combo in itertools.product(*per_dim):
            tf = np.ones((nl, nd), np.int64)
            for i, lv in enumerate(temporal):
                tf[lv] = [combo[d][i] for d in range(nd)]
            level_orders = [_orders(space, lv, [d for d in range(nd) if tf[lv, d] > 1]) if lv in temporal
                            else [list(range(nd))] for lv in range(nl)]
            tfs.append(tf)
            grids.append(grid)
            for chosen in itertools.product(*level_orders):
                which.append(len(tfs) - 1)
                orders.append(list(chosen))
            if len(which) * nk >= batch:
                yield flush()
                tfs, grids, which, orders = [], [], [], []
    if which:
        yield flush()
