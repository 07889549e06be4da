"""Per-action energies of ``npu`` levels: from an Accelergy energy reference table (ERT) or
from accelsim's technology table.

An ERT (``timeloop-model.ERT.yaml``) lists, per component, the energy of each action in pJ;
Timeloop takes the largest value over an action's argument variants and looks actions up
by a list of names (``model/topology.hpp``): a read is ``random_read`` or ``read``, a fill
``random_fill``, ``random_write``, ``fill`` or ``write``, an update ``random_update``,
``random_write``, ``update`` or ``write``, a MAC ``mac_random``, ``mult_random``, ``mac``,
``mult`` or ``compute``. Missing read/fill/update actions cost the component's most
expensive action, as in Timeloop.

A component's key carries its instance count as index ranges: ``Buffer[1..16]`` (Accelergy
0.4, the flattened count) or ``system.PE[0..167].pe_spad`` (0.2, one range per level of the
hierarchy, multiplied). Timeloop drops them and matches the last name. accelsim compares the
count with the architecture's and warns when they differ (:func:`check_instances`): the
energies are per action of one instance, so they are still used, but such a table was most
likely made for another architecture.

Without an ERT, a vector access costs the bytes it moves times the technology table's
energy per byte for the level's class and size, and a MAC the table's MAC energy.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ...errors import SpecError
from ...yamlread import LineDict, LineList, line_of, read_yaml
from ..technology import (OFFCHIP_TYPES, Technology, mac_energy_j, offchip_energy_per_byte_j,
                          sram_energy_per_byte_j)
from .spec import ActionEnergy

__all__ = ["Ert", "read_ert", "component_name", "instance_count", "check_instances", "level_energy_from_ert",
           "mac_energy_from_ert", "default_level_energy", "default_mac_energy", "precision_for_bits"]

_PJ = 1e-12
_READ = ("random_read", "read")
_FILL = ("random_fill", "random_write", "fill", "write")
_UPDATE = ("random_update", "random_write", "update", "write")
_MAC = ("mac_random", "mult_random", "mac", "mult", "compute")


_RANGE = re.compile(r"\[(\d+)\.\.(\d+)\]")


@dataclass(frozen=True)
class Ert:
    """An energy reference table read from ``path``.

    ``actions``: {component: {action: joules}}; ``instances``: {component: count} for the
    components whose key states one; ``keys`` and ``lines``: each component's key as written
    and its line, for messages.
    """

    path: str
    actions: Mapping[str, Mapping[str, float]]
    instances: Mapping[str, int]
    keys: Mapping[str, str]
    lines: Mapping[str, int | None]


def component_name(key: str) -> str:
    """``System_top_level.Buffer[1..16]`` -> ``Buffer`` (Timeloop's ERT key rule)."""
    key = re.sub(r"\[\d+\.\.\d+\]$", "", key)
    return key.rsplit(".", 1)[-1]


def instance_count(key: str) -> int | None:
    """Instances an ERT key states: the product of its ``[low..high]`` ranges
    (``system.PE[0..167].pe_spad`` -> 168, ``top.Buffer[1..16]`` -> 16); None without one.

    Raises:
        ValueError: a range whose end is below its start.
    """
    ranges = [(int(low), int(high)) for low, high in _RANGE.findall(key)]
    if not ranges:
        return None
    count = 1
    for low, high in ranges:
        if high < low:
            raise ValueError(f"empty instance range [{low}..{high}]")
        count *= high - low + 1
    return count


def check_instances(ert: Ert, component: str, instances: int, arch: str) -> None:
    """Warn when the ERT's instance count of ``component`` differs from ``instances``, the
    architecture's (``arch`` names its file). No warning where the key states no count."""
    stated = ert.instances.get(component)
    if stated is None or stated == instances:
        return
    line = ert.lines.get(component)
    where = f"{ert.path}:{line}" if line is not None else ert.path
    warnings.warn(f"{where}: the energy reference table's entry {ert.keys[component]!r} is for {stated} "
                  f"instance{'s' if stated != 1 else ''} of {component!r}, but {arch} has {instances}; its "
                  "per-action energies are used as they are (was the table made for another architecture?)",
                  stacklevel=2)


def _energy(entry: object, path: str, line: int | None, field: str) -> float:
    if isinstance(entry, dict):
        entry = entry.get("energy")
    if isinstance(entry, bool) or not isinstance(entry, (int, float)) or not 0 <= entry < math.inf:
        raise SpecError(f"expected a non-negative energy in pJ, got {entry!r}", file=path, line=line, field=field)
    return float(entry) * _PJ


def read_ert(path: str | Path) -> Ert:
    """An ERT file (versions 0.2 to 0.4): each component's action energies and the instance
    count its key states.

    Raises:
        SpecError: unreadable file or malformed table, an empty instance range (with line
            and field).
    """
    path = str(path)
    doc = read_yaml(path)
    if not isinstance(doc, LineDict) or "ERT" not in doc or not isinstance(doc["ERT"], dict):
        raise SpecError("an energy reference table needs a top-level 'ERT:' mapping", file=path,
                        line=getattr(doc, "line", 1))
    ert = doc["ERT"]
    tables = ert.get("tables")
    out: dict[str, dict[str, float]] = {}
    instances: dict[str, int] = {}
    keys: dict[str, str] = {}
    lines: dict[str, int | None] = {}

    def add(key: str, actions: dict[str, float], line: int | None, field: str) -> None:
        name = component_name(key)
        try:
            count = instance_count(key)
        except ValueError as exc:
            raise SpecError(f"{exc} in {key!r}", file=path, line=line, field=field) from None
        out[name], keys[name], lines[name] = actions, key, line
        if count is None:
            instances.pop(name, None)
        else:
            instances[name] = count

    if isinstance(tables, LineList):  # v0.3/0.4: [{name, actions: [{name, energy, ...}]}]
        for i, table in enumerate(tables):
            field = f"ERT.tables[{i}]"
            if not isinstance(table, dict) or "name" not in table or not isinstance(table.get("actions"), list):
                raise SpecError("expected {name: ..., actions: [...]}", file=path, line=line_of(tables, i), field=field)
            actions: dict[str, float] = {}
            for j, action in enumerate(table["actions"]):
                where = f"{field}.actions[{j}]"
                if not isinstance(action, dict) or "name" not in action:
                    raise SpecError("expected {name: ..., energy: ...}", file=path,
                                    line=line_of(table["actions"], j), field=where)
                energy = _energy(action, path, getattr(action, "line", None), where + ".energy")
                name = str(action["name"])
                actions[name] = max(actions.get(name, 0.0), energy)
            add(str(table["name"]), actions, line_of(tables, i), field + ".name")
    elif isinstance(tables, dict):  # v0.2: {component: {action: [{energy}] | {energy}}}
        for key, table in tables.items():
            if not isinstance(table, dict):
                raise SpecError("expected a mapping of actions", file=path, line=line_of(tables, key),
                                field=f"ERT.tables.{key}")
            actions = {}
            for name, variants in table.items():
                where = f"ERT.tables.{key}.{name}"
                entries = variants if isinstance(variants, list) else [variants]
                actions[str(name)] = max(_energy(e, path, line_of(table, name), where) for e in entries)
            add(str(key), actions, line_of(tables, key), f"ERT.tables.{key}")
    else:
        raise SpecError("expected 'tables' as a list (ERT v0.3/0.4) or a mapping (v0.2)", file=path,
                        line=line_of(ert, "tables"), field="ERT.tables")
    return Ert(path=path, actions=out, instances=instances, keys=keys, lines=lines)


def _first(actions: Mapping[str, float], names: tuple[str, ...]) -> float | None:
    return next((actions[n] for n in names if n in actions), None)


def level_energy_from_ert(actions: Mapping[str, float]) -> ActionEnergy:
    """A storage component's action energies, with Timeloop's name fallbacks."""
    most = max((v for k, v in actions.items() if k != "leak"), default=0.0)
    pick = lambda names: (v if (v := _first(actions, names)) is not None else most)  # noqa: E731
    return ActionEnergy(read_j=pick(_READ), fill_j=pick(_FILL), update_j=pick(_UPDATE),
                        leak_j=actions.get("leak", 0.0))


def mac_energy_from_ert(actions: Mapping[str, float]) -> float | None:
    return _first(actions, _MAC)


def precision_for_bits(bits: int) -> str:
    """The accelsim dtype of an integer datapath ``bits`` wide (fp32 beyond 32 bits)."""
    return {1: "binary", 2: "int2", 4: "int4", 8: "int8", 16: "int16", 32: "int32"}.get(bits, "fp32")


def default_level_energy(cls: str, size_words: int | None, word_bits: int, block_size: int,
                         tech: Technology, offchip: str = "dram") -> ActionEnergy:
    """Technology-table energies of one vector access (``block_size`` words)."""
    vector_bytes = block_size * word_bits / 8
    if cls == "dummy":
        return ActionEnergy()
    if cls == "dram":
        per_byte = offchip_energy_per_byte_j(offchip if offchip in OFFCHIP_TYPES else "dram")
    else:
        size_bytes = size_words * word_bits / 8 if size_words else 1024.0 * 1024.0
        per_byte = sram_energy_per_byte_j(size_bytes, tech)
    e = per_byte * vector_bytes
    return ActionEnergy(read_j=e, fill_j=e, update_j=e)


def default_mac_energy(word_bits: int, tech: Technology) -> float:
    return mac_energy_j(precision_for_bits(word_bits), tech)
