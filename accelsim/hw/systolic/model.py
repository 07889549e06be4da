"""The ``systolic`` cost model: every conv and GEMM layer on the array, the rest on a vector unit.

Array layers (see :mod:`.lowering`) are simulated line by line (:mod:`.memory`): one GEMM
per group (or per batch item of a batched matmul), each from an empty, freshly prefetched
SRAM, as SCALE-Sim runs its layers. A layer costs the span from its first DRAM read to its
last DRAM write (SCALE-Sim's "Total Cycles (incl. prefetch)"), times the number of GEMMs.

Vector layers (activations, pooling, adds, ...) take ``ceil(ops / lanes)`` cycles, or in
USER mode longer if moving their inputs and outputs through DRAM takes longer (each operand
has its own interface, as for the array); views move nothing.

Energy: MACs x MAC energy; bias adds and vector ops x vector-op energy; SRAM bytes (array
side plus DRAM fills and drains) x each SRAM's energy per byte; DRAM bytes x DRAM energy per
byte. ``bound`` is ``compute`` when the stall-free array schedule takes at least as long as
the prefetch, stalls and drain together, else ``dram``.
"""

from __future__ import annotations

import math
from typing import Any

from ...errors import MappingError, SpecError
from ...ir import Graph, Layer
from ..cost import CostContext, LayerCost
from . import COMPAT_MODES, SystolicOptions
from .timing import fold_cycles
from .dataflow import OPERANDS
from .lowering import GemmJob, gemm_job
from .memory import REPORT_FIELDS, ArrayConfig, GemmStore, run_gemm
from .spec import SystolicSpec

__all__ = ["SystolicModel"]

# The memory model keeps per-word state and visits every demand line: beyond these a layer
# would need gigabytes or hours, which no real layer does (GPT-2 on a 16x16 array: ~10**8
# lines), so it is refused with an error instead.
MAX_WORDS = 2**28
MAX_LINES = 2**33


