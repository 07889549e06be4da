"""Per-action energies of ``npu`` levels: from an Accelergy energy reference table (ERT) or
from accelsim's technology table.

An ERT (``timeloop-model.ERT.yaml``) lists, per component, the energy of each action in pJ;
Timeloop takes the largest value over an action's argument variants and looks actions up
by a list of names (``model/topology.hpp``): a read is ``random_read`` or ``read``, a fill
``random_fill``, ``random_write``, ``fill`` or ``write``, an update ``random_update``,
``random_write``, ``update`` or ``write``, a MAC ``mac_random``, ``mult_random``, ``mac``,
``mult`` or ``compute``. Missing read/fill/update actions cost the component's most
expensive action, as in Timeloop.

Without an ERT, a vector access costs the bytes it moves times the technology table's
energy per byte for the level's class and size, and a MAC the table's MAC energy.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from ...errors import SpecError
from ...frontend.yamlread import LineDict, LineList, line_of, read_yaml
from ..technology import (OFFCHIP_TYPES, Technology, mac_energy_j, offchip_energy_per_byte_j,
                          sram_energy_per_byte_j)
from .spec import ActionEnergy

__all__ = ["read_ert", "component_name", "level_energy_from_ert", "mac_energy_from_ert",
           "default_level_energy", "default_mac_energy", "precision_for_bits"]

_PJ = 1e-12
_READ = ("random_read", "read")
_FILL = ("random_fill", "random_write", "fill", "write")
_UPDATE = ("random_update", "random_write", "update", "write")
_MAC = ("mac_random", "mult_random", "mac", "mult", "compute")


def component_name(key: str) -> str:
    """``System_top_level.Buffer[1..16]`` -> ``Buffer`` (Timeloop's ERT key rule)."""
    key = re.sub(r"\[\d+\.\.\d+\]$", "", key)
    return key.rsplit(".", 1)[-1]


def _energy(entry: object, path: str, line: int | None, field: str) -> float:
    if isinstance(entry, dict):
        entry = entry.get("energy")
    if isinstance(entry, bool) or not isinstance(entry, (int, float)) or not 0 <= entry < math.inf:
        raise SpecError(f"expected a non-negative energy in pJ, got {entry!r}", file=path, line=line, field=field)
    return float(entry) * _PJ


def read_ert(path: str | Path) -> dict[str, dict[str, float]]:
    """{component: {action: joules}} from an ERT file (versions 0.2 to 0.4).

    Raises:
        SpecError: unreadable file or malformed table (with line and field).
    """
    path = str(path)
    doc = read_yaml(path)
    if not isinstance(doc, LineDict) or "ERT" not in doc or not isinstance(doc["ERT"], dict):
        raise SpecError("an energy reference table needs a top-level 'ERT:' mapping", file=path,
                        line=getattr(doc, "line", 1))
    ert = doc["ERT"]
    tables = ert.get("tables")
    out: dict[str, dict[str, float]] = {}
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
            out[component_name(str(table["name"]))] = actions
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
            out[component_name(str(key))] = actions
    else:
        raise SpecError("expected 'tables' as a list (ERT v0.3/0.4) or a mapping (v0.2)", file=path,
                        line=line_of(ert, "tables"), field="ERT.tables")
    return out


def _first(actions: dict[str, float], names: tuple[str, ...]) -> float | None:
    return next((actions[n] for n in names if n in actions), None)


def level_energy_from_ert(actions: dict[str, float]) -> ActionEnergy:
    """A storage component's action energies, with Timeloop's name fallbacks."""
    most = max((v for k, v in actions.items() if k != "leak"), default=0.0)
    pick = lambda names: (v if (v := _first(actions, names)) is not None else most)  # noqa: E731
    return ActionEnergy(read_j=pick(_READ), fill_j=pick(_FILL), update_j=pick(_UPDATE),
                        leak_j=actions.get("leak", 0.0))


def mac_energy_from_ert(actions: dict[str, float]) -> float | None:
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
