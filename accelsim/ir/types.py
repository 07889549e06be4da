"""Element types and tensor types: the values that flow along graph edges."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..registry import did_you_mean

__all__ = ["DType", "DTYPES", "dtype", "TensorType"]


@dataclass(frozen=True)
class DType:
    """An element type. ``bits`` drives every byte count; ``is_float`` separates fp from int."""

    name: str
    bits: int
    is_float: bool
    is_index: bool = False  # integer ids (token ids, positions): never quantised

    def __str__(self) -> str:
        return self.name


DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("fp64", 64, True),
        DType("fp32", 32, True),
        DType("tf32", 32, True),  # stored as 32 bits; computed with a 10-bit mantissa
        DType("fp16", 16, True),
        DType("bf16", 16, True),
        DType("fp8", 8, True),
        DType("int64", 64, False, is_index=True),
        DType("int32", 32, False),
        DType("int16", 16, False),
        DType("int8", 8, False),
        DType("int4", 4, False),
        DType("int2", 2, False),
        DType("binary", 1, False),
        DType("spike", 1, False),
    )
}


def dtype(name: str) -> DType:
    """Look up a dtype by name.

    Raises:
        ValueError: unknown name, with the closest valid names.
    """
    try:
        return DTYPES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown dtype {name!r}; {did_you_mean(str(name), list(DTYPES))}") from None


@dataclass(frozen=True)
class TensorType:
    """Shape and element type of one tensor (batch is the first dimension where there is one)."""

    shape: tuple[int, ...]
    dtype: DType

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> float:
        """Bytes at this dtype's width (fractional for sub-byte types)."""
        return self.numel * self.dtype.bits / 8

    def with_shape(self, shape: tuple[int, ...]) -> "TensorType":
        return replace(self, shape=tuple(int(s) for s in shape))

    def __str__(self) -> str:
        return f"{self.dtype}[{','.join(str(s) for s in self.shape)}]"
