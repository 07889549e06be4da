"""Constant folding: evaluate with numpy the ONNX nodes whose inputs are all constants.

Exporters wrap every Reshape in shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat, ...).
None of it is real work, so the importer computes it here instead of adding IR nodes. ``FOLD``
maps an op type to its numpy evaluation; the Squeeze, Unsqueeze and Slice helpers also serve
the converters, which apply the same ONNX rules to activation shapes.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from .reader import int_list

Fold = Callable[[dict[str, Any], list[Any]], Any]        # (attributes, input arrays) -> array


def _fold_div(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    x, y = v
    if np.issubdtype(x.dtype, np.integer) and np.issubdtype(y.dtype, np.integer):
        return np.trunc(x / y).astype(np.result_type(x, y))
    return x / y


def _axes(a: dict[str, Any], v: list[Any]) -> tuple[int, ...] | None:
    """Axes from the second input (opset >= 13) or the attribute (older opsets)."""
    if len(v) > 1 and v[1] is not None:
        return tuple(int_list(v[1]))
    return tuple(a["axes"]) if "axes" in a else None


def fold_unsqueeze(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    return np.expand_dims(v[0], _axes(a, v))


def fold_squeeze(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    axes = _axes(a, v)
    return np.squeeze(v[0]) if axes is None else np.squeeze(v[0], axis=axes)


def _reshape_target(in_shape: Sequence[int], target: Any, allowzero: int) -> list[int]:
    shape = int_list(target)
    if allowzero:
        return shape
    return [in_shape[i] if s == 0 else s for i, s in enumerate(shape)]


def slice_params(a: dict[str, Any], v: list[Any]) -> list[tuple[int, int, int, int]]:
    """(start, end, axis, step) per sliced axis, from inputs (opset >= 10) or attributes."""
    starts = int_list(v[1]) if len(v) > 1 else list(a["starts"])
    ends = int_list(v[2]) if len(v) > 2 else list(a["ends"])
    axes = int_list(v[3]) if len(v) > 3 and v[3] is not None else list(a.get("axes", range(len(starts))))
    steps = int_list(v[4]) if len(v) > 4 and v[4] is not None else [1] * len(starts)
    return list(zip(starts, ends, axes, steps))


def _fold_slice(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    x = v[0]
    index = [slice(None)] * x.ndim
    for start, end, axis, step in slice_params(a, v):
        index[axis] = slice(start, end, step)
    return x[tuple(index)]


def _fold_cast(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    from onnx import helper

    return v[0].astype(helper.tensor_dtype_to_np_dtype(a["to"]))


def _fold_flatten(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    x = v[0]
    axis = a.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), -1)


def _fold_constant_of_shape(a: dict[str, Any], v: list[Any]) -> np.ndarray:
    fill = a.get("value", np.zeros(1, np.float32))
    return np.full(int_list(v[0]), fill.reshape(-1)[0], dtype=fill.dtype)


# A folded constant may have at most this many elements, or as many as its largest input:
# shape arithmetic and transposed or cast weights stay well within, while a file of a few
# bytes cannot make the importer materialise gigabytes (ConstantOfShape [10**9], a huge Tile).
MAX_FOLD_ELEMENTS = 2**24


def _broadcast_count(*shapes: Sequence[int]) -> int:
    return math.prod(np.broadcast_shapes(*(tuple(int(d) for d in s) for s in shapes)))


def folded_elements(op_type: str, a: dict[str, Any], v: list[Any]) -> int:
    """Elements the fold of ``op_type`` would produce, computed from shapes alone (an upper
    bound where the exact count needs the values); ops not listed never grow their inputs."""
    x = v[0]
    if op_type == "ConstantOfShape":
        return math.prod(int_list(x))
    if op_type == "Range":
        start, limit, delta = (float(np.asarray(t).reshape(())) for t in v[:3])
        return max(0, math.ceil((limit - start) / delta)) if delta else 0
    if op_type == "Tile":
        return x.size * math.prod(int_list(v[1]))
    if op_type == "Expand":
        return _broadcast_count(x.shape, int_list(v[1]))
    if op_type in ("Add", "Sub", "Mul", "Div"):
        return _broadcast_count(x.shape, v[1].shape)
    if op_type == "MatMul" and x.ndim >= 1 and v[1].ndim >= 1:
        rows = x.shape[-2] if x.ndim >= 2 else 1
        cols = v[1].shape[-1] if v[1].ndim >= 2 else 1
        return _broadcast_count(x.shape[:-2], v[1].shape[:-2]) * rows * cols
    if op_type == "Gather":
        axis = a.get("axis", 0)
        return (x.size // max(1, x.shape[axis])) * np.asarray(v[1]).size if x.ndim else 1
    return max((np.asarray(t).size for t in v if t is not None), default=0)


# op type -> numpy evaluation, used when every input of the node is a known constant.
FOLD: dict[str, Fold] = {
    "Add": lambda a, v: v[0] + v[1],
    "Sub": lambda a, v: v[0] - v[1],
    "Mul": lambda a, v: v[0] * v[1],
    "Div": _fold_div,
    "Neg": lambda a, v: -v[0],
    "Sqrt": lambda a, v: np.sqrt(v[0]),
    "Concat": lambda a, v: np.concatenate([x for x in v if x is not None], axis=a["axis"]),
    "Gather": lambda a, v: np.take(v[0], v[1], axis=a.get("axis", 0)),
    "Unsqueeze": fold_unsqueeze,
    "Squeeze": fold_squeeze,
    "Reshape": lambda a, v: v[0].reshape(_reshape_target(v[0].shape, v[1], a.get("allowzero", 0))),
    "Transpose": lambda a, v: np.transpose(v[0], a.get("perm")),
    "Cast": _fold_cast,
    "Slice": _fold_slice,
    "Flatten": _fold_flatten,
    "ConstantOfShape": _fold_constant_of_shape,
    "Range": lambda a, v: np.arange(v[0].item(), v[1].item(), v[2].item(), dtype=v[0].dtype),
    "Identity": lambda a, v: v[0],
    "Tile": lambda a, v: np.tile(v[0], int_list(v[1])),
    "Expand": lambda a, v: v[0] * np.ones(int_list(v[1]), dtype=v[0].dtype),
    "MatMul": lambda a, v: v[0] @ v[1] + (v[2] if len(v) > 2 else 0),
}
