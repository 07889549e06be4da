"""The ``npu`` hardware: a hierarchy of storage levels above an array of MAC units.

This is Timeloop's architecture model. Levels are listed outermost first (DRAM, global
buffer, per-PE scratchpads); each has a number of instances laid out as a ``mesh_x x
mesh_y`` grid, and the ratio of a level's instances to its parent's is the spatial fanout
that a mapping's spatial loops distribute work over. Sizes and bandwidths are in *words*
of the level's own width, energies are per *vector* access (``block_size`` words), as in
Timeloop, so that energy reference tables from Accelergy apply unchanged.

Per-operand scratchpads at one place in the hierarchy (Eyeriss' filter, ifmap and psum
spads, written ``!Parallel`` in Timeloop) are consecutive levels sharing a ``group`` name,
each keeping its own operand: that is exactly how Timeloop itself treats them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..spec import HardwareSpec

__all__ = ["ActionEnergy", "StorageLevel", "ArithmeticLevel", "NpuSpec", "LevelClass"]

LevelClass = Literal["dram", "sram", "regfile", "dummy"]


@dataclass(frozen=True)
class ActionEnergy:
    """Joules per vector access (``read``, ``fill`` = write from the parent, ``update`` =
    write of a partial sum from a child) and per instance-cycle of leakage."""

    read_j: float = 0.0
    fill_j: float = 0.0
    update_j: float = 0.0
    leak_j: float = 0.0


@dataclass(frozen=True)
class StorageLevel:
    """One storage level (all its instances).

    ``size_words`` None means unbounded (off-chip memory). ``keep``/``bypass`` are the
    architecture's data-space choices, used where a mapping does not say: listed in
    ``bypass`` = bypassed; with ``exclusive`` the level holds only what ``keep`` lists
    (a per-operand scratchpad); anything else is kept, as Timeloop defaults. Bandwidths are words per cycle per instance,
    None = unlimited. ``multicast``: the network below can deliver one read to several
    children; ``spatial_reduction``: it can add partial sums from several children on the
    way up. ``reduction``: the level can add an incoming partial sum to a stored one.
    ``dummy`` marks the placeholder Timeloop inserts for a container's fanout.
    ``network_energy_j`` is the energy of delivering one word to the children (0 as in
    Timeloop's default network). ``unroll_x``/``unroll_y`` name the problem dimensions
    (convolution names) that the fanout *into* this level's instances may spread along each
    mesh axis, None = any: the wiring of the array (row stationary sends filter rows down Y);
    only a mapping search reads them.
    """

    name: str
    cls: LevelClass
    word_bits: int
    size_words: int | None = None
    block_size: int = 1
    cluster_size: int = 1
    mesh_x: int = 1
    mesh_y: int = 1
    read_bandwidth: float | None = None
    write_bandwidth: float | None = None
    shared_bandwidth: float | None = None
    banks: int = 2
    multiple_buffering: float = 1.0
    keep: tuple[str, ...] = ()
    bypass: tuple[str, ...] = ()
    exclusive: bool = False
    energy: ActionEnergy = ActionEnergy()
    energy_source: str = "technology"
    multicast: bool = True
    spatial_reduction: bool = True
    reduction: bool = True
    network_energy_j: float = 0.0
    network_latency_cycles: int = 0
    group: str | None = None
    dummy: bool = False
    unroll_x: tuple[str, ...] | None = None
    unroll_y: tuple[str, ...] | None = None

    @property
    def instances(self) -> int:
        return self.mesh_x * self.mesh_y

    def keeps_by_default(self, dataspace: str) -> bool:
        """Whether the level holds ``dataspace`` when a mapping does not say."""
        if self.dummy or dataspace in self.bypass:
            return False
        return dataspace in self.keep if self.exclusive else True

    @property
    def effective_words(self) -> int | None:
        """Capacity left for tiles after multiple buffering (Timeloop's effective size)."""
        if self.size_words is None:
            return None
        return int(self.size_words // self.multiple_buffering)


@dataclass(frozen=True)
class ArithmeticLevel:
    """The MAC array: ``mesh_x x mesh_y`` units, each one MAC per cycle; ``unroll_x`` /
    ``unroll_y`` as for ``StorageLevel``."""

    name: str = "MAC"
    word_bits: int = 16
    mesh_x: int = 1
    mesh_y: int = 1
    energy_j: float = 0.0
    energy_source: str = "technology"
    unroll_x: tuple[str, ...] | None = None
    unroll_y: tuple[str, ...] | None = None

    @property
    def instances(self) -> int:
        return self.mesh_x * self.mesh_y


@dataclass(frozen=True)
class NpuSpec(HardwareSpec):
    """A spatial accelerator: storage levels (outermost first) above a MAC array."""

    levels: tuple[StorageLevel, ...] = ()
    arithmetic: ArithmeticLevel = ArithmeticLevel()
    default_precision: str = "int16"

    def level_index(self, name: str) -> int:
        """Index in ``levels`` of the level called ``name``.

        Raises:
            KeyError: no such level.
        """
        for i, level in enumerate(self.levels):
            if level.name == name:
                return i
        raise KeyError(name)

    def fanout(self, index: int) -> tuple[int, int]:
        """(x, y) instances of the next-inner level (or MAC) per instance of level ``index``."""
        inner = self.levels[index + 1] if index + 1 < len(self.levels) else self.arithmetic
        level = self.levels[index]
        return inner.mesh_x // level.mesh_x, inner.mesh_y // level.mesh_y

    def unroll(self, index: int) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        """Dimensions the fanout of level ``index`` may spread along (x, y); None = any."""
        inner = self.levels[index + 1] if index + 1 < len(self.levels) else self.arithmetic
        return inner.unroll_x, inner.unroll_y

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.arithmetic.instances
