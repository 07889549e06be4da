"""The npu mapper's entries in the on-disk result cache (``accelsim.cache``).

A key holds everything a search's answer depends on: the layer's shape (the problem
without its name), the machine (without its name and source file), the objective, the
constraints' directives (without the file and line they came from) and every search
option. A value is the mapping as JSON; ``SCHEMA`` is bumped whenever a change to the search
or to this layout changes what an entry means.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from ...cache import ResultCache, canonical, canonical_text
from ...hw.cost import Objective
from ...hw.npu import LevelMapping, Loop, Mapping, NpuSpec, Problem
from .constraints import Constraints

__all__ = ["SCHEMA", "NAMESPACE", "open_store", "Keys", "encode", "decode"]

SCHEMA = 1
NAMESPACE = "npu-mappings"

_FIELDS = ("keep", "no_multicast", "no_link_transfer", "no_temporal_reuse", "rmw_first_update")


def open_store() -> ResultCache:
    return ResultCache(NAMESPACE, schema=SCHEMA)


class Keys:
    """Cache keys of one machine, objective, constraints and search options. The parts
    common to every layer (the machine's description is most of a key) enter each key as
    one SHA-256 digest, computed once."""

    def __init__(self, spec: NpuSpec, objective: Objective, constraints: Constraints, search: Any) -> None:
        directives = [replace(d, file=None, line=None, field=None) for d in constraints.directives]
        common = {"spec": replace(spec, name="", source=None), "objective": objective, "constraints": directives,
                  "search": search}
        self._common = hashlib.sha256(canonical_text(common).encode("utf-8")).hexdigest()

    def __call__(self, problem: Problem) -> dict[str, Any]:
        return {"common": self._common, "problem": canonical(replace(problem, name=""))}


def _loops(loops: tuple[Loop, ...]) -> list[list[Any]]:
    return [[loop.dim, loop.bound, loop.axis] for loop in loops]


def encode(mapping: Mapping) -> list[dict[str, Any]]:
    """The mapping as JSON data (``decode`` inverts it exactly)."""
    out = []
    for lm in mapping.levels:
        level: dict[str, Any] = {"level": lm.level, "temporal": _loops(lm.temporal), "spatial": _loops(lm.spatial)}
        for name in _FIELDS:
            level[name] = list(getattr(lm, name))
        out.append(level)
    return out


def decode(data: Any) -> Mapping:
    """The mapping ``encode`` wrote.

    Raises:
        ValueError: ``data`` is not an encoded mapping (a damaged entry).
    """
    try:
        levels = []
        for level in data:
            loops = {k: tuple(Loop(str(d), int(b), a) for d, b, a in level[k]) for k in ("temporal", "spatial")}
            if any(loop.axis not in ("", "X", "Y") for ls in loops.values() for loop in ls):
                raise ValueError("bad loop axis")
            names = {k: tuple(str(n) for n in level[k]) for k in _FIELDS}
            levels.append(LevelMapping(str(level["level"]), **loops, **names))
        return Mapping(tuple(levels))
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"not an encoded mapping: {exc}") from None
