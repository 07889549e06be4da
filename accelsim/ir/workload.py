"""Canonical workloads: each op as a loop nest that mappers and cost models consume.

A cost model never looks at op names; it sees a ``Workload``: a ``kind`` with named loop
bounds (conv: N,G,K,C,P,Q,R,S with strides; gemm: B,M,N,K; elementwise: size), the
multiply-accumulates, the other arithmetic, the bytes of each operand, the bit width of each
operand and how dense the operands are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Workload", "WorkloadKind", "DENSE"]

WorkloadKind = Literal["conv", "gemm", "elementwise", "pool", "data"]

DENSE = "dense"  # ``sparsity_structure`` of a layer with no sparsity annotation


@dataclass(frozen=True)
class Workload:
    """One op as a loop nest.

    ``dims`` holds the loop bounds by name; ``macs`` the multiply-accumulates, ``ops`` the
    other arithmetic (activation functions, adds, compares; a fused activation's arithmetic
    included). ``input_bytes`` are the activations read, at ``act_bits`` per element;
    ``weight_bytes`` the parameters read, at ``weight_bits``; ``output_bytes`` the results
    written, at ``out_bits``. Without a ``quant`` annotation these are the tensors' own
    dtype widths (weights are held at the width of the layer's activations).

    ``weight_density`` and ``act_density`` are the fractions of non-zero weights and input
    activations and ``sparsity_structure`` their pattern (``dense`` when the layer has no
    ``sparsity`` annotation, otherwise the annotation's ``unstructured``, ``n:m``, ``block``
    or ``channel``; ``nm`` holds the n and m of ``n:m``). Bytes and MACs stay dense-sized: what a density saves depends on the
    machine (skipping zeros, compressed formats, index overhead), so the cost model decides.

    Raises:
        ValueError: a width below 1 bit, or a density outside (0, 1].
    """

    kind: WorkloadKind
    dims: tuple[tuple[str, int], ...]
    macs: int
    ops: int
    input_bytes: float
    weight_bytes: float
    output_bytes: float
    strides: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    act_bits: int = 32
    extra: tuple[tuple[str, int], ...] = field(default=())
    weight_bits: int = 32
    out_bits: int = 32
    weight_density: float = 1.0
    act_density: float = 1.0
    sparsity_structure: str = DENSE
    nm: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        for name in ("act_bits", "weight_bits", "out_bits"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("weight_density", "act_density"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")

    @property
    def bits(self) -> int:
        """The activation width under its first name (``act_bits``); kept for older callers."""
        return self.act_bits

    def dim(self, name: str, default: int = 1) -> int:
        return dict(self.dims).get(name, default)

    @property
    def flops(self) -> int:
        """Arithmetic operations, counting a MAC as two (the convention of vendor peaks)."""
        return 2 * self.macs + self.ops

    @property
    def total_bytes(self) -> float:
        return self.input_bytes + self.weight_bytes + self.output_bytes

    @property
    def iteration_space(self) -> int:
        return math.prod(v for _, v in self.dims)
