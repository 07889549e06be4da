"""Technology energy table: energy per arithmetic op and per memory access, scaled by node.

Sources:

* [H14] M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,
  Fig. 1.1.9 (45 nm, 0.9 V): int8 add 0.03 pJ, int32 add 0.1 pJ, fp16 add 0.4 pJ, fp32 add
  0.9 pJ, int8 mult 0.2 pJ, int32 mult 3.1 pJ, fp16 mult 1.1 pJ, fp32 mult 3.7 pJ; SRAM read
  of 64 bits: 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB); DRAM 1.3-2.6 nJ per 64 bits.
* [SB17] A. Stillmaker, B. Baas, "Scaling equations for the accurate prediction of CMOS
  device performance from 180 nm to 7 nm", Integration 58 (2017): energy versus supply
  voltage per node as a fitted quadratic ``a*V^2 + b*V + c``.
* [O17] M. O'Connor et al., "Fine-Grained DRAM", MICRO 2017: HBM2 about 3.9 pJ/bit.

Rows marked *derived* are not in [H14]: a multiplier's energy is scaled with the square of
the operand width from the int8 multiplier and an adder's linearly from the int8 adder, the
usual first-order model of array multipliers and ripple adders. bf16 and tf32 take the fp16
and fp32 rows. Off-chip energies do not scale with the logic node.
"""

from __future__ import annotations

from functools import lru_cache

import math
from dataclasses import dataclass

__all__ = ["Technology", "mac_energy_j", "add_energy_j", "sram_energy_per_byte_j",
           "offchip_energy_per_byte_j", "OFFCHIP_TYPES", "energy_scale"]

_PJ = 1e-12

# (multiply, add) energy in pJ at 45 nm [H14]; derived rows noted above.
_MUL_ADD_45NM_PJ: dict[str, tuple[float, float]] = {
    "fp64": (3.7 * 4, 0.9 * 2),  # derived: double-width fp32 (quadratic mult, linear add)
    "fp32": (3.7, 0.9),
    "tf32": (3.7, 0.9),
    "fp16": (1.1, 0.4),
    "bf16": (1.1, 0.4),
    "fp8": (0.2, 0.03),          # derived: taken as the int8 row
    "int64": (3.1 * 4, 0.1 * 2),  # derived
    "int32": (3.1, 0.1),
    "int16": (0.2 * 4, 0.03 * 2),  # derived
    "int8": (0.2, 0.03),
    "int4": (0.2 / 4, 0.03 / 2),   # derived
    "int2": (0.2 / 16, 0.03 / 4),  # derived
    "binary": (0.03 / 8, 0.03 / 8),  # derived: an XNOR and one bit of popcount
    "spike": (0.0, 0.03 / 8),      # derived: a spike gates an add, no multiply
}

# SRAM read energy per 64-bit access at 45 nm [H14], by capacity in bytes.
_SRAM_45NM = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))

# Off-chip energy per byte (pJ/B): DDR from [H14] (mid-point of 1.3-2.6 nJ per 64 bits),
# HBM from [O17], LPDDR taken as DDR (no lower figure in the sources above).
OFFCHIP_TYPES: dict[str, float] = {
    "dram": (1.3 + 2.6) / 2 * 1000 / 8,
    "ddr": (1.3 + 2.6) / 2 * 1000 / 8,
    "lpddr": (1.3 + 2.6) / 2 * 1000 / 8,
    "hbm": 3.9 * 8,
}

# [SB17] energy fit a*V^2 + b*V + c per node (nm).
_SB17 = {
    130: (7.171, -6.709, 2.904), 90: (4.762, -4.781, 2.092), 65: (3.755, -4.398, 1.975),
    45: (1.103, -0.362, 0.2767), 32: (0.9559, -0.7823, 0.471), 20: (0.373, -0.1582, 0.04104),
    16: (0.2958, -0.1241, 0.03024), 14: (0.2363, -0.09675, 0.02239), 10: (0.2068, -0.09311, 0.02375),
    7: (0.1776, -0.09097, 0.02447),
}
# Nominal supply per node used when a spec gives none (typical core voltages of each node;
# 45 nm at 0.9 V, the operating point of [H14]).
_NOMINAL_VDD = {130: 1.2, 90: 1.2, 65: 1.1, 45: 0.9, 32: 0.9, 20: 0.9, 16: 0.8, 14: 0.8, 10: 0.75, 7: 0.7}
_REFERENCE = (45, 0.9)  # [H14] figures are at 45 nm, 0.9 V


@dataclass(frozen=True)
class Technology:
    """A process node (metres) and supply voltage (volts; None = nominal for the node)."""

    node_m: float = 45e-9
    vdd: float | None = None


def _fit(node_nm: float, vdd: float | None) -> float:
    nodes = sorted(_SB17)
    if not nodes[0] <= node_nm <= nodes[-1]:
        raise ValueError(f"technology node {node_nm:g} nm is outside the scaled range "
                         f"{nodes[0]}-{nodes[-1]} nm")

    def at(n: int) -> float:
        a, b, c = _SB17[n]
        v = vdd if vdd is not None else _NOMINAL_VDD[n]
        return a * v * v + b * v + c

    if node_nm in _SB17:
        return at(int(node_nm))
    lo = max(n for n in nodes if n < node_nm)
    hi = min(n for n in nodes if n > node_nm)
    t = (node_nm - lo) / (hi - lo)
    return at(lo) * (1 - t) + at(hi) * t


@lru_cache(maxsize=64)
def energy_scale(tech: Technology) -> float:
    """Factor from the 45 nm / 0.9 V reference energies to ``tech`` [SB17] (cached: every
    layer's energy asks for it)."""
    ref_node, ref_vdd = _REFERENCE
    return _fit(tech.node_m * 1e9, tech.vdd) / _fit(ref_node, ref_vdd)


def _row(dtype: str) -> tuple[float, float]:
    try:
        return _MUL_ADD_45NM_PJ[dtype]
    except KeyError:
        raise ValueError(f"no energy figure for dtype {dtype!r}") from None


def mac_energy_j(dtype: str, tech: Technology) -> float:
    """One multiply-accumulate at ``dtype`` (a multiply plus an add)."""
    mul, add = _row(dtype)
    return (mul + add) * _PJ * energy_scale(tech)


def add_energy_j(dtype: str, tech: Technology) -> float:
    """One elementwise operation, costed as an add at ``dtype``."""
    return _row(dtype)[1] * _PJ * energy_scale(tech)


def sram_energy_per_byte_j(size_bytes: float, tech: Technology) -> float:
    """On-chip SRAM read energy per byte, log-log interpolated over capacity [H14]."""
    sizes = [s for s, _ in _SRAM_45NM]
    energies = [e for _, e in _SRAM_45NM]
    # Larger memories are banked: an access touches one bank, so the energy stops growing
    # at the largest macro [H14] measured (1 MB) instead of extrapolating.
    x = math.log(min(max(size_bytes, 1.0), _SRAM_45NM[-1][0]))
    xs = [math.log(s) for s in sizes]
    ys = [math.log(e) for e in energies]
    if x <= xs[0]:
        i = 0
    elif x >= xs[-1]:
        i = len(xs) - 2
        x = xs[-1]
    else:
        i = max(k for k in range(len(xs) - 1) if xs[k] <= x)
    slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
    per_access = math.exp(ys[i] + slope * (x - xs[i]))
    return per_access / 8 * _PJ * energy_scale(tech)


def offchip_energy_per_byte_j(kind: str) -> float:
    return OFFCHIP_TYPES[kind] * _PJ
