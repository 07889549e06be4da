"""Pipeline parallelism: contiguous stages, micro-batches, GPipe and 1F1B schedules.

Layers are cut into ``stages`` contiguous runs that minimise the slowest stage's forward
plus backward time (an exact linear-partition search: binary search on the bound with a
greedy check, over the prefix sums). With ``m`` micro-batches of stage times ``f_s, b_s``
both schedules take ``sum_s (f_s + b_s) + (m - 1) * (max f + max b)``: GPipe (Huang et
al., NeurIPS 2019) runs every forward, then every backward; 1F1B (PipeDream-Flush,
Narayanan et al., SC 2021) alternates them after a warm-up, which leaves the bubble as it
is but keeps at most ``stages`` micro-batches' activations alive instead of ``m``. The
bubble is what the slowest stage spends idle: the total less its own ``m (f + b)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SCHEDULES", "PipelinePlan", "partition", "schedule"]

SCHEDULES = ("gpipe", "1f1b")


@dataclass(frozen=True)
class PipelinePlan:
    """``cuts[s]``: index of the first layer of stage ``s``; times per micro-batch."""

    cuts: tuple[int, ...]
    forward_s: tuple[float, ...]
    backward_s: tuple[float, ...]
    microbatches: int
    schedule: str
    total_s: float
    bubble_s: float
    in_flight: int  # micro-batches whose activations a stage holds at once


def partition(cost: np.ndarray, stages: int) -> tuple[int, ...]:
    """Start indices of ``stages`` contiguous, non-empty runs of ``cost`` whose largest sum is
    as small as it can be."""
    n = len(cost)
    stages = max(1, min(stages, n))
    prefix = np.concatenate([[0.0], np.cumsum(cost)])

    def cuts_for(bound: float) -> list[int] | None:
        cuts, start = [0], 0
        for i in range(1, n + 1):
            if prefix[i] - prefix[start] > bound:
                if i - 1 == start:
                    return None
                start = i - 1
                cuts.append(start)
        return cuts if len(cuts) <= stages else None

    lo, hi = float(cost.max(initial=0.0)), float(prefix[-1])
    for _ in range(60):
        mid = (lo + hi) / 2
        if cuts_for(mid) is None:
            lo = mid
        else:
            hi = mid
    cuts = cuts_for(hi) or [0]
    # split further where fewer stages sufficed, so that every stage holds a layer
    while len(cuts) < stages:
        spans = [(cuts[k + 1] if k + 1 < len(cuts) else n) - cuts[k] for k in range(len(cuts))]
        k = max(range(len(cuts)), key=lambda j: spans[j])
        if spans[k] < 2:
            break
        cuts.insert(k + 1, cuts[k] + spans[k] // 2)
    return tuple(cuts)


def schedule(forward_s: np.ndarray, backward_s: np.ndarray, cuts: tuple[int, ...], microbatches: int,
             kind: str, send_s: tuple[float, ...] = ()) -> PipelinePlan:
    """Time of one mini-batch through the stages ``cuts`` (per-layer times of one micro-batch);
    ``send_s[s]``: one micro-batch's activation hop from stage ``s`` to ``s + 1``, both ways."""
    ends = list(cuts[1:]) + [len(forward_s)]
    f = [float(forward_s[a:b].sum()) for a, b in zip(cuts, ends)]
    b = [float(backward_s[a:e].sum()) for a, e in zip(cuts, ends)]
    for s, hop in enumerate(send_s[:len(f) - 1]):
        f[s] += hop
        b[s + 1] += hop
    m = microbatches
    total = sum(f) + sum(b) + (m - 1) * (max(f) + max(b))
    busiest = max(x + y for x, y in zip(f, b))
    in_flight = m if kind == "gpipe" else min(len(f), m)
    return PipelinePlan(tuple(cuts), tuple(f), tuple(b), m, kind, total, total - m * busiest, in_flight)
