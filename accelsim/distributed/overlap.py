"""Gradient buckets and wait-free backpropagation.

Backpropagation produces gradients from the last layer to the first. Frameworks fuse them
into buckets (PyTorch DDP: 25 MB, Li et al., VLDB 2020; Horovod's tensor fusion: 64 MB) and
send a bucket as soon as it is full, while the layers before it are still computing its
predecessors' gradients (wait-free backpropagation: Zhang et al., "Poseidon", USENIX ATC
2017). Buckets go out one after another on one communication stream. Without overlap every
bucket waits for the end of the backward pass. Only the part of the last bucket's
communication that ends after the backward pass is exposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .collectives import Comm

__all__ = ["Transfer", "Timeline", "gradient_timeline", "DEFAULT_BUCKET_BYTES"]

DEFAULT_BUCKET_BYTES = 25 * 2**20  # PyTorch DDP's bucket_cap_mb


@dataclass(frozen=True)
class Transfer:
    """One bucket: its bytes per device and when its communication ran, in seconds from
    the start of the backward pass."""

    bytes: float
    ready_s: float
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Timeline:
    backward_s: float
    transfers: tuple[Transfer, ...]
    comm: Comm

    @property
    def exposed_s(self) -> float:
        end = self.transfers[-1].end_s if self.transfers else 0.0
        return max(0.0, end - self.backward_s)


def gradient_timeline(backward_s: np.ndarray, grad_bytes: np.ndarray, bucket_bytes: float,
                      cost: Callable[[float], Comm], overlap: bool) -> Timeline:
    """The buckets of one backward pass. ``backward_s`` and ``grad_bytes`` are per forward
    layer, in forward order; ``cost(n)`` is the communication of an ``n``-byte bucket."""
    total = float(backward_s.sum())
    ready_at = np.cumsum(backward_s[::-1])[::-1]  # layer i's gradient exists once layers n-1..i ran
    buckets: list[tuple[float, float]] = []
    filled = 0.0
    for i in range(len(backward_s) - 1, -1, -1):
        if grad_bytes[i] <= 0:
            continue
        filled += float(grad_bytes[i])
        if filled >= bucket_bytes:
            buckets.append((filled, float(ready_at[i])))
            filled = 0.0
    if filled > 0:
        buckets.append((filled, total))
    transfers = []
    comm = Comm()
    free = 0.0
    for size, ready in buckets:
        c = cost(size)
        start = max(ready if overlap else total, free)
        free = start + c.time_s
        transfers.append(Transfer(size, ready, start, free))
        comm = comm + c
    return Timeline(total, tuple(transfers), comm)
