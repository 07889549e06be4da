"""Timeloop mapspace constraints (``mapspace_constraints`` / ``architecture_constraints``).

A constraints file narrows the npu mapping search the way it narrows ``timeloop-mapper``::

    mapspace_constraints:          # or architecture_constraints; both may appear
      version: 0.4                 # v0.4 {version, targets: [...]}, or a bare list
      targets:
      - target: GlobalBuffer       # a storage level (or a container with a fanout)
        type: temporal             # temporal | spatial | dataspace (alias bypass, datatype)
        factors: R=1 P=16 K<=16    # "=" fixes a factor, "<=" / ">=" bound it
        permutation: PRK           # innermost first; a partial list fixes the innermost loops
      - target: PE
        type: spatial
        factors: K=16
        permutation: KC
        split: 1                   # dimensions before position 1 go on X, the rest on Y
      - target: RegisterFile
        type: dataspace
        keep: [Weights]
        bypass: [Inputs]

Dimensions and data spaces are checked against each layer when the search resolves the
directives (``space``), so one file can serve every layer; a name the layer does not
have is an error there, placed at the directive's line. Other top-level sections of a
Timeloop input (``architecture``, ``problem``, ``mapper``, ...) are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ...errors import SpecError
from ...yamlread import LineDict, LineList, line_of, read_yaml
from ...registry import did_you_mean

__all__ = ["Directive", "Constraints", "read_constraints", "NO_CONSTRAINTS"]

_SECTIONS = ("mapspace_constraints", "architecture_constraints")
_TYPES = {"temporal": "temporal", "spatial": "spatial", "dataspace": "dataspace", "bypass": "dataspace",
          "datatype": "dataspace"}
_KEYS = {
    "temporal": ("target", "type", "factors", "permutation"),
    "spatial": ("target", "type", "factors", "permutation", "split"),
    "dataspace": ("target", "type", "keep", "bypass"),
}
_FACTOR = re.compile(r"([A-Za-z]+)\s*(<=|>=|=)?\s*([0-9]+)")

Op = Literal["=", "<=", ">="]


@dataclass(frozen=True)
class Directive:
    """One constraint on one level, with the place it was written (for errors)."""

    target: str
    kind: Literal["temporal", "spatial", "dataspace"]
    factors: tuple[tuple[str, Op, int], ...] = ()
    permutation: tuple[str, ...] | None = None  # innermost first
    split: int | None = None
    keep: tuple[str, ...] = ()
    bypass: tuple[str, ...] = ()
    file: str | None = None
    line: int | None = None
    field: str | None = None

    def error(self, message: str) -> SpecError:
        return SpecError(message, file=self.file, line=self.line, field=self.field)


@dataclass(frozen=True)
class Constraints:
    """All directives of one file, in file order."""

    directives: tuple[Directive, ...] = ()
    source: str | None = None


NO_CONSTRAINTS = Constraints()


def _names(value: Any, err: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise err(f"expected a list of data space names, got {value!r}")
    return tuple(value)


def _factors(value: Any, err: Any) -> tuple[tuple[str, Op, int], ...]:
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    if not isinstance(value, str):
        raise err(f"expected factors like 'R=3 P<=16', got {value!r}")
    text = value.split("#", 1)[0]
    leftover = _FACTOR.sub("", text).replace(",", " ").strip()
    if leftover:
        raise err(f"cannot read {leftover!r} in factors {value!r}; write 'R=3 P<=16'")
    out: list[tuple[str, Op, int]] = []
    for m in _FACTOR.finditer(text):
        bound = int(m.group(3))
        if bound < 1:
            raise err(f"factor of {m.group(1)!r} must be at least 1, got {bound}")
        out.append((m.group(1), (m.group(2) or "=") , bound))  # type: ignore[arg-type]
    return tuple(out)


def _permutation(value: Any, err: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(c for c in value if not c.isspace())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise err(f"expected a permutation like 'RPK' or [R, P, K], got {value!r}")


def _directive(d: Any, path: str, at: str, line: int | None) -> Directive:
    if not isinstance(d, LineDict):
        raise SpecError("expected a directive {target: ..., type: ...}", file=path, line=line, field=at)

    def err(message: str, key: str | None = None) -> SpecError:
        return SpecError(message, file=path, line=line_of(d, key) if key else d.line,
                         field=f"{at}.{key}" if key else at)

    kind = _TYPES.get(str(d.get("type")))
    if kind is None:
        raise err(f"unknown constraint type {d.get('type')!r}; {did_you_mean(str(d.get('type')), list(_TYPES))}",
                  "type" if "type" in d else None)
    for key in d:
        if key not in _KEYS[kind]:
            raise err(f"unknown key for a {kind} constraint; {did_you_mean(str(key), list(_KEYS[kind]))}", key)
    target = d.get("target")
    if not isinstance(target, str):
        raise err("every constraint needs a 'target' level", "target" if "target" in d else None)
    split = d.get("split")
    if split is not None and (isinstance(split, bool) or not isinstance(split, int) or split < 0):
        raise err(f"expected a non-negative integer, got {split!r}", "split")
    return Directive(
        target=target, kind=kind,  # type: ignore[arg-type]
        factors=_factors(d["factors"], lambda m: err(m, "factors")) if "factors" in d else (),
        permutation=_permutation(d["permutation"], lambda m: err(m, "permutation")) if "permutation" in d else None,
        split=split, keep=_names(d["keep"], lambda m: err(m, "keep")) if "keep" in d else (),
        bypass=_names(d["bypass"], lambda m: err(m, "bypass")) if "bypass" in d else (),
        file=path, line=d.line, field=at)


def read_constraints(path: str | Path) -> Constraints:
    """Read a Timeloop constraints file.

    Raises:
        SpecError: no constraints section, a malformed directive (unknown type or key,
            unreadable factors or permutation), with file, line and field.
    """
    path = str(path)
    doc = read_yaml(path)
    if not isinstance(doc, LineDict) or not any(s in doc for s in _SECTIONS):
        raise SpecError("a constraints file needs a 'mapspace_constraints:' or 'architecture_constraints:' "
                        "section", file=path, line=getattr(doc, "line", 1))
    directives: list[Directive] = []
    for section in _SECTIONS:
        if section not in doc or doc[section] is None:
            continue
        body = doc[section]
        field = section
        if isinstance(body, LineDict):
            for key in body:
                if key not in ("version", "targets"):
                    raise SpecError(f"unknown key; {did_you_mean(str(key), ['version', 'targets'])}", file=path,
                                    line=line_of(body, key), field=f"{section}.{key}")
            field = f"{section}.targets"
            body = body.get("targets", LineList())
        if not isinstance(body, list):
            raise SpecError("expected a list of directives", file=path, line=line_of(doc, section), field=field)
        for i, d in enumerate(body):
            line = line_of(body, i) if isinstance(body, LineList) else None
            directives.append(_directive(d, path, f"{field}[{i}]", line))
    return Constraints(tuple(directives), path)
