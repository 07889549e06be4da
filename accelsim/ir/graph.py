"""The graph IR: typed op nodes on a networkx DiGraph, with shape inference and a lint.

Nodes are frozen values (name, op, inputs, attrs, annotations, source); the ``Graph`` is the
only mutable container. Every node has exactly one output tensor, named after the node.
Shapes are inferred on demand in topological order and cached until the graph changes.
Passes change a graph through :meth:`Graph.annotate` and the rewrites :meth:`Graph.replace`,
:meth:`Graph.remove` and :meth:`Graph.insert_after`, each of which leaves a verified graph
or, on failure, the graph as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import networkx as nx

from ..errors import GraphError, SpecError, UnsupportedOpError
from .annotations import Annotation, Site, lower_annotated, site_problems
from .opdef import OPS, AttrError, OpDef, ShapeError, normalize_attrs
from .types import DType, TensorType
from .workload import Workload

__all__ = ["Source", "Node", "NodeSpec", "Layer", "Graph"]

_NO_ANNOTATIONS: Mapping[str, Annotation] = MappingProxyType({})


@dataclass(frozen=True)
class Source:
    """Where a node was written, so errors can point at it."""

    file: str | None = None
    line: int | None = None
    field: str | None = None


@dataclass(frozen=True)
class Node:
    """One op application. ``attrs`` are complete and checked (see ``normalize_attrs``);
    ``annotations`` are keyed by their kind (``quant``, ``sparsity``, ...)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: Mapping[str, Any]
    source: Source = field(default=Source(), compare=False)
    annotations: Mapping[str, Annotation] = field(default_factory=lambda: _NO_ANNOTATIONS)

    @property
    def opdef(self) -> OpDef:
        return OPS.get(self.op)


@dataclass(frozen=True)
class NodeSpec:
    """A node to add in a rewrite (:meth:`Graph.replace`): what :meth:`Graph.add` takes,
    plus its weight arrays. ``source`` None: the source of the node it stands in for."""

    name: str
    op: str
    inputs: tuple[str, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)
    annotations: tuple[Annotation, ...] = ()
    weights: Mapping[str, Any] = field(default_factory=dict)
    source: Source | None = None


@dataclass(frozen=True)
class Layer:
    """A node with its inferred types and costs, as a cost model sees it."""

    node: Node
    inputs: tuple[TensorType, ...]
    output: TensorType
    params: int
    workload: Workload

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def op(self) -> str:
        return self.node.op

    @property
    def macs(self) -> int:
        return self.workload.macs

    @property
    def is_view(self) -> bool:
        """Whether the layer moves no data (reshape, flatten): it runs no kernel."""
        w = self.workload
        return w.kind == "data" and w.total_bytes == 0

    @property
    def pointwise(self) -> bool:
        """Whether the op is elementwise in the strict sense (``OpDef.pointwise``)."""
        return OPS.get(self.node.op).pointwise

    @property
    def compute_dtype(self) -> DType:
        """The dtype the layer's arithmetic runs in: its output's, unless that is a mask or an
        index (comparisons, argmax), then its first input's that is neither."""
        out = self.output.dtype
        if not (out.is_index or out.bits == 1):
            return out
        return next((t.dtype for t in self.inputs if not (t.dtype.is_index or t.dtype.bits == 1)), out)


_SOURCE_OPS = ("input", "constant")
# Beyond this many elements (or MACs, ops, parameters) a tensor or layer is a typo, and its
# byte and time figures would overflow floating point.
_MAX_COUNT = 2**62