class SystolicModel:
    """Costs layers on a :class:`SystolicSpec`.

    ``options.compat == "scalesim"`` (or ``mode: scalesim`` in the spec) reproduces SCALE-Sim
    3.0.0's figures, quirks included; otherwise they are fixed (docs/systolic.md).

    Raises:
        SpecError: an unknown compatibility mode.
    """

    def __init__(self, spec: SystolicSpec, options: SystolicOptions = SystolicOptions(),
                 context: CostContext = CostContext()) -> None:
        self.progress = context.progress
        self.store = GemmStore() if context.cache else None
        if options.compat is not None and options.compat not in COMPAT_MODES:
            raise SpecError(f"the systolic model has no compatibility mode {options.compat!r}; "
                            f"expected one of {', '.join(COMPAT_MODES)}", field="compat")
        self.spec = spec
        self.scalesim = (options.compat or spec.mode) == "scalesim"
        self.config = ArrayConfig(
            rows=spec.rows, cols=spec.cols, dataflow=spec.dataflow,
            user=spec.bandwidth_mode == "user", sram_words=spec.sram_words,
            bandwidth=spec.words_per_cycle(), scalesim=self.scalesim)

    def roof(self, precision: str) -> tuple[float | None, tuple[tuple[str, float], ...]]:
        peak = 2 * self.spec.peak_macs_per_s if precision == self.spec.precision else None
        bw = self.spec.dram_bandwidth_bps
        return peak, ((("dram", sum(bw)),) if bw else ())

    def layer_costs(self, graph: Graph) -> list[LayerCost]:
        """Every layer's cost, in the graph's order.

        Raises:
            MappingError: a conv or GEMM layer in a precision other than the array's, or too
                large to simulate line by line.
        """
        costs = []
        layers = graph.layers()
        for layer in layers:
            job = gemm_job(layer)
            costs.append(self._array_layer(layer, job) if job is not None else self._vector_layer(layer))
            if self.progress:
                self.progress(len(costs), len(layers))
        return costs

    # ------------------------------------------------------------------ the array

    def _check_precision(self, layer: Layer) -> None:
        dtype = layer.output.dtype.name
        if dtype != self.spec.precision:
            where = layer.node.source
            raise MappingError(
                f"layer {layer.name!r} computes in {dtype} but {self.spec.name}'s systolic array "
                f"computes in {self.spec.precision}; try --precision {self.spec.precision}",
                file=where.file, line=where.line, field=where.field)

    def _check_size(self, layer: Layer, job: GemmJob) -> None:
        spec = self.spec
        words = job.M * job.K + job.K * job.N + job.M * job.N
        lines = fold_cycles(spec.dataflow, spec.rows, spec.cols, job.M, job.N, job.K)
        if words > MAX_WORDS or lines > MAX_LINES:
            where = layer.node.source
            raise MappingError(
                f"layer {layer.name!r} (GEMM {job.M} x {job.K} x {job.N}) is too large for the "
                f"line-by-line systolic model: {words:,} operand words, {lines:,} demand lines "
                f"(limits {MAX_WORDS:,} and {MAX_LINES:,})",
                file=where.file, line=where.line, field=where.field)

    def _array_layer(self, layer: Layer, job: GemmJob) -> LayerCost:
        self._check_precision(layer)
        self._check_size(layer, job)
        spec = self.spec
        fig = self.store.run(self.config, job) if self.store else run_gemm(self.config, job)
        n = job.repeats
        word = spec.word_bytes
        sram = {"ifmap": fig["sram_ifmap_reads"], "filter": fig["sram_filter_reads"],
                "ofmap": fig["sram_ofmap_writes"]}
        dram = {"ifmap": fig["dram_ifmap_reads"], "filter": fig["dram_filter_reads"],
                "ofmap": fig["dram_ofmap_writes"]}
        cycles = n * int(fig["cycles"])
        latency = cycles / spec.frequency_hz
        w = layer.workload
        energy = {"compute": w.macs * spec.mac_energy_j + w.ops * spec.vector_op_energy_j}
        energy["sram"] = n * word * sum((sram[o] + dram[o]) * e
                                        for o, e in zip(OPERANDS, spec.sram_energy_per_byte_j))
        energy["dram"] = n * word * sum(dram.values()) * spec.dram_energy_per_byte_j
        compute = n * int(fig["compute_cycles"])
        bound = "compute" if 2 * compute >= cycles else "dram"
        details: dict[str, Any] = {
            "mode": "scalesim" if self.scalesim else "default",
            "dataflow": spec.dataflow,
            "gemm": {"M": job.M, "N": job.N, "K": job.K, "repeats": n},
            "stall_cycles": n * int(fig["stall_cycles"]),
            "accesses": {
                "sram_reads": {"ifmap": n * sram["ifmap"], "filter": n * sram["filter"]},
                "sram_writes": {"ofmap": n * sram["ofmap"]},
                "dram_reads": {"ifmap": n * dram["ifmap"], "filter": n * dram["filter"]},
                "dram_writes": {"ofmap": n * dram["ofmap"]},
            },
            ("scalesim" if self.scalesim else "systolic"): {k: fig[k] for k in REPORT_FIELDS},
        }
        return LayerCost(
            name=layer.name, op=layer.op, macs=w.macs, ops=w.ops, params=layer.params,
            cycles=cycles, latency_s=latency, ideal_s=w.macs / spec.peak_macs_per_s,
            energy_by_component_j=tuple(energy.items()),
            bytes_by_level=(("dram", n * word * sum(dram.values())),
                            ("sram", n * word * sum(sram[o] + dram[o] for o in OPERANDS))), offchip=("dram",),
            time_by_bound_s=((bound, latency),), bound=bound, details=details)

    # ------------------------------------------------------------------ the vector unit

    def _vector_layer(self, layer: Layer) -> LayerCost:
        spec = self.spec
        w = layer.workload
        view = w.kind == "data" and w.weight_bytes == 0
        moved = (0.0, 0.0, 0.0) if view else (w.input_bytes, w.weight_bytes, w.output_bytes)
        compute = math.ceil(w.ops / spec.vector_lanes)
        transfer = 0
        if spec.bandwidth_mode == "user" and spec.dram_bandwidth_bps:
            transfer = max(math.ceil(b / bw * spec.frequency_hz)
                           for b, bw in zip(moved, spec.dram_bandwidth_bps))
        cycles = max(compute, transfer)
        latency = cycles / spec.frequency_hz
        total = sum(moved)
        energy = {"compute": w.ops * spec.vector_op_energy_j,  # each byte is written to and read
                  "sram": sum(2 * b * e for b, e in zip(moved, spec.sram_energy_per_byte_j)),  # from SRAM
                  "dram": total * spec.dram_energy_per_byte_j}
        bound = "compute" if compute >= transfer else "dram"
        return LayerCost(
            name=layer.name, op=layer.op, macs=w.macs, ops=w.ops, params=layer.params,
            cycles=cycles, latency_s=latency, energy_by_component_j=tuple(energy.items()),
            bytes_by_level=(("dram", total), ("sram", 2 * total)), offchip=("dram",),
            time_by_bound_s=((bound, latency),) if cycles else (), bound=bound,
            details={"unit": "vector"})
