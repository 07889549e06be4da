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
    if w.ndim == 3:
        _conv1d(ctx, op, w)
        return
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


def _conv1d(ctx: Importer, op: Op, w: np.ndarray) -> None:
    """Conv over (N, C, L) as a conv2d with a 1 x k kernel on (N, C, 1, L), reshaped back."""
    a = op.attrs
    x = ctx.value(op.input(0), op.field)
    n, c, length = _rank(ctx, op, x, 3)
    k = int(w.shape[2])
    if "kernel_shape" in a and list(a["kernel_shape"]) != [k]:
        raise SpecError(f"kernel_shape {a['kernel_shape']} does not match the weight shape {list(w.shape)}")
    stride, dilation = int(a.get("strides", [1])[0]), int(a.get("dilations", [1])[0])
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        begin, end = (list(a.get("pads", [0, 0])) + [0, 0])[:2]
        padding: tuple[int, ...] | str = (0, int(begin), 0, int(end))
    elif auto == "VALID":
        padding = (0, 0, 0, 0)
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        total = max((-(-length // stride) - 1) * stride + dilation * (k - 1) + 1 - length, 0)
        lower = total - total // 2 if auto == "SAME_LOWER" else total // 2
        padding = (0, lower, 0, total - lower)
    else:
        raise SpecError(f"unknown auto_pad {auto!r}")
    x4 = ctx.emit(op, "reshape", [x], {"shape": [0, c, 1, length]}, suffix="_2d", output=False)
    bias = ctx.const(op, 2, "bias", optional=True)
    w4 = w.reshape(w.shape[0], w.shape[1], 1, k)
    weights = {"weight": w4} if bias is None else {"weight": w4, "bias": bias.reshape(-1)}
    conv = ctx.emit(op, "conv2d", [x4], {
        "out_channels": int(w.shape[0]), "kernel": (1, k), "stride": (1, stride),
        "dilation": (1, dilation), "padding": padding, "groups": int(a.get("group", 1)),
        "bias": bias is not None}, weights, output=False)
    _, out_c, _, out_l = ctx.types[conv].shape
    ctx.emit(op, "reshape", [conv], {"shape": [0, out_c, out_l]}, suffix="_1d")


def _rank(ctx: Importer, op: Op, x: str, rank: int) -> tuple[int, ...]:
    shape = ctx.types[x].shape
    if len(shape) != rank:
        raise UnsupportedOpError(f"{op.type} expects a rank-{rank} input here, got shape {list(shape)}")
    return shape


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


def _dense(w: np.ndarray) -> np.ndarray:
    """A contiguous copy, except of an absent tensor's zero-stride stand-in (no memory; dropped)."""
    return w if w.size > 1 and 0 in w.strides else np.ascontiguousarray(w)


def _linear(ctx: Importer, op: Op, x: str, weight: np.ndarray, bias: np.ndarray | None) -> None:
    """``weight`` is already in linear's (out, in) layout."""
    weights = {"weight": _dense(weight)}
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
                   {"weight": _dense(weight)}, output=False)
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
    scale = ctx.const(op, 1, "scale", optional=True)  # absent in the fused torch pattern only
    scale = np.ones(ctx.types[x].shape[-1], np.float32) if scale is None else scale.reshape(-1)
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
    """A constant 2-D table indexed along axis 0 by an activation is an embedding; one constant
    index is a slice; other indices are a run-time ``gather``."""
    table, index = ctx.consts.get(op.input(0)), ctx.consts.get(op.input(1))
    axis = int(op.attrs.get("axis", 0))
    if table is not None and table.ndim == 2 and axis == 0 and index is None:
        ctx.emit(op, "embedding", [ctx.value(op.input(1), op.field)], {
            "num_embeddings": int(table.shape[0]), "dim": int(table.shape[1]), "dtype": np_dtype(table)},
            {"weight": table})
        return
    if index is None or index.size != 1 or index.ndim > 1:  # indices known at run time only
        ctx.emit(op, "gather", [ctx.value(op.input(0), op.field), ctx.value(op.input(1), op.field)],
                 {"axis": axis})
        return
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


def _split(ctx: Importer, op: Op) -> None:
    """Each output of Split is one ``slice`` of the input."""
    x = ctx.value(op.input(0), op.field)
    shape = ctx.types[x].shape
    axis = int(op.attrs.get("axis", 0))
    axis = axis + len(shape) if axis < 0 else axis
    outs = list(op.node.output)
    sizes = ctx.const(op, 1, "split", optional=True) if ctx.opset >= 13 else None
    if sizes is not None:
        sizes = int_list(sizes)
    elif "split" in op.attrs:
        sizes = [int(v) for v in op.attrs["split"]]
    else:  # equal parts, the last one smaller (opset 18's num_outputs)
        part = -(-shape[axis] // len(outs))
        sizes = [min(part, shape[axis] - i * part) for i in range(len(outs))]
    if len(sizes) != len(outs) or sum(sizes) != shape[axis]:
        raise SpecError(f"Split sizes {sizes} do not cover axis {axis} (size {shape[axis]}) "
                        f"in {len(outs)} outputs")
    start = 0
    for k, (out, size) in enumerate(zip(outs, sizes)):
        if out:
            name = ctx.emit(op, "slice", [x], {"axis": axis, "start": start, "end": start + size},
                            suffix=f"_{k}", output=False)
            ctx.tensors[out] = name
        start += size


def _reduce(pool: str) -> Converter:
    """ReduceMean/Sum/Max over trailing axes: a global pool (on a 4-D view when needed).

    ReduceSum costs as a mean (one add per input element; the final scaling is not counted).
    """
    def convert(ctx: Importer, op: Op) -> None:
        x = ctx.value(op.input(0), op.field)
        shape = ctx.types[x].shape
        rank = len(shape)
        axes = op.attrs.get("axes")
        if ctx.opset >= 18 or (op.type == "ReduceSum" and ctx.opset >= 13):
            given = ctx.const(op, 1, "axes", optional=True)
            axes = None if given is None else int_list(given)
        if not axes:
            if op.attrs.get("noop_with_empty_axes", 0):
                ctx.alias(op, op.input(0))
                return
            axes = list(range(rank))
        axes = sorted({int(a) % rank for a in axes})
        if axes != list(range(rank - len(axes), rank)):
            raise UnsupportedOpError(f"{op.type} over axes {axes} of a rank-{rank} tensor; only "
                                     "trailing axes are supported")
        keep = bool(op.attrs.get("keepdims", 1))
        out_shape = [1 if i in axes else d for i, d in enumerate(shape) if keep or i not in axes]
        if rank == 4 and axes == [2, 3]:
            pooled = ctx.emit(op, pool, [x], output=keep, suffix="" if keep else "_pool")
            if not keep:
                _reshape_to(ctx, op, pooled, out_shape)
            return
        outer = shape[:rank - len(axes)]
        inner = math.prod(shape[rank - len(axes):])
        view = [outer[0], math.prod(outer[1:]), 1, inner] if outer else [1, 1, 1, inner]
        v = ctx.emit(op, "reshape", [x], {"shape": _follow_batch(view, shape)}, suffix="_4d",
                     output=False)
        pooled = ctx.emit(op, pool, [v], output=False)
        _reshape_to(ctx, op, pooled, out_shape)
    return convert


def _pow(ctx: Importer, op: Op) -> None:
    """x ** 2 is mul(x, x), x ** 0.5 is sqrt, x ** 1 is x itself."""
    e = scalar_value(ctx.const(op, 1, "exponent"))
    x = ctx.value(op.input(0), op.field)
    if e == 2:
        ctx.emit(op, "mul", [x, x])
    elif e == 0.5:
        ctx.emit(op, "sqrt", [x])
    elif e == 1:
        ctx.alias(op, op.input(0))
    else:
        raise UnsupportedOpError(f"Pow is supported with a constant exponent 2, 0.5 or 1; got {e}")


def _cast(ctx: Importer, op: Op) -> None:
    """A Cast of an activation to its own dtype is a no-op; to another, a ``cast`` layer."""
    from onnx import helper

    x = ctx.value(op.input(0), op.field)
    target = np_dtype(np.zeros(0, helper.tensor_dtype_to_np_dtype(int(op.attrs["to"]))))
    if target == str(ctx.types[x].dtype):
        ctx.alias(op, op.input(0))
    else:
        ctx.emit(op, "cast", [x], {"dtype": target})


def _resize(ctx: Importer, op: Op) -> None:
    """Resize of N,C,H,W. Nearest upsampling by integer factors repeats each pixel: a reshape
    to (N, C, H, 1, W, 1), a concat of copies on each of the two unit axes, and a reshape
    back; interpolation and other factors are one ``resize`` layer."""
    x = ctx.value(op.input(0), op.field)
    n, c, h, w = _rank(ctx, op, x, 4)
    mode = str(op.attrs.get("mode", "nearest"))
    mode = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    if mode not in ("nearest", "linear", "cubic"):
        raise UnsupportedOpError(f"{op.type} mode {mode!r} is not supported (nearest, linear, cubic)")
    if op.type == "Upsample" or ctx.opset < 11:
        given = op.attrs.get("scales") if "scales" in op.attrs else ctx.const(op, 1, "scales")
        scales, sizes = [float(v) for v in np.asarray(given).reshape(-1)], None
    else:
        sc = ctx.const(op, 2, "scales", optional=True)
        sz = ctx.const(op, 3, "sizes", optional=True)
        scales = [float(v) for v in sc.reshape(-1)] if sc is not None and sc.size else None
        sizes = int_list(sz) if sz is not None and sz.size else None
        if op.attrs.get("axes") is not None:
            raise UnsupportedOpError(f"{op.type} with axes is not supported")
    if sizes is not None:
        if len(sizes) != 4 or sizes[0] != n or sizes[1] != c:
            raise UnsupportedOpError(f"{op.type} to sizes {sizes} from {[n, c, h, w]}: only H and W "
                                     "may change")
        out_h, out_w = sizes[2], sizes[3]
    elif scales is not None and len(scales) == 4 and scales[:2] == [1.0, 1.0]:
        out_h, out_w = int(math.floor(h * scales[2])), int(math.floor(w * scales[3]))
    else:
        raise UnsupportedOpError(f"{op.type} with scales {scales}: only H and W may be scaled")
    if mode != "nearest" or out_h % h or out_w % w:  # interpolation, or a non-integer factor
        ctx.emit(op, "resize", [x], {"size": [out_h, out_w], "mode": mode})
        return
    sh, sw = out_h // h, out_w // w
    if (sh, sw) == (1, 1):
        ctx.alias(op, op.input(0))
        return
    v = ctx.emit(op, "reshape", [x], {"shape": [0, c, h, 1, w, 1]}, suffix="_6d", output=False)
    if sh > 1:
        v = ctx.emit(op, "concat", [v] * sh, {"axis": 3}, suffix="_rows", output=False)
    if sw > 1:
        v = ctx.emit(op, "concat", [v] * sw, {"axis": 5}, suffix="_cols", output=False)
    ctx.emit(op, "reshape", [v], {"shape": [0, c, h * sh, w * sw]})


def _repeat(ctx: Importer, op: Op, x: str, counts: list[int]) -> None:
    """Repeat ``x`` counts[i] times along each axis i: a ``concat`` of copies per axis > 1.

    Concatenating r copies along an axis tiles it; on an axis of size 1 it is also broadcasting,
    so this serves both Tile and Expand. With nothing to repeat the op is its input.
    """
    axes = [i for i, r in enumerate(counts) if r > 1]
    if not axes:
        ctx.tensors[op.node.output[0]] = x
        return
    for i in axes:
        last = i == axes[-1]
        x = ctx.emit(op, "concat", [x] * counts[i], {"axis": i}, suffix="" if last else f"_{i}",
                     output=last)


def _tile(ctx: Importer, op: Op) -> None:
    x = ctx.value(op.input(0), op.field)
    repeats = int_list(ctx.const(op, 1, "repeats"))
    if len(repeats) != ctx.types[x].rank or min(repeats, default=1) < 1:
        raise SpecError(f"Tile repeats {repeats} do not match a rank-{ctx.types[x].rank} input")
    _repeat(ctx, op, x, repeats)


def _expand(ctx: Importer, op: Op) -> None:
    """Broadcast to a shape: new leading axes by a reshape, then copies along each size-1 axis."""
    x = ctx.value(op.input(0), op.field)
    shape = ctx.types[x].shape
    target = int_list(ctx.const(op, 1, "shape"))
    rank = max(len(target), len(shape))
    padded = (1,) * (rank - len(shape)) + tuple(shape)
    target = [1] * (rank - len(target)) + target
    out = [t if s == 1 else s for s, t in zip(padded, target)]
    if any(s != 1 and t not in (1, s) for s, t in zip(padded, target)):
        raise SpecError(f"Expand of shape {list(shape)} to {target}: the shapes do not broadcast")
    if rank > len(shape):
        x = ctx.emit(op, "reshape", [x], {"shape": list(padded)}, suffix="_view", output=False)
    _repeat(ctx, op, x, [o // s for o, s in zip(out, padded)])


def _einsum(ctx: Importer, op: Op) -> None:
    """Two-operand Einsum as one batched matmul: each operand permuted to (batch, free,
    contracted) and viewed as 3-D, the product viewed and permuted into the output's order.
    Permutations that are the identity and views that change nothing add no layer."""
    eq = str(op.attrs.get("equation", "")).replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if not arrow or len(terms) != 2 or "." in eq or any(len(set(t)) != len(t) for t in terms + [out]) \
            or set(out) - set(lhs):
        raise UnsupportedOpError(f"Einsum {eq!r}: only two operands with an explicit output, no "
                                 "ellipsis and no repeated index are supported")
    a, b = terms
    xa, xb = (ctx.value(op.input(i), op.field) for i in (0, 1))
    size = dict(zip(a, ctx.types[xa].shape)) | dict(zip(b, ctx.types[xb].shape))
    if any(size[c] != dim for c, dim in zip(a + b, ctx.types[xa].shape + ctx.types[xb].shape)):
        raise SpecError(f"Einsum {eq!r}: operand shapes {list(ctx.types[xa].shape)} and "
                        f"{list(ctx.types[xb].shape)} disagree")
    batch = [c for c in out if c in a and c in b]
    k = [c for c in a if c in b and c not in out]
    m = [c for c in a if c not in b]
    nn = [c for c in b if c not in a]
    if set(m) - set(out) or set(nn) - set(out):
        raise UnsupportedOpError(f"Einsum {eq!r}: an index summed within one operand is not supported")

    def view(x: str, term: str, order: list[str], dims: list[list[str]], tag: str) -> str:
        if list(term) != order:
            x = ctx.emit(op, "transpose", [x], {"perm": [term.index(c) for c in order]},
                         suffix=f"_{tag}_t", output=False)
        shape = [math.prod(size[c] for c in group) for group in dims]
        if tuple(shape) != ctx.types[x].shape:
            x = ctx.emit(op, "reshape", [x], {"shape": shape}, suffix=f"_{tag}_3d", output=False)
        return x

    va = view(xa, a, batch + m + k, [batch, m, k], "a")
    vb = view(xb, b, batch + k + nn, [batch, k, nn], "b")
    mm_order = batch + m + nn
    last = mm_order == list(out)
    y = ctx.emit(op, "matmul", [va, vb], output=False)
    shape = [size[c] for c in mm_order]
    if tuple(shape) != ctx.types[y].shape:
        y = ctx.emit(op, "reshape", [y], {"shape": shape}, suffix="_view", output=False)
    if not last:
        y = ctx.emit(op, "transpose", [y], {"perm": [mm_order.index(c) for c in out]},
                     suffix="_out", output=False)
    ctx.tensors[op.node.output[0]] = y


def _pad(ctx: Importer, op: Op) -> None:
    """A Pad that does not fold into the Conv it feeds (see patterns) is a ``pad`` layer."""
    x = ctx.value(op.input(0), op.field)
    if ctx.opset >= 11:
        pads = int_list(ctx.const(op, 1, "pads"))
        if op.input(3):
            raise UnsupportedOpError("Pad with axes is not supported")
    else:
        pads = [int(v) for v in op.attrs.get("pads", [])]
    mode = str(op.attrs.get("mode", "constant"))
    if mode not in ("constant", "reflect", "edge"):
        raise UnsupportedOpError(f"Pad mode {mode!r} is not supported")
    if not any(pads):
        ctx.alias(op, op.input(0))
        return
    ctx.emit(op, "pad", [x], {"pads": pads, "mode": mode})


def _conv_transpose(ctx: Importer, op: Op) -> None:
    """ConvTranspose over N,C,H,W; pads from ``pads``, ``auto_pad`` or ``output_shape`` as the
    ONNX spec derives them."""
    w = ctx.const(op, 1, "weight")
    if w.ndim != 4:
        raise UnsupportedOpError(f"only 2-D ConvTranspose is supported; got weight shape {list(w.shape)}")
    a = op.attrs
    x = ctx.value(op.input(0), op.field)
    _, c, h, wd = _rank(ctx, op, x, 4)
    groups = int(a.get("group", 1))
    kernel = (int(w.shape[2]), int(w.shape[3]))
    stride, dilation = _pair(op, "strides"), _pair(op, "dilations")
    out_pad = tuple(int(v) for v in a.get("output_padding", [0, 0]))
    auto = a.get("auto_pad", "NOTSET")
    natural = [(size - 1) * s + d * (k - 1) + 1 + p
               for size, s, d, k, p in zip((h, wd), stride, dilation, kernel, out_pad)]
    if "output_shape" in a or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = ([int(v) for v in a["output_shape"]][-2:] if "output_shape" in a
                  else [size * s for size, s in zip((h, wd), stride)])
        total = [n - t for n, t in zip(natural, target)]
        if min(total) < 0:
            raise SpecError(f"ConvTranspose output_shape {target} is larger than the input allows")
        upper = auto == "SAME_UPPER"  # the spec: SAME_UPPER puts the odd pad at the end
        begin = [t // 2 if upper else t - t // 2 for t in total]
        pads = (begin[0], begin[1], total[0] - begin[0], total[1] - begin[1])
    elif auto == "VALID" or auto in ("NOTSET", ""):
        p = [int(v) for v in a.get("pads", [0, 0, 0, 0])] if auto != "VALID" else [0, 0, 0, 0]
        pads = (p[0], p[1], p[2], p[3])
    else:
        raise SpecError(f"unknown auto_pad {auto!r}")
    bias = ctx.const(op, 2, "bias", optional=True)
    weights = {"weight": w} if bias is None else {"weight": w, "bias": bias.reshape(-1)}
    ctx.emit(op, "conv_transpose2d", [x], {
        "out_channels": int(w.shape[1]) * groups, "kernel": kernel, "stride": stride, "dilation": dilation,
        "padding": pads, "output_padding": out_pad, "groups": groups, "bias": bias is not None}, weights)


def _prelu(ctx: Importer, op: Op) -> None:
    slope = ctx.const(op, 1, "slope").reshape(-1)
    ctx.emit(op, "prelu", [ctx.value(op.input(0), op.field)], {"num_parameters": int(slope.size)},
             {"slope": slope})


def _where(ctx: Importer, op: Op) -> None:
    ctx.emit(op, "where", [ctx.value(op.input(i), op.field) for i in range(3)])


def _group_norm(ctx: Importer, op: Op) -> None:
    """InstanceNormalization (a group per channel) and GroupNormalization: ``groupnorm``
    with a scale and shift per channel (opset 18's per-group ones repeated over the group)."""
    x = ctx.value(op.input(0), op.field)
    channels = ctx.types[x].shape[1] if ctx.types[x].rank >= 2 else 1
    groups = channels if op.type == "InstanceNormalization" else int(op.attrs["num_groups"])
    scale, bias = ctx.const(op, 1, "scale").reshape(-1), ctx.const(op, 2, "bias").reshape(-1)
    if scale.size == groups != channels and channels % groups == 0:
        scale, bias = np.repeat(scale, channels // groups), np.repeat(bias, channels // groups)
    ctx.emit(op, "groupnorm", [x], {"groups": groups, "eps": float(op.attrs.get("epsilon", 1e-5))},
             {"scale": scale, "bias": bias})


def _log_softmax(ctx: Importer, op: Op) -> None:
    axis = int(op.attrs.get("axis", -1 if ctx.opset >= 13 else 1))
    ctx.emit(op, "log_softmax", [ctx.value(op.input(0), op.field)], {"axis": axis})


def _argmax(ctx: Importer, op: Op) -> None:
    ctx.emit(op, "argmax", [ctx.value(op.input(0), op.field)],
             {"axis": int(op.attrs.get("axis", 0)), "keepdims": bool(op.attrs.get("keepdims", 1))})


def _topk(ctx: Importer, op: Op) -> None:
    """TopK's values and indices come from one ``topk`` layer (both outputs name it)."""
    k = ctx.const(op, 1, "K") if ctx.opset >= 10 else np.array(op.attrs["k"])
    name = ctx.emit(op, "topk", [ctx.value(op.input(0), op.field)],
                    {"k": int(np.asarray(k).reshape(-1)[0]), "axis": int(op.attrs.get("axis", -1))})
    for out in op.node.output[1:]:
        if out:
            ctx.tensors[out] = name


_UNARY = {
    "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Gelu": "gelu", "HardSwish": "hardswish",
    "HardSigmoid": "hardsigmoid", "LeakyRelu": "leaky_relu", "Exp": "exp", "Sqrt": "sqrt", "Neg": "neg",
    "GlobalAveragePool": "global_avgpool", "GlobalMaxPool": "global_maxpool",
    "Abs": "abs", "Reciprocal": "reciprocal", "Erf": "erf", "Elu": "elu", "Softplus": "softplus",
    "Mish": "mish",
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
    "Transpose": _transpose, "Gather": _gather, "Slice": _slice, "Split": _split,
    "ReduceMean": _reduce("global_avgpool"), "ReduceSum": _reduce("global_avgpool"),
    "ReduceMax": _reduce("global_maxpool"), "Pow": _pow, "Cast": _cast, "Pad": _pad,
    "Resize": _resize, "Upsample": _resize, "Tile": _tile, "Expand": _expand,
    "Einsum": _einsum, "ConvTranspose": _conv_transpose, "PRelu": _prelu, "Where": _where,
    "Greater": _binary("greater"), "Less": _binary("less"), "Equal": _binary("equal"),
    "GreaterOrEqual": _binary("greater"), "LessOrEqual": _binary("less"),
    "InstanceNormalization": _group_norm, "GroupNormalization": _group_norm,
    "LogSoftmax": _log_softmax, "ArgMax": _argmax, "TopK": _topk,
}

SUPPORTED_OPS: tuple[str, ...] = tuple(sorted(set(CONVERTERS)))
"""ONNX op types the importer converts (others in ``FOLD`` work on constants only)."""
