"""Ops that exported detection, segmentation and transformer models use beyond the core set:
transposed convolution, padding, resizing, group normalisation, comparisons and selection,
index arithmetic (argmax, top-k, gather). Same conventions as :mod:`.ops`: ``macs`` only for
the matrix work of ``conv_transpose2d``, everything else counted as vector ``ops``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from .opdef import REQUIRED, Attr, ShapeError
from .ops import (CONV2D, _channel_infer, _define, _elementwise, _norm_axis, _weight_bytes, _weight_width,
                  _widths, broadcast_shapes)
from .types import DTYPES, TensorType
from .workload import Workload

A = Mapping[str, Any]

# --------------------------------------------------------------------------- transposed convolution


def _deconv_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    if x.rank != 4:
        raise ShapeError(f"conv_transpose2d expects a 4-D NCHW input, got shape {list(x.shape)}")
    c, g, k = x.shape[1], a["groups"], a["out_channels"]
    if c % g or k % g:
        raise ShapeError(f"groups={g} must divide input channels ({c}) and out_channels ({k})")
    t, l, b, r = a["padding"]
    size = []
    for i, (lo, hi) in enumerate(((t, b), (l, r))):
        n = ((x.shape[2 + i] - 1) * a["stride"][i] + a["dilation"][i] * (a["kernel"][i] - 1) + 1
             + a["output_padding"][i] - lo - hi)
        if n <= 0:
            raise ShapeError(f"output would have size {n} along axis {2 + i}")
        size.append(n)
    return TensorType((x.shape[0], k, size[0], size[1]), x.dtype)


def _deconv_weights(ins: list[TensorType], a: A) -> dict[str, tuple[int, ...]]:
    r, s = a["kernel"]
    w = {"weight": (ins[0].shape[1], a["out_channels"] // a["groups"], r, s)}
    if a["bias"]:
        w["bias"] = (a["out_channels"],)
    return w


def _deconv_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    """Each input pixel times the (C/G) x (K/G * R * S) weight matrix, per group: a GEMM of
    M = N*H*W input pixels, K = C/G, N = K_out/G * R * S (what cuDNN and im2col-style
    accelerators run), then the overlapping products are added into the output (col2im):
    one add per product beyond the first into each output element."""
    x = ins[0]
    n, c, h, w = x.shape
    g = a["groups"]
    r, s = a["kernel"]
    cols = a["out_channels"] // g * r * s
    macs = g * (n * h * w) * (c // g) * cols
    products = g * n * h * w * cols
    adds = max(0, products - out.numel) + (out.numel if a["bias"] else 0)
    return Workload(
        kind="gemm", dims=(("B", g), ("M", n * h * w), ("N", cols), ("K", c // g)), macs=macs, ops=adds,
        input_bytes=x.nbytes, weight_bytes=_weight_bytes(CONV_TRANSPOSE2D, ins, a), output_bytes=out.nbytes,
        **_widths(ins, out))


CONV_TRANSPOSE2D = _define(
    "conv_transpose2d",
    attrs={**CONV2D.attrs, "output_padding": Attr("pair", (0, 0), minimum=0)},  # conv2d's, plus one
    infer=_deconv_infer, weights=_deconv_weights, lower=_deconv_lower,
    doc="Transposed 2-D convolution (decoder upsampling); costed as the GEMM plus col2im adds.",
)

# --------------------------------------------------------------------------- pad and resize


def _pad_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    pads = a["pads"]
    if len(pads) != 2 * x.rank:
        raise ShapeError(f"pad needs {2 * x.rank} values (begin of each axis, then end), got {len(pads)}")
    shape = tuple(d + lo + hi for d, lo, hi in zip(x.shape, pads[:x.rank], pads[x.rank:]))
    if min(shape, default=1) <= 0:
        raise ShapeError(f"padding {list(pads)} leaves an empty axis of {list(x.shape)}")
    return x.with_shape(shape)


_define("pad", attrs={"pads": Attr("ints"), "mode": Attr("str", "constant", ("constant", "reflect", "edge"))},
        infer=_pad_infer, lower=lambda ins, out, a: _elementwise(ins, out, 0),
        doc="Pad each axis (begins, then ends; negative values crop): a copy into a larger tensor.")

# Arithmetic per output element: nearest copies; linear interpolates 2 (1-D) to 4 (2-D)
# neighbours as lerps of 2 ops each plus the source coordinates; cubic weights 4 x 4.
_RESIZE_OPS = {"nearest": 0, "linear": 8, "cubic": 36}


def _resize_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    if x.rank < 3:
        raise ShapeError(f"resize expects N, C and spatial axes, got {list(x.shape)}")
    size = a["size"]
    if len(size) != x.rank - 2:
        raise ShapeError(f"resize size {list(size)} must give the {x.rank - 2} spatial axes of {list(x.shape)}")
    if min(size) < 1:
        raise ShapeError(f"resize size {list(size)} must be positive")
    return x.with_shape(x.shape[:2] + tuple(size))


_define("resize", attrs={"size": Attr("ints"), "mode": Attr("str", "nearest", tuple(_RESIZE_OPS))},
        infer=_resize_infer, lower=lambda ins, out, a: _elementwise(ins, out, _RESIZE_OPS[a["mode"]]),
        doc="Resize the spatial axes to ``size`` (nearest, linear or cubic interpolation).")

# --------------------------------------------------------------------------- normalisation


def _groupnorm_infer(ins: list[TensorType], a: A) -> TensorType:
    x = _channel_infer(ins, a)
    if x.shape[1] % a["groups"]:
        raise ShapeError(f"groups={a['groups']} must divide the {x.shape[1]} channels")
    return x


_define(
    "groupnorm", attrs={"groups": Attr("int", REQUIRED, minimum=1), "eps": Attr("float", 1e-5, minimum=0)},
    infer=_groupnorm_infer, weights=lambda ins, a: {"scale": (ins[0].shape[1],), "bias": (ins[0].shape[1],)},
    lower=lambda ins, out, a: _elementwise(ins, out, 5, 2 * ins[0].shape[1] * _weight_width(ins) / 8),
    doc="Group normalisation: statistics over each group of channels and the spatial axes, then a "
        "per-channel scale and shift (groups == channels is instance normalisation).",
)
_define(
    "log_softmax", attrs={"axis": Attr("int", -1)},
    infer=lambda ins, a: (_norm_axis(a["axis"], ins[0].rank), ins[0])[1],
    lower=lambda ins, out, a: _elementwise(ins, out, 6),
    doc="log(softmax(x)) along an axis (max, subtract, exp, sum, log, subtract: 6 ops per element).",
)

# --------------------------------------------------------------------------- elementwise

def _prelu_check(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    if a["num_parameters"] > 1 and (x.rank < 2 or x.shape[1] != a["num_parameters"]):
        raise ShapeError(f"prelu with {a['num_parameters']} slopes needs as many channels, got {list(x.shape)}")
    return x


_define("prelu", attrs={"num_parameters": Attr("int", 1, minimum=1)},
        infer=lambda ins, a: _prelu_check(ins, a),
        weights=lambda ins, a: {"slope": (a["num_parameters"],)},
        lower=lambda ins, out, a: _elementwise(ins, out, 2, a["num_parameters"] * _weight_width(ins) / 8),
        doc="Leaky ReLU with a learned slope, one per channel or one shared (2 ops per element).",
        pointwise=True)



def _compare_infer(ins: list[TensorType], a: A) -> TensorType:
    x, y = ins
    return TensorType(broadcast_shapes(x.shape, y.shape), DTYPES["binary"])


for _name in ("greater", "less", "equal"):
    _define(_name, min_inputs=2, max_inputs=2, infer=_compare_infer,
            lower=lambda ins, out, a: _elementwise(ins, out, 1),
            doc=f"Elementwise {_name} with NumPy broadcasting; a 1-bit mask.", pointwise=True)


def _where_infer(ins: list[TensorType], a: A) -> TensorType:
    cond, x, y = ins
    return x.with_shape(broadcast_shapes(cond.shape, broadcast_shapes(x.shape, y.shape)))


def _where_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    w = _elementwise(ins, out, 1)
    return Workload(kind=w.kind, dims=w.dims, macs=0, ops=w.ops, input_bytes=w.input_bytes, weight_bytes=0.0,
                    output_bytes=w.output_bytes, **_widths(ins[1:], out))


_define("where", min_inputs=3, max_inputs=3, infer=_where_infer, lower=_where_lower,
        doc="Select x where the mask holds, else y (NumPy broadcasting; 1 op per element).", pointwise=True)

# --------------------------------------------------------------------------- indices


def _reduced_shape(x: TensorType, axis: int, keep: bool, size: int = 1) -> tuple[int, ...]:
    return tuple((size if i == axis else d) for i, d in enumerate(x.shape) if keep or i != axis)


def _argmax_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    axis = _norm_axis(a["axis"], x.rank)
    return TensorType(_reduced_shape(x, axis, a["keepdims"]), DTYPES["int64"])


_define("argmax", attrs={"axis": Attr("int", 0), "keepdims": Attr("bool", True)},
        infer=_argmax_infer, lower=lambda ins, out, a: _elementwise(ins, out, ins[0].numel / max(out.numel, 1)),
        doc="Index of the largest element along an axis (one compare per input element).")


def _topk_infer(ins: list[TensorType], a: A) -> TensorType:
    x = ins[0]
    axis = _norm_axis(a["axis"], x.rank)
    if a["k"] > x.shape[axis]:
        raise ShapeError(f"topk k={a['k']} exceeds axis {a['axis']} of size {x.shape[axis]}")
    return x.with_shape(_reduced_shape(x, axis, True, a["k"]))


def _topk_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    """A heap of k over each row: about log2(k) + 1 compares per input element."""
    x = ins[0]
    return _elementwise(ins, out, x.numel * (math.log2(a["k"]) + 1) / out.numel)


_define("topk", attrs={"k": Attr("int", REQUIRED, minimum=1), "axis": Attr("int", -1)},
        infer=_topk_infer, lower=_topk_lower,
        doc="The k largest values along an axis, in order (their indices come with them).")


def _gather_infer(ins: list[TensorType], a: A) -> TensorType:
    data, index = ins
    if index.dtype.is_float:
        raise ShapeError(f"gather expects integer indices, got {index.dtype}")
    axis = _norm_axis(a["axis"], data.rank)
    return data.with_shape(data.shape[:axis] + index.shape + data.shape[axis + 1:])


def _gather_lower(ins: list[TensorType], out: TensorType, a: A) -> Workload:
    # Only the gathered elements and the indices are read.
    return Workload(kind="data", dims=(("size", out.numel),), macs=0, ops=0,
                    input_bytes=out.nbytes + ins[1].nbytes, weight_bytes=0.0, output_bytes=out.nbytes,
                    **_widths(ins, out))


_define("gather", min_inputs=2, max_inputs=2, attrs={"axis": Attr("int", 0)},
        infer=_gather_infer, lower=_gather_lower,
        doc="Take slices of the first input at run-time integer indices along an axis.")


_define("cast", attrs={"dtype": Attr("str", REQUIRED, tuple(DTYPES))},
        infer=lambda ins, a: TensorType(ins[0].shape, DTYPES[a["dtype"]]),
        lower=lambda ins, out, a: _elementwise(ins, out, 1),
        doc="Convert each element to another dtype (1 op per element).", pointwise=True)
