"""Quantities with units in specs ("940 MHz", "24 MiB", "34 GB/s", "0.2 pJ") -> SI floats.

A small grammar, not ``eval``: ``<number> [<prefix>]<unit>``. Decimal prefixes (k, M, G, T,
P, m, u/µ, n, p, f) apply to every unit; binary prefixes (Ki, Mi, Gi, Ti) only to bytes and
bits. Bits are returned as bytes (``8 bit == 1 B``) so that all sizes share one unit.
"""

from __future__ import annotations

import re

__all__ = ["UNIT_KINDS", "PHYSICAL_RANGES", "parse_quantity", "format_si"]

_DECIMAL = {
    "": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
    "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15,
}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}

# unit symbol -> (kind, factor to the SI base of that kind)
_UNITS: dict[str, tuple[str, float]] = {
    "Hz": ("frequency", 1.0),
    "B": ("bytes", 1.0), "byte": ("bytes", 1.0), "bytes": ("bytes", 1.0),
    "b": ("bytes", 1 / 8), "bit": ("bytes", 1 / 8), "bits": ("bytes", 1 / 8),
    "B/s": ("bandwidth", 1.0), "b/s": ("bandwidth", 1 / 8), "bit/s": ("bandwidth", 1 / 8),
    "bps": ("bandwidth", 1 / 8),
    "J": ("energy", 1.0),
    "W": ("power", 1.0),
    "s": ("time", 1.0),
    "m": ("length", 1.0),
    "V": ("voltage", 1.0),
    "OPS": ("ops_rate", 1.0), "OP/s": ("ops_rate", 1.0), "ops/s": ("ops_rate", 1.0),
    "FLOPS": ("ops_rate", 1.0), "FLOP/s": ("ops_rate", 1.0),
    "MAC/s": ("ops_rate", 2.0), "MACS": ("ops_rate", 2.0),
}
UNIT_KINDS = frozenset(kind for kind, _ in _UNITS.values())

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PATTERN = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµ/]*)\s*$")
_EXAMPLES = {
    "frequency": "'700 MHz'", "bytes": "'24 MiB'", "bandwidth": "'34 GB/s'",
    "energy": "'0.2 pJ'", "power": "'40 W'", "time": "'5 ns'", "length": "'28 nm'",
    "voltage": "'0.9 V'", "ops_rate": "'92 TOPS'",
}
# the unit a bare number is shown with in the hint that asks for one
_HINT_UNITS = {
    "frequency": "GHz", "bytes": "KiB", "bandwidth": "GB/s", "energy": "pJ", "power": "W",
    "time": "ns", "length": "nm", "voltage": "V", "ops_rate": "TOPS",
}
# what a quantity of each kind is called in a sentence
_NOUNS = {
    "frequency": "a frequency", "bytes": "a size in bytes", "bandwidth": "a bandwidth",
    "energy": "an energy", "power": "a power", "time": "a duration", "length": "a length",
    "voltage": "a voltage", "ops_rate": "an operation rate",
}


# The physical range of a non-zero quantity of each kind, in SI units: far wider than any
# machine built or planned, narrow enough that a typo (1e-300 Hz, 1e30 GB/s) is an error
# rather than a figure that overflows downstream. docs/hardware-format.md lists them.
PHYSICAL_RANGES: dict[str, tuple[float, float]] = {
    "frequency": (1e3, 1e12),       # 1 kHz .. 1 THz
    "bytes": (0.125, 2.0**70),      # one bit .. 1 ZiB
    "bandwidth": (1.0, 1e18),       # 1 B/s .. 1 EB/s
    "energy": (1e-21, 1e3),         # 1 zJ .. 1 kJ
    "power": (1e-9, 1e9),           # 1 nW .. 1 GW
    "time": (1e-15, 1e6),           # 1 fs .. 11.6 days
    "length": (1e-10, 1e-4),        # 0.1 nm .. 100 µm (a process node)
    "voltage": (1e-2, 1e2),         # 10 mV .. 100 V
    "ops_rate": (1.0, 1e24),        # 1 op/s .. 10**24 op/s
}


def _in_range(number: float, kind: str, value: object) -> float:
    lo, hi = PHYSICAL_RANGES[kind]
    if number != number or not lo <= abs(number) <= hi:
        raise ValueError(f"{value!r} is outside the range of {_NOUNS[kind]} accelsim accepts "
                         f"({_show(lo, kind)} to {_show(hi, kind)})")
    return number


