"""A one-device training step, per forward layer: what the parallel schedules split.

Each forward layer gets its own forward time, the time of the backward kernels derived from
it (named ``LAYER.dgrad``, ``LAYER.wgrad``, ``LAYER.grad`` ... by ``accelsim.training``),
its parameters, the bytes of its output, and whether it is a matrix layer (the layers
tensor parallelism splits). Layer times are scaled so that they add up to the phase's
latency on machines whose schedule overlaps layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import dtype
from ..training.step import TrainStep

__all__ = ["LayerProfile", "profile", "MATRIX_OPS"]

MATRIX_OPS = ("conv2d", "conv_transpose2d", "linear", "matmul")


@dataclass(frozen=True)
class LayerProfile:
    """Arrays over forward layers, in forward order (SI units)."""

    names: tuple[str, ...]
    forward_s: np.ndarray
    backward_s: np.ndarray
    params: np.ndarray
    output_bytes: np.ndarray
    matrix: np.ndarray
    update_s: float
    recompute_s: float
    grad_bytes_per_param: float

    @property
    def compute_s(self) -> float:
        return float(self.forward_s.sum() + self.backward_s.sum()) + self.update_s + self.recompute_s


def _scaled(times: list[float], total: float) -> np.ndarray:
    a = np.asarray(times, dtype=float)
    s = a.sum()
    return a * (total / s) if s > 0 else a


def profile(step: TrainStep) -> LayerProfile:
    """``step``'s forward and backward layers folded onto the forward layers."""
    fwd = step.forward
    names = tuple(c.name for c in fwd.layers)
    index = {n: i for i, n in enumerate(names)}
    bwd_raw = [0.0] * len(names)
    last = len(names) - 1
    for cost in step.backward.layers:
        owner = cost.name.rsplit(".", 1)[0] if "." in cost.name else cost.name
        i = index.get(owner)
        if i is None:  # a gradient sum or an input's gradient: charge the layer reached last
            i = last
        bwd_raw[i] += cost.latency_s
        last = i
    act = dtype(step.precision)
    out_bytes = np.array([float(np.prod(shape)) * act.bits / 8 if shape else 0.0 for shape in fwd.shapes])
    # Mixed precision keeps fp32 master weights, so gradients are reduced in fp32 (PyTorch
    # DDP under AMP); --compress fp16 halves them.
    grad_bits = max(32, act.bits)
    return LayerProfile(
        names=names,
        forward_s=_scaled([c.latency_s for c in fwd.layers], fwd.latency_s),
        backward_s=_scaled(bwd_raw, step.backward.latency_s),
        params=np.array([float(c.params) for c in fwd.layers]),
        output_bytes=out_bytes,
        matrix=np.array([c.op in MATRIX_OPS and (c.params > 0 or c.op == "matmul") for c in fwd.layers]),
        update_s=step.update.latency_s, recompute_s=step.recompute_s,
        grad_bytes_per_param=grad_bits / 8,
    )
