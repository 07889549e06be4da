"""The import driver: ONNX model -> verified Graph, and the ``load_onnx`` entry point.

``Importer`` holds the conversion state (which accelsim node or constant array each ONNX
tensor is) and walks the fused node list once: nodes with all-constant inputs are folded,
the rest go to their converter. Every error is located at the file and the ONNX node.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import AccelsimError, GraphError, SpecError, UnsupportedOpError
from ...ir import Graph, Source, TensorType
from ...ir.opdef import ShapeError
from .converters import CONVERTERS, SUPPORTED_OPS
from .folding import FOLD, MAX_FOLD_ELEMENTS, folded_elements
from .patterns import fuse
from .reader import STD_DOMAINS, Op, initializer_arrays, input_type, node_attrs, np_dtype, read_model


class Importer:
    """Conversion state: which accelsim node or constant array each ONNX tensor is."""

    def __init__(self, path: str, model: Any) -> None:
        self.path = path
        self.model = model
        self.graph = Graph(Path(path).stem)
        self.opset = next((o.version for o in model.opset_import if o.domain in STD_DOMAINS), 1)
        self.consts: dict[str, np.ndarray] = {}
        self.tensors: dict[str, str] = {}          # ONNX tensor -> accelsim node name
        self.types: dict[str, TensorType] = {}     # accelsim node name -> output type
        self.names: set[str] = set()
        self.missing: set[str] = set()             # tensors whose data the file lacks
        self.used = {t for n in model.graph.node for t in n.input} | {o.name for o in model.graph.output}

    # ------------------------------------------------------------------ driver

    def run(self) -> Graph:
        self.consts, missing = initializer_arrays(self.model, self.path)
        self.missing = set(missing)
        if missing:
            self.warn_missing(missing)
        for i, value_info in enumerate(self.model.graph.input):
            if value_info.name not in self.consts:
                self.add_input(i, value_info)
        ops = [Op(i, n, node_attrs(n)) for i, n in enumerate(self.model.graph.node)]
        ops = fuse(ops, self.consts, {o.name for o in self.model.graph.output})
        self.check_supported(ops)
        for op in ops:
            try:
                self.convert(op)
            except AccelsimError as exc:
                raise exc.located(file=self.path, field=op.field)
            except Exception as exc:  # malformed attribute values or arrays in the file
                raise SpecError(f"cannot convert ONNX {op.type}: {type(exc).__name__}: {exc}",
                                file=self.path, field=op.field) from None
        outputs = []
        for i, out in enumerate(self.model.graph.output):
            name = self.value(out.name, f"graph.output[{i}] ({out.name})")
            if name not in outputs:
                outputs.append(name)
        self.graph.set_outputs(outputs)
        self.graph.verify()
        return self.graph

    def convert(self, op: Op) -> None:
        ins = [t for t in op.node.input if t]
        if op.type in FOLD and ins and all(t in self.consts for t in ins):
            values = [self.consts[t] if t else None for t in op.node.input]
            try:
                size = folded_elements(op.type, op.attrs, values)
            except (ValueError, TypeError, IndexError, OverflowError) as exc:
                raise SpecError(f"ONNX {op.type} on constants: {exc}", file=self.path, field=op.field) from None
            largest = max((v.size for v in values if v is not None), default=0)
            if size > max(MAX_FOLD_ELEMENTS, largest):
                raise SpecError(f"ONNX {op.type} would make a constant of {size:,} elements from inputs of at "
                                f"most {largest:,} (the limit for folding is {MAX_FOLD_ELEMENTS:,})",
                                file=self.path, field=op.field)
            self.consts[op.node.output[0]] = np.asarray(FOLD[op.type](op.attrs, values))
            if self.missing.intersection(ins):
                self.missing.add(op.node.output[0])
        else:
            converter = CONVERTERS.get(op.type)
            if converter is None and op.type in FOLD:
                raise UnsupportedOpError(f"ONNX op {op.type!r} is supported on constants only (shape "
                                         "arithmetic); here an input is computed at run time",
                                         file=self.path, field=op.field)
            if converter is None:
                raise UnsupportedOpError(f"ONNX op {op.type!r} is not supported; supported: "
                                         + ", ".join(SUPPORTED_OPS), file=self.path, field=op.field)
            converter(self, op)
        for k, extra in enumerate(op.node.output[1:], start=1):
            if extra and extra in self.used and extra not in self.tensors and extra not in self.consts:
                raise UnsupportedOpError(f"output {k} ({extra!r}) of ONNX {op.type} is used, but only "
                                         "the first output of a node is supported",
                                         file=self.path, field=op.field)

    def check_supported(self, ops: list[Op]) -> None:
        """Name every op type with no converter at once, with counts, before converting any."""
        unknown = [op for op in ops if op.type not in CONVERTERS and op.type not in FOLD]
        if unknown:
            counts = Counter(op.type for op in unknown)
            listed = ", ".join(f"{t} ({k})" for t, k in sorted(counts.items()))
            raise UnsupportedOpError(f"unsupported ONNX ops: {listed}; supported: "
                                     + ", ".join(SUPPORTED_OPS), file=self.path, field=unknown[0].field)

    def warn_missing(self, missing: dict[str, str]) -> None:
        """One note for the whole model: it imports with shapes (and MACs) but no weights there."""
        files = sorted({loc for loc in missing.values() if loc})
        where = (f"external data file{'s' if len(files) > 1 else ''} " + ", ".join(map(repr, files))
                 + " not found or incomplete") if files else "no data in the file"
        first = next(iter(missing))
        warnings.warn(f"{self.path}: {len(missing)} of {len(self.model.graph.initializer)} weight "
                      f"tensors have no data ({where}; e.g. {first!r}); importing shapes only, "
                      "without those weights", stacklevel=4)

    # ------------------------------------------------------------------ naming and nodes

    def unique(self, raw: str, fallback: str, short: str = "") -> str:
        """A fresh node name from ``raw``; ``short`` is preferred while it is still free."""
        short = _sanitize(short)
        if short and short not in self.names:
            self.names.add(short)
            return short
        base = _sanitize(raw) or fallback
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def add_input(self, index: int, value_info: Any) -> None:
        field = f"graph.input[{index}] ({value_info.name})"
        shape, dt = input_type(value_info, self.path, field)
        name = self.unique(value_info.name, "input")
        self.add_node(name, "input", [], {"shape": shape, "dtype": dt}, field)
        self.tensors[value_info.name] = name

    def add_node(self, name: str, kind: str, inputs: Sequence[str], attrs: dict[str, Any],
                 field: str, weights: dict[str, np.ndarray] | None = None) -> str:
        """Add a node and infer its type at once (linear time, and errors point at the node)."""
        node = self.graph.add(name, kind, tuple(inputs), attrs, source=Source(self.path, None, field))
        ins = [self.types[i] for i in inputs]
        try:
            self.types[name] = node.opdef.infer(ins, node.attrs)
        except ShapeError as exc:
            shapes = ", ".join(str(t) for t in ins)
            raise GraphError(f"layer {name!r} ({kind}): {exc}" + (f" (inputs: {shapes})" if shapes else ""),
                             file=self.path, field=field) from None
        if weights:
            self.graph.set_weights(name, weights)
        return name

    def emit(self, op: Op, kind: str, inputs: Sequence[str], attrs: dict[str, Any] | None = None,
             weights: dict[str, np.ndarray] | None = None, *, suffix: str = "",
             output: bool = True) -> str:
        """Add the node that stands for ``op`` (``output``: it produces the op's first output)."""
        raw = _scope_path(op.raw_name)
        short = _drop_op_type(raw, op.node.op_type)
        name = self.unique(raw + suffix if raw else "", op.node.op_type.lower() + suffix,
                           short + suffix if short else "")
        if weights and self.missing.intersection(op.node.input):
            weights = None  # made from a tensor the file lacks: shapes only
        self.add_node(name, kind, inputs, attrs or {}, op.field, weights)
        if output:
            self.tensors[op.node.output[0]] = name
        return name

    def alias(self, op: Op, tensor: str) -> None:
        """``op``'s output is ``tensor`` itself (Identity, Dropout at inference)."""
        out = op.node.output[0]
        if tensor in self.consts:
            self.consts[out] = self.consts[tensor]
            if tensor in self.missing:
                self.missing.add(out)
        else:
            self.tensors[out] = self.value(tensor, op.field)

    # ------------------------------------------------------------------ operands

    def value(self, tensor: str, field: str) -> str:
        """The node producing ``tensor``; a constant becomes a ``constant`` node on first use."""
        if tensor in self.tensors:
            return self.tensors[tensor]
        if tensor in self.consts:
            arr = self.consts[tensor]
            name = self.unique(tensor, "constant")
            self.add_node(name, "constant", [], {"shape": list(arr.shape), "dtype": np_dtype(arr)},
                          field, None if tensor in self.missing else {"value": arr})
            self.tensors[tensor] = name
            return name
        raise GraphError(f"tensor {tensor!r} is used before any node produces it "
                         "(is the graph topologically sorted?)", file=self.path, field=field)

    def const(self, op: Op, i: int, what: str, *, optional: bool = False) -> np.ndarray | None:
        """Input ``i`` as an array; ops whose weights are computed at run time are unsupported."""
        tensor = op.input(i)
        if not tensor:
            if optional:
                return None
            raise SpecError(f"ONNX {op.type} needs input {i} ({what})", file=self.path, field=op.field)
        if tensor not in self.consts:
            raise UnsupportedOpError(f"ONNX {op.type} with a computed {what} ({tensor!r}) is not "
                                     "supported; it must be an initializer or a Constant",
                                     file=self.path, field=op.field)
        return self.consts[tensor]

    def shape_of(self, tensor: str, field: str) -> tuple[int, ...]:
        if tensor in self.consts:
            return tuple(self.consts[tensor].shape)
        return self.types[self.value(tensor, field)].shape


def _scope_path(raw: str) -> str:
    """'/layer1/layer1.0/conv1/Conv' -> 'layer1.0.conv1.Conv': torch writes a module scope
    both as a component and again as the prefix of its child's; keep each prefix once."""
    if "/" not in raw:
        return raw
    path = ""
    for part in (p for p in raw.split("/") if p):
        if not path or part.startswith(path + "."):
            path = part
        elif part != path:
            path = f"{path}.{part}"
    return path


def _drop_op_type(path: str, op_type: str) -> str:
    """'layer1.0.conv1.Conv' -> 'layer1.0.conv1' (also 'Conv_3'); '' when nothing would remain."""
    head, _, last = path.rpartition(".")
    if head and re.fullmatch(re.escape(op_type) + r"(_\d+)?", last):
        return head
    return ""


def _sanitize(raw: str) -> str:
    """Exporter names like '/layer1/conv/Conv' -> 'layer1.conv.Conv' (dots are accelsim's paths)."""
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", raw.strip("/").replace("/", "."))
    return re.sub(r"\.{2,}", ".", name).strip(".")


def load_onnx(path: str | Path) -> Graph:
    """Import an ONNX model as a verified Graph, with its initializers as weights.

    Raises:
        SpecError: not an ONNX file, or onnx is not installed; malformed node attributes.
        UnsupportedOpError: an ONNX op (or op variant) with no accelsim equivalent.
        GraphError: shapes that do not agree.
    """
    path = str(path)
    try:
        import onnx  # noqa: F401  (an optional extra)
    except ImportError:
        raise SpecError("reading ONNX models needs the optional 'onnx' package "
                        "(pip install onnx)", file=path) from None
    model = read_model(path)
    try:
        return Importer(path, model).run()
    except AccelsimError as exc:
        raise exc.located(file=path)
    except Exception as exc:  # e.g. an initializer numpy cannot represent
        raise SpecError(f"cannot import ONNX model: {type(exc).__name__}: {exc}", file=path) from None
