"""Strict reading of hardware YAML: one ``SpecReader`` used by every family's loader.

A family's loader asks for each field by name and unit kind; the reader converts units,
checks ranges, remembers which keys were used and rejects the rest with a "did you mean".
Every error names file, line and the dotted field path (``memories[1].bandwidth``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from ..errors import SpecError
from ..yamlread import LineDict, LineList, line_of
from ..registry import did_you_mean
from ..units import parse_quantity
from .support import DENSE_SUPPORT, CompressionSupport
from .technology import Technology

__all__ = ["SpecReader", "HardwareSpec", "MISSING"]

MISSING: Any = object()
T = TypeVar("T")


@dataclass(frozen=True)
class HardwareSpec:
    """Fields every hardware family shares."""

    name: str
    kind: str
    frequency_hz: float
    technology: Technology
    source: str | None = None
    # What ``estimate`` casts a model to unless told otherwise; None keeps declared types.
    default_precision: str | None = None
    # The narrow precisions and sparsity the datapath exploits (a spec's ``compression:``).
    compression: CompressionSupport = DENSE_SUPPORT

    @property
    def memory_capacity_bytes(self) -> float | None:
        """The device memory a model's weights and activations must fit in (training checks
        it); None where the spec does not say."""
        return None


# The largest count a spec may give (words of a memory, PEs of a mesh, ...): 2**50 is a
# petaword, beyond any memory built; above it counters in the cost models would overflow.
MAX_COUNT = 2**50
# The widest word a level or an arithmetic unit may have.
MAX_WORD_BITS = 4096


class SpecReader:
    """Typed, path-aware access to one mapping of a spec file."""

    def __init__(self, path: str, mapping: Any, field: str = "", line: int | None = None) -> None:
        self.path = path
        self.field = field
        self.line = getattr(mapping, "line", None) or line
        if not isinstance(mapping, dict):
            raise SpecError("expected a mapping", file=path, line=self.line, field=field or None)
        self.mapping = mapping
        self.used: set[str] = set()

    def _path(self, key: str) -> str:
        return f"{self.field}.{key}" if self.field else key

    def error(self, key: str | None, message: str) -> SpecError:
        line = line_of(self.mapping, key) if key is not None else self.line
        return SpecError(message, file=self.path, line=line,
                         field=self._path(key) if key is not None else (self.field or None))

    def missing(self, key: str, what: str = "field") -> SpecError:
        """``key`` is required but absent: point at a close misspelling if there is one,
        else at this mapping, naming the missing field."""
        import difflib

        others = [k for k in self.mapping if isinstance(k, str) and k != key and k not in self.used]
        close = difflib.get_close_matches(key, others, n=1, cutoff=0.75)
        if close:
            return self.error(close[0], f"missing required {what} {self._path(key)!r}; "
                                        f"is {close[0]!r} a misspelling?")
        return SpecError(f"missing required {what} {self._path(key)!r}", file=self.path,
                         line=self.line, field=self._path(key))

    def has(self, key: str) -> bool:
        return key in self.mapping and self.mapping[key] is not None

    def get(self, key: str, convert: Callable[[Any], T], default: Any = MISSING) -> T:
        """``convert(value)``; a ValueError from it becomes a SpecError at this field."""
        self.used.add(key)
        if not self.has(key):
            if default is MISSING:
                raise self.missing(key)
            return default
        try:
            return convert(self.mapping[key])
        except ValueError as exc:
            raise self.error(key, str(exc)) from None
        except OverflowError:
            raise self.error(key, f"number too large: {self.mapping[key]!r}") from None

    def quantity(self, key: str, kind: str, default: Any = MISSING, *, positive: bool = True) -> float:
        def convert(v: Any) -> float:
            q = parse_quantity(v, kind, field=key)
            if positive and not q > 0:
                raise ValueError(f"must be positive, got {v!r}")
            if not positive and q < 0:
                raise ValueError(f"must not be negative, got {v!r}")
            if q != q or q in (float("inf"), float("-inf")):
                raise ValueError(f"must be finite, got {v!r}")
            return q
        return self.get(key, convert, default)

    def string(self, key: str, default: Any = MISSING, choices: tuple[str, ...] = ()) -> str:
        def convert(v: Any) -> str:
            if not isinstance(v, str):
                raise ValueError(f"expected a string, got {v!r}")
            if choices and v not in choices:
                raise ValueError(f"unknown value {v!r}; {did_you_mean(v, list(choices))}")
            return v
        return self.get(key, convert, default)

    def integer(self, key: str, default: Any = MISSING, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
        def convert(v: Any) -> int:
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"expected an integer, got {v!r}")
            if v < minimum:
                raise ValueError(f"must be at least {minimum}, got {v}")
            if v > maximum:
                raise ValueError(f"must be at most {maximum:,}, got {v:,}" if v < 10**30
                                 else f"must be at most {maximum:,}, got a {len(str(v))}-digit number")
            return v
        return self.get(key, convert, default)

    def child(self, key: str, default: Any = MISSING) -> "SpecReader":
        self.used.add(key)
        if not self.has(key):
            if default is MISSING:
                raise self.missing(key, "section")
            return SpecReader(self.path, LineDict() if default is None else default, self._path(key), self.line)
        if not isinstance(self.mapping[key], dict):
            raise self.error(key, f"expected a mapping, got {self.mapping[key]!r}")
        return SpecReader(self.path, self.mapping[key], self._path(key))

    def children(self, key: str) -> list["SpecReader"]:
        """A list of mappings (e.g. memory levels), each with its own path."""
        self.used.add(key)
        items = self.mapping.get(key)
        if key not in self.mapping:
            raise self.missing(key, "list")
        if not isinstance(items, list) or not items:
            raise self.error(key, f"{self._path(key)!r} must be a non-empty list")
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                line = item.line if hasattr(item, "line") else line_of(items, i) if isinstance(items, LineList) else None
                raise SpecError(f"expected a mapping, got {item!r}", file=self.path, line=line,
                                field=f"{self._path(key)}[{i}]")
            out.append(SpecReader(self.path, item, f"{self._path(key)}[{i}]"))
        return out

    def finish(self) -> None:
        """Reject keys that no getter asked for."""
        for key in self.mapping:
            if key not in self.used:
                raise self.error(key, f"unknown field; {did_you_mean(str(key), sorted(self.used) or ['(none)'])}")

    def technology(self) -> Technology:
        tech = self.child("technology", None)
        node = tech.quantity("node", "length", 45e-9)
        vdd = tech.quantity("vdd", "voltage", None)
        tech.finish()
        try:
            from .technology import energy_scale
            result = Technology(node, vdd)
            scale = energy_scale(result)
        except ValueError as exc:
            raise tech.error("node", str(exc)) from None
        if not (math.isfinite(scale) and scale > 0):
            raise tech.error("vdd" if vdd is not None else "node",
                             f"node {node * 1e9:g} nm at {vdd if vdd is not None else 'nominal'} V "
                             "gives no usable energy scale")
        return result
