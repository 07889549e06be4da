"""The ``systolic`` spec: an R x C MAC array with double-buffered SRAMs and a vector unit.

```yaml
kind: systolic
version: 1
frequency: 700 MHz
technology: {node: 28 nm}
array: {rows: 256, cols: 256, dataflow: ws}   # os | ws | is
precision: int8                # the array's word; sizes below are in bytes
sram: {ifmap: 24 MiB, filter: 256 KiB, ofmap: 4 MiB}   # each half active, half prefetch
dram:
  type: ddr                    # energy per byte from the technology table
  bandwidth: {ifmap: 15.75 GB/s, filter: 34 GB/s, ofmap: 15.75 GB/s}
bandwidth_mode: user           # user (default with bandwidths): finite, stalls; calc: never stalls
vector: {lanes: 256}           # ops per cycle for non-GEMM layers (default: cols)
mode: default                  # or scalesim: reproduce SCALE-Sim 3.0.0, quirks included
energy: {mac: 0.2 pJ, sram_per_byte: 1 pJ, dram_per_byte: 20 pJ, vector_op: 0.03 pJ}
compression:                   # optional: packed narrow widths, zero skipping (hw/compression.py)
  precisions: {int8: 1, int4: 2}
  sparsity: {mode: skip, structures: ["n:m"], nm: ["2:4"], format: nm}
```

DRAM bandwidth is given in bytes per second, like every other rate in accelsim; the memory
model moves whole words, so it uses ``floor(bandwidth / (word bytes x frequency))`` words
per cycle (at least one). ``energy`` entries are optional overrides of the technology
table (:mod:`accelsim.hw.technology`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...ir import DTYPES
from ..spec import HardwareSpec, SpecReader
from .timing import DATAFLOWS
from ..technology import (OFFCHIP_TYPES, Technology, add_energy_j, mac_energy_j, offchip_energy_per_byte_j,
                          sram_energy_per_byte_j)
from .dataflow import OPERANDS
from ..compression import read_support
from ..support import DENSE_SUPPORT, CompressionSupport

__all__ = ["SystolicSpec", "load_systolic", "build_spec", "MODES", "BANDWIDTH_MODES", "MIN_SRAM_WORDS",
           "MAX_SIDE", "MAX_SRAM_BYTES"]

MODES = ("default", "scalesim")
BANDWIDTH_MODES = ("calc", "user")
# SCALE-Sim's buffers are tracked as 100 sets of at least one word each.
MIN_SRAM_WORDS = 100
# Larger than any array or on-chip memory built (TPU v1: 256 PEs a side, 24 MiB); beyond
# them a value is a typo (and would overflow the memory model's 64-bit counters).
MAX_SIDE = 65536
MAX_SRAM_BYTES = 2.0**40


@dataclass(frozen=True)
class SystolicSpec(HardwareSpec):
    """A systolic array machine (see the module docstring for the YAML form).

    Sizes are bytes, bandwidths bytes per second, energies joules. ``dram_bandwidth_bps``
    is (ifmap, filter, ofmap), None in CALC mode when not given.
    """

    rows: int = 1
    cols: int = 1
    dataflow: str = "ws"
    precision: str = "int8"
    sram_bytes: tuple[float, float, float] = (0.0, 0.0, 0.0)
    dram_type: str = "dram"
    dram_bandwidth_bps: tuple[float, float, float] | None = None
    bandwidth_mode: str = "calc"
    vector_lanes: int = 1
    mode: str = "default"
    mac_energy_j: float = 0.0
    sram_energy_per_byte_j: tuple[float, float, float] = (0.0, 0.0, 0.0)
    dram_energy_per_byte_j: float = 0.0
    vector_op_energy_j: float = 0.0

    @property
    def word_bytes(self) -> int:
        return DTYPES[self.precision].bits // 8

    @property
    def sram_words(self) -> tuple[int, int, int]:
        return tuple(int(b // self.word_bytes) for b in self.sram_bytes)  # type: ignore[return-value]

    def words_per_cycle(self) -> tuple[int, int, int]:
        """DRAM bandwidth of each operand in whole words per cycle (USER mode)."""
        if self.dram_bandwidth_bps is None:
            return (1, 1, 1)
        per = self.word_bytes * self.frequency_hz
        # (capped at 2**40 words per cycle: beyond that a bandwidth is as good as infinite)
        return tuple(max(1, min(2**40, math.floor(b / per + 1e-9)))  # type: ignore[return-value]
                     for b in self.dram_bandwidth_bps)

    @property
    def peak_macs_per_s(self) -> float:
        return self.rows * self.cols * self.frequency_hz


def build_spec(*, name: str, source: str | None, frequency_hz: float, technology: Technology,
               rows: int, cols: int, dataflow: str, precision: str,
               sram_bytes: tuple[float, float, float], dram_type: str = "dram",
               dram_bandwidth_bps: tuple[float, float, float] | None = None,
               bandwidth_mode: str = "calc", vector_lanes: int | None = None,
               mode: str = "default", mac: float | None = None, sram_per_byte: float | None = None,
               dram_per_byte: float | None = None, vector_op: float | None = None,
               compression: CompressionSupport = DENSE_SUPPORT) -> SystolicSpec:
    """A :class:`SystolicSpec`, energies not given taken from the technology table: a MAC at
    ``precision``, each SRAM per byte by its size, DRAM per byte by ``dram_type``, a vector
    op as an add at ``precision``. Both loaders (YAML and SCALE-Sim .cfg) build through here."""
    return SystolicSpec(
        name=name, kind="systolic", frequency_hz=frequency_hz, technology=technology, source=source,
        rows=rows, cols=cols, dataflow=dataflow, precision=precision, default_precision=precision,
        sram_bytes=sram_bytes,
        dram_type=dram_type, dram_bandwidth_bps=dram_bandwidth_bps, bandwidth_mode=bandwidth_mode,
        vector_lanes=vector_lanes or cols, mode=mode,
        mac_energy_j=mac if mac is not None else mac_energy_j(precision, technology),
        sram_energy_per_byte_j=tuple(sram_per_byte if sram_per_byte is not None  # type: ignore[arg-type]
                                     else sram_energy_per_byte_j(size, technology) for size in sram_bytes),
        dram_energy_per_byte_j=(dram_per_byte if dram_per_byte is not None
                                else offchip_energy_per_byte_j(dram_type)),
        vector_op_energy_j=vector_op if vector_op is not None else add_energy_j(precision, technology),
        compression=compression,
    )


def load_systolic(r: SpecReader, name: str) -> SystolicSpec:
    """Build a :class:`SystolicSpec` from the fields of a ``kind: systolic`` file.

    Raises:
        SpecError: unknown field, bad unit or value, an SRAM below 100 words, a precision
            narrower than a byte, USER mode without DRAM bandwidths (file, line, field).
    """
    tech = r.technology()
    frequency = r.quantity("frequency", "frequency")
    array = r.child("array")
    rows = array.integer("rows")
    cols = array.integer("cols")
    for key, value in (("rows", rows), ("cols", cols)):
        if value > MAX_SIDE:
            raise array.error(key, f"at most {MAX_SIDE} PEs per side, got {value}")
    dataflow = array.string("dataflow", "ws", DATAFLOWS)
    array.finish()
    byte_types = tuple(d for d, t in DTYPES.items() if t.bits % 8 == 0 and not t.is_index)
    precision = r.string("precision", "int8", byte_types)
    word = DTYPES[precision].bits // 8
    sram = r.child("sram")
    sizes = tuple(sram.quantity(op, "bytes") for op in OPERANDS)
    for op, size in zip(OPERANDS, sizes):
        if size > MAX_SRAM_BYTES:
            raise sram.error(op, f"at most 1 TiB, got {size:g} bytes")
        if size // word < MIN_SRAM_WORDS:
            raise sram.error(op, f"an SRAM must hold at least {MIN_SRAM_WORDS} words "
                                 f"({MIN_SRAM_WORDS * word} bytes at {precision}); the memory model "
                                 "splits it into 100 sets")
    sram.finish()
    dram = r.child("dram", None)
    # Bandwidths written in a spec are honoured unless CALC ("never stalls") is asked for.
    mode_bw = r.string("bandwidth_mode", "user" if dram.has("bandwidth") else "calc", BANDWIDTH_MODES)
    dram_type = dram.string("type", "dram", tuple(OFFCHIP_TYPES))
    bandwidth = None
    if dram.has("bandwidth") or mode_bw == "user":
        if not dram.has("bandwidth"):
            raise r.error("bandwidth_mode", "bandwidth_mode user needs dram.bandwidth "
                                            "{ifmap: ..., filter: ..., ofmap: ...}")
        bw = dram.child("bandwidth")
        bandwidth = tuple(bw.quantity(op, "bandwidth") for op in OPERANDS)
        for op, value in zip(OPERANDS, bandwidth):
            if value < word * frequency:
                raise bw.error(op, f"below one {word}-byte word per cycle at {frequency / 1e6:g} MHz; "
                                   "the memory model moves whole words")
        bw.finish()
    dram.finish()
    vector = r.child("vector", None)
    lanes = vector.integer("lanes", cols)
    vector.finish()
    energy = r.child("energy", None)
    overrides = {key: energy.quantity(key, "energy", None, positive=False)
                 for key in ("mac", "sram_per_byte", "dram_per_byte", "vector_op")}
    energy.finish()
    return build_spec(
        name=name, source=r.path, frequency_hz=frequency, technology=tech, rows=rows, cols=cols,
        dataflow=dataflow, precision=precision, sram_bytes=sizes,  # type: ignore[arg-type]
        dram_type=dram_type, dram_bandwidth_bps=bandwidth,  # type: ignore[arg-type]
        bandwidth_mode=mode_bw, vector_lanes=lanes, mode=r.string("mode", "default", MODES),
        compression=read_support(r), **overrides)
