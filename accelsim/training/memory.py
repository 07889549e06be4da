"""What a training step keeps in device memory, by kind.

* ``weights`` at the compute precision; with mixed precision (a 16- or 8-bit compute type)
  also fp32 ``master_weights`` that the optimiser updates (Micikevicius et al., "Mixed
  precision training", ICLR 2018);
* ``gradients``, one per parameter at the compute precision;
* ``optimizer_state``: fp32 tensors per parameter (momentum: one, Adam: two);
* ``activations``: the forward tensors the backward pass reads, less what recomputation
  frees: ``selective`` keeps only the outputs of matrix layers (and the data) and recomputes
  the memory-bound layers from them (Korthikanti et al., "Reducing activation recomputation
  in large transformer models", 2022); ``full`` keeps every ``ceil(sqrt(L))``-th layer's
  output and one segment's tensors at a time (Chen et al., "Training deep nets with
  sublinear memory cost", 2016);
* ``workspace``: the gradient tensors in flight, the largest layer's input and output
  gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..ir import Graph, dtype
from ..ir.ops_training import OPTIMIZERS
from .backward import MATRIX_KINDS

__all__ = ["Memory", "RECOMPUTE", "training_memory", "recomputed_layers"]

RECOMPUTE = ("none", "selective", "full")
_FP32_BYTES = 4


@dataclass(frozen=True)
class Memory:
    weights: float
    master_weights: float
    gradients: float
    optimizer_state: float
    activations: float
    workspace: float

    @property
    def total(self) -> float:
        return (self.weights + self.master_weights + self.gradients + self.optimizer_state
                + self.activations + self.workspace)

    def to_dict(self) -> dict[str, float]:
        return {"weights": self.weights, "master_weights": self.master_weights, "gradients": self.gradients,
                "optimizer_state": self.optimizer_state, "activations": self.activations,
                "workspace": self.workspace, "total": self.total}


def mixed_precision(precision: str) -> bool:
    d = dtype(precision)
    return d.is_float and d.bits < 32


def recomputed_layers(forward: Graph, saved: tuple[str, ...], recompute: str) -> tuple[list[str], list[str]]:
    """(saved tensors still kept, layers run again in the backward pass) under ``recompute``."""
    if recompute == "none":
        return list(saved), []
    layers = forward.layers()
    if recompute == "selective":
        matrix = {l.name for l in layers if l.workload.kind in MATRIX_KINDS}
        kept = [s for s in saved if s in matrix or s in forward.inputs]
        again = [l.name for l in layers if l.name not in matrix and not l.is_view]
        return kept, again
    every = max(1, math.ceil(math.sqrt(len(layers))))
    checkpoints = {l.name for i, l in enumerate(layers) if i % every == every - 1}
    return [s for s in saved if s in checkpoints or s in forward.inputs], [l.name for l in layers]


def training_memory(forward: Graph, saved: tuple[str, ...], precision: str, optimizer: str,
                    recompute: str) -> Memory:
    types = forward.types()
    params = forward.params()
    width = dtype(precision).bits / 8
    kept, _ = recomputed_layers(forward, saved, recompute)
    activations = sum(types[s].nbytes for s in kept)
    if recompute == "full":  # plus the one segment being recomputed, at its largest
        layers = forward.layers()
        every = max(1, math.ceil(math.sqrt(len(layers))))
        keep = set(saved)
        segments = [sum(types[l.name].nbytes for l in layers[i:i + every] if l.name in keep)
                    for i in range(0, len(layers), every)]
        activations += max(segments, default=0.0)
    largest = max((t.nbytes for name, t in types.items() if name not in forward.inputs), default=0.0)
    states, _ = OPTIMIZERS[optimizer]
    return Memory(
        weights=params * width,
        master_weights=params * _FP32_BYTES if mixed_precision(precision) else 0.0,
        gradients=params * width,
        optimizer_state=params * states * _FP32_BYTES,
        activations=activations,
        workspace=2 * largest,
    )
