"""Ops of a training step beyond the forward ones: what a backward graph is made of.

A backward graph reads the forward activations it saved and the gradients flowing back, so
its matrix work is GEMMs over operands read in place, transposed or not (cuBLAS ``op(A)``,
implicit-GEMM weight gradients of a convolution): ``gemm`` names its extents outright.
Memory-bound gradients (of activations, norms, pooling, softmax) are ``vjp``: read their
inputs, write one tensor. ``optimizer_step`` is the update of every parameter in one fused
kernel (multi-tensor apply).
"""

from __future__ import annotations

from typing import Any, Mapping

from .opdef import REQUIRED, Attr, ShapeError
from .ops import _bytes, _define, _widths
from .types import DTYPES, TensorType
from .workload import Workload

__all__ = ["OPTIMIZERS"]

A = Mapping[str, Any]


def _gemm_infer(ins: list[TensorType], a: A) -> TensorType:
    if any(s <= 0 for s in a["shape"]):
        raise ShapeError(f"every dimension must be positive, got {list(a['shape'])}")
    return ins[0].with_shape(tuple(a["shape"]))


def _gemm_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    b, m, n, k = a["batch"], a["m"], a["n"], a["k"]
    return Workload(kind="gemm", dims=(("B", b), ("M", m), ("N", n), ("K", k)), macs=b * m * n * k, ops=0,
                    input_bytes=_bytes(ins), weight_bytes=0.0, output_bytes=out.nbytes, **_widths(ins, out))


_define(
    "gemm", min_inputs=2, max_inputs=2,
    attrs={"m": Attr("int", REQUIRED, minimum=1), "n": Attr("int", REQUIRED, minimum=1),
           "k": Attr("int", REQUIRED, minimum=1), "batch": Attr("int", 1, minimum=1),
           "shape": Attr("shape", REQUIRED)},
    infer=_gemm_infer, lower=_gemm_lower,
    doc="batch x (m x k) @ (k x n) over two operands read in place (any layout), writing a tensor of "
        "the given shape (an implicit GEMM's m x n need not be its size: a convolution's input gradient "
        "adds its columns into the input's shape): backward GEMMs and weight gradients.",
)


def _vjp_infer(ins: list[TensorType], a: A) -> TensorType:
    if any(s <= 0 for s in a["shape"]):
        raise ShapeError(f"every dimension must be positive, got {list(a['shape'])}")
    return ins[0].with_shape(tuple(a["shape"]))


_define(
    "vjp", min_inputs=1, max_inputs=None,
    attrs={"shape": Attr("shape", REQUIRED), "ops_per_element": Attr("float", 1.0, minimum=0)},
    infer=_vjp_infer,
    lower=lambda ins, out, a: Workload(
        kind="elementwise", dims=(("size", out.numel),), macs=0,
        ops=int(round(out.numel * a["ops_per_element"])), input_bytes=_bytes(ins), weight_bytes=0.0,
        output_bytes=out.nbytes, **_widths(ins, out)),
    doc="A memory-bound gradient: reads every input once and writes one tensor of the given shape.",
)

# Per parameter: fp32 state tensors the optimiser keeps and the arithmetic of one update
# (SGD: w -= lr g; momentum: v = mu v + g, w -= lr v; Adam (Kingma & Ba 2015): two moment
# updates, bias corrections, a square root and a divide).
OPTIMIZERS: dict[str, tuple[int, int]] = {"sgd": (0, 2), "momentum": (1, 4), "adam": (2, 12)}
_STATE_BITS = 32


def _optimizer_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    grads, = ins
    params = grads.numel
    states, ops = OPTIMIZERS[a["optimizer"]]
    master_bits = a["master_bits"]
    # Reads: the gradient, the master weights, each state; writes: the master weights, each
    # state and, with mixed precision, the low-precision copy the next forward pass reads.
    read = grads.nbytes + params * (master_bits + states * _STATE_BITS) / 8
    written = params * (master_bits + states * _STATE_BITS) / 8
    if master_bits != grads.dtype.bits:
        written += grads.nbytes
    return Workload(kind="elementwise", dims=(("size", params),), macs=0, ops=params * ops,
                    input_bytes=read, weight_bytes=0.0, output_bytes=written, **_widths(ins, out))


_define(
    "optimizer_step",
    attrs={"optimizer": Attr("str", "sgd", tuple(OPTIMIZERS)),
           "master_bits": Attr("int", 32, choices=tuple(d.bits for d in DTYPES.values() if d.is_float))},
    infer=lambda ins, a: ins[0], lower=_optimizer_lower,
    doc="One optimiser update of every parameter (the input: all gradients, flattened) in one kernel.",
)


def _batchnorm_train_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    x = ins[0]
    channels = x.shape[1]
    # One pass for the batch mean and variance, one to normalise: the input is read twice.
    return Workload(kind="elementwise", dims=(("size", out.numel),), macs=0, ops=out.numel * 5,
                    input_bytes=2 * x.nbytes, weight_bytes=2 * channels * x.dtype.bits / 8,
                    output_bytes=out.nbytes, **_widths(ins, out))


_define(
    "batchnorm_train", attrs={"eps": Attr("float", 1e-5, minimum=0)},
    infer=lambda ins, a: ins[0], lower=_batchnorm_train_lower,
    weights=lambda ins, a: {"scale": (ins[0].shape[1],), "bias": (ins[0].shape[1],)},
    doc="Batchnorm in training: statistics of the batch (a reduction over N, H, W), then the scale "
        "and shift; not pointwise, so it is no convolution's epilogue.",
)
