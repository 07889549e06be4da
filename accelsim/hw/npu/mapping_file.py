"""Timeloop mapping YAML -> ``Mapping``.

The file is a list of directives under ``mapping:``, as ``timeloop-model`` reads it
(``mapping/parser.cpp``)::

    mapping:
      - target: GlobalBuffer        # a storage level (or a container with a fanout)
        type: temporal              # temporal | spatial | dataspace (alias bypass, datatype)
        factors: R=1 P=16 K=16      # "K16" and a list ["K=16", ...] work too; missing = 1
        permutation: PRK            # innermost loop first; missing dimensions go outside
      - target: PE
        type: spatial
        factors: K=16
        permutation: KPR
        split: 1                    # dimensions before position `split` go on X, the rest on Y
      - target: RegisterFile
        type: dataspace
        keep: [Outputs]
        bypass: [Weights, Inputs]

A data space not mentioned is kept at every level (the mapping must be deterministic),
except where the architecture fixes it (``constraints.dataspace``) and at Timeloop's
placeholder fanout levels, which keep nothing. Per-directive switches ``no_reuse``
(spatial: no multicast; temporal: no temporal reuse), ``no_link_transfer``,
``no_temporal_reuse`` and ``rmw_first_update`` list data spaces, as in Timeloop.
Residual factors (``K=5,3``), skews and ``no_coalesce`` are not supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import MappingError, SpecError
from ...yamlread import LineDict, LineList, line_of, read_yaml
from ...registry import did_you_mean
from .mapping import LevelMapping, Loop, Mapping
from .problem import Problem
from .spec import NpuSpec

__all__ = ["MappingFile", "read_mapping"]

_TYPES = ("temporal", "spatial", "dataspace", "bypass", "datatype")
_KEYS = {
    "temporal": ("target", "type", "factors", "permutation", "no_reuse", "no_temporal_reuse", "rmw_first_update"),
    "spatial": ("target", "type", "factors", "permutation", "split", "no_reuse", "no_link_transfer"),
    "dataspace": ("target", "type", "keep", "bypass"),
}
_FACTOR = re.compile(r"([A-Za-z]+)\s*=?\s*([0-9]+)(?:,([0-9]+))?")


@dataclass(frozen=True)
class MappingFile:
    """A mapping read from ``file``, with where each level's first directive is (line,
    field), so that later errors (a tile that overflows a level) can point at it."""

    mapping: Mapping
    file: str
    where: dict[str, tuple[int, str]] = field(default_factory=dict)

    def locate(self, exc: MappingError) -> MappingError:
        """``exc`` placed in this file: at the directive of the level named by its field
        (the analysis names the level there), else at ``mapping:``."""
        line, where = self.where.get(exc.field or "", self.where[""])
        return MappingError(exc.message, file=self.file, line=line, field=where)


def _names(value: Any, what: str, err: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise err(f"expected a list of {what} names, got {value!r}")
    return list(value)


def _factors(value: Any, problem: Problem, err: Any) -> dict[int, int]:
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    if not isinstance(value, str):
        raise err(f"expected factors like 'R=3 P=16', got {value!r}")
    text = value.split("#", 1)[0]
    out: dict[int, int] = {}
    leftover = _FACTOR.sub("", text).replace(",", " ").strip()
    if leftover:
        raise err(f"cannot read {leftover!r} in factors {value!r}; write 'R=3 P=16'")
    for m in _FACTOR.finditer(text):
        try:
            d = problem.dim_index(m.group(1))
        except KeyError as exc:
            raise err(str(exc.args[0])) from None
        if m.group(3) is not None:
            raise err(f"residual factor {m.group(0)!r}: imperfect factorisation is not supported")
        if d in out:
            raise err(f"dimension {m.group(1)!r} appears twice")
        bound = int(m.group(2))
        if bound < 1:
            raise err(f"factor of {m.group(1)!r} must be at least 1, got {bound}")
        out[d] = bound
    return out


def _permutation(value: Any, problem: Problem, err: Any) -> list[int]:
    if value is None:
        names: list[str] = []
    elif isinstance(value, str):
        names = [c for c in value if not c.isspace()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        names = list(value)
    else:
        raise err(f"expected a permutation like 'RPK' or [R, P, K], got {value!r}")
    out: list[int] = []
    for name in names:
        try:
            d = problem.dim_index(name)
        except KeyError as exc:
            raise err(str(exc.args[0])) from None
        if d in out:
            raise err(f"dimension {name!r} appears twice in the permutation")
        out.append(d)
    return out + [d for d in range(len(problem.dims)) if d not in out]


def read_mapping(path: str | Path, problem: Problem, spec: NpuSpec) -> MappingFile:
    """Read a Timeloop mapping for ``problem`` on ``spec``.

    Raises:
        SpecError: malformed directive (unknown key, type, level, dimension, data space).
        MappingError: factors that do not multiply to the layer's dimensions, spatial
            loops on a level without fanout, a data space bypassed everywhere.
    """
    path = str(path)
    doc = read_yaml(path)
    if not isinstance(doc, LineDict) or not isinstance(doc.get("mapping"), LineList):
        raise SpecError("a mapping file needs a top-level 'mapping:' list", file=path, line=getattr(doc, "line", 1))
    directives = doc["mapping"]
    for key in doc:
        if key != "mapping":
            raise SpecError("unknown top-level key; expected 'mapping'", file=path, line=line_of(doc, key),
                            field=str(key))
    names = [level.name for level in spec.levels]
    temporal: dict[int, list[Loop]] = {}
    spatial: dict[int, list[Loop]] = {}
    keep: dict[int, dict[str, bool]] = {i: {} for i in range(len(names))}
    switches: dict[int, dict[str, set[str]]] = {i: {} for i in range(len(names))}
    where: dict[str, tuple[int, str]] = {"": (line_of(doc, "mapping") or 1, "mapping")}
    first_use: dict[int, int] = {}

    for n, d in enumerate(directives):
        at = f"mapping[{n}]"
        if not isinstance(d, LineDict):
            raise SpecError("expected a directive {target: ..., type: ...}", file=path,
                            line=line_of(directives, n), field=at)

        def err(message: str, key: str | None = None) -> SpecError:
            return SpecError(message, file=path, line=line_of(d, key) if key else d.line,
                             field=f"{at}.{key}" if key else at)

        kind = d.get("type")
        if kind not in _TYPES:
            raise err(f"unknown directive type {kind!r}; {did_you_mean(str(kind), list(_TYPES))}"
                      + ("" if kind != "skew" else " (skews are not supported)"), "type" if "type" in d else None)
        kind = "dataspace" if kind in ("bypass", "datatype") else kind
        for key in d:
            if key not in _KEYS[kind]:
                raise err(f"unknown key for a {kind} directive; {did_you_mean(str(key), list(_KEYS[kind]))}", key)
        target = d.get("target")
        if not isinstance(target, str):
            raise err("every directive needs a 'target' level", "target" if "target" in d else None)
        if target not in names and f"inter_{target}_spatial" in names:
            target = f"inter_{target}_spatial"
        if target not in names:
            raise err(f"unknown level {target!r}; {did_you_mean(target, names)}", "target")
        level = names.index(target)
        where.setdefault(target, (d.line or 1, at))
        spec_level = spec.levels[level]

        def data_spaces(key: str) -> list[str]:
            values = _names(d[key], "data space", lambda m: err(m, key))
            for v in values:
                try:
                    problem.dataspace_index(v)
                except KeyError as exc:
                    raise err(str(exc.args[0]), key) from None
            return values

        if kind == "dataspace":
            for key, value in (("keep", True), ("bypass", False)):
                if key in d:
                    for ds in data_spaces(key):
                        if value and spec_level.dummy:
                            raise err(f"{target!r} is Timeloop's placeholder for a fanout and keeps nothing", key)
                        keep[level][ds] = value
            continue
        loops = temporal if kind == "temporal" else spatial
        if level in loops:
            raise err(f"a second {kind} directive for level {target!r}")
        factors = _factors(d.get("factors", ""), problem, lambda m: err(m, "factors"))
        order = _permutation(d.get("permutation"), problem, lambda m: err(m, "permutation"))
        if kind == "spatial":
            fx, fy = spec.fanout(level)
            if fx * fy == 1:
                raise MappingError(f"level {target!r} has no spatial fanout below it (its children have as many "
                                   "instances as it has); spatial factors go on a level that fans out",
                                   file=path, line=d.line, field=at)
            split = d.get("split", len(problem.dims))
            if isinstance(split, bool) or not isinstance(split, int) or split < 0:
                raise err(f"expected a non-negative integer, got {split!r}", "split")
            axes = ["X" if pos < split else "Y" for pos in range(len(order))]
        else:
            axes = [""] * len(order)
        innermost_first = [Loop(problem.dims[dim], factors.get(dim, 1), axis)  # type: ignore[arg-type]
                           for dim, axis in zip(order, axes)]
        loops[level] = [loop for loop in reversed(innermost_first) if loop.bound > 1]
        for dim in factors:
            first_use.setdefault(dim, line_of(d, "factors") or d.line or 1)
        for key, name in (("no_reuse", "no_multicast" if kind == "spatial" else "no_temporal_reuse"),
                          ("no_temporal_reuse", "no_temporal_reuse"), ("no_link_transfer", "no_link_transfer"),
                          ("rmw_first_update", "rmw_first_update")):
            if key in d:
                switches[level].setdefault(name, set()).update(data_spaces(key))

    levels = []
    for i, level in enumerate(spec.levels):
        kept = []
        for ds in problem.dataspaces:
            if keep[i].get(ds.name, level.keeps_by_default(ds.name)):
                kept.append(ds.name)
        sw = switches[i]
        levels.append(LevelMapping(
            level=level.name, temporal=tuple(temporal.get(i, ())), spatial=tuple(spatial.get(i, ())),
            keep=tuple(kept), no_multicast=tuple(sorted(sw.get("no_multicast", ()))),
            no_link_transfer=tuple(sorted(sw.get("no_link_transfer", ()))),
            no_temporal_reuse=tuple(sorted(sw.get("no_temporal_reuse", ()))),
            rmw_first_update=tuple(sorted(sw.get("rmw_first_update", ())))))
    mapping = Mapping(tuple(levels))
    for d, (name, bound) in enumerate(zip(problem.dims, problem.bounds)):
        product = 1
        for loop in mapping.loops():
            if problem.dim_index(loop.dim) == d:
                product *= loop.bound
        if product != bound:
            raise MappingError(f"the factors of {name} multiply to {product} across the mapping, but the layer's "
                               f"{name} is {bound}", file=path, line=first_use.get(d, where[""][0]), field="mapping")
    for ds in problem.dataspaces:
        if not any(ds.name in lm.keep for lm in levels):
            raise MappingError(f"data space {ds.name!r} bypasses every level; keep it somewhere", file=path,
                               line=where[""][0], field="mapping")
    return MappingFile(mapping, path, where)
