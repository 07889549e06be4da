"""The closed op vocabulary: shape inference, parameters and lowering of every op kind.

Conventions (documented in docs/model-format.md):

* activations are NCHW for convolution and pooling; ``linear`` acts on the last axis;
* ``macs`` counts multiply-accumulates of conv, linear and matmul only; all other
  arithmetic goes to ``ops`` (one per element for add/relu/bias, more for transcendental
  functions, see ``_UNARY``), so MAC totals match the usual conv+FC counting;
* parameters are trainable weights (batchnorm's running statistics are buffers, as in
  PyTorch, and are not counted).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from .opdef import OPS, REQUIRED, Attr, OpDef, ShapeError
from .types import DTYPES, TensorType, dtype
from .workload import Workload

__all__ = ["OPS", "broadcast_shapes", "conv_output_size", "resolve_padding"]

A = Mapping[str, Any]


# --------------------------------------------------------------------------- helpers


def _bytes(types: list[TensorType]) -> float:
    return sum(t.nbytes for t in types)


def _weight_width(ins: list[TensorType]) -> int:
    """Weights are held at the width of the layer's first input: the IR gives a layer one
    dtype, and a ``quant`` annotation sets the weight width apart from it."""
    return ins[0].dtype.bits if ins else 32


def _weight_bytes(op: OpDef, ins: list[TensorType], a: A) -> float:
    return sum(math.prod(s) for s in op.weights(ins, a).values()) * _weight_width(ins) / 8


def _widths(ins: list[TensorType], out: TensorType, weight_bits: int | None = None) -> dict[str, int]:
    """The widths a lowering counts its bytes at: the first input's (the output's for a
    source), the weights' (see ``_weight_width``) and the output's. A ``quant`` annotation
    rescales from these, so a lowering must name the widths it used."""
    act = ins[0].dtype.bits if ins else out.dtype.bits
    return {"act_bits": act, "weight_bits": act if weight_bits is None else weight_bits,
            "out_bits": out.dtype.bits}


def _norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} is out of range for a tensor of rank {rank}")
    return axis % rank


def broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of two shapes."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            raise ShapeError(f"shapes {list(a)} and {list(b)} do not broadcast")
        out.append(max(x, y))
    return tuple(reversed(out))


def conv_output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    span = dilation * (kernel - 1) + 1
    num = size + pad_total - span
    if num < 0:
        return 0
    return (-(-num // stride) if ceil_mode else num // stride) + 1


def resolve_padding(a: A, h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int],
                    dilation: tuple[int, int] = (1, 1)) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of a conv or pool on an h x w input; 'same' pads like
    TensorFlow (extra at the end)."""
    p = a["padding"]
    if p != "same":
        return p
    out = []
    for size, k, s, d in ((h, kernel[0], stride[0], dilation[0]), (w, kernel[1], stride[1], dilation[1])):
        target = -(-size // s)
        total = max((target - 1) * s + d * (k - 1) + 1 - size, 0)
        out.append((total // 2, total - total // 2))
    (t, b), (l, r) = out
    return (t, l, b, r)


def _spatial(x: TensorType, a: A, kernel: tuple[int, int], *, ceil_mode: bool = False) -> tuple[int, int]:
    if x.rank != 4:
        raise ShapeError(f"expects a 4-D NCHW input, got shape {list(x.shape)}")
    _, _, h, w = x.shape
    stride = a["stride"]
    dil = a.get("dilation", (1, 1))
    t, l, b, r = resolve_padding(a, h, w, kernel, stride, dil)
    p = conv_output_size(h, kernel[0], stride[0], t + b, dil[0], ceil_mode)
    q = conv_output_size(w, kernel[1], stride[1], l + r, dil[1], ceil_mode)
    if p <= 0 or q <= 0:
        raise ShapeError(
            f"output would be {p}x{q}: input {h}x{w}, kernel {kernel[0]}x{kernel[1]}, "
            f"stride {stride[0]}x{stride[1]}, padding {t},{l},{b},{r}")
    return p, q


def _define(name: str, **kw: Any) -> OpDef:
    op = OpDef(name=name, **kw)
    OPS.add(name, op)
    return op


def _elementwise(ins: list[TensorType], out: TensorType, ops_per_element: float,
                 weight_bytes: float = 0.0) -> Workload:
    return Workload(
        kind="elementwise", dims=(("size", out.numel),), macs=0,
        ops=int(round(out.numel * ops_per_element)),
        input_bytes=_bytes(ins), weight_bytes=weight_bytes, output_bytes=out.nbytes,
        **_widths(ins, out),
    )


# --------------------------------------------------------------------------- sources


def _source_type(ins: list[TensorType], a: A) -> TensorType:
    try:
        dt = dtype(a["dtype"])
    except ValueError as exc:
        raise ShapeError(str(exc)) from None
    if any(s <= 0 for s in a["shape"]):
        raise ShapeError(f"every dimension must be positive, got {list(a['shape'])}")
    return TensorType(tuple(a["shape"]), dt)


def _data_lowering(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    return Workload(kind="data", dims=(("size", out.numel),), macs=0, ops=0, input_bytes=0.0,
                    weight_bytes=0.0, output_bytes=0.0, **_widths(ins, out))


_define(
    "input", min_inputs=0, max_inputs=0,
    attrs={"shape": Attr("shape"), "dtype": Attr("str", "fp32", tuple(DTYPES))},
    infer=_source_type, lower=_data_lowering,
    doc="A graph input. The first dimension is the batch.",
)


def _constant_lowering(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    # A constant is a parameter tensor that a consumer reads; it costs its bytes once.
    return Workload(kind="data", dims=(("size", out.numel),), macs=0, ops=0, input_bytes=0.0,
                    weight_bytes=out.nbytes, output_bytes=0.0, **_widths(ins, out))


_define(
    "constant", min_inputs=0, max_inputs=0,
    attrs={"shape": Attr("shape"), "dtype": Attr("str", "fp32", tuple(DTYPES))},
    infer=_source_type, lower=_constant_lowering,
    weights=lambda ins, a: {"value": tuple(a["shape"])},
    doc="A parameter tensor used as an operand (e.g. an imported bias or scale).",
)


# --------------------------------------------------------------------------- conv


def _conv_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    if x.rank != 4:
        raise ShapeError(f"conv2d expects a 4-D NCHW input, got shape {list(x.shape)}")
    c, g, k = x.shape[1], a["groups"], a["out_channels"]
    if c % g or k % g:
        raise ShapeError(f"groups={g} must divide input channels ({c}) and out_channels ({k})")
    p, q = _spatial(x, a, a["kernel"])
    return TensorType((x.shape[0], k, p, q), x.dtype)


def _conv_weights(ins: list[TensorType], a: A) -> dict[str, tuple[int, ...]]:
    c = ins[0].shape[1]
    r, s = a["kernel"]
    w = {"weight": (a["out_channels"], c // a["groups"], r, s)}
    if a["bias"]:
        w["bias"] = (a["out_channels"],)
    return w


def _conv_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    x = ins[0]
    n, c = x.shape[0], x.shape[1]
    g = a["groups"]
    _, k, p, q = out.shape
    r, s = a["kernel"]
    dims = (("N", n), ("G", g), ("K", k // g), ("C", c // g), ("P", p), ("Q", q), ("R", r), ("S", s))
    macs = n * k * (c // g) * p * q * r * s
    return Workload(
        kind="conv", dims=dims, macs=macs, ops=out.numel if a["bias"] else 0,
        input_bytes=x.nbytes, weight_bytes=_weight_bytes(CONV2D, ins, a), output_bytes=out.nbytes,
        strides=a["stride"], dilation=a["dilation"], **_widths(ins, out),
    )


CONV2D = _define(
    "conv2d",
    attrs={
        "out_channels": Attr("int", REQUIRED, minimum=1),
        "kernel": Attr("pair", REQUIRED, minimum=1),
        "stride": Attr("pair", (1, 1), minimum=1),
        "padding": Attr("pads", (0, 0, 0, 0), minimum=0),
        "dilation": Attr("pair", (1, 1), minimum=1),
        "groups": Attr("int", 1, minimum=1),
        "bias": Attr("bool", True),
    },
    infer=_conv_infer, weights=_conv_weights, lower=_conv_lower,
    doc="2-D convolution; groups == channels is depthwise.",
)


# --------------------------------------------------------------------------- linear / matmul


def _linear_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    if x.rank < 2:
        raise ShapeError(f"linear expects at least a 2-D input (batch, features), got {list(x.shape)}")
    return x.with_shape(x.shape[:-1] + (a["out_features"],))


def _linear_weights(ins: list[TensorType], a: A) -> dict[str, tuple[int, ...]]:
    w = {"weight": (a["out_features"], ins[0].shape[-1])}
    if a["bias"]:
        w["bias"] = (a["out_features"],)
    return w


def _linear_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    x = ins[0]
    rows = x.numel // x.shape[-1]
    k, n = x.shape[-1], a["out_features"]
    return Workload(
        kind="gemm", dims=(("B", 1), ("M", rows), ("N", n), ("K", k)), macs=rows * n * k,
        ops=out.numel if a["bias"] else 0, input_bytes=x.nbytes,
        weight_bytes=_weight_bytes(LINEAR, ins, a), output_bytes=out.nbytes, **_widths(ins, out),
    )


LINEAR = _define(
    "linear",
    attrs={"out_features": Attr("int", REQUIRED, minimum=1), "bias": Attr("bool", True)},
    infer=_linear_infer, weights=_linear_weights, lower=_linear_lower,
    doc="Fully connected layer on the last axis: y = x W^T + b.",
)


def _matmul_infer(ins: list[TensorType], a: A) -> TensorType:
    x, y = ins
    if x.rank < 2 or y.rank < 2:
        raise ShapeError(f"matmul expects operands of rank >= 2, got {list(x.shape)} and {list(y.shape)}")
    if x.shape[-1] != y.shape[-2]:
        raise ShapeError(f"matmul inner dimensions differ: {list(x.shape)} @ {list(y.shape)}")
    batch = broadcast_shapes(x.shape[:-2], y.shape[:-2])
    return x.with_shape(batch + (x.shape[-2], y.shape[-1]))


def _matmul_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    x, _ = ins
    m, k, n = x.shape[-2], x.shape[-1], out.shape[-1]
    b = math.prod(out.shape[:-2])
    return Workload(
        kind="gemm", dims=(("B", b), ("M", m), ("N", n), ("K", k)), macs=b * m * n * k, ops=0,
        input_bytes=_bytes(ins), weight_bytes=0.0, output_bytes=out.nbytes, **_widths(ins, out),
    )


_define(
    "matmul", min_inputs=2, max_inputs=2, infer=_matmul_infer, lower=_matmul_lower,
    doc="Batched matrix product of two activations, batch dimensions broadcast (attention).",
)


# --------------------------------------------------------------------------- pooling


def _pool_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    p, q = _spatial(x, a, a["kernel"], ceil_mode=a["ceil_mode"])
    return x.with_shape((x.shape[0], x.shape[1], p, q))


def _pool_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    r, s = a["kernel"]
    n, c, p, q = out.shape
    return Workload(
        kind="pool", dims=(("N", n), ("C", c), ("P", p), ("Q", q), ("R", r), ("S", s)), macs=0,
        ops=out.numel * r * s, input_bytes=_bytes(ins), weight_bytes=0.0, output_bytes=out.nbytes,
        strides=a["stride"], **_widths(ins, out),
    )


_POOL_ATTRS = {
    "kernel": Attr("pair", REQUIRED, minimum=1),
    "stride": Attr("pair", None, minimum=1),
    "padding": Attr("pads", (0, 0, 0, 0), minimum=0),
    "ceil_mode": Attr("bool", False),
}


def _pool_defaults(infer: Any) -> Any:
    """Pooling stride defaults to the kernel size, as in PyTorch."""
    def wrapped(ins: list[TensorType], a: A) -> Any:
        return infer(ins, _with_stride(a))
    return wrapped


def _with_stride(a: A) -> A:
    return a if a["stride"] is not None else {**a, "stride": a["kernel"]}


def _pool_lower_defaults(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    return _pool_lower(ins, out, _with_stride(a))


for _name in ("maxpool", "avgpool"):
    _define(_name, attrs=_POOL_ATTRS, infer=_pool_defaults(_pool_infer), lower=_pool_lower_defaults,
            doc=f"2-D {_name[:3]} pooling over NCHW; stride defaults to the kernel.")


def _global_pool_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    if x.rank != 4:
        raise ShapeError(f"expects a 4-D NCHW input, got shape {list(x.shape)}")
    return x.with_shape((x.shape[0], x.shape[1], 1, 1))


for _name in ("global_avgpool", "global_maxpool"):
    _define(_name, infer=_global_pool_infer,
            lower=lambda ins, out, a: _elementwise(ins, out, ins[0].numel / out.numel),
            doc="Pool each channel to 1x1 (output keeps N,C,1,1).")


# --------------------------------------------------------------------------- normalisation


def _same_type(ins: list[TensorType], a: A) -> TensorType:
    return ins[0]


def _channel_infer(ins: list[TensorType], a: A) -> TensorType:
    if ins[0].rank < 2:
        raise ShapeError(f"expects a channel axis (rank >= 2), got {list(ins[0].shape)}")
    return ins[0]


_define(
    "batchnorm", attrs={"eps": Attr("float", 1e-5, minimum=0)},
    infer=_channel_infer, weights=lambda ins, a: {"scale": (ins[0].shape[1],), "bias": (ins[0].shape[1],)},
    lower=lambda ins, out, a: _elementwise(ins, out, 2, 2 * ins[0].shape[1] * _weight_width(ins) / 8),
    doc="Inference batchnorm on axis 1: a scale and a shift per channel.", pointwise=True,
)
_define(
    "layernorm", attrs={"eps": Attr("float", 1e-5, minimum=0)},
    infer=_same_type, weights=lambda ins, a: {"scale": (ins[0].shape[-1],), "bias": (ins[0].shape[-1],)},
    lower=lambda ins, out, a: _elementwise(ins, out, 5, 2 * ins[0].shape[-1] * _weight_width(ins) / 8),
    doc="Layer normalisation over the last axis (mean, variance, normalise, scale, shift).",
)
_define(
    "softmax", attrs={"axis": Attr("int", -1)},
    infer=lambda ins, a: (_norm_axis(a["axis"], ins[0].rank), ins[0])[1],
    lower=lambda ins, out, a: _elementwise(ins, out, 5),
    doc="Softmax along an axis (max, subtract, exp, sum, divide: 5 ops per element).",
)
_define(
    "lrn", attrs={"size": Attr("int", 5, minimum=1), "alpha": Attr("float", 1e-4),
                  "beta": Attr("float", 0.75), "k": Attr("float", 1.0)},
    infer=_channel_infer, lower=lambda ins, out, a: _elementwise(ins, out, a["size"] + 3),
    doc="Local response normalisation across channels (AlexNet, GoogLeNet v1).",
)


# --------------------------------------------------------------------------- elementwise

# Arithmetic per element, counted as the basic operations a vector unit issues.
_UNARY: dict[str, float] = {
    "identity": 0, "relu": 1, "relu6": 2, "leaky_relu": 2, "sigmoid": 4, "tanh": 4, "gelu": 8,
    "silu": 5, "hardswish": 4, "hardsigmoid": 3, "exp": 1, "sqrt": 1, "neg": 1, "scale": 1,
    "abs": 1, "reciprocal": 1, "erf": 8, "elu": 4, "softplus": 3, "mish": 8,
}
for _name, _ops in _UNARY.items():
    _define(
        _name, infer=_same_type,
        attrs={"factor": Attr("float", REQUIRED)} if _name == "scale" else {},
        lower=(lambda n: lambda ins, out, a: _elementwise(ins, out, n))(_ops),
        doc=f"Elementwise {_name} ({_ops:g} ops per element).", pointwise=True,
    )
OPS.add("dropout", OPS.get("identity"))


def _binary_infer(ins: list[TensorType], a: A) -> TensorType:
    x, y = ins
    return x.with_shape(broadcast_shapes(x.shape, y.shape))


for _name in ("add", "sub", "mul", "div", "max", "min"):
    _define(_name, min_inputs=2, max_inputs=2, infer=_binary_infer,
            lower=lambda ins, out, a: _elementwise(ins, out, 1),
            doc=f"Elementwise {_name} with NumPy broadcasting.", pointwise=True)


# --------------------------------------------------------------------------- data movement


def _concat_infer(ins: list[TensorType], a: A) -> TensorType:
    first = ins[0]
    axis = _norm_axis(a["axis"], first.rank)
    total = 0
    for t in ins:
        if t.rank != first.rank or any(
                i != axis and t.shape[i] != first.shape[i] for i in range(first.rank)):
            raise ShapeError(f"concat along axis {a['axis']} needs equal other dimensions, got "
                             + " and ".join(str(list(t.shape)) for t in ins))
        total += t.shape[axis]
    shape = list(first.shape)
    shape[axis] = total
    return first.with_shape(tuple(shape))


def _copy_lowering(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    return _elementwise(ins, out, 0)


_define("concat", min_inputs=1, max_inputs=None, attrs={"axis": Attr("int", 1)},
        infer=_concat_infer, lower=_copy_lowering, doc="Concatenate along an axis.")


def _reshape_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    target = list(a["shape"])
    for i, s in enumerate(target):
        if s == 0:
            if i >= x.rank:
                raise ShapeError(f"reshape dimension {i} is 0 (copy) but the input has rank {x.rank}")
            target[i] = x.shape[i]
        elif s < -1:
            raise ShapeError(f"reshape dimensions must be positive, 0 (copy) or -1 (infer), got {s}")
    if target.count(-1) > 1:
        raise ShapeError("reshape may infer (-1) at most one dimension")
    known = math.prod(s for s in target if s != -1)
    if -1 in target:
        if known == 0 or x.numel % known:
            raise ShapeError(f"cannot reshape {list(x.shape)} into {list(a['shape'])}")
        target[target.index(-1)] = x.numel // known
    if math.prod(target) != x.numel:
        raise ShapeError(f"cannot reshape {list(x.shape)} ({x.numel} elements) into {target}")
    return x.with_shape(tuple(target))


# Reshape and flatten are views: they move no data.
_define("reshape", attrs={"shape": Attr("shape")}, infer=_reshape_infer, lower=_data_lowering,
        doc="Change the shape (0 copies an input dimension, -1 is inferred); moves no data.")


def _flatten_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    start = _norm_axis(a["start_dim"], x.rank, "start_dim")
    end = _norm_axis(a["end_dim"], x.rank, "end_dim")
    if end < start:
        raise ShapeError(f"end_dim {a['end_dim']} comes before start_dim {a['start_dim']}")
    return x.with_shape(x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:])


_define("flatten", attrs={"start_dim": Attr("int", 1), "end_dim": Attr("int", -1)},
        infer=_flatten_infer, lower=_data_lowering,
        doc="Merge dimensions start_dim..end_dim (PyTorch semantics); moves no data.")


def _transpose_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    perm = a["perm"]
    if sorted(perm) != list(range(x.rank)):
        raise ShapeError(f"perm {list(perm)} is not a permutation of the {x.rank} input axes")
    return x.with_shape(tuple(x.shape[i] for i in perm))


_define("transpose", attrs={"perm": Attr("ints")}, infer=_transpose_infer, lower=_copy_lowering,
        doc="Permute axes (a real copy in memory).")


def _slice_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    axis = _norm_axis(a["axis"], x.rank)
    length = len(range(*slice(a["start"], a["end"], a["step"]).indices(x.shape[axis])))
    if length == 0:
        raise ShapeError(f"slice [{a['start']}:{a['end']}:{a['step']}] of axis {a['axis']} "
                         f"(size {x.shape[axis]}) is empty")
    shape = list(x.shape)
    shape[axis] = length
    return x.with_shape(tuple(shape))


def _slice_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    # Only the selected elements are read.
    return Workload(kind="elementwise", dims=(("size", out.numel),), macs=0, ops=0,
                    input_bytes=out.nbytes, weight_bytes=0.0, output_bytes=out.nbytes,
                    **_widths(ins, out))


_define("slice",
        attrs={"axis": Attr("int", REQUIRED), "start": Attr("int", 0), "end": Attr("int", 2**62),
               "step": Attr("int", 1, minimum=1)},
        infer=_slice_infer, lower=_slice_lower,
        doc="Elements start:end:step of one axis (Python semantics; negative indices count from the end).")


def _embedding_infer(ins: list[TensorType], a: A) -> TensorType:
    ids = ins[0]
    if ids.dtype.is_float:
        raise ShapeError(f"embedding expects integer ids, got {ids.dtype}")
    try:
        dt = dtype(a["dtype"])
    except ValueError as exc:
        raise ShapeError(str(exc)) from None
    return TensorType(ids.shape + (a["dim"],), dt)


def _embedding_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    # A lookup reads one row per id, not the whole table.
    return Workload(kind="data", dims=(("size", out.numel),), macs=0, ops=0,
                    input_bytes=ins[0].nbytes, weight_bytes=out.nbytes, output_bytes=out.nbytes,
                    **_widths(ins, out, weight_bits=out.dtype.bits))


_define(
    "embedding",
    attrs={"num_embeddings": Attr("int", REQUIRED, minimum=1), "dim": Attr("int", REQUIRED, minimum=1),
           "dtype": Attr("str", "fp32", tuple(DTYPES))},
    infer=_embedding_infer, lower=_embedding_lower,
    weights=lambda ins, a: {"weight": (a["num_embeddings"], a["dim"])},
    doc="Table lookup: integer ids -> rows of a (num_embeddings, dim) table.",
)
