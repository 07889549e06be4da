"""Timeloop v0.4 problem files -> a Graph with one convolution.

Timeloop describes a layer by its dimensions, coefficients and data-space projections.
accelsim reads the convolution family: dimensions among N, C, K (Timeloop also writes M),
R, S, P, Q, with data spaces

* ``Weights``: ranks C, K, R, S;
* ``Inputs``: ranks N, C, ``R*Wdilation + P*Wstride``, ``S*Hdilation + Q*Hstride``;
* ``Outputs`` (``read_write: true``): ranks N, K, P, Q (any order, as in Timeloop's shapes).

Missing dimensions are 1 (the tutorial's ``conv1d`` has only R and P; ``conv1d+oc`` adds
K), and ranks over dimensions of size 1 may be left out. The result is an input tensor
``[N, C, H, W]`` and one ``conv2d`` named after the shape, whose workload has exactly the
file's loop bounds and strides, so Timeloop mappings written for the file apply to it.
R and P go with the first spatial axis (Timeloop's W), S and Q with the second.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ...errors import SpecError
from ...ir import Graph, Source
from ...registry import did_you_mean
from ...yamlread import LineDict, LineList, line_of, read_yaml

__all__ = ["load_timeloop_problem"]

_DIMS = ("N", "C", "K", "R", "S", "P", "Q")
_ALIASES = {"M": "K"}
_ROLES = ("Weights", "Inputs", "Outputs")
# Instance entries Timeloop's example problems carry for other tools (input size, padding)
# and sparse densities; the loop bounds and coefficients fully define the layer.
_IGNORED = ("densities", "H", "W", "Hpad", "Wpad")


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, container: Any, key: Any, field: str, message: str) -> SpecError:
        return SpecError(message, file=self.path, line=line_of(container, key) if key is not None
                         else getattr(container, "line", None), field=field)

    def mapping(self, parent: Any, key: str, field: str) -> LineDict:
        value = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(value, dict):
            raise self.error(parent, key if isinstance(parent, dict) and key in parent else None, field,
                             f"expected a mapping '{key}'")
        return value

    def keys(self, mapping: LineDict, allowed: tuple[str, ...], field: str) -> None:
        for key in mapping:
            if key not in allowed:
                raise self.error(mapping, key, f"{field}.{key}", f"unknown key; {did_you_mean(str(key), list(allowed))}")

    def positive(self, mapping: LineDict, key: str, field: str) -> int:
        value = mapping[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(mapping, key, field, f"expected a positive integer, got {value!r}")
        return value


def _term(reader: _Reader, term: Any, container: Any, index: int, field: str) -> tuple[str, str | None]:
    """``[dim]`` or ``[dim, coefficient]``."""
    if isinstance(term, str):
        return term, None
    if isinstance(term, list) and 1 <= len(term) <= 2 and all(isinstance(t, str) for t in term):
        return term[0], term[1] if len(term) == 2 else None
    raise reader.error(container, index, field, f"expected [dimension] or [dimension, coefficient], got {term!r}")


def load_timeloop_problem(path: str | Path) -> Graph:
    """Read a Timeloop problem YAML as a one-convolution graph.

    Raises:
        SpecError: unknown key or dimension, a projection that is not a convolution's,
            a data space with another name, a non-positive size (with file, line, field).
    """
    path = str(path)
    r = _Reader(path)
    doc = read_yaml(path)
    if not isinstance(doc, LineDict):
        raise SpecError("expected a mapping with a 'problem' key", file=path, line=1)
    r.keys(doc, ("problem",), "")
    problem = r.mapping(doc, "problem", "problem")
    r.keys(problem, ("version", "shape", "instance"), "problem")
    if str(problem.get("version", "0.4")) != "0.4":
        raise r.error(problem, "version", "problem.version", f"unsupported version {problem['version']!r}; "
                      "accelsim reads 0.4")
    shape = r.mapping(problem, "shape", "problem.shape")
    instance = r.mapping(problem, "instance", "problem.instance")
    r.keys(shape, ("name", "dimensions", "coefficients", "data_spaces", "data-spaces"), "problem.shape")
    name = str(shape.get("name", Path(path).stem))

    dims = shape.get("dimensions")
    if not isinstance(dims, list) or not dims or not all(isinstance(d, str) for d in dims):
        raise r.error(shape, "dimensions" if "dimensions" in shape else None, "problem.shape.dimensions",
                      "expected a list of dimension names")
    canonical: dict[str, str] = {}
    for i, d in enumerate(dims):
        c = _ALIASES.get(d, d)
        if c not in _DIMS:
            raise r.error(dims, i, f"problem.shape.dimensions[{i}]", f"dimension {d!r} is not one of a "
                          "convolution's (N, C, K or M, R, S, P, Q); accelsim reads convolution-family problems")
        if c in canonical.values():
            raise r.error(dims, i, f"problem.shape.dimensions[{i}]", f"dimension {d!r} appears twice")
        canonical[d] = c

    coefficients: dict[str, int] = {}
    for i, coef in enumerate(shape.get("coefficients") or []):
        where = f"problem.shape.coefficients[{i}]"
        if not isinstance(coef, dict) or not isinstance(coef.get("name"), str):
            raise r.error(shape["coefficients"], i, where, "expected {name: ..., default: ...}")
        r.keys(coef, ("name", "default"), where)
        coefficients[coef["name"]] = r.positive(coef, "default", f"{where}.default") if "default" in coef else 1

    bounds = dict.fromkeys(_DIMS, 1)
    for key in instance:
        where = f"problem.instance.{key}"
        if key in canonical:
            bounds[canonical[key]] = r.positive(instance, key, where)
        elif key in coefficients:
            coefficients[key] = r.positive(instance, key, where)
        elif key not in _IGNORED:
            raise r.error(instance, key, where, "unknown dimension or coefficient; "
                          + did_you_mean(str(key), [*canonical, *coefficients]))
    for d in canonical:
        if d not in instance:
            raise r.error(problem, "instance", f"problem.instance.{d}", f"missing the size of dimension {d!r}")

    spaces_key = "data_spaces" if "data_spaces" in shape else "data-spaces"
    spaces = shape.get(spaces_key)
    if not isinstance(spaces, LineList) or not spaces:
        raise r.error(shape, spaces_key if spaces_key in shape else None, f"problem.shape.{spaces_key}",
                      "expected a list of data spaces")
    found: dict[str, tuple[Counter, bool, int]] = {}
    coef_of: dict[str, int] = {}
    for i, ds in enumerate(spaces):
        where = f"problem.shape.{spaces_key}[{i}]"
        if not isinstance(ds, dict) or not isinstance(ds.get("name"), str):
            raise r.error(spaces, i, where, "expected {name: ..., projection: [...]}")
        r.keys(ds, ("name", "projection", "read_write"), where)
        projection = ds.get("projection")
        if not isinstance(projection, list) or not projection:
            raise r.error(ds, "projection" if "projection" in ds else None, f"{where}.projection",
                          "expected a list of ranks")
        ranks = []
        for k, rank in enumerate(projection):
            terms = [rank] if isinstance(rank, str) else rank
            if not isinstance(terms, list) or not terms:
                raise r.error(projection, k, f"{where}.projection[{k}]", "expected a list of terms")
            norm = []
            for t, term in enumerate(terms):
                dim, coef_name = _term(r, term, terms, t, f"{where}.projection[{k}][{t}]")
                if dim not in canonical:
                    raise r.error(terms, t, f"{where}.projection[{k}][{t}]", f"unknown dimension {dim!r}; "
                                  + did_you_mean(dim, list(canonical)))
                if coef_name is not None and coef_name not in coefficients:
                    raise r.error(terms, t, f"{where}.projection[{k}][{t}]", f"unknown coefficient {coef_name!r}; "
                                  + did_you_mean(coef_name, list(coefficients) or ["(none declared)"]))
                value = coefficients[coef_name] if coef_name is not None else 1
                if coef_name is not None or len(terms) > 1:  # a sliding window's stride or dilation
                    coef_of[canonical[dim]] = value
                norm.append((value, canonical[dim]))
            ranks.append(norm)
        found[ds["name"]] = (_normal(ranks, bounds), bool(ds.get("read_write", False)), i)

    sp, dp = coef_of.get("P", 1), coef_of.get("R", 1)
    sq, dq = coef_of.get("Q", 1), coef_of.get("S", 1)
    expected = {
        "Weights": (_normal([[(1, "C")], [(1, "K")], [(1, "R")], [(1, "S")]], bounds), False),
        "Inputs": (_normal([[(1, "N")], [(1, "C")], [(dp, "R"), (sp, "P")], [(dq, "S"), (sq, "Q")]], bounds), False),
        "Outputs": (_normal([[(1, "N")], [(1, "K")], [(1, "P")], [(1, "Q")]], bounds), True),
    }
    for role, form in expected.items():
        match = [n for n, (f, rw, _) in found.items() if (f, rw) == form]
        if role in found and found[role][:2] == form:
            continue
        i = found[match[0]][2] if match else None
        where = f"problem.shape.{spaces_key}" + (f"[{i}]" if i is not None else "")
        if match:
            raise r.error(spaces[i], "name", f"{where}.name", f"this data space is the convolution's {role}; "
                          f"accelsim names it {role!r}, rename {match[0]!r}")
        raise r.error(shape, spaces_key, where, f"no data space is a convolution's {role} (expected name "
                      f"{role!r}; see the projections in docs/hardware-format.md)")
    if len(found) != 3:
        extra = sorted(set(found) - set(_ROLES))
        raise r.error(spaces, found[extra[0]][2], f"problem.shape.{spaces_key}[{found[extra[0]][2]}]",
                      f"unexpected data space {extra[0]!r}; a convolution has Weights, Inputs and Outputs")

    height = (bounds["P"] - 1) * sp + (bounds["R"] - 1) * dp + 1
    width = (bounds["Q"] - 1) * sq + (bounds["S"] - 1) * dq + 1
    graph = Graph(name)
    where = Source(path, problem.line, "problem")
    graph.add("inputs", "input", (), {"shape": [bounds["N"], bounds["C"], height, width], "dtype": "int8"},
              source=where)
    graph.add(name, "conv2d", ("inputs",), {
        "out_channels": bounds["K"], "kernel": [bounds["R"], bounds["S"]], "stride": [sp, sq],
        "dilation": [dp, dq], "bias": False}, source=Source(path, shape.line, "problem.shape"))
    graph.set_outputs([name])
    graph.verify()
    return graph


def _normal(ranks: list[list[tuple[int, str]]], bounds: dict[str, int]) -> Counter:
    """Ranks as sets of (coefficient, dimension) terms, leaving out terms over dimensions of
    size 1 (they index nothing) and ranks left empty."""
    out: Counter = Counter()
    for rank in ranks:
        terms = frozenset(t for t in rank if bounds[t[1]] > 1)
        if terms:
            out[terms] += 1
    return out
