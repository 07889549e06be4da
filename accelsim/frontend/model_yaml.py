"""The model YAML format (docs/model-format.md) -> Graph.

A model is a list of layers; each layer is an op with attributes, or a call of a reusable,
parameterised block. Layers feed the next one unless ``in:`` says otherwise, so a plain
chain needs no wiring. Inside a block, ``in`` is the block's input and layer names are
local; every node gets the dotted path of the calls that made it (``layer1.0.conv1``).
A layer key that names an annotation kind (``quant:``, ``sparsity:``, ``sharing:``,
``fused:``; see ``accelsim.ir.ANNOTATIONS``) is an annotation, not an attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AccelsimError, SpecError
from ..ir import ANNOTATIONS, Annotation, Graph, Source
from ..registry import did_you_mean
from .expr import ExprError, substitute
from ..yamlread import LineDict, LineList, line_of, read_yaml

__all__ = ["load_model_yaml", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_TOP_KEYS = ("name", "version", "description", "source", "inputs", "blocks", "layers", "outputs", "weights")
_BLOCK_KEYS = ("params", "layers", "output", "description")
_CONTROL_KEYS = ("name", "in", "if", "repeat")
_CALL_KEYS = _CONTROL_KEYS + ("block", "args")
_MAX_DEPTH = 32
_MAX_LAYERS = 100_000  # a model that expands to more is a typo in 'repeat', not a network


@dataclass
class _Scope:
    """Name resolution inside one list of layers (the top level or one block call)."""

    prefix: str
    aliases: dict[str, str]                     # 'in', 'in0', ... -> node names
    env: dict[str, Any]                         # block parameters
    names: dict[str, str] = field(default_factory=dict)  # local name -> node name
    depth: int = 0

    def resolve(self, ref: str) -> str:
        if ref in self.aliases:
            return self.aliases[ref]
        if ref in self.names:
            return self.names[ref]
        return self.prefix + ref


class _Builder:
    def __init__(self, path: str, doc: LineDict) -> None:
        self.path = path
        self.doc = doc
        self.blocks: dict[str, LineDict] = {}
        self.counters: dict[str, int] = {}
        self.layer_count = 0
        for key in ("name", "description", "source"):  # free text, but not a list or a mapping
            if key in doc:
                self.expect((str, int, float), doc, key, key, "a string")
        self.graph = Graph(str(doc.get("name", Path(path).stem)))

    # ------------------------------------------------------------------ errors

    def error(self, message: str, container: Any, key: Any, fieldpath: str) -> SpecError:
        return SpecError(message, file=self.path, line=line_of(container, key), field=fieldpath)

    def expect(self, kind: type | tuple[type, ...], container: Any, key: Any, fieldpath: str,
               what: str) -> Any:
        value = container[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise self.error(f"expected {what}, got {value!r}", container, key, fieldpath)
        return value

    def check_keys(self, mapping: LineDict, allowed: tuple[str, ...], fieldpath: str) -> None:
        for key in mapping:
            if key not in allowed:
                raise self.error(f"unknown key {key!r}; {did_you_mean(str(key), list(allowed))}",
                                 mapping, key, f"{fieldpath}.{key}" if fieldpath else str(key))

    # ------------------------------------------------------------------ top level

    def build(self) -> Graph:
        doc = self.doc
        self.check_keys(doc, _TOP_KEYS, "")
        version = doc.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise self.error(f"unsupported model format version {version!r}; this accelsim reads "
                             f"version {FORMAT_VERSION}", doc, "version", "version")
        if "inputs" not in doc:
            raise SpecError("missing 'inputs' (name: {shape: [...], dtype: ...})", file=self.path,
                            line=doc.line, field="inputs")
        if "layers" not in doc:
            raise SpecError("missing 'layers'", file=self.path, line=doc.line, field="layers")
        inputs = self.expect(LineDict, doc, "inputs", "inputs", "a mapping of input names")
        if not inputs:
            raise self.error("at least one input is needed", doc, "inputs", "inputs")
        for name, spec in inputs.items():
            path = f"inputs.{name}"
            if not isinstance(spec, LineDict):
                raise self.error("expected {shape: [...], dtype: ...}", inputs, name, path)
            self.check_keys(spec, ("shape", "dtype"), path)
            self.add_node(str(name), "input", (), dict(spec), spec, path)
        blocks = doc.get("blocks", LineDict())
        if blocks is None:
            blocks = LineDict()
        if not isinstance(blocks, LineDict):
            raise self.error("expected a mapping of block names", doc, "blocks", "blocks")
        for name, block in blocks.items():
            path = f"blocks.{name}"
            if not isinstance(block, LineDict):
                raise self.error("expected a block with 'params' and 'layers'", blocks, name, path)
            self.check_keys(block, _BLOCK_KEYS, path)
            if not isinstance(block.get("layers"), LineList):
                raise SpecError("a block needs a list of 'layers'", file=self.path,
                                line=line_of(block, "layers"), field=f"{path}.layers")
            params = block.get("params", LineDict()) or LineDict()
            if not isinstance(params, LineDict):
                raise self.error("expected a mapping of parameter names to defaults (null = required)",
                                 block, "params", f"{path}.params")
            for key in params:
                if not isinstance(key, str) or not key.isidentifier():
                    raise self.error(f"a parameter name must be a name like 'channels', got {key!r}",
                                     params, key, f"{path}.params.{key}")
            self.blocks[str(name)] = block
        layers = self.expect(LineList, doc, "layers", "layers", "a list of layers")
        self.check_expansion(layers, "layers")
        first_input = next(iter(inputs))
        scope = _Scope(prefix="", aliases={}, env={}, names={str(n): str(n) for n in inputs})
        self.expand(layers, "layers", scope, str(first_input))
        if "outputs" in doc:
            outs = doc["outputs"]
            if isinstance(outs, str):
                outs = [outs]
            if not isinstance(outs, list) or not all(isinstance(o, str) for o in outs):
                raise self.error("expected a layer name or a list of names", doc, "outputs", "outputs")
            for i, out in enumerate(outs):
                if scope.resolve(out) not in self.graph:
                    where = (outs, i, f"outputs[{i}]") if isinstance(outs, LineList) else (doc, "outputs", "outputs")
                    raise self.error(f"output {out!r} is not a layer of the model", *where)
            self.graph.set_outputs([scope.resolve(o) for o in outs])
        if "weights" in doc:
            self.load_weights(doc)
        self.graph.verify()
        return self.graph

    # ------------------------------------------------------------------ layers

    def check_expansion(self, layers: LineList, path: str) -> None:
        """Refuse a model that expands past ``_MAX_LAYERS`` before building any of it: the
        layers each entry adds, counted with the repeats and blocks written as numbers (a
        repeat given by an expression counts once here; the count while building catches the
        rest). Linear in the file: each block is counted once."""
        counted: dict[str, int] = {}

        def count(entries: Any, inside: tuple[str, ...]) -> int:
            total = 0
            for index, entry in enumerate(entries if isinstance(entries, list) else ()):
                if not isinstance(entry, LineDict):
                    continue
                repeat = entry.get("repeat", 1)
                valid = isinstance(repeat, int) and not isinstance(repeat, bool) and 0 < repeat <= _MAX_LAYERS
                repeat = repeat if valid else 1  # an invalid repeat is reported at its field later
                block = entry.get("block")
                if isinstance(block, str) and block in self.blocks and block not in inside:
                    if block not in counted:
                        counted[block] = count(self.blocks[block].get("layers"), inside + (block,))
                    each = counted[block]
                else:
                    each = 1
                total += repeat * each
                if total > _MAX_LAYERS and not inside:
                    raise SpecError(f"the model expands to more than {_MAX_LAYERS:,} layers (check 'repeat')",
                                    file=self.path, line=entry.line, field=f"{path}[{index}]")
            return total

        count(layers, ())

    def expand(self, layers: LineList, path: str, scope: _Scope, previous: str) -> str:
        """Add every entry of ``layers``; return the name of the last output."""
        if not layers:
            raise SpecError("a list of layers may not be empty", file=self.path, line=layers.line, field=path)
        for index, entry in enumerate(layers):
            fieldpath = f"{path}[{index}]"
            if not isinstance(entry, LineDict):
                raise self.error("expected a layer: {op: ..., ...} or {block: ..., args: {...}}",
                                 layers, index, fieldpath)
            entry = self.substituted(entry, scope, fieldpath)
            if "if" in entry and not entry["if"]:
                continue
            repeat = entry.get("repeat", 1)
            if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= _MAX_LAYERS:
                raise self.error(f"repeat must be a positive integer up to {_MAX_LAYERS:,}, got {repeat!r}",
                                 entry, "repeat", f"{fieldpath}.repeat")
            name = entry.get("name")
            if name is not None and not isinstance(name, (str, int)):
                raise self.error(f"expected a name, got {name!r}", entry, "name", f"{fieldpath}.name")
            for i in range(repeat):
                local = None if name is None else (str(name) if repeat == 1 else f"{name}.{i}")
                previous = self.expand_entry(entry, fieldpath, scope, previous, local, i)
            if name is not None:
                scope.names[str(name)] = previous
        return previous

    def substituted(self, entry: LineDict, scope: _Scope, fieldpath: str) -> LineDict:
        out = LineDict()
        out.line, out.key_lines = entry.line, entry.key_lines
        for key, value in entry.items():
            if isinstance(value, LineDict):  # block arguments, annotations
                value = self.substituted(value, scope, f"{fieldpath}.{key}")
            else:
                try:
                    value = _integral(substitute(value, scope.env))
                except ExprError as exc:
                    raise self.error(str(exc), entry, key, f"{fieldpath}.{key}") from None
            out[key] = value
        return out

    def inputs_of(self, entry: LineDict, fieldpath: str, scope: _Scope, previous: str) -> tuple[str, ...]:
        if "in" not in entry:
            return (previous,)
        refs = entry["in"]
        if isinstance(refs, (str, int)):
            refs = [refs]
        if not isinstance(refs, list) or not all(isinstance(r, (str, int)) for r in refs):
            raise self.error("expected a layer name or a list of names", entry, "in", f"{fieldpath}.in")
        return tuple(scope.resolve(str(r)) for r in refs)

    def expand_entry(self, entry: LineDict, fieldpath: str, scope: _Scope, previous: str,
                     local: str | None, index: int) -> str:
        has_op, has_block = "op" in entry, "block" in entry
        if has_op == has_block:
            raise SpecError("a layer needs exactly one of 'op' or 'block'", file=self.path,
                            line=entry.line, field=fieldpath)
        inputs = self.inputs_of(entry, fieldpath, scope, previous)
        if has_block:
            return self.call_block(entry, fieldpath, scope, inputs, local, index)
        op = entry["op"]
        if not isinstance(op, str):
            raise self.error(f"expected an op name, got {op!r}", entry, "op", f"{fieldpath}.op")
        if local is None:
            count = self.counters.get(scope.prefix + op, 0) + 1
            self.counters[scope.prefix + op] = count
            local = f"{op}_{count}"
        annotations = self.annotations_of(entry, fieldpath)
        attrs = {k: v for k, v in entry.items()
                 if k not in _CONTROL_KEYS and k != "op" and k not in ANNOTATIONS}
        node_name = scope.prefix + local
        self.add_node(node_name, op, inputs, attrs, entry, fieldpath, annotations)
        scope.names[local] = node_name
        return node_name

    def annotations_of(self, entry: LineDict, fieldpath: str) -> list[Annotation]:
        """The layer's annotation keys, each built (and so checked) by its kind."""
        out = []
        for key, value in entry.items():
            if key not in ANNOTATIONS:
                continue
            try:
                out.append(ANNOTATIONS.get(key).from_yaml(value))
            except SpecError as exc:
                leaf = exc.field or ""
                inner: Any = int(leaf[1:-1]) if leaf.startswith("[") else leaf
                line = line_of(value, inner) if leaf and isinstance(value, (LineDict, LineList)) else None
                path = f"{fieldpath}.{key}" + (leaf if leaf.startswith("[") or not leaf else f".{leaf}")
                raise SpecError(exc.message, file=self.path, line=line or line_of(entry, key),
                                field=path) from None
        return out

    def add_node(self, name: str, op: str, inputs: tuple[str, ...], attrs: dict[str, Any],
                 entry: LineDict, fieldpath: str, annotations: list[Annotation] | None = None) -> None:
        self.layer_count += op != "input"  # the limit counts layers, not graph inputs
        if self.layer_count > _MAX_LAYERS:
            raise SpecError(f"the model expands to more than {_MAX_LAYERS:,} layers (check 'repeat')",
                            file=self.path, line=entry.line, field=fieldpath)
        try:
            self.graph.add(name, op, inputs, attrs, source=Source(self.path, entry.line, fieldpath),
                           annotations=annotations or ())
        except AccelsimError as exc:
            leaf = (exc.field or "").rsplit(".", 1)[-1]
            line = next((n for key, n in entry.key_lines.items() if str(key) == leaf), None)
            if line is not None:
                exc.line = line
            raise

    def call_block(self, entry: LineDict, fieldpath: str, scope: _Scope, inputs: tuple[str, ...],
                   local: str | None, index: int) -> str:
        self.check_keys(entry, _CALL_KEYS, fieldpath)
        block_name = entry["block"]
        if not isinstance(block_name, str) or block_name not in self.blocks:
            raise self.error(f"unknown block {block_name!r}; "
                             f"{did_you_mean(str(block_name), list(self.blocks) or ['(none defined)'])}",
                             entry, "block", f"{fieldpath}.block")
        if scope.depth >= _MAX_DEPTH:
            raise self.error(f"blocks nest deeper than {_MAX_DEPTH} (does {block_name!r} call itself?)",
                             entry, "block", f"{fieldpath}.block")
        block = self.blocks[block_name]
        params = block.get("params") or LineDict()
        args = entry.get("args", LineDict()) or LineDict()
        if not isinstance(args, LineDict):
            raise self.error("expected a mapping of block parameters", entry, "args", f"{fieldpath}.args")
        env: dict[str, Any] = {}
        for key, value in args.items():
            if key not in params:
                raise self.error(f"block {block_name!r} has no parameter {key!r}; "
                                 f"{did_you_mean(str(key), list(params) or ['(none)'])}",
                                 args, key, f"{fieldpath}.args.{key}")
            env[str(key)] = value
        for key, default in params.items():
            if key not in env:
                if default is None:
                    raise SpecError(f"block {block_name!r} needs parameter {key!r}", file=self.path,
                                    line=line_of(entry, "args") or entry.line, field=f"{fieldpath}.args.{key}")
                env[str(key)] = default
        env.setdefault("i", index)
        if local is None:
            count = self.counters.get(scope.prefix + block_name, 0) + 1
            self.counters[scope.prefix + block_name] = count
            local = f"{block_name}_{count}"
        aliases = {"in": inputs[0], **{f"in{k}": name for k, name in enumerate(inputs)}}
        inner = _Scope(prefix=f"{scope.prefix}{local}.", aliases=aliases, env=env, depth=scope.depth + 1)
        last = self.expand(block["layers"], f"blocks.{block_name}.layers", inner, inputs[0])
        if "output" in block:
            out = block["output"]
            if not isinstance(out, str):
                raise self.error("expected a layer name", block, "output", f"blocks.{block_name}.output")
            last = inner.resolve(out)
        scope.names[local] = last
        return last

    # ------------------------------------------------------------------ weights

    def load_weights(self, doc: LineDict) -> None:
        import numpy as np

        ref = doc["weights"]
        if not isinstance(ref, str):
            raise self.error("expected the path of an .npz file", doc, "weights", "weights")
        path = Path(self.path).parent / ref
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as exc:
            raise self.error(f"cannot read weights {str(path)!r}: {exc}", doc, "weights", "weights") from None
        per_node: dict[str, dict[str, Any]] = {}
        for key, arr in arrays.items():
            node, _, weight = key.rpartition("/")
            if node not in self.graph:
                raise self.error(f"weights file names unknown layer {node!r}", doc, "weights", "weights")
            per_node.setdefault(node, {})[weight] = arr
        for node, weights in per_node.items():
            self.graph.set_weights(node, weights)


def _integral(value: Any) -> Any:
    """Block arithmetic like ``${c / 2}`` yields floats; whole numbers become ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def load_model_yaml(path: str | Path, text: str | None = None) -> Graph:
    """Read a model YAML file into a verified Graph.

    Raises:
        SpecError: syntax, unknown key, op or block, wrong type (with file, line, field).
        GraphError: undefined inputs, cycles, shapes that do not agree.
    """
    path = str(path)
    doc = read_yaml(path, text)
    if not isinstance(doc, LineDict):
        raise SpecError("a model file must be a mapping with 'inputs' and 'layers'", file=path, line=1)
    try:
        return _Builder(path, doc).build()
    except AccelsimError as exc:
        raise exc.located(file=path)
