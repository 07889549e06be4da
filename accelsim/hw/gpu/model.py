"""The ``gpu`` cost model: kernels, each timed by the tile model or by its bytes.

* Matrix layers (gemm workloads, convolutions as implicit GEMMs with M = N*P*Q, N = K,
  K = C*R*S per group) go through ``tiles.plan_gemm`` on tensor cores where the part has
  them at the layer's precision, else on CUDA cores. A 2:4-sparse layer (``n:m`` at density
  0.5) uses the sparse tensor peak and streams half the weights plus 2-bit indices.
* Depthwise convolutions and every other layer are memory-bound kernels: their bytes over
  the L2 bandwidth when the working set fits in L2 and the part publishes it, else over
  HBM; arithmetic on CUDA cores.
* A kernel takes at least the host's launch time (eager dispatch, or a CUDA graph's
  replay): the host issues kernels ahead of the device, so a kernel shorter than its launch
  leaves the device waiting. ``bound`` is then ``launch``.
* Energy: with a board power in the spec, idle power for the whole time plus the rest of the
  TDP in proportion to how busy the bounding unit is (GEMMs run near TDP); without one,
  the technology table's per-op and per-byte energies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ...errors import MappingError
from ...ir import Graph, Layer, Workload
from ..cost import CostContext, LayerCost
from ..technology import add_energy_j, mac_energy_j, offchip_energy_per_byte_j, sram_energy_per_byte_j
from .kernels import Kernel, group_kernels
from .spec import GpuSpec
from .tiles import Gemm, GpuCore, TilePlan, plan_gemm

__all__ = ["GpuOptions", "GpuModel"]

# 2:4 sparse operands keep half the values plus a 2-bit index for each one kept.
_SPARSE_INDEX_BITS = 2


@dataclass(frozen=True)
class GpuOptions:
    """``fuse``: pointwise layers fold into their producer's kernel (``--no-fuse`` turns it
    off); ``cuda_graphs``: kernels are replayed from a captured CUDA graph, which makes each
    launch cheaper."""

    fuse: bool = True
    cuda_graphs: bool = False


@dataclass(frozen=True)
class _Timed:
    device_s: float
    busy_s: float  # time the bounding unit is busy (for the power model)
    bound: str
    hbm_bytes: float
    l2_bytes: float
    plan: TilePlan | None = None


def _as_gemm(w: Workload, element_bytes: float) -> Gemm | None:
    """The implicit GEMM of a matrix workload; None for depthwise (memory-bound) work."""
    if w.kind == "gemm":
        b, m, n, k = (w.dim(d) for d in ("B", "M", "N", "K"))
        if w.weight_bytes:
            a_bytes, b_bytes = w.input_bytes, w.weight_bytes
        else:  # two activations (attention): A is the first, B the rest
            a_bytes = min(w.input_bytes, b * m * k * element_bytes)
            b_bytes = w.input_bytes - a_bytes
        return Gemm(b, m, n, k, a_bytes, b_bytes, w.output_bytes, element_bytes)
    if w.kind == "conv":
        if w.dim("C") == 1 and w.dim("G") > 1:
            return None
        m = w.dim("N") * w.dim("P") * w.dim("Q")
        return Gemm(w.dim("G"), m, w.dim("K"), w.dim("C") * w.dim("R") * w.dim("S"),
                    w.input_bytes, w.weight_bytes, w.output_bytes, element_bytes)
    return None


class GpuModel:
    """Costs a graph on a :class:`GpuSpec` (see the module docstring)."""

    def __init__(self, spec: GpuSpec, options: GpuOptions = GpuOptions(),
                 context: CostContext = CostContext()) -> None:
        self.spec = spec
        self.options = options

    @property
    def launch_s(self) -> float:
        return self.spec.graph_launch_s if self.options.cuda_graphs else self.spec.launch_s

    def roof(self, precision: str) -> tuple[float | None, tuple[tuple[str, float], ...]]:
        peak = self.spec.tensor_peak(precision) or self.spec.vector_peak(precision)
        levels = [("hbm", self.spec.hbm_bps)] + ([("l2", self.spec.l2_bps)] if self.spec.l2_bps else [])
        return peak, tuple(levels)

    def _core(self, rate: float) -> GpuCore:
        s = self.spec
        return GpuCore(sms=s.sms, rate_per_sm=rate / s.sms, smem_bps_per_sm=s.smem_bytes_per_clock * s.frequency_hz,
                       smem_per_sm=s.smem_per_sm_bytes, registers_per_sm=s.registers_per_sm_bytes,
                       hbm_bps=s.hbm_bps, l2_bytes=s.l2_bytes, l2_bps=s.l2_bps)

    def _matrix(self, layer: Layer, gemm: Gemm, extra_ops: int) -> _Timed:
        w, dtype = layer.workload, layer.compute_dtype.name
        sparse = w.sparsity_structure == "n:m" and w.weight_density == 0.5
        rate = self.spec.tensor_peak(dtype, sparse=sparse)
        unit = "tensor"
        if rate is None:
            rate, unit, sparse = self.spec.vector_peak(dtype), "vector", False
        if sparse:
            kept = 0.5 * (1 + _SPARSE_INDEX_BITS / layer.compute_dtype.bits)
            gemm = replace(gemm, b_bytes=gemm.b_bytes * kept)
        try:
            plan = plan_gemm(gemm, self._core(rate))
        except ValueError as exc:
            raise self._error(layer, str(exc)) from None
        vector = (w.ops + extra_ops) / (self.spec.vector_peak(dtype) or rate)
        bound = {"compute": unit}.get(plan.bound, plan.bound)
        busy = {"compute": plan.compute_s, "smem": plan.smem_s, "l2": plan.l2_s, "hbm": plan.hbm_s}[plan.bound]
        return _Timed(plan.time_s + vector, busy, bound, plan.hbm_bytes, plan.l2_bytes, plan)

    def _streaming(self, layer: Layer, read_bytes: float, write_bytes: float, ops: int) -> _Timed:
        s, w = self.spec, layer.workload
        moved = read_bytes + write_bytes
        in_l2 = bool(s.l2_bps) and moved <= s.l2_bytes
        bandwidth = s.l2_bps if in_l2 and s.l2_bps else s.hbm_bps
        dtype = layer.compute_dtype.name
        arithmetic = (2 * w.macs + ops) / s.vector_peak(dtype)
        memory = moved / bandwidth
        bound = "vector" if arithmetic > memory else ("l2" if in_l2 else "hbm")
        return _Timed(max(arithmetic, memory), max(arithmetic, memory), bound,
                      0.0 if in_l2 else moved, moved if in_l2 else 0.0)

    def _kernel(self, kernel: Kernel) -> _Timed:
        head, w = kernel.head, kernel.head.workload
        gemm = _as_gemm(w, head.compute_dtype.bits / 8)
        extra = kernel.epilogue_input_bytes
        if gemm is not None:  # the epilogue writes the kernel's output and reads its extra inputs
            gemm = replace(gemm, c_bytes=kernel.output_bytes + extra)
            return self._matrix(head, gemm, kernel.epilogue_ops)
        return self._streaming(head, w.input_bytes + w.weight_bytes + extra, kernel.output_bytes,
                               w.ops + kernel.epilogue_ops)

    def _error(self, layer: Layer, message: str) -> MappingError:
        where = layer.node.source
        return MappingError(f"layer {layer.name!r} on {self.spec.name}: {message}",
                            file=where.file, line=where.line, field=where.field)

    def _energy(self, kernel: Kernel, timed: _Timed, latency: float) -> dict[str, float]:
        s = self.spec
        if s.tdp_w:
            busy = min(1.0, timed.busy_s / latency) if latency > 0 else 0.0
            return {"static": s.idle_power_w * latency, "dynamic": (s.tdp_w - s.idle_power_w) * busy * latency}
        dtype = kernel.head.compute_dtype.name
        macs = sum(l.workload.macs for l in kernel.layers)
        ops = sum(l.workload.ops for l in kernel.layers)
        return {
            "compute": macs * mac_energy_j(dtype, s.technology) + ops * add_energy_j(dtype, s.technology),
            "hbm": timed.hbm_bytes * offchip_energy_per_byte_j(s.memory_type if s.memory_type != "gddr" else "dram"),
            "l2": timed.l2_bytes * sram_energy_per_byte_j(s.l2_bytes, s.technology),
        }

    def layer_costs(self, graph: Graph) -> list[LayerCost]:
        layers = graph.layers()
        costs: dict[str, LayerCost] = {}
        for item in group_kernels(graph, layers, self.options.fuse):
            if isinstance(item, Layer):  # a view: no kernel
                costs[item.name] = LayerCost(name=item.name, op=item.op, params=item.params,
                                             details={"kernel": None})
                continue
            timed = self._kernel(item)
            latency = max(timed.device_s, self.launch_s)
            bound = "launch" if self.launch_s > timed.device_s else timed.bound
            ideal = self._ideal_s(item)
            energy = self._energy(item, timed, latency)
            cycles = latency * self.spec.frequency_hz
            if not (math.isfinite(cycles) and all(math.isfinite(v) for v in energy.values())):
                raise self._error(item.head, "a time or energy too large to represent (is a value in "
                                             f"{self.spec.source} out of range?)")
            plan = timed.plan
            details = {"kernel": item.name, "tile": plan.label if plan else None,
                       "waves": plan.waves if plan else None, "split_k": plan.split_k if plan else None,
                       "device_s": timed.device_s, "fused": [l.name for l in item.epilogue]}
            head = item.head
            costs[head.name] = LayerCost(
                name=head.name, op=head.op, macs=head.macs, ops=head.workload.ops, params=head.params,
                cycles=math.ceil(cycles - 1e-9), latency_s=latency, ideal_s=ideal,
                energy_by_component_j=tuple(energy.items()),
                bytes_by_level=(("hbm", timed.hbm_bytes), ("l2", timed.l2_bytes)), offchip=("hbm",),
                counts=(("kernel_launches", 1.0),), time_by_bound_s=((bound, latency),), bound=bound,
                details=details)
            for member in item.epilogue:
                costs[member.name] = LayerCost(
                    name=member.name, op=member.op, macs=member.macs, ops=member.workload.ops,
                    params=member.params, offchip=("hbm",), bound="fused", details={"kernel": item.name})
        return [costs[layer.name] for layer in layers]

    def _ideal_s(self, kernel: Kernel) -> float:
        """The kernel's arithmetic at the part's peak for its precision."""
        dtype = kernel.head.compute_dtype.name
        peak = self.spec.tensor_peak(dtype) or self.spec.vector_peak(dtype)
        return sum(l.workload.flops for l in kernel.layers) / peak
