"""Per-op converters: each maps one ONNX node onto accelsim IR nodes (or a constant).

``CONVERTERS`` is the dispatch table from ONNX op type to converter; ``SUPPORTED_OPS`` lists
its keys for error messages. Converters add nodes through the ``Importer`` they are given
(``ctx``), which owns the graph and the map from ONNX tensors to accelsim nodes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import numpy as np

from ...errors import SpecError, UnsupportedOpError
from .folding import Fold, fold_squeeze, fold_unsqueeze, slice_params
from .reader import Op, constant_value, int_list, np_dtype, scalar_value

if TYPE_CHECKING:
    from .importer import Importer

Converter = Callable[["Importer", Op], None]


def _follow_batch(shape: list[int], in_shape: tuple[int, ...]) -> list[int]:
    """Write a leading dimension equal to the input's as 0 (copy), so ``with_batch`` still works."""
    if shape and in_shape and shape[0] == in_shape[0]:
        return [0] + shape[1:]
    return shape


def _constant(ctx: Importer, op: Op) -> None:
    ctx.consts[op.node.output[0]] = constant_value(op.attrs)


def _shape(ctx: Importer, op: Op) -> None:
    shape = ctx.shape_of(op.input(0), op.field)
    start, end = op.attrs.get("start", 0), op.attrs.get("end", None)
    ctx.consts[op.node.output[0]] = np.array(shape[start:end], dtype=np.int64)


def _identity(ctx: Importer, op: Op) -> None:
    ctx.alias(op, op.input(0))


