"""Node annotations: typed facts about how a layer computes, set by a model file or a pass.

An annotation refines a node without changing its op or its output shape: the precision it
computes at (``quant``), how sparse its operands are (``sparsity``), whether its weights are
indices into a shared codebook (``sharing``), and which ops a pass folded into it
(``fused``). Each kind is a frozen dataclass registered in ``ANNOTATIONS`` under its
``kind``, which is also its key in ``Node.annotations`` and in model YAML, so a later family
adds a kind with one class and one registry line.

A kind checks its own values when it is built (``check``; a bad value raises ``SpecError``
naming the field) and where it is attached (``check_on``, run by ``Graph.verify``), and says
how it changes the layer's workload: ``retype`` before the op is lowered, ``lowered`` after.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, fields, replace
from typing import Any, ClassVar, Iterable, Literal, Mapping, NamedTuple

from ..errors import SpecError
from ..registry import Registry, did_you_mean
from .opdef import OPS, REQUIRED, OpDef, ShapeError, normalize_attrs
from .types import DTYPES, DType, TensorType
from .workload import Workload

__all__ = ["ANNOTATIONS", "Annotation", "Problem", "Site", "Quant", "Sparsity", "Sharing",
           "Fused", "lower_annotated", "site_problems"]


class Problem(NamedTuple):
    """One thing wrong with an annotation: the field at fault ("" for the whole) and why."""

    field: str
    message: str


@dataclass(frozen=True)
class Site:
    """The node an annotation is attached to, as ``check_on`` sees it."""

    op: OpDef
    inputs: tuple[TensorType, ...]
    output: TensorType
    weight_shapes: Mapping[str, tuple[int, ...]]

    @property
    def weighted(self) -> bool:
        return bool(self.weight_shapes)


@dataclass(frozen=True)
class Annotation:
    """Base of every annotation kind; a subclass sets ``kind`` and its fields."""

    kind: ClassVar[str] = ""

    def __post_init__(self) -> None:
        problems = self.check()
        if problems:
            raise SpecError(problems[0].message, field=problems[0].field or None)

    def check(self) -> list[Problem]:
        """Problems with the annotation's own values (types, ranges, consistency)."""
        return []

    def check_on(self, site: Site) -> list[Problem]:
        """Problems with attaching the annotation to the node at ``site``."""
        return []

    def retype(self, ins: list[TensorType], out: TensorType) -> tuple[list[TensorType], TensorType]:
        """The tensor types the layer is lowered at (a precision changes their widths)."""
        return ins, out

    def lowered(self, workload: Workload, out: TensorType) -> Workload:
        """The layer's workload with what this annotation says about it."""
        return workload

    @classmethod
    def from_yaml(cls, value: Any) -> "Annotation":
        """Build from its model-YAML value, a mapping of the dataclass's fields.

        Raises:
            SpecError: not a mapping, unknown or missing key, bad value (``field`` names it).
        """
        names = [f.name for f in fields(cls)]
        if not isinstance(value, Mapping):
            raise SpecError(f"expected a mapping with keys {', '.join(names)}, got {value!r}")
        for key in value:
            if key not in names:
                raise SpecError(f"unknown key {key!r}; {did_you_mean(str(key), names)}", field=str(key))
        for f in fields(cls):
            if f.default is MISSING and f.name not in value:
                raise SpecError(f"{f.name} is required", field=f.name)
        return cls(**value)

    def to_yaml(self) -> Any:
        """The model-YAML value: required fields and those that differ from their defaults."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.default is MISSING or value != f.default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


ANNOTATIONS: Registry[type[Annotation]] = Registry("annotation", entry_point_group="accelsim.annotations")


# --------------------------------------------------------------------------- value checks


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_in(name: str, value: Any, low: int, high: int) -> list[Problem]:
    if not _is_int(value):
        return [Problem(name, f"expected an integer, got {value!r}")]
    if not low <= value <= high:
        return [Problem(name, f"must be {low} to {high}, got {value}")]
    return []


def _density(name: str, value: Any) -> list[Problem]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return [Problem(name, f"expected a number, got {value!r}")]
    if not 0 < value <= 1:  # NaN fails too
        return [Problem(name, f"must be in (0, 1] (the fraction of non-zeros), got {value!r}")]
    return []


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> list[Problem]:
    if value not in choices:
        return [Problem(name, f"{value!r} is not allowed; expected one of "
                              + ", ".join(repr(c) for c in choices))]
    return []


def _bool(name: str, value: Any) -> list[Problem]:
    return [] if isinstance(value, bool) else [Problem(name, f"expected true or false, got {value!r}")]


# --------------------------------------------------------------------------- kinds


def _int_dtype(bits: int) -> DType:
    """The integer dtype of a width: a named one where there is one (int8, binary, ...)."""
    for d in DTYPES.values():
        if d.bits == bits and not d.is_float and not d.is_index:
            return d
    return DType(f"int{bits}", bits, False)


def _at_width(t: TensorType, bits: int) -> TensorType:
    return t if t.dtype.is_index else TensorType(t.shape, _int_dtype(bits))


@dataclass(frozen=True)
class Quant(Annotation):
    """Integer quantisation: weights held at ``weight_bits``, activations read and the output
    written at ``act_bits`` (the output is requantised for the next layer). ``scheme`` and
    ``per_channel`` describe the scales; they are recorded, not costed."""

    kind: ClassVar[str] = "quant"
    weight_bits: int
    act_bits: int
    scheme: Literal["symmetric", "asymmetric"] = "symmetric"
    per_channel: bool = False

    def check(self) -> list[Problem]:
        return (_int_in("weight_bits", self.weight_bits, 1, 64) + _int_in("act_bits", self.act_bits, 1, 64)
                + _choice("scheme", self.scheme, ("symmetric", "asymmetric"))
                + _bool("per_channel", self.per_channel))

    def retype(self, ins: list[TensorType], out: TensorType) -> tuple[list[TensorType], TensorType]:
        # Integer ids (token indices) are not quantised.
        return [_at_width(t, self.act_bits) for t in ins], _at_width(out, self.act_bits)

    def lowered(self, workload: Workload, out: TensorType) -> Workload:
        # The lowering counted its weights at workload.weight_bits; divide first, so that
        # power-of-two widths rescale exactly.
        weight_bytes = workload.weight_bytes / workload.weight_bits * self.weight_bits
        return replace(workload, weight_bytes=weight_bytes, weight_bits=self.weight_bits)


@dataclass(frozen=True)
class Sparsity(Annotation):
    """The fraction of non-zero weights and input activations, and the weights' pattern.

    ``n:m`` (n non-zeros in every m consecutive weights) needs ``n`` and ``m`` and a
    ``weight_density`` of n/m (model YAML fills it in when it is left out).
    """

    kind: ClassVar[str] = "sparsity"
    weight_density: float = 1.0
    act_density: float = 1.0
    structure: Literal["unstructured", "n:m", "block", "channel"] = "unstructured"
    n: int | None = None
    m: int | None = None

    STRUCTURES: ClassVar[tuple[str, ...]] = ("unstructured", "n:m", "block", "channel")

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "weight_density", float(self.weight_density))
        object.__setattr__(self, "act_density", float(self.act_density))

    def check(self) -> list[Problem]:
        problems = (_density("weight_density", self.weight_density) + _density("act_density", self.act_density)
                    + _choice("structure", self.structure, self.STRUCTURES))
        if self.structure != "n:m":
            problems += [Problem(k, f"{k} goes with structure 'n:m', not {self.structure!r}")
                         for k in ("n", "m") if getattr(self, k) is not None]
            return problems
        for k in ("n", "m"):
            if getattr(self, k) is None:
                problems.append(Problem(k, f"structure 'n:m' needs {k}"))
            else:
                problems += _int_in(k, getattr(self, k), 1, 2**16)
        if problems:
            return problems
        assert self.n is not None and self.m is not None
        if self.n >= self.m:
            return [Problem("n", f"n:m needs n < m, got {self.n}:{self.m}")]
        if not math.isclose(self.weight_density, self.n / self.m, rel_tol=1e-9):
            return [Problem("weight_density", f"{self.n}:{self.m} sparsity keeps {self.n / self.m:g} of the "
                                              f"weights, but weight_density is {self.weight_density:g}")]
        return []

    def check_on(self, site: Site) -> list[Problem]:
        if site.weighted:
            return []
        # On an op without weights only act_density says anything; an annotation that says
        # nothing is an error, as it was most likely meant for another layer.
        if self.weight_density != 1:
            return [Problem("weight_density", f"{site.op.name} has no weights")]
        if self.act_density == 1:
            return [Problem("act_density", f"{site.op.name} has no weights, so a sparsity annotation "
                                           "on it needs act_density < 1")]
        return []

    def lowered(self, workload: Workload, out: TensorType) -> Workload:
        nm = (self.n, self.m) if self.n is not None and self.m is not None else None
        return replace(workload, weight_density=self.weight_density, act_density=self.act_density,
                       sparsity_structure=self.structure, nm=nm)

    @classmethod
    def from_yaml(cls, value: Any) -> "Annotation":
        if (isinstance(value, Mapping) and value.get("structure") == "n:m" and "weight_density" not in value
                and _is_int(value.get("n")) and _is_int(value.get("m")) and 0 < value["n"] < value["m"]):
            value = {**value, "weight_density": value["n"] / value["m"]}
        return super().from_yaml(value)


@dataclass(frozen=True)
class Sharing(Annotation):
    """Weight sharing: each weight is a ``bits``-bit index into a codebook of ``codebook``
    values (default ``2**bits``). ``coded_bits``: the mean bits per index once the indices
    are entropy-coded (Huffman), where they are; it is at most ``bits``. Recorded on the
    node for storage accounting; the workload is unchanged."""

    kind: ClassVar[str] = "sharing"
    bits: int
    codebook: int | None = None
    coded_bits: float | None = None

    def check(self) -> list[Problem]:
        problems = _int_in("bits", self.bits, 1, 32)
        if problems:
            return problems
        if self.coded_bits is not None:
            if isinstance(self.coded_bits, bool) or not isinstance(self.coded_bits, (int, float)):
                return [Problem("coded_bits", f"expected a number, got {self.coded_bits!r}")]
            if not 0 < self.coded_bits <= self.bits:
                return [Problem("coded_bits", f"must be in (0, bits={self.bits}], got {self.coded_bits!r}")]
        if self.codebook is None:
            return problems
        return _int_in("codebook", self.codebook, 1, 2**self.bits)

    @property
    def entries(self) -> int:
        return 2**self.bits if self.codebook is None else self.codebook

    def check_on(self, site: Site) -> list[Problem]:
        if site.weighted:
            return []
        return [Problem("", f"weight sharing needs an op with weights; {site.op.name} has none")]


def _fused_attrs(name: str) -> Mapping[str, Any]:
    return normalize_attrs(OPS.get(name), {})


@dataclass(frozen=True)
class Fused(Annotation):
    """Ops a pass folded into this node, applied in order to its output (``("relu",)``).

    Each is a one-input op that keeps the shape and needs no attributes. Their arithmetic
    stays in the layer's ``ops``; the tensor between them is never written, which is what
    fusing saves.
    """

    kind: ClassVar[str] = "fused"
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if isinstance(self.ops, list):
            object.__setattr__(self, "ops", tuple(self.ops))
        super().__post_init__()

    def check(self) -> list[Problem]:
        if not isinstance(self.ops, tuple) or not self.ops:
            return [Problem("ops", f"expected a non-empty list of op names, got {self.ops!r}")]
        for i, name in enumerate(self.ops):
            if not isinstance(name, str) or name not in OPS:
                return [Problem(f"ops[{i}]", f"unknown op {name!r}; {did_you_mean(str(name), list(OPS.names()))}")]
            op = OPS.get(name)
            if op.min_inputs != 1 or any(a.default is REQUIRED for a in op.attrs.values()):
                return [Problem(f"ops[{i}]", f"{name} cannot be fused: only one-input ops without "
                                             "required attributes can")]
        return []

    def check_on(self, site: Site) -> list[Problem]:
        t = site.output
        for i, name in enumerate(self.ops):
            try:
                after = OPS.get(name).infer([t], _fused_attrs(name))
            except ShapeError as exc:
                return [Problem(f"ops[{i}]", f"{name} cannot follow {site.op.name} here: {exc}")]
            if after != t:
                return [Problem(f"ops[{i}]", f"{name} would change the output from {t} to {after}")]
        return []

    def lowered(self, workload: Workload, out: TensorType) -> Workload:
        extra = sum(OPS.get(name).lower([out], out, _fused_attrs(name)).ops for name in self.ops)
        return replace(workload, ops=workload.ops + extra)

    @classmethod
    def from_yaml(cls, value: Any) -> "Annotation":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise SpecError(f"expected a list of op names, got {value!r}")
        try:
            return cls(tuple(value))
        except SpecError as exc:  # 'ops[1]' is '[1]' of the YAML list
            exc.field = (exc.field or "").removeprefix("ops") or None
            raise

    def to_yaml(self) -> Any:
        return list(self.ops)


for _kind in (Quant, Sparsity, Sharing, Fused):
    ANNOTATIONS.add(_kind.kind, _kind)


# --------------------------------------------------------------------------- use by the graph


def site_problems(annotations: Mapping[str, Annotation], site: Site) -> list[tuple[str, Problem]]:
    """(kind, problem) of every annotation of a node: its own values and its place."""
    out = []
    for key, ann in annotations.items():
        if not isinstance(ann, Annotation) or key != ann.kind or key not in ANNOTATIONS:
            out.append((str(key), Problem("", f"{ann!r} is not a registered annotation of kind {key!r}")))
            continue
        out += [(key, p) for p in ann.check() + ann.check_on(site)]
    return out


def lower_annotated(op: OpDef, ins: list[TensorType], out: TensorType, attrs: Mapping[str, Any],
                    annotations: Iterable[Annotation]) -> Workload:
    """The op's workload as its annotations make it: lowered at their widths, then refined."""
    anns = list(annotations)
    for ann in anns:
        ins, out = ann.retype(ins, out)
    workload = op.lower(ins, out, attrs)
    for ann in anns:
        workload = ann.lowered(workload, out)
    return workload
