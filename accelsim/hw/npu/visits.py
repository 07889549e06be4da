"""Timeloop's tile deltas, summed in closed form over the iterations it simulates.

Timeloop (``loop-analysis/nest-analysis.cpp``, default settings) does not walk a loop nest
iteration by iteration. Every temporal loop with ``n >= 2`` iterations runs its body for
iteration 0 and for iteration 1, and counts what iteration 1 moves ``n - 1`` times. A loop
below therefore sees its tile at the positions of a binary counter over the loops above
it: all loops at index 0, then the innermost at 1, then the next one at 1 with the
innermost back at 0, and so on. Going from one position to the next, the tile moves by
``+step(a) - sum(step(b) for b below a)`` where ``a`` is the loop that carried.

At each position the tile's *delta* is what must be fetched: the tile minus the previous
tile, but only while the tile keeps moving in the same direction. A change of direction
discards the residue and refetches the whole tile (``SaveAndSubtractIfSameStride``), and
a tile that does not move costs nothing. That state machine makes the delta at a position
depend only on the move and on the last non-zero move, so the sum over all ``2**k``
positions is a short recursion over (counter digit, last move), memoised here.

Box arithmetic follows Timeloop's point sets: a tile is an axis-aligned box per data
space; the difference of two boxes is cut into boxes rank by rank (``MultiSubtract``).
"""

from __future__ import annotations

import math
from typing import Callable, Hashable, Sequence, TypeVar

__all__ = ["Vec", "Box", "overlap", "multi_subtract", "translate", "sweep", "temporal_delta_sum",
           "delta_step"]

Vec = tuple[int, ...]
Box = tuple[Vec, Vec]  # (low inclusive, high exclusive) per rank

S = TypeVar("S", bound=Hashable)
C = TypeVar("C")


def overlap(extent: Vec, move: Vec) -> int:
    """Points a box of ``extent`` shares with itself shifted by ``move``."""
    return math.prod(max(0, e - abs(m)) for e, m in zip(extent, move))


def multi_subtract(a: Box, b: Box) -> list[Box]:
    """``a`` minus ``b`` as boxes, cut the way Timeloop's ``AxisAlignedHyperRectangle::
    MultiSubtract`` cuts them (left then right slice, rank by rank)."""
    (alo, ahi), (blo, bhi) = a, b
    if any(ah <= bl or bh <= al for al, ah, bl, bh in zip(alo, ahi, blo, bhi)):
        return [a]
    out: list[Box] = []
    lo, hi = list(alo), list(ahi)
    for r in range(len(lo)):
        if lo[r] < blo[r]:
            cut = list(hi)
            cut[r] = blo[r]
            out.append((tuple(lo), tuple(cut)))
            lo[r] = blo[r]
        if bhi[r] < hi[r]:
            cut = list(lo)
            cut[r] = bhi[r]
            out.append((tuple(cut), tuple(hi)))
            hi[r] = bhi[r]
    return out


def translate(boxes: Sequence[Box], move: Vec) -> frozenset[Box]:
    return frozenset((tuple(l + m for l, m in zip(lo, move)), tuple(h + m for h, m in zip(hi, move)))
                     for lo, hi in boxes)


def delta_step(full: int, extent: Vec, last: Vec | None, move: Vec | None,
               reuse: bool = True, legacy: bool = False) -> tuple[int, Vec | None, str]:
    """One position of a tile of ``extent`` (``full`` points): (delta size, new last move,
    kind) where kind is ``full`` (whole tile fetched), ``sub`` (tile minus previous) or
    ``none``. ``move`` None is the very first position; ``reuse`` False is Timeloop's
    ``no_temporal_reuse`` (always the whole tile, state untouched).

    ``legacy`` is Timeloop before its "Translation fix" (January 2025), which produced
    the published example outputs: a standing-still step counts as a move, so moving again
    afterwards (or standing still after moving) discards the residue."""
    if move is None or not reuse:
        return full, last, "full"
    if legacy:
        if last is None or last == move:
            kind = "sub" if any(move) else "none"
            return full - overlap(extent, move), move, kind
        return full, None, "full"
    if not any(move):
        return 0, last, "none"
    if last is None or last == move:
        return full - overlap(extent, move), move, "sub"
    return full, None, "full"


def sweep(weights: Sequence[int], moves: Sequence[Vec], start: S,
          visit: Callable[[S, Vec | None], tuple[C, S]],
          add: Callable[[C, C, int], C]) -> C:
    """Sum ``visit`` over the positions Timeloop simulates for loops with ``weights[a] =
    n_a - 1`` (innermost first) whose carries move the tile by ``moves[a]``.

    ``visit(state, move)`` returns (contribution, next state); ``move`` is None for the
    first position. ``add(x, y, w)`` is ``x + w * y``. Memoised on (digit, state, move).
    """
    memo: dict[tuple[int, Hashable, int], tuple[C, S]] = {}

    def run(j: int, state: S, first: int) -> tuple[C, S]:
        key = (j, state, first)
        hit = memo.get(key)
        if hit is not None:
            return hit
        if j == 0:
            result = visit(state, moves[first] if first >= 0 else None)
        else:
            c1, s1 = run(j - 1, state, first)
            c2, s2 = run(j - 1, s1, j - 1)
            result = (add(c1, c2, weights[j - 1]), s2)
        memo[key] = result
        return result

    return run(len(weights), start, -1)[0]


def temporal_delta_sum(extent: Vec, weights: Sequence[int], moves: Sequence[Vec],
                       reuse: bool = True, legacy: bool = False) -> int:
    """Words a child tile of ``extent`` fetches over all iterations of the loops above it:
    Timeloop's accesses to the parent for this data space (one instance)."""
    full = math.prod(extent)
    if not reuse:
        return full * math.prod(w + 1 for w in weights)

    def visit(last: Vec | None, move: Vec | None) -> tuple[int, Vec | None]:
        delta, last, _ = delta_step(full, extent, last, move, legacy=legacy)
        return delta, last

    return sweep(weights, moves, None, visit, lambda x, y, w: x + w * y)
