"""The op-definition framework: typed attributes and the ``OpDef`` record.

Each op kind declares its attributes once (type, default, allowed values); ``normalize_attrs``
checks user-written attributes against that declaration and fills in defaults, so that
shape inference and lowering only ever see complete, well-typed values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..registry import Registry, did_you_mean
from .types import TensorType
from .workload import Workload

__all__ = ["Attr", "OpDef", "OPS", "REQUIRED", "AttrError", "normalize_attrs", "ShapeError"]

REQUIRED = object()


class AttrError(ValueError):
    """An attribute is missing, unknown or of the wrong type; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ShapeError(ValueError):
    """Input shapes that an op cannot accept (the graph turns it into a GraphError)."""


@dataclass(frozen=True)
class Attr:
    """One attribute: ``kind`` is int, float, bool, str, ints (list of int), pair (int or
    two ints), pads (int, two or four ints), or shape (list of int, -1 and 0 allowed)."""

    kind: str
    default: Any = REQUIRED
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    doc: str = ""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _as_ints(name: str, v: Any) -> tuple[int, ...]:
    if _is_int(v):
        return (v,)
    if isinstance(v, (list, tuple)) and v and all(_is_int(x) for x in v):
        return tuple(v)
    raise AttrError(name, f"expected an integer or a list of integers, got {v!r}")


def _check_attr(name: str, spec: Attr, v: Any) -> Any:
    kind = spec.kind
    if kind == "int":
        if not _is_int(v):
            raise AttrError(name, f"expected an integer, got {v!r}")
        out: Any = v
    elif kind == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise AttrError(name, f"expected a number, got {v!r}")
        try:
            out = float(v)
        except OverflowError:
            raise AttrError(name, f"number too large: {v!r}") from None
        if not math.isfinite(out):
            raise AttrError(name, f"expected a finite number, got {v!r}")
    elif kind == "bool":
        if not isinstance(v, bool):
            raise AttrError(name, f"expected true or false, got {v!r}")
        out = v
    elif kind == "str":
        if not isinstance(v, str):
            raise AttrError(name, f"expected a string, got {v!r}")
        out = v
    elif kind in ("ints", "shape"):
        if isinstance(v, (list, tuple)) and len(v) == 0:
            out = ()
        else:
            out = _as_ints(name, v) if not _is_int(v) else (v,)
    elif kind == "pair":
        vals = _as_ints(name, v)
        if len(vals) == 1:
            vals = vals * 2
        if len(vals) != 2:
            raise AttrError(name, f"expected one integer or two (height, width), got {v!r}")
        out = vals
    elif kind == "pads":
        if v == "same":
            return "same"
        vals = _as_ints(name, v)
        if len(vals) == 1:
            vals = vals * 4
        elif len(vals) == 2:
            vals = (vals[0], vals[1], vals[0], vals[1])
        if len(vals) != 4:
            raise AttrError(name, f"expected 'same', one integer, two (h, w) or four "
                                  f"(top, left, bottom, right), got {v!r}")
        out = vals
    else:  # pragma: no cover - a programming error in an OpDef
        raise AssertionError(f"attribute kind {kind!r}")
    if spec.choices and out not in spec.choices:
        raise AttrError(name, f"{v!r} is not allowed; expected one of "
                              + ", ".join(repr(c) for c in spec.choices))
    if spec.minimum is not None:
        values = out if isinstance(out, tuple) else (out,)
        if any(x < spec.minimum for x in values):
            raise AttrError(name, f"must be at least {spec.minimum:g}, got {v!r}")
    return out


@dataclass(frozen=True)
class OpDef:
    """What the IR knows about one op kind.

    ``infer`` maps input types and attributes to the output type (raising ``ShapeError``);
    ``weights`` gives the shapes of the op's parameters; ``lower`` turns it into a Workload.
    ``pointwise``: each output element depends only on the same element of each (broadcast)
    input, so a compiler may fuse the op into its producer's epilogue (activations, adds, a
    per-channel scale); reductions along an axis (softmax, layernorm) are not pointwise.
    """

    name: str
    infer: Callable[[list[TensorType], Mapping[str, Any]], TensorType]
    lower: Callable[[list[TensorType], TensorType, Mapping[str, Any]], Workload]
    attrs: Mapping[str, Attr] = field(default_factory=dict)
    min_inputs: int = 1
    max_inputs: int | None = 1
    weights: Callable[[list[TensorType], Mapping[str, Any]], dict[str, tuple[int, ...]]] = (
        lambda ins, a: {}
    )
    doc: str = ""
    pointwise: bool = False

    def weight_shapes(self, ins: list[TensorType], attrs: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        return self.weights(ins, attrs)


OPS: Registry[OpDef] = Registry("op", entry_point_group="accelsim.ops")


def normalize_attrs(op: OpDef, given: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``given`` against the op's declaration; return it complete with defaults.

    Raises:
        AttrError: unknown attribute (with a suggestion), missing required one, wrong type.
    """
    for key in given:
        if key not in op.attrs:
            allowed = list(op.attrs) or ["(none)"]
            raise AttrError(str(key), f"unknown attribute of {op.name}; {did_you_mean(str(key), allowed)}")
    out: dict[str, Any] = {}
    for key, spec in op.attrs.items():
        if key in given and given[key] is not None:
            out[key] = _check_attr(key, spec, given[key])
        elif spec.default is REQUIRED:
            raise AttrError(key, f"required attribute of {op.name} is missing")
        else:
            out[key] = spec.default
    return out
