"""The ``systolic`` cost model: every conv and GEMM layer on the array, the rest on a vector unit.

Array layers (see :mod:`.lowering`) are one GEMM per group (or per batch item of a batched
matmul), each from empty buffers. In the default mode a GEMM's DRAM traffic and its double-
buffered fold pipeline are closed forms (:mod:`.traffic`); with ``--compat scalesim`` it is
simulated line by line (:mod:`.memory`) as SCALE-Sim does. A layer costs the span from its
first DRAM read to its last DRAM write, times the number of GEMMs.

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
from dataclasses import replace
from typing import Any, Mapping

from ...errors import MappingError, SpecError
from ...ir import DTYPES, Graph, Layer
from ..compression import Plan, plan, shrink
from ..cost import CostContext, LayerCost
from ..technology import mac_energy_j
from . import COMPAT_MODES, SystolicOptions
from .timing import fold_cycles, folds
from .dataflow import OPERANDS
from .lowering import GemmJob, gemm_job
from .memory import REPORT_FIELDS, ArrayConfig, GemmStore, run_gemm
from ..residency import resident_activations
from .spec import SystolicSpec
from .traffic import DEFAULT_FIELDS, gemm_traffic

__all__ = ["SystolicModel"]

# The memory model keeps per-word state and visits every demand line: beyond these a layer
# would need gigabytes or hours, which no real layer does (GPT-2 on a 16x16 array: ~10**8
# lines), so it is refused with an error instead.
MAX_WORDS = 2**28
MAX_LINES = 2**33
# The default mode's closed form keeps a few numbers per fold.
MAX_FOLDS = 2**24


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
        if options.compat is not None and options.compat not in COMPAT_MODES:
            raise SpecError(f"the systolic model has no compatibility mode {options.compat!r}; "
                            f"expected one of {', '.join(COMPAT_MODES)}", field="compat")
        self.spec = spec
        self.scalesim = (options.compat or spec.mode) == "scalesim"
        self.store = GemmStore() if context.cache and self.scalesim else None
        self.config = ArrayConfig(
            rows=spec.rows, cols=spec.cols, dataflow=spec.dataflow,
            user=spec.bandwidth_mode == "user", sram_words=spec.sram_words,
            bandwidth=spec.words_per_cycle())

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
        resident = ({} if self.scalesim else
                    resident_activations(graph, layers, self.spec.sram_bytes[0]))
        for layer in layers:
            job = gemm_job(layer)
            stays = (resident.get(layer.node.inputs[0], False) if layer.node.inputs else False,
                     resident.get(layer.name, False))
            if job is not None:
                compressed = plan(layer.workload, self.spec.compression, lanes=self.spec.cols,
                                  weight=graph.weights(layer.name).get("weight"))
                costs.append(self._array_layer(layer, compressed, stays))
            else:
                costs.append(self._vector_layer(layer, resident))
            if self.progress:
                self.progress(len(costs), len(layers))
        return costs

    # ------------------------------------------------------------------ the array

    def _check_precision(self, layer: Layer) -> None:
        dtype = layer.compute_dtype
        array = DTYPES[self.spec.precision]
        narrower_int = not dtype.is_float and not array.is_float and dtype.bits <= array.bits
        if dtype.name != self.spec.precision and not narrower_int:
            where = layer.node.source
            raise MappingError(
                f"layer {layer.name!r} computes in {dtype.name} but {self.spec.name}'s systolic array "
                f"computes in {self.spec.precision}; try --precision {self.spec.precision}",
                file=where.file, line=where.line, field=where.field)

    def _check_size(self, layer: Layer, job: GemmJob) -> None:
        spec = self.spec
        words = job.M * job.K + job.K * job.N + job.M * job.N
        lines = fold_cycles(spec.dataflow, spec.rows, spec.cols, job.M, job.N, job.K)
        n_folds = folds(spec.dataflow, spec.rows, spec.cols, job.M, job.N, job.K)
        if self.scalesim and (words > MAX_WORDS or lines > MAX_LINES):
            problem = (f"the line-by-line model of --compat scalesim: {words:,} operand words, "
                       f"{lines:,} demand lines (limits {MAX_WORDS:,} and {MAX_LINES:,})")
        elif n_folds > MAX_FOLDS:
            problem = f"the systolic model: {n_folds:,} folds (limit {MAX_FOLDS:,})"
        else:
            return
        where = layer.node.source
        raise MappingError(f"layer {layer.name!r} (GEMM {job.M} x {job.K} x {job.N}) is too large for "
                           + problem, file=where.file, line=where.line, field=where.field)

    def _gemm(self, job: GemmJob, stays: tuple[bool, bool]) -> tuple[Mapping[str, float | int], dict[str, int], dict[str, int]]:
        """One GEMM's figures, its SRAM accesses (array side) and its DRAM accesses."""
        if self.scalesim:
            fig = self.store.run(self.config, job) if self.store else run_gemm(self.config, job)
        else:
            spec = self.spec
            user = spec.bandwidth_mode == "user"
            fig = gemm_traffic(spec.dataflow, spec.rows, spec.cols, replace(job, repeats=1), spec.sram_words,
                               spec.words_per_cycle() if user else None, stays)
        sram = {"ifmap": fig["sram_ifmap_reads"], "filter": fig["sram_filter_reads"],
                "ofmap": fig["sram_ofmap_writes"]}
        dram = {"ifmap": fig["dram_ifmap_reads"], "filter": fig["dram_filter_reads"],
                "ofmap_reads": fig.get("dram_ofmap_reads", 0), "ofmap": fig["dram_ofmap_writes"]}
        return fig, sram, dram  # type: ignore[return-value]

    def _array_layer(self, layer: Layer, compressed: Plan, stays: tuple[bool, bool]) -> LayerCost:
        self._check_precision(layer)
        job = gemm_job(replace(layer, workload=shrink(layer.workload, compressed)))
        assert job is not None
        self._check_size(layer, job)
        spec = self.spec
        fig, sram, dram = self._gemm(job, stays)
        n = job.repeats
        word = spec.word_bytes
        cycles = n * int(fig["cycles"])
        latency = cycles / spec.frequency_hz
        w = layer.workload
        dram_words = sum(dram.values())
        fills = {"ifmap": dram["ifmap"], "filter": dram["filter"], "ofmap": dram["ofmap"] + dram["ofmap_reads"]}
        effective_macs = w.macs * compressed.mac_fraction
        mac_j = spec.mac_energy_j
        if compressed.run_bits < DTYPES[spec.precision].bits:
            mac_j = mac_energy_j(f"int{compressed.run_bits}" if compressed.run_bits > 1 else "binary",
                                 spec.technology)
        energy = {"compute": effective_macs * mac_j + w.ops * spec.vector_op_energy_j}
        energy["sram"] = n * word * sum((sram[o] + fills[o]) * e
                                        for o, e in zip(OPERANDS, spec.sram_energy_per_byte_j))
        dram_bytes = n * word * dram_words + compressed.metadata_bytes  # plus the format's metadata
        energy["dram"] = dram_bytes * spec.dram_energy_per_byte_j
        compute = n * int(fig["compute_cycles"])
        bound = "compute" if 2 * compute >= cycles else "dram"
        reads = {"ifmap": n * dram["ifmap"], "filter": n * dram["filter"]}
        if not self.scalesim:
            reads["ofmap"] = n * dram["ofmap_reads"]  # partial sums brought back
        details: dict[str, Any] = {
            "mode": "scalesim" if self.scalesim else "default",
            "dataflow": spec.dataflow,
            "bandwidth_mode": spec.bandwidth_mode,
            "gemm": {"M": job.M, "N": job.N, "K": job.K, "repeats": n},
            "stall_cycles": n * int(fig["stall_cycles"]),
            "accesses": {
                "sram_reads": {"ifmap": n * sram["ifmap"], "filter": n * sram["filter"]},
                "sram_writes": {"ofmap": n * sram["ofmap"]},
                "dram_reads": reads,
                "dram_writes": {"ofmap": n * dram["ofmap"]},
            },
            ("scalesim" if self.scalesim else "systolic"):
                {k: fig[k] for k in (REPORT_FIELDS if self.scalesim else DEFAULT_FIELDS)},
        }
        if compressed.exploited or compressed.ignored:
            details["compression"] = {"exploited": list(compressed.exploited), "ignored": list(compressed.ignored),
                                      "effective_macs": effective_macs, "imbalance": compressed.imbalance,
                                      "reduction_fraction": compressed.time_fraction / compressed.pack}
        return LayerCost(
            name=layer.name, op=layer.op, macs=w.macs, ops=w.ops, params=layer.params,
            cycles=cycles, latency_s=latency,
            ideal_s=effective_macs / (spec.peak_macs_per_s * compressed.pack),
            energy_by_component_j=tuple(energy.items()),
            bytes_by_level=(("dram", dram_bytes),
                            ("sram", n * word * sum(sram[o] + fills[o] for o in OPERANDS))), offchip=("dram",),
            time_by_bound_s=((bound, latency),), bound=bound, details=details)

    # ------------------------------------------------------------------ the vector unit

    def _vector_layer(self, layer: Layer, resident: dict[str, bool]) -> LayerCost:
        spec = self.spec
        w = layer.workload
        view = w.kind == "data" and w.weight_bytes == 0
        inputs = max(0.0, w.input_bytes - sum(t.nbytes for name, t in zip(layer.node.inputs, layer.inputs)
                                              if resident.get(name, False)))
        output = 0.0 if resident.get(layer.name, False) else layer.output.nbytes
        moved = (0.0, 0.0, 0.0) if view else (inputs, w.weight_bytes, output)
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
