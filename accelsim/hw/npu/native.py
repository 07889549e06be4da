"""The accelsim ``kind: npu`` hardware YAML (docs/hardware-format.md) -> ``NpuSpec``.

The schema is Timeloop's architecture model written in accelsim's units: levels outermost
first, each with a class, a capacity, a vector width (``block``), bandwidths in words per
cycle, the operands it may hold and its instances as a mesh; ``parallel:`` groups
per-operand buffers; ``mac:`` is the array. Energies default to the technology table.
"""

from __future__ import annotations

from typing import Any

from ...ir import DTYPES
from ..compression import read_support
from ..spec import MAX_WORD_BITS, SpecReader
from ..technology import OFFCHIP_TYPES, Technology
from .energy import default_level_energy, default_mac_energy
from .spec import ActionEnergy, ArithmeticLevel, NpuSpec, StorageLevel

__all__ = ["load_npu"]

_CLASSES = ("dram", "sram", "regfile")
# Dimensions an ``unroll:`` list may name: the convolution's (a GEMM's M, N, K, B count as
# P, K, C, G; see docs/hardware-format.md).
UNROLL_DIMS = ("N", "G", "K", "C", "P", "Q", "R", "S")


def _names(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"expected a list of data space names, got {v!r}")
    return tuple(v)


def _mesh(v: Any) -> tuple[int, int]:
    items = [v] if isinstance(v, int) and not isinstance(v, bool) else v
    if (not isinstance(items, list) or not 1 <= len(items) <= 2
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in items)):
        raise ValueError(f"expected a positive instance count or [x, y], got {v!r}")
    return (items[0], items[1] if len(items) == 2 else 1)


