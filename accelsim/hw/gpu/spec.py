"""The ``gpu`` spec: what a datasheet and an architecture whitepaper say about one part.

Peaks are whole-chip figures as datasheets print them (they are quoted at the clock the part
sustains for that unit, which for tensor cores is often below the boost clock); the per-SM
rate the tile model uses is the chip peak over the SM count.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...ir import DTYPES
from ..spec import HardwareSpec, SpecReader

__all__ = ["GpuSpec", "load_gpu"]


@dataclass(frozen=True)
class GpuSpec(HardwareSpec):
    """One GPU. Rates in operations per second for the whole chip, sizes in bytes.

    ``tensor_ops``: dense matrix-unit peak per precision; ``sparse_ops``: the 2:4
    structured-sparse peak where the part has one; ``vector_ops``: CUDA-core peak per
    precision (a multiply-add counts two). ``l2_bps`` None: the L2 is never the bound
    (few parts publish it). ``launch_s``: host time to issue one kernel (eager framework
    dispatch plus ``cudaLaunchKernel``); ``graph_launch_s``: the same per kernel of a
    replayed CUDA graph. ``smem_bytes_per_clock``: shared-memory bandwidth of one SM (32
    banks of 4 bytes on every NVIDIA part since Maxwell: CUDA C++ Programming Guide,
    "Shared Memory").
    """

    sms: int = 1
    tensor_ops: tuple[tuple[str, float], ...] = ()
    sparse_ops: tuple[tuple[str, float], ...] = ()
    vector_ops: tuple[tuple[str, float], ...] = ()
    hbm_bytes: float = 0.0
    hbm_bps: float = 0.0
    l2_bytes: float = 0.0
    l2_bps: float | None = None
    smem_per_sm_bytes: float = 0.0
    smem_bytes_per_clock: int = 128
    registers_per_sm_bytes: float = 0.0
    launch_s: float = 0.0
    graph_launch_s: float = 0.0
    idle_power_w: float = 0.0
    tdp_w: float = 0.0
    nvlink_bps: float | None = None
    memory_type: str = "hbm"

    @property
    def memory_capacity_bytes(self) -> float | None:
        return self.hbm_bytes

    def tensor_peak(self, dtype: str, sparse: bool = False) -> float | None:
        if sparse and dtype in dict(self.sparse_ops):
            return dict(self.sparse_ops)[dtype]
        return dict(self.tensor_ops).get(dtype)

    def vector_peak(self, dtype: str) -> float | None:
        """CUDA-core rate at ``dtype``; a type the cores do not compute natively (int8,
        fp8 outside tensor cores) runs at the fp32 rate."""
        vector = dict(self.vector_ops)
        return vector.get(dtype) or vector.get("fp32")


def _rates(r: SpecReader, key: str, required: bool) -> tuple[tuple[str, float], ...]:
    if not required and not r.has(key):
        r.used.add(key)
        return ()
    table = r.child(key)
    out = []
    for name in list(table.mapping):
        if name not in DTYPES:
            raise table.error(name, f"unknown precision {name!r}; expected one of " + ", ".join(DTYPES))
        out.append((str(name), table.quantity(name, "ops_rate")))
    table.finish()
    if required and not out:
        raise r.error(key, "give at least one precision, e.g. {fp32: 19.5 TFLOPS}")
    return tuple(out)


def load_gpu(r: SpecReader, name: str) -> GpuSpec:
    tensor = _rates(r, "tensor", required=False)
    vector = _rates(r, "vector", required=True)
    sparse = _rates(r, "tensor_sparse", required=False)
    for dtype, _ in sparse:
        if dtype not in dict(tensor):
            raise r.child("tensor_sparse").error(dtype, f"a sparse peak for {dtype} needs a dense one in 'tensor'")
    precisions = tuple(dict.fromkeys([d for d, _ in tensor] + [d for d, _ in vector]))
    memory = r.child("memory")
    hbm_type = memory.string("type", "hbm", ("hbm", "gddr", "lpddr", "dram"))
    hbm_size = memory.quantity("size", "bytes")
    hbm_bw = memory.quantity("bandwidth", "bandwidth")
    memory.finish()
    l2 = r.child("l2")
    l2_size = l2.quantity("size", "bytes")
    l2_bw = l2.quantity("bandwidth", "bandwidth", None)
    l2.finish()
    power = r.child("power", None)
    tdp = power.quantity("tdp", "power", 0.0, positive=False)
    idle = power.quantity("idle", "power", 0.0, positive=False)
    if tdp and idle > tdp:
        raise power.error("idle", f"idle power {idle:g} W is above the TDP {tdp:g} W")
    power.finish()
    launch = r.child("launch_overhead")
    eager = launch.quantity("eager", "time")
    graphs = launch.quantity("cuda_graph", "time")
    launch.finish()
    return GpuSpec(
        name=name, kind="gpu", frequency_hz=r.quantity("frequency", "frequency"),
        technology=r.technology(), source=r.path,
        default_precision=r.string("default_precision", precisions[0], precisions),
        sms=r.integer("sms", maximum=1 << 20),
        tensor_ops=tensor, sparse_ops=sparse, vector_ops=vector,
        hbm_bytes=hbm_size, hbm_bps=hbm_bw, memory_type=hbm_type, l2_bytes=l2_size, l2_bps=l2_bw,
        smem_per_sm_bytes=r.quantity("shared_memory_per_sm", "bytes"),
        smem_bytes_per_clock=r.integer("shared_memory_bytes_per_clock", 128, maximum=1 << 16),
        registers_per_sm_bytes=r.quantity("registers_per_sm", "bytes"),
        launch_s=eager, graph_launch_s=graphs, idle_power_w=idle, tdp_w=tdp,
        nvlink_bps=r.quantity("nvlink", "bandwidth", None),
    )
