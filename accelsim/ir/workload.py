"""Canonical workloads: each op as a loop nest that mappers and cost models consume.

A cost model never looks at op names; it sees a ``Workload``: a ``kind`` with named loop
bounds (conv: N,G,K,C,P,Q,R,S with strides; gemm: B,M,N,K; elementwise: size), the
multiply-accumulates, the other arithmetic, and the bytes of each operand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Workload", "WorkloadKind"]

WorkloadKind = Literal["conv", "gemm", "elementwise", "pool", "data"]


@dataclass(frozen=True)
class Workload:
    """One op as a loop nest.

    ``dims`` holds the loop bounds by name; ``macs`` the multiply-accumulates, ``ops`` the
    other arithmetic (activation functions, adds, compares). Bytes are at the tensors' own
    widths: ``input_bytes`` for activations read, ``weight_bytes`` for parameters read,
    ``output_bytes`` for results written.
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
    bits: int = 32
    extra: tuple[tuple[str, int], ...] = field(default=())

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
