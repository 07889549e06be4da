"""The compression a machine's datapath exploits, as a value every spec carries.

Read from a spec's ``compression:`` section by :func:`accelsim.hw.compression.read_support`;
kept apart from that reader so that ``HardwareSpec`` can hold it without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SparseSupport", "CompressionSupport", "DENSE_SUPPORT", "SPARSE_MODES"]

SPARSE_MODES = ("none", "skip", "gate")


@dataclass(frozen=True)
class SparseSupport:
    """The sparsity a datapath exploits (see the module docstring)."""

    mode: str = "none"
    structures: tuple[str, ...] = ()
    nm: tuple[tuple[int, int], ...] = ()
    operands: tuple[str, ...] = ("weights",)
    format: str = "bitmask"

    def exploits(self, structure: str, n: int | None, m: int | None) -> bool:
        if self.mode == "none" or structure not in self.structures:
            return False
        return structure != "n:m" or (n, m) in self.nm


@dataclass(frozen=True)
class CompressionSupport:
    """Packed precisions (bits -> MACs per unit per cycle) and sparse support of a machine."""

    precisions: tuple[tuple[int, int], ...] = ()
    sparse: SparseSupport = SparseSupport()

    def pack(self, bits: int) -> tuple[int, int]:
        """(width run at, MACs per unit per cycle) for operands of ``bits``: the narrowest
        declared width that holds them; (bits, 1) when none is declared."""
        fits = [(b, p) for b, p in self.precisions if b >= bits]
        return min(fits) if fits else (bits, 1)

    def describe(self) -> dict[str, object]:
        return {"precisions": {f"int{b}" if b > 1 else "binary": p for b, p in self.precisions},
                "sparsity": {"mode": self.sparse.mode, "structures": list(self.sparse.structures),
                             "nm": [f"{n}:{m}" for n, m in self.sparse.nm],
                             "operands": list(self.sparse.operands), "format": self.sparse.format}}


DENSE_SUPPORT = CompressionSupport()