def _show(x: float, kind: str) -> str:
    return f"{x:g} {_BASE_UNIT[kind]}"


_BASE_UNIT = {"frequency": "Hz", "bytes": "B", "bandwidth": "B/s", "energy": "J", "power": "W",
              "time": "s", "length": "m", "voltage": "V", "ops_rate": "op/s"}


def _split_unit(text: str) -> tuple[float, str] | None:
    """Return (prefix factor, unit symbol) for text like 'MiB' or 'GB/s', or None."""
    if text in _UNITS:
        return 1.0, text
    for prefix, factor in _BINARY.items():
        rest = text[len(prefix):]
        if text.startswith(prefix) and rest in _UNITS and _UNITS[rest][0] in ("bytes", "bandwidth"):
            return factor, rest
    prefix, rest = text[:1], text[1:]
    if prefix in _DECIMAL and rest in _UNITS:
        return _DECIMAL[prefix], rest
    return None


def _bare_number(number: float, kind: str, field: str | None) -> ValueError:
    shown = f"{number:g}"
    example = f"{field}: {shown} {_HINT_UNITS[kind]}" if field else f"'{shown} {_HINT_UNITS[kind]}'"
    return ValueError(f"{shown} has no unit; {_NOUNS[kind]} needs one, e.g. {example}")


def parse_quantity(value: object, kind: str, *, field: str | None = None) -> float:
    """Convert ``value`` to an SI float of ``kind`` (one of :data:`UNIT_KINDS`).

    The value must carry a unit of the requested kind: a bare number is ambiguous (is
    ``frequency: 1`` one hertz or one gigahertz?) and is refused, except zero, which is zero
    in every unit. ``field`` names the key in the hint (``frequency: 1 GHz``).

    Raises:
        ValueError: the text is not a quantity, has no unit, or its unit is of another kind.
            The caller (a spec loader) wraps it into a SpecError that names file, line and
            field.
    """
    if kind not in UNIT_KINDS:
        raise ValueError(f"unknown unit kind {kind!r}")
    if isinstance(value, bool):
        raise ValueError(f"expected a quantity like {_EXAMPLES[kind]}, got {value!r}")
    if isinstance(value, (int, float)):
        if value == 0:
            return 0.0
        raise _bare_number(float(value), kind, field)
    if not isinstance(value, str):
        raise ValueError(f"expected a quantity like {_EXAMPLES[kind]}, got {value!r}")
    match = _PATTERN.match(value)
    if not match:
        raise ValueError(f"expected a quantity like {_EXAMPLES[kind]}, got {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    if unit == "":
        if number == 0:
            return 0.0
        raise _bare_number(number, kind, field)
    split = _split_unit(unit)
    if split is None:
        raise ValueError(f"unknown unit {unit!r} in {value!r}; expected a quantity like {_EXAMPLES[kind]}")
    factor, symbol = split
    unit_kind, base = _UNITS[symbol]
    if unit_kind != kind:
        raise ValueError(f"{value!r} is {_NOUNS[unit_kind]}, but {_NOUNS[kind]} is needed here, "
                         f"like {_EXAMPLES[kind]}")
    return _in_range(number * factor * base, kind, value)


def format_si(value: float, unit: str, digits: int = 3) -> str:
    """Format ``value`` with an SI prefix, e.g. ``format_si(1.5e-3, 's') == '1.5 ms'``.

    Durations (``unit == "s"``) use only s, ms, µs and ns: a long run reads ``1,250 s``,
    never ``1.25 ks`` or ``Ms``, and anything under a nanosecond is shown in ns.
    """
    if value == 0 or value != value:
        return f"0 {unit}"
    magnitude = float(f"{abs(value):.{digits}g}")  # 999.7 picks the prefix 1e3 rounds to
    if unit == "s":
        if magnitude >= 1e3:
            return f"{round(value):,} s"
        for factor, prefix in ((1.0, ""), (1e-3, "m"), (1e-6, "µ")):
            if magnitude >= factor:
                return f"{value / factor:.{digits}g} {prefix}s"
        return f"{value / 1e-9:.{digits}g} ns"
    prefixes = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""),
                (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")]
    for factor, prefix in prefixes:
        if magnitude >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}"
    return f"{value / 1e-15:.{digits}g} f{unit}"
