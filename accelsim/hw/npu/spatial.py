"""Which children of a spatial fanout share a fetch: Timeloop's multicast and link transfers.

Timeloop simulates only the first child of a fanout and obtains every other child's delta
by translating it: child ``e`` needs ``delta + t(e)`` with ``t(e) = sum(index_l x step_l)``
over the spatial loops. Children whose translations coincide need the same data, so one
read from the parent serves them all (a multicast of that many; for partial sums, a
spatial reduction). This module groups the children once per fanout and data space, with
numpy, and answers per simulated position how many parent reads it costs.

Link transfers (``ComputeNetworkLinkTransfers``): a child whose delta equals what a mesh
neighbour received at the previous position takes it from that neighbour instead of the
parent; Timeloop keeps that option when it needs fewer parent reads. Equality is Timeloop's
"same boxes" test, so it is decided on the box lists of the two deltas.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Sequence

from .visits import Box, Vec, translate

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Sharing"]


def _histogram(rows: "np.ndarray") -> dict[int, int]:
    """{children per group: number of groups} for the distinct rows of ``rows``."""
    import numpy as np

    if rows.shape[0] == 0:
        return {}
    _, counts = np.unique(rows, axis=0, return_counts=True)
    return dict(Counter(int(c) for c in counts))


def _shifts(cur: Sequence[Box], prev: Sequence[Box]) -> list[Vec]:
    """Moves ``v`` with ``cur + v == prev`` as sets of boxes (Timeloop's superficial
    point-set equality: the same boxes, in any order)."""
    if not cur or len(cur) != len(prev):
        return []
    target = frozenset(prev)
    lo0, hi0 = cur[0]
    extent0 = tuple(h - l for l, h in zip(lo0, hi0))
    out = []
    for lo, hi in prev:
        if tuple(h - l for l, h in zip(lo, hi)) != extent0:
            continue
        move = tuple(b - a for a, b in zip(lo0, lo))
        if translate(cur, move) == target:
            out.append(move)
    return out


class Sharing:
    """The children of one spatial fanout, for one data space.

    ``bounds``/``steps`` are the fanout's spatial loops in Timeloop's index order (outermost
    first; the child's linear index is their mixed-radix number) and each loop's move of the
    data space per index step. ``grid`` is (columns, rows) of Timeloop's mesh for the link
    test: the larger of the physical and the mapped fanout on each axis.
    """

    def __init__(self, bounds: Sequence[int], steps: Sequence[Vec], grid: tuple[int, int], *,
                 multicast: bool, links: bool) -> None:
        import numpy as np  # imported on first use: `import accelsim` stays light

        index = np.indices(tuple(bounds)).reshape(len(bounds), -1).T if bounds else np.zeros((1, 0), int)
        step_matrix = np.array(steps, dtype=np.int64).reshape(len(bounds), -1)
        self.moves = index @ step_matrix  # one row per child: its delta's translation
        self.children = self.moves.shape[0]
        self.multicast = multicast
        self.links = links and self.children > 1
        self.all_groups = _histogram(self.moves) if multicast else {1: self.children}
        self._cache: dict[tuple, tuple[dict[int, int], int]] = {}
        self._pairs: tuple["np.ndarray", "np.ndarray"] | None = None
        self._grid = grid

    def _neighbour_pairs(self) -> tuple["np.ndarray", "np.ndarray"]:
        """(child, neighbour) index pairs for the four mesh directions Timeloop tries."""
        import numpy as np

        if self._pairs is None:
            h, v = self._grid
            ids = np.arange(h * v)
            col, row = ids % h, ids // h
            cur, prev = [], []
            if v > 1:
                cur += [ids[row >= 1], ids[row < v - 1]]
                prev += [ids[row >= 1] - h, ids[row < v - 1] + h]
            if h > 1:
                cur += [ids[col >= 1], ids[col < h - 1]]
                prev += [ids[col >= 1] - 1, ids[col < h - 1] + 1]
            c = np.concatenate(cur) if cur else np.zeros(0, int)
            p = np.concatenate(prev) if prev else np.zeros(0, int)
            keep = (c < self.children) & (p < self.children)
            self._pairs = (c[keep], p[keep])
        return self._pairs

    def reads(self, size: int, cur: Sequence[Box], prev: Sequence[Box] | None,
              move: Vec) -> tuple[dict[int, int], int]:
        """Parent reads at one position: ({multicast factor: words}, words moved by links).

        ``size`` is each child's delta, ``cur``/``prev`` the first child's delta now and at
        the previous position (relative to the tile's own origin), ``move`` how far the
        tile moved in between.
        """
        if size == 0:
            return {}, 0
        base = {m: size * n for m, n in self.all_groups.items()}
        if not self.links or prev is None:
            return base, 0
        key = (tuple(cur), tuple(prev), move)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._linked(cur, prev, move)
            self._cache[key] = hit
        groups, linked = hit
        if linked == 0:
            return base, 0
        return {m: size * n for m, n in groups.items()}, size * linked

    def _linked(self, cur: Sequence[Box], prev: Sequence[Box], move: Vec) -> tuple[dict[int, int], int]:
        import numpy as np

        shifts = _shifts(cur, prev)
        if not shifts:
            return {}, 0
        child, neighbour = self._neighbour_pairs()
        diff = self.moves[child] - self.moves[neighbour]
        hit = np.zeros(len(child), dtype=bool)
        for shift in shifts:
            target = np.array(shift, dtype=np.int64) - np.array(move, dtype=np.int64)
            hit |= np.all(diff == target, axis=1)
        linked = np.zeros(self.children, dtype=bool)
        linked[child[hit]] = True
        n_linked = int(linked.sum())
        if n_linked == 0:
            return {}, 0
        rest = self.moves[~linked]
        groups = _histogram(rest) if self.multicast else ({1: int(rest.shape[0])} if rest.shape[0] else {})
        if sum(groups.values()) >= sum(self.all_groups.values()):
            return {}, 0  # Timeloop keeps links only when they save parent reads
        return groups, n_linked