def _pads(ctx: Importer, op: Op, x: str, kernel: tuple[int, int], stride: tuple[int, int],
          dilation: tuple[int, int]) -> tuple[int, ...] | str:
    """ONNX pads [x1_begin, x2_begin, x1_end, x2_end] are already (top, left, bottom, right)."""
    auto = op.attrs.get("auto_pad", "NOTSET")
    if auto == "VALID":
        return (0, 0, 0, 0)
    if auto == "SAME_UPPER":
        return "same"
    if auto == "SAME_LOWER":  # like 'same', but the odd pixel goes first
        h, w = ctx.types[x].shape[2:4]
        totals = [max((-(-size // s) - 1) * s + d * (k - 1) + 1 - size, 0)
                  for size, k, s, d in zip((h, w), kernel, stride, dilation)]
        return (totals[0] - totals[0] // 2, totals[1] - totals[1] // 2, totals[0] // 2, totals[1] // 2)
    if auto not in ("NOTSET", ""):
        raise SpecError(f"unknown auto_pad {auto!r}")
    pads = tuple(op.attrs.get("pads", (0, 0, 0, 0)))
    if len(pads) != 4:
        raise UnsupportedOpError(f"only 2-D {op.type} is supported; pads has {len(pads)} values")
    return pads


def _pair(op: Op, key: str, default: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    value = tuple(int(v) for v in op.attrs.get(key, default))
    if len(value) != 2:
        raise UnsupportedOpError(f"only 2-D {op.type} is supported; {key} is {list(value)}")
    return value  # type: ignore[return-value]


def _conv(ctx: Importer, op: Op) -> None:
    w = ctx.const(op, 1, "weight")
    if w.ndim != 4:
        raise UnsupportedOpError("only 2-D Conv is supported (a 4-D weight); "
                                 f"got weight shape {list(w.shape)}")
    kernel = (int(w.shape[2]), int(w.shape[3]))
    if "kernel_shape" in op.attrs and tuple(op.attrs["kernel_shape"]) != kernel:
        raise SpecError(f"kernel_shape {op.attrs['kernel_shape']} does not match the weight "
                        f"shape {list(w.shape)}")
    x = ctx.value(op.input(0), op.field)
    stride, dilation = _pair(op, "strides"), _pair(op, "dilations")
    bias = ctx.const(op, 2, "bias", optional=True)
    weights = {"weight": w} if bias is None else {"weight": w, "bias": bias.reshape(-1)}
    ctx.emit(op, "conv2d", [x], {
        "out_channels": int(w.shape[0]), "kernel": kernel, "stride": stride, "dilation": dilation,
        "padding": _pads(ctx, op, x, kernel, stride, dilation), "groups": int(op.attrs.get("group", 1)),
        "bias": bias is not None}, weights)


def _pool(kind: str) -> Converter:
    def convert(ctx: Importer, op: Op) -> None:
        if "kernel_shape" not in op.attrs:
            raise SpecError(f"{op.type} needs kernel_shape")
        kernel = _pair(op, "kernel_shape")
        if _pair(op, "dilations") != (1, 1):
            raise UnsupportedOpError(f"dilated {op.type} is not supported")
        stride = _pair(op, "strides")
        x = ctx.value(op.input(0), op.field)
        ctx.emit(op, kind, [x], {"kernel": kernel, "stride": stride,  # ONNX's default stride is 1
                                 "ceil_mode": bool(op.attrs.get("ceil_mode", 0)),
                                 "padding": _pads(ctx, op, x, kernel, stride, (1, 1))})
    return convert


def _linear(ctx: Importer, op: Op, x: str, weight: np.ndarray, bias: np.ndarray | None) -> None:
    """``weight`` is already in linear's (out, in) layout."""
    weights = {"weight": np.ascontiguousarray(weight)}
    if bias is not None:
        weights["bias"] = bias
    ctx.emit(op, "linear", [x], {"out_features": int(weight.shape[0]), "bias": bias is not None}, weights)


def _gemm(ctx: Importer, op: Op) -> None:
    a = op.attrs
    if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
        raise UnsupportedOpError("Gemm is supported with alpha = beta = 1 and transA = 0 only")
    b = ctx.const(op, 1, "B")
    if b.ndim != 2:
        raise SpecError(f"Gemm's B must be 2-D, got shape {list(b.shape)}")
    weight = b if a.get("transB", 0) else b.T
    x, out = ctx.value(op.input(0), op.field), int(weight.shape[0])
    c = op.input(2)
    bias = ctx.consts.get(c) if c else None
    if not c or (bias is not None and bias.ndim <= 2 and _broadcasts(bias.shape, (1, out))):
        vector = None if bias is None else np.broadcast_to(bias, (1, out))[0].copy()
        _linear(ctx, op, x, weight, vector)
        return
    # A bias that is computed, or varies per row: keep it as an explicit add.
    lin = ctx.emit(op, "linear", [x], {"out_features": out, "bias": False},
                   {"weight": np.ascontiguousarray(weight)}, output=False)
    ctx.emit(op, "add", [lin, ctx.value(c, op.field)], suffix="_bias")


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """``shape`` broadcasts to ``target`` without enlarging it."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _matmul(ctx: Importer, op: Op) -> None:
    """Constant 2-D right operand -> linear; else matmul. A third input is a fused bias Add."""
    a, b, bias = op.input(0), op.input(1), op.input(2)
    w = ctx.consts.get(b)
    if w is not None and w.ndim == 2 and a not in ctx.consts:
        _linear(ctx, op, ctx.value(a, op.field), w.T, ctx.consts[bias] if bias else None)
        return
    mm = ctx.emit(op, "matmul", [ctx.value(a, op.field), ctx.value(b, op.field)], output=not bias)
    if bias:
        ctx.emit(op, "add", [mm, ctx.value(bias, op.field)], suffix="_bias")


def _binary(kind: str) -> Converter:
    def convert(ctx: Importer, op: Op) -> None:
        a, b = op.input(0), op.input(1)
        if kind in ("mul", "div") and _try_scale(ctx, op, kind, a, b):
            return
        ctx.emit(op, kind, [ctx.value(a, op.field), ctx.value(b, op.field)])
    return convert


def _try_scale(ctx: Importer, op: Op, kind: str, a: str, b: str) -> bool:
    """Multiplying or dividing by a scalar is a ``scale`` (no parameter tensor, e.g. 1/sqrt(d))."""
    x, c = (b, a) if kind == "mul" and a in ctx.consts else (a, b)
    factor = scalar_value(ctx.consts.get(c))
    if factor is None or x in ctx.consts or (kind == "div" and factor == 0):
        return False
    t = ctx.types[ctx.value(x, op.field)]
    if not t.dtype.is_float or ctx.consts[c].ndim > t.rank:
        return False
    ctx.emit(op, "scale", [ctx.value(x, op.field)], {"factor": 1 / factor if kind == "div" else factor})
    return True


def _unary(kind: str) -> Converter:
    def convert(ctx: Importer, op: Op) -> None:
        ctx.emit(op, kind, [ctx.value(op.input(0), op.field)])
    return convert


def _clip(ctx: Importer, op: Op) -> None:
    if ctx.opset < 11:
        lo, hi = op.attrs.get("min"), op.attrs.get("max")
    else:
        lo = scalar_value(ctx.const(op, 1, "min", optional=True))
        hi = scalar_value(ctx.const(op, 2, "max", optional=True))
    if lo == 0 and hi == 6:
        kind = "relu6"
    elif lo == 0 and (hi is None or math.isinf(hi)):
        kind = "relu"
    else:
        raise UnsupportedOpError(f"Clip is supported as relu6 (min 0, max 6) or relu (min 0) only; "
                                 f"got min {lo}, max {hi}")
    ctx.emit(op, kind, [ctx.value(op.input(0), op.field)])


def _batchnorm(ctx: Importer, op: Op) -> None:
    """Fold the running statistics into accelsim's per-channel scale and shift."""
    gamma, beta = ctx.const(op, 1, "scale"), ctx.const(op, 2, "bias")
    mean, var = ctx.const(op, 3, "mean"), ctx.const(op, 4, "var")
    eps = float(op.attrs.get("epsilon", 1e-5))
    scale = gamma / np.sqrt(var + eps)
    shift = beta - mean * scale
    ctx.emit(op, "batchnorm", [ctx.value(op.input(0), op.field)], {"eps": eps},
             {"scale": scale.astype(gamma.dtype), "bias": shift.astype(gamma.dtype)})


def _layernorm(ctx: Importer, op: Op) -> None:
    x = ctx.value(op.input(0), op.field)
    rank = ctx.types[x].rank
    axis = int(op.attrs.get("axis", -1))
    if axis % max(rank, 1) != rank - 1:
        raise UnsupportedOpError(f"LayerNormalization over axes from {axis} of a rank-{rank} tensor; "
                                 "only the last axis is supported")
    scale = ctx.const(op, 1, "scale").reshape(-1)
    bias = ctx.const(op, 2, "bias", optional=True)
    bias = np.zeros_like(scale) if bias is None else bias.reshape(-1)
    ctx.emit(op, "layernorm", [x], {"eps": float(op.attrs.get("epsilon", 1e-5))},
             {"scale": scale, "bias": bias})


def _softmax(ctx: Importer, op: Op) -> None:
    axis = int(op.attrs.get("axis", -1 if ctx.opset >= 13 else 1))
    ctx.emit(op, "softmax", [ctx.value(op.input(0), op.field)], {"axis": axis})


def _lrn(ctx: Importer, op: Op) -> None:
    a = op.attrs
    ctx.emit(op, "lrn", [ctx.value(op.input(0), op.field)], {
        "size": int(a["size"]), "alpha": float(a.get("alpha", 1e-4)), "beta": float(a.get("beta", 0.75)),
        "k": float(a.get("bias", 1.0))})


def _concat(ctx: Importer, op: Op) -> None:
    ins = [ctx.value(t, op.field) for t in op.node.input if t]
    ctx.emit(op, "concat", ins, {"axis": int(op.attrs["axis"])})


def _reshape_to(ctx: Importer, op: Op, x: str, shape: list[int]) -> None:
    ctx.emit(op, "reshape", [x], {"shape": _follow_batch(shape, ctx.types[x].shape)})


def _reshape(ctx: Importer, op: Op) -> None:
    target = int_list(ctx.const(op, 1, "shape"))
    if op.attrs.get("allowzero", 0) and 0 in target:
        raise UnsupportedOpError("Reshape with allowzero = 1 and a 0 dimension is not supported")
    _reshape_to(ctx, op, ctx.value(op.input(0), op.field), target)


def _flatten(ctx: Importer, op: Op) -> None:
    x = ctx.value(op.input(0), op.field)
    shape = ctx.types[x].shape
    axis = int(op.attrs.get("axis", 1))
    axis = axis + len(shape) if axis < 0 else axis
    if axis == 1 and len(shape) >= 2:
        ctx.emit(op, "flatten", [x])
    else:
        _reshape_to(ctx, op, x, [math.prod(shape[:axis]), math.prod(shape[axis:])])


def _squeeze_like(fold: Fold) -> Converter:
    """Squeeze and Unsqueeze of an activation are reshapes to the shape numpy computes."""
    def convert(ctx: Importer, op: Op) -> None:
        x = ctx.value(op.input(0), op.field)
        view = np.broadcast_to(np.zeros((), np.int8), ctx.types[x].shape)  # no allocation
        axes = ctx.const(op, 1, "axes", optional=True)
        _reshape_to(ctx, op, x, list(fold(op.attrs, [view, axes]).shape))
    return convert


def _transpose(ctx: Importer, op: Op) -> None:
    x = ctx.value(op.input(0), op.field)
    perm = op.attrs.get("perm") or list(reversed(range(ctx.types[x].rank)))
    ctx.emit(op, "transpose", [x], {"perm": [int(p) for p in perm]})


def _slice(ctx: Importer, op: Op) -> None:
    """One accelsim ``slice`` per sliced axis (bounds clamped to the axis, as ONNX does)."""
    x = ctx.value(op.input(0), op.field)
    shape = ctx.types[x].shape
    arrays = [None] + [ctx.const(op, i, what, optional=i > 2)
                       for i, what in ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps"))
                       if ctx.opset >= 10]
    parts = slice_params(op.attrs, arrays)
    if any(step < 1 for *_, step in parts):
        raise UnsupportedOpError("Slice with a negative step is not supported")
    if not parts:
        ctx.alias(op, op.input(0))
    for k, (start, end, axis, step) in enumerate(parts):
        start, end, _ = slice(start, end, step).indices(shape[axis])
        last = k == len(parts) - 1
        x = ctx.emit(op, "slice", [x], {"axis": axis, "start": start, "end": end, "step": step},
                     suffix="" if last else f"_{k}", output=last)


def _gather(ctx: Importer, op: Op) -> None:
    """A constant table indexed by an activation is an embedding; one constant index is a slice."""
    table, index = ctx.consts.get(op.input(0)), ctx.consts.get(op.input(1))
    axis = int(op.attrs.get("axis", 0))
    if table is not None and table.ndim == 2 and axis == 0 and index is None:
        ctx.emit(op, "embedding", [ctx.value(op.input(1), op.field)], {
            "num_embeddings": int(table.shape[0]), "dim": int(table.shape[1]), "dtype": np_dtype(table)},
            {"weight": table})
        return
    if table is not None or index is None or index.size != 1 or index.ndim > 1:
        raise UnsupportedOpError("Gather is supported as an embedding lookup (a constant 2-D table "
                                 "indexed along axis 0 by an activation) or as one constant index")
    x = ctx.value(op.input(0), op.field)
    shape = ctx.types[x].shape
    axis = axis + len(shape) if axis < 0 else axis
    i = int(index.reshape(())) % shape[axis]
    keep = index.ndim > 0
    sliced = ctx.emit(op, "slice", [x], {"axis": axis, "start": i, "end": i + 1},
                      suffix="" if keep else "_slice", output=keep)
    if not keep:  # a scalar index drops the axis
        _reshape_to(ctx, op, sliced, list(shape[:axis] + shape[axis + 1:]))


def _variadic(kind: str) -> Converter:
    """Sum, Max, Min of n inputs: a chain of n - 1 binary nodes (one input is the identity)."""
    def convert(ctx: Importer, op: Op) -> None:
        ins = [t for t in op.node.input if t]
        if len(ins) == 1:
            ctx.alias(op, ins[0])
            return
        acc = ctx.value(ins[0], op.field)
        for k, t in enumerate(ins[1:], start=1):
            last = k == len(ins) - 1
            acc = ctx.emit(op, kind, [acc, ctx.value(t, op.field)], suffix="" if last else f"_{k}",
                           output=last)
    return convert


_UNARY = {
    "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Gelu": "gelu", "HardSwish": "hardswish",
    "HardSigmoid": "hardsigmoid", "LeakyRelu": "leaky_relu", "Exp": "exp", "Sqrt": "sqrt", "Neg": "neg",
    "GlobalAveragePool": "global_avgpool", "GlobalMaxPool": "global_maxpool",
}

# ONNX op type -> converter. Each adds the node(s) for one ONNX node, or records a constant.
CONVERTERS: dict[str, Converter] = {
    **{onnx_op: _unary(kind) for onnx_op, kind in _UNARY.items()},
    "Constant": _constant, "Shape": _shape, "Identity": _identity, "Dropout": _identity,
    "Conv": _conv, "MaxPool": _pool("maxpool"), "AveragePool": _pool("avgpool"),
    "Gemm": _gemm, "MatMul": _matmul,
    "Add": _binary("add"), "Sub": _binary("sub"), "Mul": _binary("mul"), "Div": _binary("div"),
    "Sum": _variadic("add"), "Max": _variadic("max"), "Min": _variadic("min"), "Clip": _clip,
    "BatchNormalization": _batchnorm, "LayerNormalization": _layernorm, "Softmax": _softmax,
    "LRN": _lrn, "Concat": _concat, "Reshape": _reshape, "Flatten": _flatten,
    "Squeeze": _squeeze_like(fold_squeeze), "Unsqueeze": _squeeze_like(fold_unsqueeze),
    "Transpose": _transpose, "Gather": _gather, "Slice": _slice,
}

SUPPORTED_OPS: tuple[str, ...] = tuple(sorted(set(CONVERTERS)))
"""ONNX op types the importer converts (others in ``FOLD`` work on constants only)."""
