"""Reading an ONNX file: the model proto, a view of each node, and its values in Python terms.

``read_model`` parses and sanity-checks the file; ``Op`` wraps one node, with its attributes
decoded by ``node_attrs`` (strings, numpy arrays, floats without float32 noise); ``input_type``
turns a graph input into an accelsim shape and dtype, and the dtype maps say which ONNX and
numpy element types accelsim represents. ``constant_value``, ``int_list`` and ``scalar_value``
read constant arrays the way the other modules need them. ``onnx`` is imported inside the
functions that use it, never at module import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import SpecError

NodeProto = Any  # onnx.NodeProto; onnx is imported lazily

# ONNX element type names -> accelsim dtypes (uint8 and bool keep their one-byte width).
_ELEM_TYPES = {
    "FLOAT": "fp32", "FLOAT16": "fp16", "BFLOAT16": "bf16", "DOUBLE": "fp64", "INT8": "int8",
    "UINT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64", "BOOL": "int8",
}
_NP_TYPES = {
    "float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64", "int8": "int8",
    "uint8": "int8", "int16": "int16", "int32": "int32", "int64": "int64", "bool": "int8",
}
STD_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class Op:
    """One ONNX node to convert; ``index`` is its place in the file, for error messages."""

    index: int
    node: NodeProto
    attrs: dict[str, Any]

    @property
    def type(self) -> str:
        d = self.node.domain
        return self.node.op_type if d in STD_DOMAINS else f"{d}.{self.node.op_type}"

    @property
    def raw_name(self) -> str:
        return self.node.name or (self.node.output[0] if self.node.output else "")

    @property
    def field(self) -> str:
        return f"graph.node[{self.index}] ({self.raw_name})"

    def input(self, i: int) -> str:
        """The i-th input tensor name, '' when absent (ONNX optional inputs)."""
        return self.node.input[i] if i < len(self.node.input) else ""


def read_model(path: str) -> Any:
    """The ModelProto in ``path``; SpecError when it is missing or not an ONNX model."""
    import onnx

    if not Path(path).is_file():
        raise SpecError("file not found", file=path)
    try:
        model = onnx.load(path, load_external_data=False)  # weights: see ``initializer_arrays``
    except Exception as exc:  # protobuf DecodeError, ...
        raise SpecError(f"not a valid ONNX model: {type(exc).__name__}: {exc}".rstrip(": "),
                        file=path) from None
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise SpecError("not a valid ONNX model (no IR version or graph)", file=path)
    return model


def initializer_arrays(model: Any, path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every initializer as an array, and for those whose data is absent, where it should be.

    Weights are optional in the IR, so a shapes-only export (initializers without data, or an
    external-data file that is missing) still imports: an absent tensor stands in as a
    zero-stride array of the right shape and dtype (no memory), and its name is returned (with
    its external file, '' when inline) so that the importer attaches no weights made from it.
    """
    from onnx import TensorProto, checker, external_data_helper, helper, numpy_helper

    base = str(Path(path).parent)
    arrays: dict[str, np.ndarray] = {}
    missing: dict[str, str] = {}
    for init in model.graph.initializer:
        location = ""
        if init.data_location == TensorProto.EXTERNAL:
            location = next((e.value for e in init.external_data if e.key == "location"), "?")
            try:
                external_data_helper.load_external_data_for_tensor(init, base)
            except (OSError, ValueError, checker.ValidationError):  # missing, short or outside
                pass
        if init.data_location != TensorProto.EXTERNAL and _has_data(init):
            arrays[init.name] = numpy_helper.to_array(init)
            continue
        dt = helper.tensor_dtype_to_np_dtype(init.data_type)
        arrays[init.name] = np.broadcast_to(np.zeros((), dt), tuple(int(d) for d in init.dims))
        missing[init.name] = location
    return arrays, missing


def _has_data(t: Any) -> bool:
    if not t.dims or 0 in t.dims:
        return True  # a scalar's absent data is an error numpy_helper reports; empty is empty
    return bool(t.raw_data) or any(len(getattr(t, f)) for f in (
        "float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"))


def node_attrs(node: NodeProto) -> dict[str, Any]:
    """A node's attributes as Python values: strings decoded, tensors as numpy arrays."""
    from onnx import TensorProto, helper, numpy_helper

    out: dict[str, Any] = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, TensorProto):
            value = numpy_helper.to_array(value)
        elif isinstance(value, float):
            value = _f32(value)
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        elif isinstance(value, list) and value and isinstance(value[0], float):
            value = [_f32(v) for v in value]
        out[attr.name] = value
    return out


def _f32(value: float) -> float:
    """ONNX stores float attributes as float32: 1e-5 arrives as 9.99999974e-06; undo that."""
    return float(str(np.float32(value)))


def constant_value(a: dict[str, Any]) -> np.ndarray:
    """The array a ``Constant`` node holds, from its decoded attributes."""
    if "value" in a:
        return np.asarray(a["value"])
    for key, dt in (("value_float", np.float32), ("value_floats", np.float32),
                    ("value_int", np.int64), ("value_ints", np.int64)):
        if key in a:
            return np.asarray(a[key], dtype=dt)
    raise SpecError(f"Constant with {', '.join(a) or 'no value'} is not supported; expected value, "
                    "value_float(s) or value_int(s)")


def np_dtype(arr: np.ndarray) -> str:
    try:
        return _NP_TYPES[arr.dtype.name]
    except KeyError:
        raise SpecError(f"constant arrays of type {arr.dtype.name} are not supported") from None


def input_type(value_info: Any, path: str, field: str) -> tuple[list[int], str]:
    """Shape and dtype of a graph input; only the batch (axis 0) may be symbolic (-> 1)."""
    from onnx import TensorProto

    ttype = value_info.type.tensor_type if value_info.type.HasField("tensor_type") else None
    if ttype is None or not ttype.HasField("shape"):
        raise SpecError(f"input {value_info.name!r} has no tensor shape; export the model with "
                        "fixed input shapes", file=path, field=field)
    elem = TensorProto.DataType.Name(ttype.elem_type) if ttype.elem_type else "UNDEFINED"
    if elem not in _ELEM_TYPES:
        raise SpecError(f"input {value_info.name!r} has element type {elem}; supported: "
                        + ", ".join(_ELEM_TYPES), file=path, field=field)
    shape = []
    for axis, dim in enumerate(ttype.shape.dim):
        if dim.HasField("dim_value") and dim.dim_value > 0:
            shape.append(int(dim.dim_value))
        elif axis == 0:
            shape.append(1)
        else:
            raise SpecError(f"input {value_info.name!r} has a symbolic dimension "
                            f"{dim.dim_param or '?'!r} at axis {axis}; only the batch (axis 0) may "
                            "be symbolic, so export the model with fixed shapes", file=path, field=field)
    return shape, _ELEM_TYPES[elem]


def int_list(values: Any) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(-1)]


def scalar_value(arr: np.ndarray | None) -> float | None:
    if arr is None or arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        return None
    return float(arr.reshape(()))
