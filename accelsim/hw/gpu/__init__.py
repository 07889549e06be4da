"""The ``gpu`` family: thread-block tiles in waves, fused kernels, launch overheads.

``spec`` reads a part's datasheet figures, ``tiles`` times one GEMM as tiles over the SMs,
``kernels`` groups layers into the kernels an inference compiler emits, and ``model`` costs
each kernel (docs/gpu.md says what it assumes and where it is known to be off).
"""

from __future__ import annotations

from ..cost import FAMILIES, Family, Flag
from .model import GpuModel, GpuOptions
from .spec import GpuSpec, load_gpu

__all__ = ["GpuSpec", "GpuModel", "GpuOptions", "GPU_FLAGS"]

GPU_FLAGS = (
    Flag("fuse", "do not fuse pointwise layers into their producers' kernels", const=False, name="--no-fuse"),
    Flag("cuda_graphs", "replay kernels from a CUDA graph (cheaper launches)", const=True),
)

FAMILIES.add("gpu", Family(
    kind="gpu", load=load_gpu, cost_model=GpuModel, options=GpuOptions, flags=GPU_FLAGS,
    doc="GPU: GEMM tiles in waves over the SMs, memory-bound kernels, fusion and launch overheads.",
))