class Graph:
    """A dataflow graph of ops. Build with :meth:`add`; check with :meth:`verify`."""

    def __init__(self, name: str = "model") -> None:
        self.name = name
        self._g = nx.DiGraph()
        self._outputs: list[str] = []
        self._weights: dict[str, dict[str, Any]] = {}
        self._types: dict[str, TensorType] | None = None
        self._layers: dict[bool, list[Layer]] = {}  # by include_sources; reset with _types
        self._order: list[str] | None = None  # node names, topological; reset on any edge change

    def _changed(self) -> None:
        """Forget what the graph's structure determined: order, types and layers."""
        self._order = None
        self._types = None
        self._layers = {}

    # ------------------------------------------------------------------ building

    def add(self, name: str, op: str, inputs: tuple[str, ...] | list[str] = (),
            attrs: Mapping[str, Any] | None = None, *, source: Source = Source(),
            annotations: Iterable[Annotation] = ()) -> Node:
        """Add a node; its inputs may be added later (checked by :meth:`verify`, as are the
        annotations' fit to the op).

        Raises:
            UnsupportedOpError: ``op`` is not in the op registry.
            SpecError: unknown, missing or ill-typed attribute; wrong number of inputs.
            GraphError: the name is taken; two annotations of one kind.
        """
        where = dict(file=source.file, line=source.line)
        if op not in OPS:
            from ..registry import did_you_mean
            raise UnsupportedOpError(f"unknown op {op!r}; {did_you_mean(str(op), list(OPS.names()))}",
                                     field=_field(source, "op"), **where)
        opdef = OPS.get(op)
        try:
            norm = normalize_attrs(opdef, attrs or {})
        except AttrError as exc:
            raise SpecError(str(exc), field=_field(source, exc.field), **where) from None
        inputs = tuple(inputs)
        if len(inputs) < opdef.min_inputs or (opdef.max_inputs is not None and len(inputs) > opdef.max_inputs):
            want = (str(opdef.min_inputs) if opdef.max_inputs == opdef.min_inputs
                    else f"at least {opdef.min_inputs}" if opdef.max_inputs is None
                    else f"{opdef.min_inputs} to {opdef.max_inputs}")
            raise SpecError(f"{op} takes {want} input(s), got {len(inputs)}",
                            field=_field(source, "in"), **where)
        if name in self:
            raise GraphError(f"layer name {name!r} is used twice", field=_field(source, "name"), **where)
        keyed: dict[str, Annotation] = {}
        for ann in annotations:
            if ann.kind in keyed:
                raise GraphError(f"layer {name!r} has two {ann.kind!r} annotations",
                                 field=_field(source, ann.kind), **where)
            keyed[ann.kind] = ann
        node = Node(name, op, inputs, MappingProxyType(dict(norm)), source,
                    MappingProxyType(keyed) if keyed else _NO_ANNOTATIONS)
        self._g.add_node(name, node=node)
        for i in inputs:
            if i not in self._g:
                self._g.add_node(i)  # placeholder until defined; verify() reports it
            self._g.add_edge(i, name)
        self._changed()
        return node

    def set_outputs(self, names: list[str]) -> None:
        self._outputs = list(names)

    def annotate(self, name: str, ann: Annotation) -> Node:
        """Attach ``ann`` to layer ``name``, replacing one of the same kind; return the new
        node (nodes are frozen). Its fit to the op is checked by :meth:`verify`.

        Raises:
            GraphError: there is no layer ``name``.
        """
        node = self._existing(name)
        new = replace(node, annotations=MappingProxyType({**node.annotations, ann.kind: ann}))
        self._g.nodes[name]["node"] = new
        self._layers = {}  # workloads read annotations (types do not)
        return new

    def set_weights(self, name: str, arrays: Mapping[str, Any]) -> None:
        """Attach weight arrays (numpy) to a node; shapes are checked by :meth:`verify`."""
        self._weights[name] = dict(arrays)

    def weights(self, name: str) -> Mapping[str, Any]:
        return self._weights.get(name, {})

    @property
    def has_weights(self) -> bool:
        return bool(self._weights)

    # ------------------------------------------------------------------ reading

    def __contains__(self, name: object) -> bool:
        return name in self._g and "node" in self._g.nodes[name]

    def __len__(self) -> int:
        return sum(1 for _ in self.nodes())

    def node(self, name: str) -> Node:
        return self._g.nodes[name]["node"]

    def nodes(self) -> Iterator[Node]:
        """All nodes in a deterministic topological order (computed once per structure)."""
        if self._order is None:
            self._order = list(nx.topological_sort(self._g))
        data = self._g.nodes
        for name in self._order:
            node = data[name].get("node")
            if node is not None:
                yield node

    @property
    def inputs(self) -> list[str]:
        return [n.name for n in self.nodes() if n.op == "input"]

    @property
    def outputs(self) -> list[str]:
        if self._outputs:
            return list(self._outputs)
        return [n for n in self._g if self._g.out_degree(n) == 0 and n in self]

    def consumers(self, name: str) -> list[str]:
        return list(self._g.successors(name))

    def _existing(self, name: str) -> Node:
        if name not in self:
            from ..registry import did_you_mean
            raise GraphError(f"no layer {name!r}; {did_you_mean(str(name), [n.name for n in self.nodes()])}")
        return self.node(name)

    # ------------------------------------------------------------------ checking

    def verify(self) -> None:
        """The IR's lint: defined inputs, no cycles, known outputs, shapes that agree.

        Raises:
            GraphError: naming the offending node and where it was written.
        """
        for name, data in self._g.nodes(data=True):
            if "node" not in data:
                user = next(self.node(s) for s in self._g.successors(name))
                raise GraphError(f"input {name!r} of layer {user.name!r} is not defined",
                                 file=user.source.file, line=user.source.line,
                                 field=_field(user.source, "in"))
        cycle = None
        if not nx.is_directed_acyclic_graph(self._g):  # linear; only a cyclic graph pays for the path
            cycle = nx.find_cycle(self._g)
        if cycle:
            first = self.node(cycle[0][0])
            path = " -> ".join([e[0] for e in cycle] + [cycle[0][0]])
            raise GraphError(f"the graph has a cycle: {path}", file=first.source.file,
                             line=first.source.line, field=_field(first.source, "in"))
        for out in self._outputs:
            if out not in self:
                raise GraphError(f"output {out!r} is not a layer of the model", field="outputs")
        if not any(True for _ in self.nodes()):
            raise GraphError("the model has no layers")
        self.types()
        for name, arrays in self._weights.items():
            self._check_weights(name, arrays)
        for node in self.nodes():
            if node.annotations:
                self._check_annotations(node)

    def _check_annotations(self, node: Node) -> None:
        ins = tuple(self.types()[i] for i in node.inputs)
        site = Site(node.opdef, ins, self.types()[node.name], node.opdef.weight_shapes(list(ins), node.attrs))
        problems = site_problems(node.annotations, site)
        if problems:
            kind, (leaf, message) = problems[0]
            raise GraphError(f"layer {node.name!r} ({node.op}): {kind}: {message}",
                             file=node.source.file, line=node.source.line,
                             field=_field(node.source, f"{kind}.{leaf}" if leaf else kind))

    def _check_weights(self, name: str, arrays: Mapping[str, Any]) -> None:
        node = self.node(name)
        expected = node.opdef.weight_shapes([self.types()[i] for i in node.inputs], node.attrs)
        for key, arr in arrays.items():
            if key not in expected:
                raise GraphError(f"layer {name!r} has no weight {key!r}; expected {sorted(expected)}",
                                 file=node.source.file, line=node.source.line,
                                 field=_field(node.source, f"weights.{key}"))
            if tuple(arr.shape) != tuple(expected[key]):
                raise GraphError(f"weight {key!r} of layer {name!r} has shape {list(arr.shape)}, "
                                 f"expected {list(expected[key])}", file=node.source.file,
                                 line=node.source.line, field=_field(node.source, f"weights.{key}"))

    def types(self) -> dict[str, TensorType]:
        """Infer every node's output type (cached).

        Raises:
            GraphError: an op rejects its input shapes; the message names the layer.
        """
        if self._types is not None:
            return self._types
        types: dict[str, TensorType] = {}
        for node in self.nodes():
            ins = [types[i] for i in node.inputs]
            try:
                out = node.opdef.infer(ins, node.attrs)
                if out.numel > _MAX_COUNT:
                    raise ShapeError(f"output shape {list(out.shape)} has more than 2**62 elements")
                types[node.name] = out
            except ShapeError as exc:
                shapes = ", ".join(str(t) for t in ins)
                raise GraphError(f"layer {node.name!r} ({node.op}): {exc}"
                                 + (f" (inputs: {shapes})" if shapes else ""),
                                 file=node.source.file, line=node.source.line,
                                 field=node.source.field) from None
        self._types = types
        return types

    def type_of(self, name: str) -> TensorType:
        return self.types()[name]

    # ------------------------------------------------------------------ costs

    def layers(self, *, include_sources: bool = False) -> list[Layer]:
        """Every op with its types, parameter count and workload, in topological order
        (cached until the graph changes)."""
        types = self.types()
        if include_sources in self._layers:
            return list(self._layers[include_sources])
        out = []
        for node in self.nodes():
            if node.op in _SOURCE_OPS and not include_sources:
                continue
            ins = [types[i] for i in node.inputs]
            shapes = node.opdef.weight_shapes(ins, node.attrs)
            params = sum(math.prod(s) for s in shapes.values())
            try:
                workload = lower_annotated(node.opdef, ins, types[node.name], node.attrs,
                                           node.annotations.values())
                too_large = max(params, workload.macs, workload.ops) > _MAX_COUNT
            except OverflowError:
                too_large = True
            if too_large:
                raise GraphError(f"layer {node.name!r} ({node.op}) is too large to cost (more than "
                                 "2**62 parameters, MACs or ops)", file=node.source.file,
                                 line=node.source.line, field=node.source.field)
            out.append(Layer(node, tuple(ins), types[node.name], params, workload))
        self._layers[include_sources] = out
        return list(out)

    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers())

    def params(self) -> int:
        return sum(layer.params for layer in self.layers(include_sources=True))

    # ------------------------------------------------------------------ variants

    def copy(self) -> "Graph":
        g = Graph(self.name)
        g._g = self._g.copy()
        g._order = self._order
        g._outputs = list(self._outputs)
        g._weights = {k: dict(v) for k, v in self._weights.items()}
        return g

    def _replace_nodes(self, change: dict[str, Node]) -> "Graph":
        g = self.copy()
        for name, node in change.items():
            g._g.nodes[name]["node"] = node
        return g

    def with_batch(self, batch: int) -> "Graph":
        """The same model with the first dimension of every input set to ``batch``.

        Raises:
            GraphError: ``batch`` is not positive, or a layer cannot take the new shape.
        """
        if not isinstance(batch, int) or batch < 1:
            raise GraphError(f"batch must be a positive integer, got {batch!r}", field="batch")
        change = {}
        for node in self.nodes():
            if node.op == "input" and node.attrs["shape"]:
                shape = (batch,) + tuple(node.attrs["shape"][1:])
                change[node.name] = replace(node, attrs=MappingProxyType({**node.attrs, "shape": shape}))
        g = self._replace_nodes(change)
        g.types()
        return g

    def cast(self, dt: DType) -> "Graph":
        """Every floating-point tensor at ``dt`` (integer ids stay as they are)."""
        change = {}
        for node in self.nodes():
            if "dtype" in node.attrs and _is_castable(node.attrs["dtype"]):
                change[node.name] = replace(node, attrs=MappingProxyType({**node.attrs, "dtype": dt.name}))
        return self._replace_nodes(change)

    # ------------------------------------------------------------------ rewrites

    def replace(self, name: str, nodes: Sequence[NodeSpec], output: str) -> list[Node]:
        """Put ``nodes`` in the place of layer ``name``; return them as added.

        Readers of ``name`` and the graph outputs read ``output`` instead: one of the new
        nodes (which may reuse the name ``name``) or any other layer. The new nodes may read
        each other and any other layer. ``name`` goes with its weights, as do constants that
        only it read; each new node gets the weights of its spec.

        Raises:
            GraphError: there is no layer ``name``; a new name is taken; ``output`` is not a
                layer; the result does not verify (a layer whose input shapes no longer fit
                is named). The graph is then unchanged.
            SpecError, UnsupportedOpError: a new node is malformed (see :meth:`add`).
        """
        old = self._existing(name)

        def edit(g: Graph) -> list[Node]:
            readers = g.consumers(name)
            g._g.remove_node(name)
            g._changed()
            g._weights.pop(name, None)
            added = [g._add_spec(spec, old.source) for spec in nodes]
            if output not in g:
                raise GraphError(f"the replacement of layer {name!r} names output {output!r}, "
                                 "which is not a layer", file=old.source.file, line=old.source.line)
            g._redirect(name, output, readers)
            g._drop_unread_constants(old.inputs)
            return added

        return self._rewrite(edit)

    def remove(self, name: str) -> None:
        """Remove layer ``name``, which must have one data input (constants aside); its
        readers and the graph outputs read that input instead (an identity, a dropout).

        Raises:
            GraphError: no layer ``name``; it has no data input or more than one; a reader
                cannot take the input's shape. The graph is then unchanged.
        """
        node = self._existing(name)
        data = sorted({i for i in node.inputs if not (i in self and self.node(i).op == "constant")})
        if len(data) != 1:
            raise GraphError(f"layer {name!r} ({node.op}) has {len(data)} data inputs; only a layer "
                             "with one can be removed (its readers then read that input)",
                             file=node.source.file, line=node.source.line, field=node.source.field)
        self.replace(name, (), data[0])

    def insert_after(self, name: str, new_name: str, op: str, attrs: Mapping[str, Any] | None = None, *,
                     annotations: Iterable[Annotation] = (), weights: Mapping[str, Any] | None = None,
                     source: Source | None = None) -> Node:
        """Add layer ``new_name`` reading ``name``; the readers of ``name`` and the graph
        outputs it was read ``new_name`` instead. Return the new node.

        Raises:
            GraphError: no layer ``name``; ``new_name`` is taken; the result does not verify.
                The graph is then unchanged.
            SpecError, UnsupportedOpError: the new node is malformed (see :meth:`add`).
        """
        node = self._existing(name)
        spec = NodeSpec(new_name, op, (name,), attrs or {}, tuple(annotations), weights or {}, source)

        def edit(g: Graph) -> Node:
            readers = g.consumers(name)
            added = g._add_spec(spec, node.source)
            g._redirect(name, new_name, readers)
            return added

        return self._rewrite(edit)

    def _rewrite(self, edit: Callable[["Graph"], Any]) -> Any:
        """Run ``edit`` on a copy, verify it, and only then take its state: a failed rewrite
        leaves this graph as it was."""
        g = self.copy()
        result = edit(g)
        g.verify()
        self._g, self._outputs, self._weights = g._g, g._outputs, g._weights
        self._changed()
        self._order, self._types = g._order, g._types
        return result

    def _add_spec(self, spec: NodeSpec, source: Source) -> Node:
        node = self.add(spec.name, spec.op, spec.inputs, spec.attrs, annotations=spec.annotations,
                        source=source if spec.source is None else spec.source)
        if spec.weights:
            self.set_weights(spec.name, spec.weights)
        return node

    def _redirect(self, old: str, new: str, readers: list[str]) -> None:
        """Make ``readers`` and the graph outputs read ``new`` where they read ``old``."""
        for reader in readers:
            node = self.node(reader)
            inputs = tuple(new if i == old else i for i in node.inputs)
            self._g.nodes[reader]["node"] = replace(node, inputs=inputs)
            if old != new and self._g.has_edge(old, reader):
                self._g.remove_edge(old, reader)
            self._g.add_edge(new, reader)
        self._outputs = [new if o == old else o for o in self._outputs]
        self._changed()

    def _drop_unread_constants(self, names: Iterable[str]) -> None:
        for name in set(names):
            if name in self and self.node(name).op == "constant" and not self.consumers(name) \
                    and name not in self._outputs:
                self._g.remove_node(name)
                self._weights.pop(name, None)
                self._changed()


def _is_castable(name: str) -> bool:
    from .types import DTYPES
    d = DTYPES.get(name)
    return d is not None and not d.is_index


def _field(source: Source, leaf: str) -> str:
    return f"{source.field}.{leaf}" if source.field else leaf
