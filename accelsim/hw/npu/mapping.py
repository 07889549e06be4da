"""A mapping: how one layer's loop nest is tiled, ordered and unrolled onto an ``npu``.

For every storage level (outermost first, aligned with ``NpuSpec.levels``) a mapping gives
the temporal loops that run at that level, the spatial loops that distribute the level's
tile over its children (each on the X or Y axis of the fanout), and which data spaces the
level keeps (the others bypass it). Loops with bound 1 are left out, as Timeloop does.
Every tuple of loops is written outermost first, the order in which a loop nest reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping as MappingType

__all__ = ["Loop", "LevelMapping", "Mapping", "format_loop_nest"]


@dataclass(frozen=True)
class Loop:
    """``for dim in [0:bound)``; ``axis`` is "" for a temporal loop, "X" or "Y" for a
    spatial one."""

    dim: str
    bound: int
    axis: Literal["", "X", "Y"] = ""

    @property
    def spatial(self) -> bool:
        return self.axis != ""

    def __str__(self) -> str:
        suffix = f" (Spatial-{self.axis})" if self.axis else ""
        return f"for {self.dim} in [0:{self.bound}){suffix}"


@dataclass(frozen=True)
class LevelMapping:
    """The loops and operand choices of one storage level.

    ``temporal`` and ``spatial`` are outermost first; spatial loops run inside the level's
    temporal loops. ``keep`` lists the data spaces that have a tile here. The ``no_*``
    fields are Timeloop's per-data-space switches: ``no_multicast`` (no sharing of one
    read among children), ``no_link_transfer`` (no neighbour-to-neighbour forwarding),
    ``no_temporal_reuse`` (refetch the whole tile every iteration) and
    ``rmw_first_update`` (the first partial-sum update also reads).
    """

    level: str
    temporal: tuple[Loop, ...] = ()
    spatial: tuple[Loop, ...] = ()
    keep: tuple[str, ...] = ()
    no_multicast: tuple[str, ...] = ()
    no_link_transfer: tuple[str, ...] = ()
    no_temporal_reuse: tuple[str, ...] = ()
    rmw_first_update: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mapping:
    """One ``LevelMapping`` per storage level of the spec, outermost first."""

    levels: tuple[LevelMapping, ...]

    def level(self, name: str) -> LevelMapping:
        for lm in self.levels:
            if lm.level == name:
                return lm
        raise KeyError(name)

    def loops(self) -> tuple[Loop, ...]:
        """All loops, outermost first."""
        return tuple(loop for lm in self.levels for loop in (*lm.temporal, *lm.spatial))


def format_loop_nest(mapping: Mapping, dataspaces: tuple[str, ...] = (),
                     tile_sizes: MappingType[str, MappingType[str, int]] | None = None) -> str:
    """The mapping as a loop nest in the layout of Timeloop's ``map.txt``.

    Each level is headed by its name and the tiles it keeps (``Weights:96 (96)``: words,
    then the utilised capacity, the same number for dense tensors); a level without loops
    shares the heading block of the next. ``dataspaces`` fixes the order of the tiles.
    """
    out: list[str] = []
    indent = "| "
    dashes = ""
    newline = ""
    for lm in mapping.levels:
        loops = (*lm.temporal, *lm.spatial)
        out.append(newline)
        newline = ""
        order = dataspaces or lm.keep
        parts = []
        for ds in order:
            if ds in lm.keep:
                size = tile_sizes.get(lm.level, {}).get(ds) if tile_sizes else None
                parts.append(f"{ds}:{size} ({size}) " if size is not None else f"{ds} ")
        header = f"{lm.level} [ {''.join(parts)}] "
        out.append(header + "\n")
        dashes = "-" * (len(header) - 1) + "\n"
        for loop in loops:
            out.append(dashes)
            dashes = ""
            out.append(f"{indent}{loop}\n")
            indent += "  "
            newline = "\n"
    out.append(dashes + indent + "<< Compute >>\n")
    return "".join(out)