def _count(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < float("inf"):
        raise ValueError(f"expected a positive number of words per cycle, got {v!r}")
    return float(v)


def _ratio(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 1:
        raise ValueError(f"expected a factor of at least 1 (2 = double buffering), got {v!r}")
    return float(v)


def _flag(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _dims(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"expected a list of dimension names, got {v!r}")
    for x in v:
        if x not in UNROLL_DIMS:
            raise ValueError(f"unknown dimension {x!r}; expected some of {', '.join(UNROLL_DIMS)}")
    return tuple(v)


Unroll = tuple[tuple[str, ...] | None, tuple[str, ...] | None]


def _unroll(r: SpecReader, default: Unroll = (None, None)) -> Unroll:
    """``unroll: {x: [...], y: [...]}``: what the fanout into these instances may spread."""
    if not r.has("unroll"):
        r.used.add("unroll")
        return default
    u = r.child("unroll")
    out = (u.get("x", _dims, None), u.get("y", _dims, None))
    u.finish()
    return out


def _level(r: SpecReader, tech: Technology, word_bits: int, mesh: tuple[int, int],
           group: str | None, unroll: Unroll = (None, None)) -> StorageLevel:
    name = r.string("name")
    cls = r.string("class", choices=_CLASSES)
    bits = r.integer("word_bits", word_bits, maximum=MAX_WORD_BITS)
    block = r.integer("block", 1)
    if r.has("size") and r.has("words"):
        raise r.error("words", "give 'size' (bytes) or 'words', not both")
    if r.has("size"):
        size_bytes = r.quantity("size", "bytes")
        size: int | None = int(size_bytes * 8 // bits)
        if size < 1:
            raise r.error("size", f"{size_bytes:g} B holds no {bits}-bit word")
    else:
        size = r.integer("words", None)
    if size is None and cls != "dram":
        raise r.missing("size")
    bw = r.child("bandwidth", None)
    read_bw, write_bw, shared_bw = (bw.get(k, _count, None) for k in ("read", "write", "shared"))
    bw.finish()
    offchip = r.string("offchip", "dram", tuple(OFFCHIP_TYPES))
    default = default_level_energy(cls, size, bits, block, tech, offchip)
    e = r.child("energy", None)
    energy = ActionEnergy(
        read_j=e.quantity("read", "energy", default.read_j, positive=False),
        fill_j=e.quantity("write", "energy", default.fill_j, positive=False),
        update_j=e.quantity("update", "energy", None, positive=False),
        leak_j=e.quantity("leak", "energy", 0.0, positive=False))
    if energy.update_j is None:
        energy = ActionEnergy(energy.read_j, energy.fill_j, energy.fill_j, energy.leak_j)
    source = "spec" if e.mapping else "technology"
    e.finish()
    keep = r.get("keep", _names, ())
    level = StorageLevel(
        name=name, cls=cls, word_bits=bits, size_words=size, block_size=block, mesh_x=mesh[0], mesh_y=mesh[1],
        read_bandwidth=read_bw, write_bandwidth=write_bw, shared_bandwidth=shared_bw,
        banks=r.integer("banks", 2), multiple_buffering=r.get("multiple_buffering", _ratio, 1.0),
        keep=keep, bypass=r.get("bypass", _names, ()), exclusive=bool(keep), energy=energy, energy_source=source,
        multicast=r.get("multicast", _flag, True), spatial_reduction=r.get("spatial_reduction", _flag, True),
        reduction=r.get("reduction", _flag, cls != "dram"),
        network_energy_j=r.quantity("network_energy", "energy", 0.0, positive=False),
        network_latency_cycles=r.integer("network_latency", 0, minimum=0), group=group,
        unroll_x=unroll[0], unroll_y=unroll[1])
    if set(level.keep) & set(level.bypass):
        raise r.error("bypass", f"{sorted(set(level.keep) & set(level.bypass))} are both kept and bypassed")
    return level


def load_npu(r: SpecReader, name: str) -> NpuSpec:
    """Read the ``npu`` fields of a hardware YAML.

    Raises:
        SpecError: unknown key, bad unit or value, a mesh that does not divide its inner
            levels' meshes, duplicate level names (with file, line, field).
    """
    tech = r.technology()
    precision = r.string("precision", "int16", tuple(DTYPES))
    word_bits = r.integer("word_bits", DTYPES[precision].bits, maximum=MAX_WORD_BITS)
    levels: list[StorageLevel] = []
    mesh = (1, 1)
    for i, entry in enumerate(r.children("levels")):
        if entry.has("parallel"):
            group = entry.string("name", f"parallel{i}")
            outer = mesh
            mesh = entry.get("mesh", _mesh, mesh)
            unroll = _unroll(entry)
            for member in entry.children("parallel"):
                levels.append(_level(member, tech, word_bits, mesh, group, _unroll(member, unroll)))
                member.finish()
            entry.finish()
            _check_mesh(entry, outer, mesh)
            continue
        outer = mesh
        mesh = entry.get("mesh", _mesh, mesh)
        _check_mesh(entry, outer, mesh)
        levels.append(_level(entry, tech, word_bits, mesh, None, _unroll(entry)))
        entry.finish()
    names = [level.name for level in levels]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise r.error("levels", f"level names must be unique; {duplicates} appear twice")
    m = r.child("mac")
    mac_mesh = m.get("mesh", _mesh, mesh)
    _check_mesh(m, mesh, mac_mesh)
    mac_bits = m.integer("word_bits", word_bits, maximum=MAX_WORD_BITS)
    mac_energy = m.quantity("energy", "energy", None, positive=False)
    mac_unroll = _unroll(m)
    arithmetic = ArithmeticLevel(
        name=m.string("name", "MAC"), word_bits=mac_bits, mesh_x=mac_mesh[0], mesh_y=mac_mesh[1],
        energy_j=mac_energy if mac_energy is not None else default_mac_energy(mac_bits, tech),
        energy_source="spec" if mac_energy is not None else "technology", unroll_x=mac_unroll[0],
        unroll_y=mac_unroll[1])
    m.finish()
    return NpuSpec(name=name, kind="npu", frequency_hz=r.quantity("frequency", "frequency"), technology=tech,
                   source=r.path, levels=tuple(levels), arithmetic=arithmetic, default_precision=precision,
                   compression=read_support(r))


def _check_mesh(r: SpecReader, outer: tuple[int, int], inner: tuple[int, int]) -> None:
    if inner[0] % outer[0] or inner[1] % outer[1]:
        raise r.error("mesh", f"mesh {inner[0]}x{inner[1]} is not a multiple of the enclosing level's "
                              f"{outer[0]}x{outer[1]} (each instance must have the same number of children)")
